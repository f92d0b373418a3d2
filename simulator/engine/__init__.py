"""Engines: the programs that run a scenario. Each takes a scenario and a seed and
returns a result; they share the model's definition and its named random streams.

* ``"simpy"``: :mod:`simulator.engine.reference`, the model written to be read;
* ``"fast"``: :mod:`simulator.engine.fast`, the same model compiled with numba, attempt
  for attempt the same result, tens of times faster, and able to keep only
  bounded-memory aggregates (``record=False``);
* ``"auto"``: ``"fast"`` when it can run the scenario here and is compiled already or
  the run is large enough to be worth compiling for (:mod:`simulator.engine.choice`),
  else ``"simpy"``, with the reason in the result's ``engine_note``.

The default engine is ``"auto"`` unless the ``THROTTLESIM_ENGINE`` environment variable
names another.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from simulator.errors import ThrottlesimError

if TYPE_CHECKING:
    from simulator.results import AggregateResult, Result
    from simulator.scenario import Scenario

__all__ = ["ENGINES", "fast_engine_unavailable", "simulate"]

ENGINES = ("simpy", "fast", "auto")


def fast_engine_unavailable(scenario: Scenario | None = None) -> str | None:
    """Why the fast engine cannot run *scenario* here, or None if it can."""
    import importlib.util

    if importlib.util.find_spec("numba") is None:
        return "the fast engine needs numba (pip install numba)"
    from simulator.engine.fast.engine import unsupported

    return unsupported(scenario) if scenario is not None else None


def simulate(
    scenario: Scenario, *, seed: int | None = None, engine: str | None = None, record: bool = True
) -> Result | AggregateResult:
    """Run *scenario* once and return its result.

    *seed* overrides the scenario's own seed. The same scenario and seed always give
    the same result, whichever engine runs it. With ``record=False`` the fast engine
    keeps no per-attempt rows and returns an
    :class:`~simulator.results.aggregate.AggregateResult` (same ``summary()`` keys, time series,
    percentiles from a histogram accurate to 0.4%); the SimPy engine always records.
    """
    if engine is None:
        engine = os.environ.get("THROTTLESIM_ENGINE", "auto")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    run_seed = scenario.seed if seed is None else seed
    note = None
    if engine in ("fast", "auto"):
        note = fast_engine_unavailable(scenario)
        if note is None and engine == "auto":
            from simulator.engine.choice import prefer_simpy

            note = prefer_simpy(scenario)
        if note is None:
            from simulator.engine.fast.engine import FastEngine

            result = FastEngine(scenario, run_seed, record=record).run()
            result.engine_note = None  # type: ignore[union-attr]
            return result
        if engine == "fast":
            raise ThrottlesimError(f"--engine fast: {note}")
        note = f"ran on the SimPy engine: {note}"
    from simulator.engine.reference import ReferenceEngine

    result = ReferenceEngine(scenario, run_seed).run()
    result.engine_note = note  # type: ignore[attr-defined]
    return result
