"""throttlesim: what happens when traffic hits an API Gateway + Lambda stack.

The public API is small::

    import simulator

    scenario = simulator.load_scenario("scenarios/rest_usage_plans.toml")
    result = simulator.simulate(scenario, seed=7)
    result.summary()             # status/cause counts, latency percentiles, Lambda figures
    result.to_dataframe()        # one row per HTTP attempt
    result.timeseries_dataframe(60)  # CloudWatch-style metrics per minute

Everything else lives in submodules that may change between releases.
"""

from __future__ import annotations

from simulator.engine import simulate
from simulator.errors import ScenarioError, ThrottlesimError
from simulator.loader import load_scenario, parse_scenario
from simulator.outcomes import CAUSES
from simulator.results import AttemptRecord, RequestRecord, Result
from simulator.scenario import Scenario

__all__ = [
    "CAUSES",
    "AttemptRecord",
    "RequestRecord",
    "Result",
    "Scenario",
    "ScenarioError",
    "ThrottlesimError",
    "__version__",
    "load_scenario",
    "parse_scenario",
    "simulate",
    "stack",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # simulator.stack (import, calibrate, export) is loaded on first use: it needs the aws extra.
    if name == "stack":
        import importlib

        return importlib.import_module("simulator.stack")
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
