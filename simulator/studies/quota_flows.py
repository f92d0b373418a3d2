"""Traffic flows: expected requests over a repeating cycle, and what fluid token buckets admit of them.

A quota forecast (:mod:`simulator.studies.quota_forecast`) needs *expected cumulative requests*
of one API key, before and after its usage-plan throttles, over days or months of
simulated time. This module is the algebra that makes that a few arithmetic steps
instead of a month of simulated requests.

**A flow over one cycle.** The scenario's traffic is taken to repeat every ``duration``
``D`` seconds. Over one cycle ``[0, D]`` a :class:`_Flow` is a request rate that is
linear between breakpoints ``t[0] = 0 < t[1] < ... < t[-1] = D`` (``r0[i]`` requests/s
just after ``t[i]``, ``r1[i]`` just before ``t[i+1]``) plus ``atoms[i]`` requests arriving
at the instant ``t[i]`` (bursts with ``over = 0``, rows of a replayed trace). That shape
is closed under what a forecast needs: open arrivals with a piecewise-linear rate profile
(the same ``Lambda(t)`` as :func:`simulator.traffic.arrivals.cumulative_rate`), bursts and traces
are flows; flows add (:func:`_sum`, on the union of the breakpoints) and scale by a route
weight (:func:`_scale`). ``at(tau)`` counts requests in ``[0, tau]`` (a quadratic inside a
segment), ``inverse(q)`` finds the first instant the count reaches ``q``.

**A token bucket, fluid.** A usage-plan throttle holds ``burst`` tokens and refills at
``rate`` per second. Taken as a fluid (:func:`_police`), with ``b`` tokens in the bucket
and ``lambda(t)`` offered, it is in one of three regimes:

* *full* (``b = burst``, ``lambda <= rate``): everything passes, the refill overflows;
* *empty* (``b = 0``, ``lambda >= rate``): only ``rate`` per second passes;
* *between*: everything passes and ``b`` changes at ``rate - lambda``, so on a segment
  where ``lambda`` is linear ``b`` is quadratic in time, and the instants it hits ``0`` or
  ``burst`` are the roots of a quadratic (:func:`_roots`).

An atom takes ``min(atom, b)`` tokens. What passes is again a flow, so buckets chain: in
the long run ``A(s, t) <= burst + rate * (t - s)`` for the admitted requests ``A``.

**Repeated cycles.** :class:`_Repeating` is a cycle repeated forever, the first few cycles
allowed to differ. Buckets start full at time 0 and their state carries from one cycle to
the next, so what a throttle admits changes over the first cycles (a transient, at most
``_MAX_TRANSIENT_CYCLES``) and then repeats. :func:`_through` applies a key's usage plan:
per-route plan throttles see the key's traffic split by route, the per-key throttle sees
their sum, cycle by cycle until the bucket levels repeat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.scenario import Scenario

_MAX_TRANSIENT_CYCLES = 50


# --------------------------------------------------------------------------- flows over one cycle


@dataclass(frozen=True)
class _Flow:
    """Expected requests over one cycle ``[0, D]``: a rate that is linear between breakpoints
    ``t`` (``r0`` just after ``t[i]``, ``r1`` just before ``t[i+1]``) plus ``atoms[i]`` requests
    at the instant ``t[i]``."""

    t: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    atoms: np.ndarray

    @property
    def cum(self) -> np.ndarray:
        """Requests up to and including each breakpoint's atom."""
        seg = np.diff(self.t) * (self.r0 + self.r1) / 2
        return np.concatenate([[0.0], np.cumsum(seg)]) + np.cumsum(self.atoms)

    @property
    def total(self) -> float:
        return float(self.cum[-1])

    def at(self, tau: float, left: bool = False) -> float:
        """Requests in ``[0, tau]`` (``[0, tau)`` with *left*)."""
        t, cum = self.t, self.cum
        i = int(np.searchsorted(t, tau, side="right")) - 1
        if i >= len(t) - 1:
            return float(cum[-1] - (self.atoms[-1] if left and tau == t[-1] else 0.0))
        x = tau - t[i]
        slope = (self.r1[i] - self.r0[i]) / (t[i + 1] - t[i])
        inside = self.r0[i] * x + slope * x * x / 2
        return float(cum[i] + inside - (self.atoms[i] if left and x == 0 else 0.0))

    def inverse(self, q: float) -> float:
        """The first ``tau`` with ``at(tau) >= q`` (``inf`` if never in this cycle)."""
        cum = self.cum
        i = int(np.searchsorted(cum, q, side="left"))
        if i >= len(cum):
            return math.inf
        if i == 0 or cum[i] - self.atoms[i] < q:
            return float(self.t[i])
        k = i - 1
        need = q - cum[k]
        width = self.t[k + 1] - self.t[k]
        r0, slope = self.r0[k], (self.r1[k] - self.r0[k]) / width
        disc = math.sqrt(max(r0 * r0 + 2 * slope * need, 0.0))
        x = 2 * need / (r0 + disc) if r0 + disc > 0 else width
        return float(self.t[k] + min(max(x, 0.0), width))


