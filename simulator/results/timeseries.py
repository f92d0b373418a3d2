"""CloudWatch-style time series from a run's attempt records.

Each attempt counts in the interval of its start time (CloudWatch stamps Lambda metrics
with the invocation's start; API Gateway's with the request's arrival). Gateway
metrics use the status and latency the gateway produced, not what a client that gave
up early saw. With a REST cache, ``CacheHitCount`` and ``CacheMissCount`` count the
attempts the cache answered and those it passed on. ``ConcurrentExecutions`` is the
maximum number of invocations in flight during the interval, including those that
started earlier and are still running. A scenario with HTTP backends adds their series
(:func:`simulator.results.backends.backend_series`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from simulator import outcomes as oc
from simulator.outcomes import GATEWAY_REJECTIONS, PROVISIONED
from simulator.results.backends import backend_series
from simulator.scenario.cache import route_caches

if TYPE_CHECKING:
    from simulator.results.records import Result

__all__ = ["build_timeseries", "series_table"]


def _max_level(t: np.ndarray, level: np.ndarray, n: int, interval_s: float) -> np.ndarray:
    """Maximum of a step function (value ``level[i]`` from ``t[i]`` on) per interval."""
    out = np.zeros(n, dtype=np.int64)
    if len(t) == 0:
        return out
    idx = np.minimum((t / interval_s).astype(np.int64), n - 1)
    np.maximum.at(out, idx, level)
    # Carry the level in force at the start of each interval into it.
    carry = np.zeros(n, dtype=np.int64)
    last_in = np.full(n, -1, dtype=np.int64)
    last_in[idx] = np.arange(len(t))  # the last change within each interval (t is sorted)
    current = 0
    for k in range(n):
        carry[k] = current
        if last_in[k] >= 0:
            current = int(level[last_in[k]])
    return np.maximum(out, carry)


#: Lambda's account-wide series, in the order results list them.
LAMBDA_TOTALS = ("Invocations", "Throttles", "ConcurrentExecutions", "ProvisionedConcurrencySpilloverInvocations")


def series_table(
    time_s: np.ndarray,
    gateway: dict[str, np.ndarray],
    functions: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    account_concurrency: np.ndarray,
) -> dict[str, np.ndarray]:
    """The series by their CloudWatch names, in a stable order: ``time_s``, the gateway's,
    Lambda's account totals, then ``Metric[function]`` for each function, given as
    ``(name, invocations, throttles, concurrent executions, spillover invocations)``.
    Both the recorded results and the bounded-memory ones build their table here."""
    n = len(time_s)
    out: dict[str, np.ndarray] = {"time_s": time_s, **gateway}
    totals = {k: np.zeros(n, dtype=np.int64) for k in LAMBDA_TOTALS}
    per: dict[str, np.ndarray] = {}
    for name, inv, thr, conc, spill in functions:
        per[f"Invocations[{name}]"] = inv
        per[f"Throttles[{name}]"] = thr
        per[f"ConcurrentExecutions[{name}]"] = conc
        per[f"ProvisionedConcurrencySpilloverInvocations[{name}]"] = spill
        totals["Invocations"] += inv
        totals["Throttles"] += thr
        totals["ProvisionedConcurrencySpilloverInvocations"] += spill
    totals["ConcurrentExecutions"] = account_concurrency
    out.update(totals)
    out.update(per)
    return out


def build_timeseries(result: Result, interval_s: float = 1.0) -> dict[str, np.ndarray]:
    if interval_s <= 0:
        raise ValueError(f"interval_s must be > 0, got {interval_s}")
    a = result.attempts
    n = max(1, math.ceil(result.end_s / interval_s - 1e-9))
    idx = np.minimum((a["time_s"] / interval_s).astype(np.int64), n - 1)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(idx[mask], minlength=n).astype(np.int64)

    def mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        total = np.bincount(idx[mask], weights=values[mask], minlength=n)
        k = np.bincount(idx[mask], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.round(np.where(k > 0, total / np.maximum(k, 1), np.nan), 6)

    everything = np.ones(len(idx), dtype=bool)
    gstatus = a["gateway_status"]
    gcause = a["gateway_cause"]
    reached = a["function"] >= 0
    admitted = ~np.isin(gcause, np.array(sorted(GATEWAY_REJECTIONS), dtype=np.int64))
    gateway = {
        "Count": count(everything),
        "4XXError": count((gstatus >= 400) & (gstatus < 500)),
        "5XXError": count(gstatus >= 500),
        "Latency": mean(a["gateway_latency_s"] * 1000.0, everything),
        "IntegrationLatency": mean(a["integration_latency_s"] * 1000.0, admitted),
    }
    if any(rc is not None for rc in route_caches(result.scenario)):
        gateway["CacheHitCount"] = count((a["flags"] & oc.CACHE_HIT) != 0)
        gateway["CacheMissCount"] = count((a["flags"] & oc.CACHE_MISS) != 0)
    throttled = reached & np.isin(gcause, oc.LAMBDA_REFUSAL_CODES)
    ran = reached & ~throttled
    t_c, f_c, n_c = result._conc
    functions = result.scenario.functions
    # Account-wide concurrency: the sum over functions, updated at every change.
    prev = np.zeros(len(functions), dtype=np.int64)
    deltas = np.empty(len(n_c), dtype=np.int64)
    for k in range(len(n_c)):
        f = f_c[k]
        deltas[k] = n_c[k] - prev[f]
        prev[f] = n_c[k]
    account_level = np.cumsum(deltas)
    per_function = []
    for i, f in enumerate(functions):
        mine = a["function"] == i
        sel = f_c == i
        spill = (count(mine & ran & ((a["flags"] & PROVISIONED) == 0)) if f.provisioned_peak
                 else np.zeros(n, np.int64))
        inv, thr = count(mine & ran), count(mine & throttled)
        auth = a["authorizer_function"] == i  # an authorizer's invocations (by the attempt's start)
        if np.any(auth):
            auth_ran = auth & ~np.isin(a["authorizer_cause"], oc.LAMBDA_REFUSAL_CODES)
            inv = inv + count(auth_ran)
            thr = thr + count(auth & ~auth_ran)
        per_function.append((f.name, inv, thr, _max_level(t_c[sel], n_c[sel], n, interval_s), spill))
    table = series_table(np.arange(n) * interval_s, gateway, per_function,
                         _max_level(t_c, account_level, n, interval_s))
    table.update(backend_series(result, n, interval_s))
    return table
