"""Choosing an engine for ``engine="auto"``: never a slower first run than SimPy's.

The fast engine is compiled by numba the first time it runs on a machine (about 20 to 60
seconds, then cached on disk, ``cache=True``); the SimPy engine starts at once but runs
tens of times slower. So ``auto`` weighs the two:

* the compiled engine is already cached (:func:`fast_engine_cached`): the fast engine;
* it is not, and the run is small (:func:`expected_requests` at most
  :data:`SMALL_REQUESTS`, about what SimPy runs in the time compiling takes): SimPy,
  and the result's ``engine_note`` says why and how to compile ahead
  (``throttlesim warmup``);
* it is not, and the run is large: the fast engine, and :func:`compile_notice` gives the
  line the command prints on stderr before the wait.

Both engines give the same records for the same scenario and seed; only the result's
``engine`` field says which one ran. Deciding reads file names and times only: it
imports neither numba nor the fast engine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.scenario import ClosedArrivals

if TYPE_CHECKING:
    from simulator.scenario import Scenario, WaitSpec

__all__ = ["SMALL_REQUESTS", "compile_notice", "expected_requests", "fast_engine_cached", "prefer_simpy"]

#: Up to this many expected requests, SimPy (about 50,000 requests a second on one core)
#: finishes in roughly the time compiling the fast engine takes, so a cold ``auto`` uses it.
SMALL_REQUESTS = 1_000_000

#: The compiled loop whose on-disk cache says whether the fast engine is compiled.
_LOOP = Path(__file__).parent / "fast" / "loop.py"


def _index_files() -> list[Path]:
    """numba's cache index files of the compiled loop: under ``NUMBA_CACHE_DIR`` when that is
    set (numba then looks nowhere else), else next to the source (``__pycache__``)."""
    pattern = f"{_LOOP.stem}.run-*.nbi"
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    if cache_dir:
        return list(Path(cache_dir).rglob(pattern)) if Path(cache_dir).is_dir() else []
    return list((_LOOP.parent / "__pycache__").glob(pattern))


def fast_engine_cached() -> bool:
    """Whether the fast engine's compiled loop is cached on this machine, newer than its source."""
    try:
        source = _LOOP.stat().st_mtime
        return any(f.stat().st_mtime >= source for f in _index_files())
    except OSError:
        return False


def expected_requests(scenario: Scenario) -> float:
    """About how many requests *scenario* sends (retries not counted): open rates
    integrated over the run plus bursts, trace rows, and closed users at one request per
    wait (at least 10 ms)."""
    from simulator.traffic.arrivals import cumulative_rate

    d = float(scenario.duration)
    total = 0.0
    for c in scenario.clients:
        a = c.arrivals
        if a.process in ("poisson", "uniform"):
            total += float(cumulative_rate(a.rate, d)[1][-1]) + sum(b.count for b in a.bursts)
        elif a.process == "replay":
            total += len(a.times)
        elif a.process == "closed":
            assert isinstance(a, ClosedArrivals)
            total += a.users * d / max(_mean_wait_s(a.wait), 0.01)
    return total


def _mean_wait_s(w: WaitSpec) -> float:
    if w.kind == "between":
        return (w.min + w.max) / 2
    if w.kind == "constant_throughput":
        return 1 / w.rate
    return w.time


def prefer_simpy(scenario: Scenario) -> str | None:
    """Why a cold ``auto`` runs *scenario* on SimPy, or None to run the fast engine."""
    if fast_engine_cached():
        return None
    n = expected_requests(scenario)
    if n > SMALL_REQUESTS:
        return None
    return (f"the fast engine is not compiled on this machine yet, and SimPy finishes this run's ~{n:,.0f} "
            "requests sooner than compiling would take (throttlesim warmup compiles it once, about 20-60 s)")


def compile_notice(scenario: Scenario, engine: str) -> str | None:
    """The line to print before a run that will compile the fast engine, or None."""
    if engine not in ("fast", "auto") or fast_engine_cached():
        return None
    import importlib.util

    if importlib.util.find_spec("numba") is None or (engine == "auto" and prefer_simpy(scenario)):
        return None
    from simulator.engine.fast.engine import unsupported

    if unsupported(scenario) is not None:
        return None
    return "compiling the fast engine once, about 20-60 s (later runs load it from the cache at once)"