def _flow(t: list[float] | np.ndarray, r0: Any, r1: Any, atoms: Any = None) -> _Flow:
    t = np.asarray(t, dtype=float)
    a = np.zeros(len(t)) if atoms is None else np.asarray(atoms, dtype=float)
    return _Flow(t, np.asarray(r0, dtype=float), np.asarray(r1, dtype=float), a)


def _sum(flows: list[_Flow], d: float) -> _Flow:
    if not flows:
        return _flow([0.0, d], [0.0], [0.0])
    t = np.unique(np.concatenate([f.t for f in flows]))
    left, right = t[:-1], t[1:]
    r0, r1, atoms = np.zeros(len(left)), np.zeros(len(left)), np.zeros(len(t))
    for f in flows:
        j = np.clip(np.searchsorted(f.t, left, side="right") - 1, 0, len(f.r0) - 1)
        slope = (f.r1[j] - f.r0[j]) / (f.t[j + 1] - f.t[j])
        r0 += f.r0[j] + slope * (left - f.t[j])
        r1 += f.r0[j] + slope * (right - f.t[j])
        np.add.at(atoms, np.searchsorted(t, f.t), f.atoms)
    return _Flow(t, r0, r1, atoms)


def _scale(f: _Flow, k: float) -> _Flow:
    return _Flow(f.t, f.r0 * k, f.r1 * k, f.atoms * k)


def _roots(a: float, b: float, c: float) -> list[float]:
    """Real roots of a x^2 + b x + c = 0."""
    if abs(a) < 1e-15:
        return [] if b == 0 else [-c / b]
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    q = -(b + math.copysign(math.sqrt(disc), b)) / 2
    return [q / a] + ([c / q] if q != 0 else [])


