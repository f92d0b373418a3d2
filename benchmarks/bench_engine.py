"""How many simulated requests per second of wall time the engine achieves.

Not a test: speed depends on the machine. Run it and read the table:

    python benchmarks/bench_engine.py                       # flash-sale and usage-plan scenarios
    python benchmarks/bench_engine.py scenarios/x.toml --duration 120s
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import simulator  # noqa: E402

DEFAULT = ["scenarios/flash_sale.toml", "scenarios/rest_usage_plans.toml"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", default=DEFAULT)
    ap.add_argument("--duration", help="override each scenario's duration, e.g. 120s")
    ap.add_argument("--repeat", type=int, default=3, help="runs per scenario; the best is reported")
    args = ap.parse_args()
    print(f"{'scenario':36} {'requests':>10} {'attempts':>10} {'wall s':>8} {'attempts/s':>12} {'peak RSS MB':>12}")
    for path in args.scenarios:
        overrides = {"duration": args.duration} if args.duration else None
        s = simulator.load_scenario(ROOT / path if not Path(path).is_absolute() else path, overrides=overrides)
        best = float("inf")
        result = None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = simulator.simulate(s)
            best = min(best, time.perf_counter() - t0)
        assert result is not None
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{s.name:36} {result.n_requests:>10,} {result.n_attempts:>10,} {best:>8.2f} "
              f"{result.n_attempts / best:>12,.0f} {rss:>12,.0f}")


if __name__ == "__main__":
    main()
