"""Whole-process time of ``throttlesim run S --json``: the first run on a machine, and later ones.

Not a test: times depend on the machine. numba's cache is pointed at temporary folders
(``NUMBA_CACHE_DIR``: numba then reads and writes no other), so a first run starts as on a
fresh machine. For each shipped scenario, each figure the median of ``--repeat`` processes:

* ``auto, first``: ``--engine auto`` with nothing compiled, once, in a cache folder of its
  own (a small run goes to SimPy; a large one compiles the fast engine and says so);
* ``simpy``: ``--engine simpy``;
* ``auto, warm``: ``--engine auto`` after ``throttlesim warmup`` compiled the fast engine;
* ``imports``: the CPU seconds that importing what a run loads takes (``simpy``'s modules,
  each imported once, in order, in a fresh process).

It also times ``throttlesim warmup`` itself. Run it on an idle machine:

    python benchmarks/bench_first_run.py [--repeat 3] [scenario ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["flash_sale", "http_api_routes", "rest_usage_plans", "slow_integration_retry_storm"]
#: Prints, in order, the modules a ``throttlesim`` command line loads.
_LIST_MODULES = """
import contextlib, io, sys
from simulator.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    main(sys.argv[1:])
print(*sys.modules)
"""
#: Imports the modules given as arguments, in order, and prints the CPU seconds it took.
_IMPORT_THEM = """
import importlib, sys, time
start = time.process_time()
for name in sys.argv[1:]:
    if name not in sys.modules and name != "__main__":
        try:
            importlib.import_module(name)
        except Exception:
            pass
print(time.process_time() - start)
"""


def _timed(cache: Path, *args: str) -> tuple[float, str]:
    """Seconds of one ``python -m simulator.cli ...`` process with numba's cache in *cache*, and its stderr."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "simulator.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=True)
    return time.perf_counter() - start, done.stderr.strip()


def _median(cache: Path, repeat: int, *args: str) -> float:
    return statistics.median(_timed(cache, *args)[0] for _ in range(repeat))


def _import_cpu_s(repeat: int, *args: str) -> float:
    """Median CPU seconds of importing what ``throttlesim ARGS`` loads."""
    modules = subprocess.run([sys.executable, "-c", _LIST_MODULES, *args], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    return statistics.median(
        float(subprocess.run([sys.executable, "-c", _IMPORT_THEM, *modules], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="processes per figure (the median is shown)")
    parser.add_argument("scenarios", nargs="*", default=SCENARIOS)
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="first-run-") as tmp:
        for k, name in enumerate(options.scenarios):
            path = f"scenarios/{name}.toml"
            first, note = _timed(Path(tmp) / f"cold-{k}", "run", path, "--json")
            simpy = _median(Path(tmp) / "warm", options.repeat, "run", path, "--json", "--engine", "simpy")
            imports = _import_cpu_s(options.repeat, "run", path, "--json", "--engine", "simpy")
            rows.append([name, first, "SimPy" if "SimPy" in note else "fast", simpy, imports])
        warmup, _ = _timed(Path(tmp) / "warm", "warmup")
        for row in rows:
            row.append(_median(Path(tmp) / "warm", options.repeat, "run", f"scenarios/{row[0]}.toml", "--json"))
    print(f"{'scenario':30} {'auto, first':>11} {'engine':>6} {'simpy':>7} {'auto, warm':>10} {'imports (cpu)':>13}")
    for name, first, engine, simpy, imports, warm in rows:
        print(f"{name:30} {first:10.2f}s {engine:>6} {simpy:6.2f}s {warm:9.2f}s {imports:12.3f}s")
    print(f"throttlesim warmup: {warmup:.1f} s; median of {options.repeat} processes except 'auto, first' (one)")


if __name__ == "__main__":
    main()