def _police(f: _Flow, rate: float, burst: float, b: float) -> tuple[_Flow, float]:
    """What a token bucket (*rate*/s into *burst* tokens, *b* now) admits of *f*, fluid.

    Three regimes: full (b = burst, offered <= rate: everything passes, tokens overflow);
    empty (b = 0, offered >= rate: *rate* passes); between (everything passes and b changes
    at rate - offered). The offered rate is linear on a segment, so b is quadratic there."""
    eps_b = 1e-9 * max(1.0, burst)
    ts, atoms = [float(f.t[0])], [0.0]
    r0s: list[float] = []
    r1s: list[float] = []
    for i in range(len(f.r0)):
        take = min(float(f.atoms[i]), b)
        b -= take
        atoms[-1] += take
        t0, t1, lam0 = float(f.t[i]), float(f.t[i + 1]), float(f.r0[i])
        s = (float(f.r1[i]) - lam0) / (t1 - t0)
        u, tiny, steps = t0, 1e-12 * max(1.0, t1), 0
        while u < t1:
            lu = lam0 + s * (u - t0)
            end = t1
            regime = "between"
            steps += 1
            if steps > 16:  # numerical ping-pong between regimes: let the rest pass
                regime = "pass"
            elif b >= burst - eps_b and (lu < rate or (lu == rate and s <= 0)):
                regime, end = "full", (min(t1, t0 + (rate - lam0) / s) if s > 0 else t1)
            elif b <= eps_b and (lu > rate or (lu == rate and s >= 0)):
                regime, end = "empty", (min(t1, t0 + (rate - lam0) / s) if s < 0 else t1)
            if end - u <= tiny and regime != "pass":
                regime, end = "between", t1
            if regime == "full":
                b = burst
            elif regime == "empty":
                b = 0.0
            elif regime == "between":
                span = t1 - u
                hits = [(x, level) for level in (0.0, burst)
                        for x in _roots(-s / 2, rate - lu, b - level) if tiny < x <= span]
                if hits and t1 - (u + min(hits)[0]) > tiny:
                    x, b = min(hits)
                    end = u + x
                else:
                    b = min(burst, max(0.0, b + (rate - lu) * span - s * span * span / 2))
            if regime == "empty":
                r0s.append(rate)
                r1s.append(rate)
            else:
                r0s.append(lu)
                r1s.append(lam0 + s * (end - t0))
            ts.append(end)
            atoms.append(0.0)
            u = end
        ts[-1] = t1
    take = min(float(f.atoms[-1]), b)
    atoms[-1] += take
    return _flow(ts, r0s, r1s, atoms), b - take


# --------------------------------------------------------------------------- repeated cycles


