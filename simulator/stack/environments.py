"""Execution environments seen in a function's logs: reuse gaps, lifetimes, peak concurrency.

Lambda writes each execution environment's logs to a log stream of its own, and logs a REPORT
when an invocation ends; the invocation began ``Duration`` (plus ``Init Duration`` on a cold
start) earlier. From the reports of each stream, in order:

* reuse gaps: the idle time between one invocation's end and the next one's start in the same
  environment. The longest gap seen is a *lower bound* for the idle timeout (the environment
  was still there after that long); it is reported, not set;
* lifetimes: from the first invocation's start (init included) to the last one's end, a lower
  bound for how long environments live;
* peak concurrency: the most invocations running at once across all streams.

https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.stack.lambda_logs import Invocation

__all__ = ["environments"]


def environments(invocations: Sequence[Invocation]) -> dict[str, Any] | None:
    """Figures of the streams, or None when the reports carry no stream and time."""
    streams: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for inv in invocations:
        if inv.stream is None or inv.logged_s is None:
            continue
        start = inv.logged_s - (inv.duration_ms + (inv.init_ms or 0.0)) / 1000
        streams[inv.stream].append((start, inv.logged_s))
    if not streams:
        return None
    gaps: list[float] = []
    lifetimes: list[float] = []
    edges: list[tuple[float, int]] = []
    for spans in streams.values():
        spans.sort()
        gaps += [max(0.0, b[0] - a[1]) for a, b in zip(spans, spans[1:])]
        lifetimes.append(spans[-1][1] - spans[0][0])
        edges += [(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans]
    running = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # ends before starts at the same instant
        running += step
        peak = max(peak, running)
    return {"environments": len(streams), "peak_concurrency": peak,
            "longest_reuse_gap_s": max(gaps, default=None),
            "median_reuse_gap_s": float(np.median(gaps)) if gaps else None,
            "longest_lifetime_s": max(lifetimes)}
