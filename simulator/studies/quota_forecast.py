"""Quota forecasts: when does each API key run out of its usage-plan quota, and what then?

A usage-plan quota allows ``limit`` requests per API key per calendar period (UTC; see
:mod:`simulator.gateway.quota`). Whether a key runs dry at 02:46 or never is a question
about *expected cumulative requests*, so it is answered from the arrival-rate profile,
not by simulating a month of requests one by one: a month of a key at 100 rps is a few
arithmetic steps.

**The model.** Simulated time 0 is the scenario's ``start``; the scenario's traffic is
taken to repeat every ``duration`` (a 10-minute scenario stands for every 10 minutes of
the period). For the clients of one key:

* *offered* requests ``O(t)``: open arrivals integrate their rate profile (the same
  ``Lambda(t)`` as :func:`simulator.traffic.arrivals.cumulative_rate`), bursts add their counts,
  replayed traces count their rows. Closed (Locust-style) users are approximated: each
  user sends ``1 / (wait + mean latency)`` requests per second, where the mean latency is
  the gateway overhead plus the mean duration of the functions behind the client's routes
  (cold starts and retries ignored), ramping up as users spawn. Once the quota is gone
  their answers are quick 429s, so they then loop at ``1 / (wait + gateway overhead)``.
* *admitted* requests ``A(t)``: what the key's usage-plan throttles let through. Each
  throttle is a fluid token bucket: it holds ``burst`` tokens, refills at ``rate``; while it
  has tokens everything passes, when empty only ``rate`` per second does, so in the long run
  ``A(s, t) <= burst + rate * (t - s)``. Per-route plan throttles see the key's traffic split
  by route weight, then the per-key throttle sees the sum. Buckets start full at time 0;
  their state carries from one repetition of the traffic to the next.
* the quota counts ``A`` (or ``O`` with ``behaviour.throttled_requests_count_toward_quota``)
  from the start of the period, at ``limit - offset`` in the period containing ``start``
  and ``limit`` after. It is *exhausted* when the count reaches the limit. After that every
  request that reaches the quota check is refused ``429 quota_exceeded``: by default that is
  every request the key sends, because a request refused later in the chain takes no
  throttle token (``behaviour.rejected_requests_consume_tokens = false``), so the throttle
  stops holding traffic back; with that switch on, only what the throttles admit.

**Approximations, stated.** These are expected values, not one random run. Retries are not
modelled (a retried 429 is a new attempt; the simulator counts those). Only the key's own
usage-plan throttles are modelled, not the route, stage or account throttles after the
quota check (a request they refuse uses no quota, so under heavy stage throttling the
quota lasts longer than forecast). The quota's effect on the throttle buckets is
ignored (off by at most one burst per period).

The algebra of these flows (piecewise-linear rates, fluid token buckets, repeating
cycles) is in :mod:`simulator.studies.quota_flows`; this module turns clients into flows and
flows into per-period forecasts.

**Growth.** ``growth="10%/month"`` (or a factor per day) multiplies the load of day ``j``
after ``start`` by ``g ** j`` (:mod:`simulator.studies.growth`); the throttles' bucket levels
carry from one day to the next, so a key that outgrows its throttle is held at the
throttle's rate from the day it does.

``exact=True`` cross-checks the first period by simulating it with :func:`simulator.simulate`
(traffic repeated the same way; closed users simply keep running); it counts HTTP
attempts, retries included, and is meant for short periods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np

from simulator import outcomes as oc
from simulator.engine import simulate
from simulator.gateway.quota import period_start
from simulator.limits import DATE_RANGE, MAX_DURATION_S, MAX_QUOTA_PERIODS
from simulator.redact import redact_key
from simulator.results import Result
from simulator.scenario import Client, Scenario
from simulator.studies.growth import growth_steps, parse_growth
from simulator.studies.quota_flows import _Flow, _flow, _grown, _Repeating, _scale, _sum, _through
from simulator.traffic.arrivals import rate_profile
from simulator.units import parse_duration

__all__ = ["MAX_EXACT_REQUESTS", "QuotaForecast", "forecast_quotas", "render_forecasts"]

#: ``exact=True`` refuses a first period expected to hold more requests than this.
MAX_EXACT_REQUESTS = 1_000_000


@dataclass(frozen=True)
class QuotaForecast:
    """One API key's quota over one calendar period."""

    api_key: str
    clients: tuple[str, ...]
    usage_plan: str
    period: str
    #: The calendar period (UTC); in the first one, traffic starts at the scenario's ``start``.
    period_start: datetime
    period_end: datetime
    #: Requests the quota allows in this period (``limit - offset`` in the first).
    limit: int
    #: Requests the key's clients send in the period.
    expected_requests: float
    #: When the quota runs out, or None if it lasts the period.
    exhausted_at: datetime | None
    #: Requests refused ``429 quota_exceeded``.
    refused_requests: float
    fraction_refused: float
    #: Requests refused ``429 throttled_usage_plan`` by the key's plan throttles.
    throttled_requests: float
    #: ``"analytic"`` or ``"exact"`` (simulated).
    method: str
    notes: tuple[str, ...] = ()

    def to_dict(self, *, show_keys: bool = False) -> dict[str, Any]:
        """The forecast as JSON-ready values; the API key redacted unless *show_keys*."""
        def iso(d: datetime | None) -> str | None:
            return None if d is None else d.isoformat().replace("+00:00", "Z")

        return {
            "api_key": self.api_key if show_keys else redact_key(self.api_key), "clients": list(self.clients),
            "usage_plan": self.usage_plan,
            "period": self.period, "period_start": iso(self.period_start), "period_end": iso(self.period_end),
            "limit": self.limit, "expected_requests": round(self.expected_requests, 3),
            "exhausted_at": iso(self.exhausted_at), "refused_requests": round(self.refused_requests, 3),
            "fraction_refused": round(self.fraction_refused, 6),
            "throttled_requests": round(self.throttled_requests, 3), "method": self.method, "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- clients as flows


def _service_mean(s: Scenario, route: str) -> float:
    """The mean time a route's function runs, or its HTTP backend serves (waits left out)."""
    r = s.route(route)
    if r.function is not None:
        return s.function(r.function).duration.build().mean
    return s.backend(str(r.backend)).service_time.build().mean


def _closed_rate(c: Client, s: Scenario, refused: bool) -> tuple[list[tuple[float, float]] | float, str]:
    """Locust-style users as an open rate: users / (wait + mean latency), ramping as they spawn."""
    arr = c.arrivals
    assert arr.process == "closed"
    weights = sum(c.routes.values())
    latency = s.behaviour.gateway_overhead.build().mean
    if not refused:
        latency += sum(w / weights * _service_mean(s, r) for r, w in c.routes.items())
    wait = arr.wait
    if wait.kind == "constant":
        cycle = wait.time + latency
    elif wait.kind == "between":
        cycle = (wait.min + wait.max) / 2 + latency
    else:
        cycle = max(wait.time if wait.kind == "constant_pacing" else 1.0 / wait.rate, latency)
    per_user = 1.0 / max(cycle, 1e-6)
    batch = max(1, math.floor(arr.spawn_rate))
    ramp_s = ((arr.users - 1) // batch) * (batch / arr.spawn_rate)
    first = min(arr.users, batch) * per_user
    rate = [(0.0, first), (ramp_s, arr.users * per_user)] if ramp_s > 0 else first
    return rate, (f"{c.name}: closed users approximated as users / (wait + mean latency) = "
                  f"{arr.users * per_user:.4g} requests/s at full strength")


def _client_flows(c: Client, s: Scenario, refused: bool) -> tuple[dict[str, _Flow], str | None]:
    """Expected requests of one client over one cycle, by route; and a note if approximate."""
    d = s.duration
    weights = sum(c.routes.values())
    arr = c.arrivals
    if arr.process == "replay":
        routes = np.asarray(arr.routes)
        at, idx = np.unique(np.asarray(arr.times), return_inverse=True)
        t = np.unique(np.concatenate([[0.0, d], at]))
        out = {}
        for route, w in c.routes.items():
            counts = np.bincount(idx, weights=(routes == route) + (routes == "") * (w / weights), minlength=len(at))
            atoms = np.zeros(len(t))
            np.add.at(atoms, np.searchsorted(t, at), counts)
            out[route] = _flow(t, np.zeros(len(t) - 1), np.zeros(len(t) - 1), atoms)
        return out, None
    note = None
    parts: list[_Flow] = []
    if arr.process == "closed":
        rate, note = _closed_rate(c, s, refused)
    else:
        rate = arr.rate
        for burst in arr.bursts:
            if burst.over > 0:
                end = min(burst.at + burst.over, d)
                edges = sorted({0.0, burst.at, end, d})
                level = [burst.count / burst.over if burst.at <= a and z <= end else 0.0 for a, z in pairwise(edges)]
                parts.append(_flow(edges, level, level))
            else:
                edges = sorted({0.0, burst.at, d})
                none = [0.0] * (len(edges) - 1)
                parts.append(_flow(edges, none, none, [burst.count if x == burst.at else 0.0 for x in edges]))
    ts, rs = rate_profile(rate, d)  # a step's two points kept as two (np.interp would merge them)
    base = _sum([_flow(ts, rs[:-1], rs[1:]), *parts], d)
    return {route: _scale(base, w / weights) for route, w in c.routes.items()}, note


# --------------------------------------------------------------------------- the forecast


def _next_period(p: datetime, period: str) -> datetime:
    days = {"DAY": 1, "WEEK": 7}.get(period)
    if days is not None:
        return p + timedelta(days=days)
    return period_start(p + timedelta(days=32), "MONTH")


def _periods(s: Scenario, period: str, horizon_s: float | None) -> list[tuple[datetime, datetime]]:
    p = period_start(s.start, period, s.behaviour.quota_week_start)
    out = [(p, _next_period(p, period))]
    if horizon_s is not None:
        stop = s.start + timedelta(seconds=horizon_s)
        while out[-1][1] < stop:
            if len(out) >= MAX_QUOTA_PERIODS:
                raise ValueError(f"horizon: covers more than {MAX_QUOTA_PERIODS} {period} quota periods "
                                 "(see simulator/limits.py); give a shorter horizon")
            out.append((out[-1][1], _next_period(out[-1][1], period)))
    return out


def _keys(s: Scenario) -> dict[str, list[Client]]:
    keys: dict[str, list[Client]] = {}
    for c in s.clients:
        if c.api_key is not None and c.usage_plan is not None and s.usage_plan(c.usage_plan).quota is not None:
            keys.setdefault(c.api_key, []).append(c)
    return keys


def forecast_quotas(scenario: Scenario, *, horizon: str | float | None = None, exact: bool = False,
                    seed: int | None = None, growth: str | float | None = None) -> list[QuotaForecast]:
    """For each API key whose usage plan has a quota, each period over *horizon*.

    *horizon* is a duration (``"30d"``, or seconds) from the scenario's ``start``; every
    period it touches is forecast whole. Default: the period containing ``start``.
    *exact* simulates the first period instead (see the module docstring); *seed* is
    the seed of that run (default: the scenario's). *growth* is a growth rate such as
    ``"10%/month"`` or a factor per day (``1.0032``): the load of day ``j`` after ``start``
    is that factor to the power ``j`` times the scenario's (:mod:`simulator.studies.growth`).
    """
    per_day = _per_day(growth)
    if horizon is None:
        horizon_s = None
    elif isinstance(horizon, bool) or not isinstance(horizon, (str, int, float)):
        raise ValueError(f"horizon must be a duration such as '30d', got {horizon!r}")
    else:
        horizon_s = parse_duration(horizon) if isinstance(horizon, str) else float(horizon)
        if not (horizon_s > 0 and math.isfinite(horizon_s)):
            raise ValueError(f"horizon must be longer than 0s, got {horizon!r}")
        if horizon_s > MAX_DURATION_S or scenario.start + timedelta(seconds=horizon_s) > DATE_RANGE[1]:
            raise ValueError(f"horizon: the forecast must end before {DATE_RANGE[1]:%Y-%m-%d} "
                             f"(start {scenario.start:%Y-%m-%d} + {horizon_s:g}s)")
    if exact and horizon is not None:
        raise ValueError("exact=True simulates the first period only; leave horizon unset")
    if exact and per_day is not None:
        raise ValueError("exact=True simulates today's traffic; growth is forecast analytically only")
    forecasts = [_analytic(scenario, key, clients, horizon_s, per_day) for key, clients in _keys(scenario).items()]
    if not exact:
        return [f for per_key in forecasts for f in per_key]
    return _exact(scenario, [per_key[0] for per_key in forecasts], seed)


def _per_day(growth: str | float | None) -> float | None:
    """The growth factor per day, or None for none."""
    if growth is None:
        return None
    if isinstance(growth, str):
        return parse_growth(growth)
    if isinstance(growth, bool) or not isinstance(growth, (int, float)) or not (growth > 0 and math.isfinite(growth)):
        raise ValueError(f"growth must be a rate such as '10%/month' or a factor per day > 0, got {growth!r}")
    return float(growth)


def _span(flow: Any, a: float, z: float) -> float:
    """The requests *flow* counts between *a* and *z*."""
    return flow.at(z, True) - flow.at(a, True)


def _analytic(s: Scenario, key: str, clients: list[Client], horizon_s: float | None,
              per_day: float | None = None) -> list[QuotaForecast]:
    plan_name = clients[0].usage_plan
    assert plan_name is not None
    quota = s.usage_plan(plan_name).quota
    assert quota is not None
    periods = _periods(s, quota.period, horizon_s)
    last_s = (periods[-1][1] - s.start).total_seconds()
    cycles = math.ceil(last_s / s.duration) + 1

    def key_flows(refused: bool) -> tuple[dict[str, _Flow], list[str]]:
        by_route: dict[str, list[_Flow]] = {}
        notes = []
        for c in clients:
            flows, note = _client_flows(c, s, refused)
            notes += [note] if note else []
            for r, f in flows.items():
                by_route.setdefault(r, []).append(f)
        return {r: _sum(fs, s.duration) for r, fs in by_route.items()}, notes

    routes, notes = key_flows(False)
    routes_429, _ = key_flows(True)
    b = s.behaviour
    offered: Any
    offered_429: Any
    admitted: Any
    after: Any
    if per_day is None:
        offered = _Repeating([], _sum(list(routes.values()), s.duration), s.duration)
        offered_429 = _Repeating([], _sum(list(routes_429.values()), s.duration), s.duration)
        admitted = _through(routes, s, plan_name, cycles)
        after = _through(routes_429, s, plan_name, cycles) if b.rejected_requests_consume_tokens else offered_429
    else:
        steps = growth_steps(s.duration, cycles, per_day)
        offered, offered_429 = _grown(routes, s, None, steps), _grown(routes_429, s, None, steps)
        admitted = _grown(routes, s, plan_name, steps)
        after = _grown(routes_429, s, plan_name, steps) if b.rejected_requests_consume_tokens else offered_429
        notes.append(f"load grows by a factor of {per_day:.7g} a day, stepping every 24 h from start "
                     f"({per_day ** 30:.4g} times after 30 days)")
    counted = offered if b.throttled_requests_count_toward_quota else admitted

    out = []
    for i, (p0, p1) in enumerate(periods):
        w0 = max(0.0, (p0 - s.start).total_seconds())
        w1 = (p1 - s.start).total_seconds()
        allowed = quota.limit - (quota.offset if i == 0 else 0)
        target = counted.at(w0, left=True) + allowed
        te = max(w0, counted.inverse(target)) if allowed > 0 else w0
        if te >= w1:
            expected, refused, exhausted = _span(offered, w0, w1), 0.0, None
            throttled = expected - _span(admitted, w0, w1)
        else:
            overflow = counted.at(te) - target
            refused = after.at(w1, True) - after.at(te) + max(overflow, 0.0)
            expected = _span(offered, w0, te) + _span(offered_429, te, w1)
            throttled = _span(offered, w0, te) - _span(admitted, w0, te)
            if b.rejected_requests_consume_tokens:
                throttled += _span(offered_429, te, w1) - _span(after, te, w1)
            exhausted = s.start + timedelta(seconds=te)
        out.append(QuotaForecast(
            api_key=key, clients=tuple(c.name for c in clients), usage_plan=plan_name, period=quota.period,
            period_start=p0, period_end=p1, limit=allowed, expected_requests=expected, exhausted_at=exhausted,
            refused_requests=refused, fraction_refused=refused / expected if expected > 0 else 0.0,
            throttled_requests=max(throttled, 0.0), method="analytic", notes=tuple(notes)))
    return out


# --------------------------------------------------------------------------- the exact cross-check


def _repeated(c: Client, d: float, window: float) -> Client:
    """*c* with its traffic repeated every *d* seconds up to *window*."""
    arr = c.arrivals
    n = math.ceil(window / d)
    if arr.process == "replay":
        times = [t + k * d for k in range(n) for t in arr.times if t + k * d < window]
        routes = [r for k in range(n) for t, r in zip(arr.times, arr.routes) if t + k * d < window]
        replayed = arr.model_copy(update={"times": tuple(times), "routes": tuple(routes)})
        return c.model_copy(update={"arrivals": replayed})
    if arr.process == "closed":
        return c
    update: dict[str, Any] = {
        "bursts": [b.model_copy(update={"at": b.at + k * d}) for k in range(n) for b in arr.bursts
                   if b.at + k * d < window]}
    if not isinstance(arr.rate, (int, float)):
        ts, rs = rate_profile(arr.rate, d)
        profile: list[tuple[float, float]] = []
        for k in range(n):
            for t, r in zip(ts, rs):
                t_abs = float(t) + k * d
                if profile and t_abs <= profile[-1][0]:
                    if r == profile[-1][1]:
                        continue
                    profile[-1] = (profile[-1][0] - 1e-6, profile[-1][1])
                profile.append((t_abs, float(r)))
        update["rate"] = profile
    return c.model_copy(update={"arrivals": arr.model_copy(update=update)})


def _exact(s: Scenario, firsts: list[QuotaForecast], seed: int | None) -> list[QuotaForecast]:
    if not firsts:
        return []
    window = max((f.period_end - s.start).total_seconds() for f in firsts)
    per_cycle = sum(f.total for c in s.clients for f in _client_flows(c, s, False)[0].values())
    expected = per_cycle * window / s.duration
    if expected > MAX_EXACT_REQUESTS:
        raise ValueError(f"exact=True would simulate about {expected:,.0f} requests up to the end of the first period "
                         f"(at most {MAX_EXACT_REQUESTS:,}); use the analytic forecast")
    clients = [_repeated(c, s.duration, window) for c in s.clients]
    run = s.model_copy(update={"duration": window, "clients": clients})
    result = simulate(run, seed=seed)
    assert isinstance(result, Result)  # record=True
    a = result.attempts
    names = [c.name for c in s.clients]
    out = []
    for f in firsts:
        w1 = (f.period_end - s.start).total_seconds()
        mine = np.isin(a["client"], [names.index(n) for n in f.clients]) & (a["time_s"] < w1)
        refused_t = a["time_s"][mine & (a["cause"] == oc.QUOTA_EXCEEDED)]
        refused = float(len(refused_t))
        sent = float(np.sum(mine))
        out.append(QuotaForecast(
            api_key=f.api_key, clients=f.clients, usage_plan=f.usage_plan, period=f.period,
            period_start=f.period_start, period_end=f.period_end, limit=f.limit, expected_requests=sent,
            exhausted_at=s.start + timedelta(seconds=float(refused_t.min())) if len(refused_t) else None,
            refused_requests=refused, fraction_refused=refused / sent if sent else 0.0,
            throttled_requests=float(np.sum(mine & (a["cause"] == oc.THROTTLED_USAGE_PLAN))),
            method="exact", notes=(f"simulated with seed {result.seed}; counts HTTP attempts, retries included",)))
    return out


def render_forecasts(forecasts: list[QuotaForecast], *, show_keys: bool = False) -> Any:
    """A rich table of forecasts for the terminal; API keys redacted unless *show_keys*."""
    from rich.table import Table

    table = Table(title="Usage-plan quotas", title_justify="left")
    for col in ("API key", "plan", "period (UTC)", "limit", "expected", "exhausted at (UTC)", "refused", "share"):
        table.add_column(col, justify="right" if col in ("limit", "expected", "refused", "share") else "left")
    for f in forecasts:
        table.add_row(
            f.api_key if show_keys else redact_key(f.api_key), f.usage_plan,
            f"{f.period_start:%Y-%m-%d %H:%M} {f.period}", f"{f.limit:,}",
            f"{f.expected_requests:,.0f}",
            "-" if f.exhausted_at is None else f"{f.exhausted_at:%Y-%m-%d %H:%M:%S}",
            f"{f.refused_requests:,.0f}", f"{100 * f.fraction_refused:.2f}%")
    return table