class _Repeating:
    """A cycle of *d* seconds repeated forever; the first cycles may differ (bucket transients)."""

    def __init__(self, first: list[_Flow], steady: _Flow, d: float) -> None:
        self.first, self.steady, self.d = first, steady, d
        self.prefix = np.concatenate([[0.0], np.cumsum([f.total for f in first])])

    def _cycle(self, k: int) -> tuple[float, _Flow]:
        n = len(self.first)
        if k < n:
            return float(self.prefix[k]), self.first[k]
        return float(self.prefix[n] + (k - n) * self.steady.total), self.steady

    def at(self, t: float, left: bool = False) -> float:
        """Requests in ``[0, t]`` (``[0, t)`` with *left*)."""
        k = int(t // self.d)
        before, flow = self._cycle(k)
        return before + flow.at(t - k * self.d, left)

    def inverse(self, q: float) -> float:
        """The first t with ``at(t) >= q``."""
        n = len(self.first)
        if q <= self.prefix[n]:
            k = max(0, int(np.searchsorted(self.prefix, q, side="left")) - 1)
        elif self.steady.total <= 0:
            return math.inf
        else:
            k = n + max(0, math.ceil((q - self.prefix[n]) / self.steady.total) - 1)
        before, flow = self._cycle(k)
        return k * self.d + flow.inverse(q - before)


def _through(routes: dict[str, _Flow], scenario: Scenario, plan_name: str, cycles: int) -> _Repeating:
    """The key's traffic after its usage plan's throttles, cycle by cycle until steady."""
    plan = scenario.usage_plan(plan_name)
    method = {r: plan.method_throttles[r] for r in routes if r in plan.method_throttles}
    states = {r: float(th.burst) for r, th in method.items()}
    key_state = float(plan.throttle.burst) if plan.throttle is not None else 0.0
    repeating, _, _ = _settle(routes, scenario, plan_name, cycles, states, key_state)
    return repeating


def _settle(routes: dict[str, _Flow], scenario: Scenario, plan_name: str, cycles: int, states: dict[str, float],
            key_state: float) -> tuple[_Repeating, dict[str, float], float]:
    """:func:`_through` from the bucket levels *states* (per route) and *key_state*: the
    cycles until the levels repeat (at most ``_MAX_TRANSIENT_CYCLES``), and the levels after."""
    d = scenario.duration
    plan = scenario.usage_plan(plan_name)
    method = {r: plan.method_throttles[r] for r in routes if r in plan.method_throttles}
    if not method and plan.throttle is None:
        total = _sum(list(routes.values()), d)
        return _Repeating([], total, d), states, key_state
    states = dict(states)
    out: list[_Flow] = []
    levels: list[tuple[dict[str, float], float]] = []
    for _ in range(min(cycles, _MAX_TRANSIENT_CYCLES) + 1):
        parts = []
        before = (dict(states), key_state)
        for r, flow in routes.items():
            if r in method:
                flow, states[r] = _police(flow, method[r].rate, method[r].burst, states[r])
            parts.append(flow)
        total = _sum(parts, d)
        if plan.throttle is not None:
            total, key_state = _police(total, plan.throttle.rate, plan.throttle.burst, key_state)
        out.append(total)
        levels.append((dict(states), key_state))
        steady = all(abs(states[r] - before[0][r]) < 1e-9 for r in states) and abs(key_state - before[1]) < 1e-9
        if steady:
            break
    else:  # not steady: the levels after *cycles* cycles (or the last computed, beyond the transient cap)
        states, key_state = levels[min(cycles, len(levels)) - 1]
    return _Repeating(out[:-1], out[-1], d), states, key_state


# --------------------------------------------------------------------------- growing load


class _Segmented:
    """Cycles in segments, the load of each segment scaled by its own factor (growth).

    Segment ``j`` starts at cycle ``starts[j]`` and is a :class:`_Repeating` of its own,
    counted from its first cycle; the last segment runs forever."""

    def __init__(self, parts: list[tuple[int, _Repeating]], d: float) -> None:
        self.starts = [c for c, _ in parts]
        self.parts = [r for _, r in parts]
        self.d = d
        before = [0.0]
        for j in range(len(parts) - 1):
            before.append(before[-1] + self.parts[j].at((self.starts[j + 1] - self.starts[j]) * d, True))
        self.before = np.asarray(before)

    def at(self, t: float, left: bool = False) -> float:
        """Requests in ``[0, t]`` (``[0, t)`` with *left*)."""
        j = max(0, int(np.searchsorted(self.starts, int(t // self.d), side="right")) - 1)
        return float(self.before[j]) + self.parts[j].at(t - self.starts[j] * self.d, left)

    def inverse(self, q: float) -> float:
        """The first t with ``at(t) >= q``."""
        j = max(0, int(np.searchsorted(self.before, q, side="left")) - 1)
        return self.starts[j] * self.d + self.parts[j].inverse(q - float(self.before[j]))


def _grown(routes: dict[str, _Flow], scenario: Scenario, plan_name: str | None,
           steps: list[tuple[int, int, float]]) -> _Segmented:
    """*routes* with the load of cycles ``[first, first + n)`` scaled by ``factor`` for each
    ``(first, n, factor)`` of *steps*, through the usage plan's throttles when *plan_name* is
    given (bucket levels carried from one segment to the next), else as offered."""
    states: dict[str, float] = {}
    key_state = 0.0
    if plan_name is not None:
        plan = scenario.usage_plan(plan_name)
        states = {r: float(plan.method_throttles[r].burst) for r in routes if r in plan.method_throttles}
        key_state = float(plan.throttle.burst) if plan.throttle is not None else 0.0
    parts: list[tuple[int, _Repeating]] = []
    for first, n, factor in steps:
        scaled = {r: _scale(f, factor) for r, f in routes.items()}
        if plan_name is None:
            parts.append((first, _Repeating([], _sum(list(scaled.values()), scenario.duration), scenario.duration)))
            continue
        repeating, states, key_state = _settle(scaled, scenario, plan_name, n, states, key_state)
        parts.append((first, repeating))
    return _Segmented(parts, scenario.duration)
