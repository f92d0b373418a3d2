"""Engines: the programs that run a scenario. Each takes a scenario and a seed and
returns a :class:`~simulator.results.Result`; they share the model's definition and
its named random streams."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.results import Result
    from simulator.scenario import Scenario

__all__ = ["ENGINES", "simulate"]

ENGINES = ("simpy",)


def simulate(scenario: Scenario, *, seed: int | None = None, engine: str = "simpy") -> Result:
    """Run *scenario* once and return its :class:`~simulator.results.Result`.

    *seed* overrides the scenario's own seed. The same scenario and seed always give
    the same result.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    from simulator.engine.reference import ReferenceEngine

    return ReferenceEngine(scenario, scenario.seed if seed is None else seed).run()
