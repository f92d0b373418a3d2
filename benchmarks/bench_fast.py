"""The fast engine against the SimPy engine: simulated requests per second of wall time,
and peak memory.

Not a test: speed depends on the machine (and on what else runs on it). Run it and read
the tables:

    python benchmarks/bench_fast.py              # shipped scenarios, flash-sale without retries, 1 h at 10k rps
    python benchmarks/bench_fast.py --quick      # shorter runs, no SimPy for the long ones
    python benchmarks/bench_fast.py --cold       # also measure a cold compile (empty numba cache)

Every measurement runs in a fresh process, so that its peak resident memory is its own;
the fast engine is warmed up on a tiny scenario first (loading numba's cache), and that
first-call time is reported on its own line. ``fast`` keeps every attempt's record,
``fast/agg`` keeps bounded aggregates only (``record=False``). Runs that expect more
than ``AHEAD_ABOVE`` attempts (here the hour) make their random numbers and arrival
times on a second thread while the compiled loop runs (``simulator/engine/fast/streams.py``);
``agg cpu s``, the CPU time of the ``fast/agg`` run, shows what that costs.

``draws s`` is what no engine that gives the same result can avoid: making the run's
arrivals and drawing the values the run used (whole blocks) from the same distributions
with NumPy, with no event handled at all (best of three). ``max req/s`` is the requests
per second that would leave.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: One simulated hour of a simple open Poisson stream at 10,000 requests per second.
HOUR_AT_10K: dict[str, Any] = {
    "name": "poisson-10k-rps-1h",
    "duration": "1h",
    "seed": 1,
    "account": {"throttle": {"rate": 20000, "burst": 10000}, "lambda_concurrency": 3000},
    "routes": [{"name": "GET /items", "function": "items"}],
    "functions": [{"name": "items", "memory_mb": 512,
                   "duration": {"kind": "lognormal", "median": "40ms", "p99": "250ms"},
                   "init": {"kind": "lognormal", "median": "300ms", "p99": "900ms"}, "error_rate": 0.001}],
    "clients": [{"name": "load", "routes": {"GET /items": 1}, "arrivals": {"process": "poisson", "rate": 10000}}],
}

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("flash-sale, no retries", "scenarios/flash_sale.toml", {"clients.mobile-app.retry": {"mode": "none"}}),
    ("flash-sale", "scenarios/flash_sale.toml", {}),
    ("rest-usage-plans", "scenarios/rest_usage_plans.toml", {}),
    ("slow-integration-retry-storm", "scenarios/slow_integration_retry_storm.toml", {}),
    ("http-api-routes", "scenarios/http_api_routes.toml", {}),
]


def _load(path: str, overrides: dict[str, Any]) -> Any:
    import simulator

    if path == "hour":
        return simulator.parse_scenario({**HOUR_AT_10K, **overrides})
    return simulator.load_scenario(ROOT / path, overrides=overrides or None)


def _one(path: str, overrides: dict[str, Any], engine: str) -> dict[str, Any]:
    """Run one measurement in this (fresh) process."""
    import simulator

    if engine == "draws":
        return _draws(path, overrides)
    s = _load(path, overrides)
    first = None
    if engine != "simpy":
        tiny = simulator.parse_scenario({**HOUR_AT_10K, "duration": "1s", "name": "warm-up"})
        t0 = time.perf_counter()
        simulator.simulate(tiny, engine="fast", record=False)
        simulator.simulate(tiny, engine="fast", record=True)
        first = time.perf_counter() - t0
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    r = simulator.simulate(s, engine="simpy" if engine == "simpy" else "fast", record=engine != "fast/agg")
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    summary = r.summary(cost=False)
    return {"requests": r.n_requests, "attempts": r.n_attempts, "wall_s": wall, "cpu_s": cpu, "first_call_s": first,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_before_mb": base / 1024,
            "success": summary["rates"]["success_fraction"]}


def _draws(path: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Seconds to make the run's arrivals and random numbers alone (the same counts)."""
    import numpy as np

    from simulator.dists import BLOCK
    from simulator.engine.fast import inputs as fast_inputs
    from simulator.engine.fast import streams as fast_streams
    from simulator.engine.fast.engine import FastEngine

    s = _load(path, overrides)
    engine = FastEngine(s, s.seed, record=False)
    n = engine.run().n_requests
    # Only the values the run used (the engine draws ahead), in whole blocks.
    streams = engine.x["streams"]
    taken = streams.used(engine.rpos, engine.rlen)
    used = [(src[0], -(-int(taken[k]) // BLOCK)) for k, src in enumerate(streams.sources)
            if src is not None and not streams.const[k] and taken[k] > 0]
    best = math.inf
    for _ in range(3):  # the best of three: this is a floor
        t0 = time.perf_counter()
        x = fast_inputs.flatten(s, s.seed)  # the scenario's tables and every open client's first arrivals
        for src in x["arrivals"].sources.values():
            if isinstance(src, fast_inputs.ArrivalChunks):
                for _ in src:  # the rest of a long run's arrivals
                    pass
        rng = np.random.default_rng(0)
        for dist, n_blocks in used:
            fast_streams.draw_blocks(dist, rng, n_blocks)
        best = min(best, time.perf_counter() - t0)
    return {"requests": n, "wall_s": best}


def _measure(path: str, overrides: dict[str, Any], engine: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", json.dumps([path, overrides, engine])]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cold_compile() -> float:
    """Seconds for a first call with an empty numba cache (a fresh checkout)."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        return float(_measure("hour", {"duration": "1s"}, "fast", env)["first_call_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter runs; SimPy only on short ones")
    ap.add_argument("--cold", action="store_true", help="also time a compile with an empty numba cache")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        path, overrides, engine = json.loads(args.one)
        print(json.dumps(_one(path, overrides, engine)))
        return
    cases = list(CASES)
    if args.quick:
        cases = [(n, p, {**o, "duration": "4m"}) for n, p, o in cases[:2]]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
          "(another busy core slows both engines)")
    head = (f"{'scenario':30} {'requests':>10} {'simpy s':>8} {'fast s':>7} {'agg s':>7} {'agg cpu s':>9} "
            f"{'simpy req/s':>12} {'fast req/s':>11} {'agg req/s':>11} {'x simpy':>8} {'x (agg)':>8} {'peak MB':>17} "
            f"{'draws s':>8} {'max req/s':>11}")
    print(head)
    first = None
    for name, path, overrides in cases:
        ref = _measure(path, overrides, "simpy")
        fast = _measure(path, overrides, "fast")
        agg = _measure(path, overrides, "fast/agg")
        draws = _measure(path, overrides, "draws")
        first = fast["first_call_s"]
        n = ref["requests"]
        assert fast["requests"] == agg["requests"] == draws["requests"] == n
        print(f"{name:30} {n:>10,} {ref['wall_s']:>8.2f} {fast['wall_s']:>7.3f} {agg['wall_s']:>7.3f} "
              f"{agg['cpu_s']:>9.3f} {n / ref['wall_s']:>12,.0f} {n / fast['wall_s']:>11,.0f} "
              f"{n / agg['wall_s']:>11,.0f} {ref['wall_s'] / fast['wall_s']:>8.0f} "
              f"{ref['wall_s'] / agg['wall_s']:>8.0f} "
              f"{ref['peak_rss_mb']:>5.0f}/{fast['peak_rss_mb']:>5.0f}/{agg['peak_rss_mb']:>5.0f} "
              f"{draws['wall_s']:>8.3f} {n / draws['wall_s']:>11,.0f}")
    hour = {"duration": "6m"} if args.quick else {}
    agg = _measure("hour", hour, "fast/agg")
    draws = _measure("hour", hour, "draws")
    n = agg["requests"]
    print(f"{HOUR_AT_10K['name'] + (' (6 min)' if args.quick else ''):30} {n:>10,} {'-':>8} {'-':>7} "
          f"{agg['wall_s']:>7.2f} {agg['cpu_s']:>9.2f} {'-':>12} {'-':>11} {n / agg['wall_s']:>11,.0f} "
          f"{'-':>8} {'-':>8} {'-':>5}/{'-':>5}/{agg['peak_rss_mb']:>5.0f} {draws['wall_s']:>8.2f} "
          f"{n / draws['wall_s']:>11,.0f}")
    print("peak MB: simpy/fast/agg, the whole process's peak resident memory (Python, NumPy, numba included)")
    from simulator.engine.fast.engine import AHEAD_ABOVE

    print(f"agg cpu s: CPU time of the fast/agg run; above {AHEAD_ABOVE:,} expected attempts a second thread makes the")
    print("         random numbers and arrivals while the loop runs, so it can exceed the wall time")
    print("draws s: the run's arrivals and random numbers alone; max req/s: requests / draws s, the most any engine")
    print("         consuming the same streams could reach here")
    if first is not None:
        print(f"first call of the fast engine in a process (numba cache warm): {first:.2f} s")
    if args.cold:
        print(f"first call with an empty numba cache (compiling): {_cold_compile():.1f} s")


if __name__ == "__main__":
    main()
