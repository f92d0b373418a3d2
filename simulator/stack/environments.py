"""Execution environments seen in a function's logs: reuse gaps, lifetimes, peak concurrency.

Lambda writes each execution environment's logs to a log stream of its own, and logs a REPORT
when an invocation ends; the invocation began ``Duration`` (plus ``Init Duration`` on a cold
start) earlier. From the reports of each stream, in order:

* reuse gaps: the idle time between one invocation's end and the next one's start in the same
  environment. The longest gap seen is a *lower bound* for the idle timeout (the environment
  was still there after that long); it is reported, not set;
* lifetimes: from the first invocation's start (init included) to the last one's end, a lower
  bound for how long environments live;
* peak concurrency: the most invocations running at once across all streams;
* retirements: a stream that began with a cold start inside the logs (a complete life) and
  whose environment was gone when it would have been reused: another stream *began with a
  cold start* after this one's last invocation ended, within the longest reuse gap seen (an
  environment idle that long is known to survive). Had it been there, idle, Lambda would
  have used it instead of initialising a new one; so it was retired, and its life (first
  start to last end) is one measurement of the maximum lifetime. With at least
  :data:`MIN_RETIREMENTS` of them, calibrate sets ``behaviour.max_environment_lifetime``
  to their median.

https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.stack.lambda_logs import Invocation

__all__ = ["MIN_RETIREMENTS", "environments", "retired_lifetimes"]

#: Retirements needed before calibrate sets ``behaviour.max_environment_lifetime``.
MIN_RETIREMENTS = 3


def environments(invocations: Sequence[Invocation]) -> dict[str, Any] | None:
    """Figures of the streams, or None when the reports carry no stream and time."""
    streams = _streams(invocations)
    if not streams:
        return None
    gaps: list[float] = []
    lifetimes: list[float] = []
    edges: list[tuple[float, int]] = []
    for spans in streams.values():
        gaps += [max(0.0, b[0] - a[1]) for a, b in zip(spans, spans[1:])]
        lifetimes.append(spans[-1][1] - spans[0][0])
        edges += [(start, 1) for start, _, _ in spans] + [(end, -1) for _, end, _ in spans]
    running = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # ends before starts at the same instant
        running += step
        peak = max(peak, running)
    longest_gap = max(gaps, default=None)
    retired = retired_lifetimes(streams, longest_gap)
    return {"environments": len(streams), "peak_concurrency": peak,
            "longest_reuse_gap_s": longest_gap,
            "median_reuse_gap_s": float(np.median(gaps)) if gaps else None,
            "longest_lifetime_s": max(lifetimes),
            "retirements": len(retired),
            "retired_lifetimes_s": [round(x, 3) for x in sorted(retired)]}


def _streams(invocations: Sequence[Invocation]) -> dict[str, list[tuple[float, float, bool]]]:
    """Each stream's invocations as (start, end, cold), in order."""
    streams: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    for inv in invocations:
        if inv.stream is None or inv.logged_s is None:
            continue
        start = inv.logged_s - (inv.duration_ms + (inv.init_ms or 0.0)) / 1000
        streams[inv.stream].append((start, inv.logged_s, inv.init_ms is not None))
    for spans in streams.values():
        spans.sort()
    return streams


def retired_lifetimes(streams: dict[str, list[tuple[float, float, bool]]], longest_gap: float | None) -> list[float]:
    """Lives of the environments that were retired (see the module's docstring)."""
    if longest_gap is None:
        return []
    births = sorted(spans[0][0] for spans in streams.values() if spans[0][2])
    out = []
    for spans in streams.values():
        first, last = spans[0], spans[-1]
        if not first[2]:
            continue  # began before the logs: its life is not complete
        after = np.searchsorted(births, last[1], side="right")
        if after < len(births) and births[after] <= last[1] + longest_gap:
            out.append(last[1] - first[0])
    return out
