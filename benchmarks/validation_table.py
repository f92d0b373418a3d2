"""How closely the model matches the local targets: one row per target and scenario.

Not a test: it sends real traffic to 127.0.0.1 for a while and reports what it saw. Each
run is ``throttlesim validate`` on a shipped validation scenario; the table gives, over
the repeats, the range of each check's error and how many runs were within every
tolerance:

    python benchmarks/validation_table.py                      # every target x scenario once
    python benchmarks/validation_table.py --busy --repeat 10 \\
        --target nginx --scenario route_account.toml             # 10 runs, every core busy

``--busy`` keeps a spinning process on every core beside each run (loadtests.busy).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loadtests.busy import busy_cores  # noqa: E402
from loadtests.validation import run_validation  # noqa: E402

VALIDATION = ROOT / "scenarios" / "validation"
#: nginx has no usage-plan quotas, so usage_plan_keys runs on the emulated target only.
PAIRS = [
    ("nginx", "route_account.toml"), ("nginx", "lambda_concurrency.toml"), ("nginx", "integration_timeout.toml"),
    ("nginx", "authorizer.toml"),
    ("emulated", "usage_plan_keys.toml"), ("emulated", "lambda_concurrency.toml"), ("emulated", "authorizer.toml"),
    ("emulated", "route_account.toml"), ("emulated", "integration_timeout.toml"),
    ("stand-in", "route_account.toml"), ("stand-in", "lambda_concurrency.toml"),
]


def _stand_in(scenario: Path, out: Path, duration_s: float) -> object:
    """validate by URL against the AWS-shaped stand-in (nginx --stage prod), with its access log."""
    server = subprocess.Popen([sys.executable, "-m", "loadtests.target.serve", str(scenario), "--port", "0",
                               "--gateway", "nginx", "--stage", "prod", "--duration-limit", str(duration_s + 120),
                               "--log-dir", str(out / "stage")], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        return run_validation(scenario, target=url, duration_s=duration_s, out_dir=out / "v", seeds=2, plots=False,
                              access_log=out / "stage" / "access.log")
    finally:
        server.terminate()
        server.wait(15)


def one(target: str, scenario: str, duration_s: float, busy: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="validation-table-") as out, (busy_cores() if busy else nullcontext()):
        if target == "stand-in":
            run: Any = _stand_in(VALIDATION / scenario, Path(out), duration_s)
        else:
            run = run_validation(VALIDATION / scenario, target=target, duration_s=duration_s, out_dir=out, seeds=2,
                                 plots=False)
    checks = {c.name: c for c in run.report.checks}
    return {
        "ok": float(run.ok),
        "n": float(run.report.n_observed),
        "err_429_pts": 100 * checks["fraction_429"].error,
        "err_5xx_pts": 100 * checks["fraction_5xx"].error,
        "agreement": run.report.agreement,
        "err_p50_pct": 100 * checks["latency_p50"].error,
        "err_p95_pct": 100 * checks["latency_p95"].error,
    }


def span(values: list[float], fmt: str) -> str:
    lo, hi = min(values), max(values)
    return format(lo, fmt) if format(lo, fmt) == format(hi, fmt) else f"{format(lo, fmt)}–{format(hi, fmt)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", action="append", choices=("nginx", "emulated", "stand-in"),
                    help="only these targets (stand-in: the AWS-shaped nginx stage, validated by its URL)")
    ap.add_argument("--scenario", action="append", help="only these scenarios (file names in scenarios/validation)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each pair")
    ap.add_argument("--duration", type=float, default=12.0, help="seconds of traffic per run")
    ap.add_argument("--busy", action="store_true", help="a spinning process on every core beside each run")
    args = ap.parse_args()
    pairs = [(t, s) for t, s in PAIRS if (not args.target or t in args.target)
             and (not args.scenario or s in args.scenario)]
    print("| target | scenario | runs within tolerance | attempts | 429 error (pts) | 5XX error (pts) "
          "| agreement | p50 error | p95 error |")
    print("|---|---|---|---|---|---|---|---|---|")
    for target, scenario in pairs:
        rows = []
        for k in range(args.repeat):
            t0 = time.monotonic()
            rows.append(one(target, scenario, args.duration, args.busy))
            print(f"  {target} {scenario} run {k + 1}: ok={bool(rows[-1]['ok'])} agreement={rows[-1]['agreement']:.4f} "
                  f"({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
        col = {key: [r[key] for r in rows] for key in rows[0]}
        print(f"| {target} | {scenario.removesuffix('.toml')} | {int(sum(col['ok']))} of {len(rows)} "
              f"| {span(col['n'], '.0f')} | {span(col['err_429_pts'], '.2f')} | {span(col['err_5xx_pts'], '.2f')} "
              f"| {span(col['agreement'], '.3f')} | {span(col['err_p50_pct'], '.1f')}% "
              f"| {span(col['err_p95_pct'], '.1f')}% |", flush=True)


if __name__ == "__main__":
    main()
