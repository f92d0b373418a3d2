"""Whole-process time of ``throttlesim run S --json``: the first run on a machine, and later ones.

Not a test: times depend on the machine. The source tree is copied to a temporary
directory, so numba's cache starts empty there, as on a fresh machine; then, for each
shipped scenario, it times (one process each):

* ``auto, first``: ``--engine auto`` with nothing compiled (a small scenario runs on SimPy);
* ``simpy``: ``--engine simpy``;
* ``auto, warm``: ``--engine auto`` after ``throttlesim warmup`` compiled the fast engine.

It also times ``throttlesim warmup`` itself. Run it on an idle machine:

    python benchmarks/bench_first_run.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["flash_sale", "http_api_routes", "rest_usage_plans", "slow_integration_retry_storm"]


def _timed(tree: Path, *args: str) -> tuple[float, str]:
    """Seconds of one ``python -m simulator.cli ...`` process run in *tree*, and its stderr."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "simulator.cli", *args], cwd=tree, capture_output=True, text=True,
                          check=True)
    return time.perf_counter() - start, done.stderr.strip()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="first-run-") as tmp:
        tree = Path(tmp) / "tree"
        shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns("__pycache__", ".venv", ".git", "*.egg-info"))
        rows = []
        for name in SCENARIOS:
            path = f"scenarios/{name}.toml"
            first, note = _timed(tree, "run", path, "--json")
            simpy, _ = _timed(tree, "run", path, "--json", "--engine", "simpy")
            rows.append([name, first, simpy, "SimPy" if "SimPy" in note else "fast"])
        warmup, _ = _timed(tree, "warmup")
        for row in rows:
            row.append(_timed(tree, "run", f"scenarios/{row[0]}.toml", "--json")[0])
    print(f"{'scenario':32} {'auto, first':>12} {'engine':>7} {'simpy':>8} {'auto, warm':>11}")
    for name, first, simpy, engine, warm in rows:
        print(f"{name:32} {first:11.2f}s {engine:>7} {simpy:7.2f}s {warm:10.2f}s")
    print(f"throttlesim warmup: {warmup:.1f} s")


if __name__ == "__main__":
    main()
