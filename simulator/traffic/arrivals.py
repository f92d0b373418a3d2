"""Open arrivals: when each client's requests arrive, whatever the API answers.

An open client is described by a rate (constant, or a piecewise-linear profile over
time) and a process:

* ``poisson``: a non-homogeneous Poisson process. It is generated exactly, by
  inversion: the arrival times of a unit-rate Poisson process are mapped through the
  inverse of the cumulative rate ``Lambda(t) = integral of rate``.
* ``uniform``: evenly spaced in the same cumulative rate: the k-th request arrives when
  ``Lambda(t) = k`` (k = 0, 1, ...), so a constant 10 rps gives 0 s, 0.1 s, 0.2 s, ...

Bursts add ``count`` requests at ``at`` (spread evenly over ``over`` if given).
Replayed traces are read when the scenario is loaded (:mod:`simulator.scenario.traces`).

All of it is computed up front with NumPy; the engine only walks the sorted times.
"""

from __future__ import annotations

import numpy as np

from simulator.scenario import OpenArrivals

__all__ = ["cumulative_rate", "open_arrival_times", "rate_profile"]


def rate_profile(rate: float | list[tuple[float, float]], duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints (t, r) of the rate, extended flat to *duration_s*."""
    if isinstance(rate, (int, float)):
        return np.array([0.0, duration_s]), np.array([float(rate), float(rate)])
    ts = [float(t) for t, _ in rate]
    rs = [float(r) for _, r in rate]
    if ts[-1] < duration_s:
        ts.append(duration_s)
        rs.append(rs[-1])
    elif ts[-1] > duration_s:
        # Cut the profile at the end of the run, at the rate it has reached by then.
        end_rate = float(np.interp(duration_s, ts, rs))
        keep = [i for i, t in enumerate(ts) if t < duration_s]
        ts = [ts[i] for i in keep] + [duration_s]
        rs = [rs[i] for i in keep] + [end_rate]
    return np.array(ts), np.array(rs)


def cumulative_rate(rate: float | list[tuple[float, float]], duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoint times and Lambda(t) at each breakpoint (expected arrivals so far)."""
    ts, rs = rate_profile(rate, duration_s)
    seg = np.diff(ts) * (rs[:-1] + rs[1:]) / 2
    return ts, np.concatenate([[0.0], np.cumsum(seg)])


def _invert(levels: np.ndarray, ts: np.ndarray, rs: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Times t with Lambda(t) = level, for sorted levels below Lambda(end)."""
    k = np.searchsorted(cum, levels, side="right") - 1
    k = np.clip(k, 0, len(ts) - 2)
    t0, r0 = ts[k], rs[k]
    slope = (rs[k + 1] - r0) / (ts[k + 1] - t0)
    need = levels - cum[k]
    # Solve r0*x + slope*x^2/2 = need for x >= 0 (x = t - t0).
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = np.sqrt(np.maximum(r0 * r0 + 2 * slope * need, 0.0))
        # Numerically stable root: x = 2*need / (r0 + disc).
        x = np.where(r0 + disc > 0, 2 * need / (r0 + disc), 0.0)
    return t0 + x


def open_arrival_times(spec: OpenArrivals, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted arrival times in ``[0, duration_s)`` for one open client."""
    ts, rs = rate_profile(spec.rate, duration_s)
    _, cum = cumulative_rate(spec.rate, duration_s)
    total = cum[-1]
    parts: list[np.ndarray] = []
    if total > 0:
        if spec.process == "poisson":
            levels: list[np.ndarray] = []
            level = 0.0
            # Draw unit-rate arrivals in blocks until past the end.
            while level < total:
                block = level + np.cumsum(rng.exponential(1.0, 4096))
                levels.append(block)
                level = float(block[-1])
            lv = np.concatenate(levels)
            lv = lv[lv < total]
        else:
            lv = np.arange(0.0, total, 1.0)
        times = _invert(lv, ts, rs, cum)
        parts.append(times[times < duration_s])
    for burst in spec.bursts:
        if burst.over > 0:
            parts.append(burst.at + burst.over * np.arange(burst.count) / burst.count)
        else:
            parts.append(np.full(burst.count, burst.at))
    if not parts:
        return np.zeros(0)
    out = np.concatenate(parts)
    out = out[out < duration_s]
    return np.sort(out, kind="stable")
