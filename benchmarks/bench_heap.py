"""The fast engine's event heap alone: nanoseconds per pop and push.

Not a test. Every invocation schedules its environment's release and later takes it
from the heap, so one pop and one push per request is the least an engine that keeps
SimPy's event order does; this times that pair on the engine's own heap
(:mod:`simulator.engine.fast.heap`) in a steady state of *n* waiting events, with
lognormal durations like ``bench_fast.py``'s (median 40 ms, p99 250 ms):

    python benchmarks/bench_heap.py

Here each pop waits for the push before it, so the figure is the pair's latency; inside
the engine's loop other work overlaps it. An hour at 10,000 rps with a 55 ms mean
duration keeps about 550 events waiting.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.engine.fast import heap as H

N = 4_000_000


@njit(cache=True)
def _steady(dur, ht, hb, hk, hv, hc, n0):  # type: ignore[no-untyped-def]
    """Pop the first of *n0* events and push it back *dur[i]* later, for every i (*hb* is
    an int64 view of the times *ht*, as the engine passes it)."""
    n = n0
    eid = n0
    acc = 0.0
    for i in range(dur.size):
        t = ht[0]
        acc += t
        n -= 1
        H.pop_bits(hb, hk, hv, hc, n)
        H.sift_up(ht, hk, hv, hc, n, t + dur[i], eid, i, t)
        eid += 1
        n += 1
    return acc


def main() -> None:
    rng = np.random.default_rng(1)
    dur = rng.lognormal(np.log(0.040), np.log(0.250 / 0.040) / 2.3263478740408408, N)
    print(f"{'waiting events':>15} {'ns per pop + push':>18}")
    for n0 in (16, 128, 550, 4096, 50_000):
        size = n0 + 8
        start = np.sort(rng.random(n0) * 0.05)
        best = np.inf
        for _ in range(3):  # the best of three
            ht = np.zeros(size)
            ht[:n0] = start
            hk = np.zeros(size, dtype=np.int64)
            hk[:n0] = np.arange(n0)
            warm = ht.copy()
            _steady(dur[:10], warm, warm.view(np.int64), hk.copy(), np.zeros(size, dtype=np.int64), np.zeros(size), n0)
            t0 = time.perf_counter()
            _steady(dur, ht, ht.view(np.int64), hk, np.zeros(size, dtype=np.int64), np.zeros(size), n0)
            best = min(best, time.perf_counter() - t0)
        print(f"{n0:>15,} {best / N * 1e9:>18.1f}")


if __name__ == "__main__":
    main()
