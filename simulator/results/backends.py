"""What the HTTP backends went through: utilization, queue length and waits.

An HTTP backend (:mod:`simulator.integrations.http_backend`) logs every request it
accepted: when it arrived, when a worker started on it, when the worker finished, and what
became of it. From these rows alone follow two step functions of time per backend:

* **busy workers**: +1 at each start, -1 at each end;
* **queue length**: +1 at each arrival that had to wait, -1 when it left the queue (its
  start, or the moment it was dropped).

Utilization is the area under the busy-workers curve over the scenario's duration divided
by ``workers x duration`` (work that runs on after the duration, as a backend finishing
requests the gateway gave up on, is outside it); the mean queue length is the area under
the queue curve over the duration, divided by it. A request *waited* when it started after
it arrived; ``waits_per_s`` counts those per second of the scenario.

Changes at the same instant are applied together before a level is read, so a worker that
finishes at *t* and takes the next request at *t* never shows as a dip or a peak.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simulator import outcomes as oc

if TYPE_CHECKING:
    from simulator.results.records import Result

__all__ = ["backend_series", "backend_summary", "step_levels"]


def step_levels(up: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(times, level after each time)`` of a count that rises by one at each of *up*
    and falls by one at each of *down*; simultaneous changes are merged."""
    times = np.concatenate([up, down])
    deltas = np.concatenate([np.ones(len(up), np.int64), -np.ones(len(down), np.int64)])
    if len(times) == 0:
        return np.zeros(0), np.zeros(0, np.int64)
    unique, inverse = np.unique(times, return_inverse=True)
    return unique, np.cumsum(np.bincount(inverse, weights=deltas).round().astype(np.int64))


def _area(times: np.ndarray, levels: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The integral of the step function from 0 to each of *at* (level 0 before ``times[0]``)."""
    if len(times) == 0:
        return np.zeros(len(at))
    cum = np.concatenate([[0.0], np.cumsum(levels[:-1] * np.diff(times))])
    j = np.searchsorted(times, at, side="right") - 1
    safe = np.maximum(j, 0)
    return np.where(j >= 0, cum[safe] + levels[safe] * (at - times[safe]), 0.0)


def _max_per_interval(times: np.ndarray, levels: np.ndarray, n: int, interval_s: float) -> np.ndarray:
    """The highest level in each interval ``[start, end)``, counting the level in force at
    its start (after any changes at that instant)."""
    out = np.zeros(n, np.int64)
    if len(times) == 0:
        return out
    idx = np.minimum((times / interval_s).astype(np.int64), n - 1)
    np.maximum.at(out, idx, levels)
    starts = np.arange(n) * interval_s
    j = np.searchsorted(times, starts, side="right") - 1
    carry = np.where(j >= 0, levels[np.maximum(j, 0)], 0)
    return np.maximum(out, carry)


def _rows(result: Result, b: int) -> dict[str, np.ndarray]:
    rows = result.backend_requests
    mine = rows["b"] == b
    return {k: v[mine] for k, v in rows.items()}


def _curves(rows: dict[str, np.ndarray]) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The busy-workers and queue-length step functions of one backend's rows."""
    served = rows["state"] != oc.SKIPPED
    waited = rows["start"] > rows["t"]
    busy = step_levels(rows["start"][served], rows["end"][served])
    queue = step_levels(rows["t"][waited], rows["start"][waited])
    return busy, queue


def _ms(values: np.ndarray) -> dict[str, float | None]:
    """Percentiles of waits in ms; None each when the backend accepted no request."""
    if len(values) == 0:
        return {"p50": None, "p99": None, "max": None, "mean": None}
    ms = values * 1000.0
    p50, p99 = np.percentile(ms, (50, 99))
    return {"p50": round(float(p50), 3), "p99": round(float(p99), 3), "max": round(float(ms.max()), 3),
            "mean": round(float(ms.mean()), 3)}


def backend_summary(result: Result) -> dict[str, dict[str, Any]]:
    """Per backend: requests accepted, refused and failed, utilization, queue length and
    waits (the ``backends`` block of :meth:`~simulator.results.Result.summary`)."""
    s = result.scenario
    duration = s.duration
    a = result.attempts
    route_backend = np.array([[b.name for b in s.backends].index(r.backend) if r.backend is not None else -1
                              for r in s.routes], dtype=np.int64)
    attempt_backend = route_backend[a["route"]] if len(a["route"]) else np.zeros(0, np.int64)
    out: dict[str, dict[str, Any]] = {}
    for i, spec in enumerate(s.backends):
        rows = _rows(result, i)
        (bt, bl), (qt, ql) = _curves(rows)
        waited = rows["start"] > rows["t"]
        state = rows["state"]
        after = state == oc.SERVED_AFTER_TIMEOUT
        mine = attempt_backend == i
        out[spec.name] = {
            "workers": spec.workers,
            "requests": int(len(state)),
            "refused": int(np.sum(mine & (a["gateway_cause"] == oc.BACKEND_QUEUE_FULL))),
            "errors": int(np.sum(mine & (a["gateway_cause"] == oc.BACKEND_ERROR))),
            "served_after_timeout": int(np.sum(after)),
            "work_after_timeout_s": round(float(np.sum(rows["end"][after] - rows["start"][after])), 6),
            "skipped_in_queue": int(np.sum(state == oc.SKIPPED)),
            "utilization": round(float(_area(bt, bl, np.array([duration]))[0]) / (spec.workers * duration), 6),
            "peak_busy_workers": int(bl.max()) if len(bl) else 0,
            "queue_length_mean": round(float(_area(qt, ql, np.array([duration]))[0]) / duration, 6),
            "queue_length_max": int(ql.max()) if len(ql) else 0,
            "waited": int(np.sum(waited)),
            "waits_per_s": round(float(np.sum(waited)) / duration, 3),
            "wait_ms": _ms(rows["start"] - rows["t"]),
        }
    return out


def backend_series(result: Result, n: int, interval_s: float) -> dict[str, np.ndarray]:
    """Per backend and interval: ``BackendUtilization[name]`` (mean share of workers busy),
    ``BackendQueueLength[name]`` (maximum) and ``BackendWaits[name]`` (requests that
    arrived in the interval and had to wait)."""
    out: dict[str, np.ndarray] = {}
    edges = np.arange(n + 1) * interval_s
    for i, spec in enumerate(result.scenario.backends):
        rows = _rows(result, i)
        (bt, bl), (qt, ql) = _curves(rows)
        busy = np.diff(_area(bt, bl, edges))
        out[f"BackendUtilization[{spec.name}]"] = np.round(busy / (spec.workers * interval_s), 6)
        out[f"BackendQueueLength[{spec.name}]"] = _max_per_interval(qt, ql, n, interval_s)
        arrived = np.minimum((rows["t"] / interval_s).astype(np.int64), n - 1)
        waited = rows["start"] > rows["t"]
        out[f"BackendWaits[{spec.name}]"] = np.bincount(arrived[waited], minlength=n).astype(np.int64)
    return out
