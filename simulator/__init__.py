"""throttlesim: what happens when traffic hits an API Gateway + Lambda stack.

The public API is what this module exports (``__all__``); the CLI and the notebooks use
nothing else::

    import simulator

    scenario = simulator.load_scenario("scenarios/rest_usage_plans.toml")
    result = simulator.simulate(scenario, seed=7)
    result.summary()             # status/cause counts, latency percentiles, Lambda figures
    result.to_dataframe()        # one row per HTTP attempt
    result.timeseries_dataframe(60)  # CloudWatch-style metrics per minute

* a run: :func:`load_scenario`, :func:`simulate`, and its :class:`Result` (or
  :class:`AggregateResult` with ``record=False``);
* its cost: :func:`run_cost`, :class:`RunCost`, :func:`compose_month` (one month made of
  several runs) and :func:`analytic_monthly_cost` from averages alone;
* studies: :func:`run_sweep` over a grid of variants, :func:`plan` and :func:`choose` for
  the best point that meets SLOs by an :class:`Objective`, :func:`forecast_quotas` for
  usage-plan quotas (with growth, :func:`parse_growth`);
* validation: :func:`replay_scenario` and :class:`ValidationReport`, what a load test is
  compared with;
* :mod:`simulator.plots`: figures as matplotlib objects (loaded on first use, so that
  ``import simulator`` does not load matplotlib).

The subpackages (``scenario``, ``gateway``, ``functions``, ``traffic``, ``engine``,
``results``, ``cost``, ``studies``, ``plots``, ``cli``) are the layers behind it; see
ARCHITECTURE.md.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from simulator.cost import RunCost, analytic_monthly_cost, run_cost
from simulator.engine import simulate
from simulator.errors import ScenarioError, ThrottlesimError
from simulator.outcomes import CAUSES
from simulator.results import AggregateResult, AttemptRecord, RequestRecord, Result
from simulator.scenario import Client, Scenario, load_scenario, parse_scenario
from simulator.traffic.arrivals import cumulative_rate

if TYPE_CHECKING:
    from simulator.cost.month import ComposedMonth, compose_month, parse_month
    from simulator.studies.growth import parse_growth
    from simulator.studies.objective import Objective
    from simulator.studies.planner import PlanResult, choose, parse_slo, plan
    from simulator.studies.quota_forecast import QuotaForecast, forecast_quotas
    from simulator.studies.sweep import SweepResult, headline, parse_vary, run_sweep
    from simulator.validate import ValidationReport, replay_scenario

__all__ = [
    "CAUSES",
    "AggregateResult",
    "AttemptRecord",
    "Client",
    "ComposedMonth",
    "Objective",
    "PlanResult",
    "QuotaForecast",
    "RequestRecord",
    "Result",
    "RunCost",
    "Scenario",
    "ScenarioError",
    "SweepResult",
    "ThrottlesimError",
    "ValidationReport",
    "__version__",
    "analytic_monthly_cost",
    "choose",
    "compose_month",
    "cumulative_rate",
    "forecast_quotas",
    "headline",
    "load_scenario",
    "parse_growth",
    "parse_month",
    "parse_scenario",
    "parse_slo",
    "parse_vary",
    "plan",
    "plots",
    "replay_scenario",
    "run_cost",
    "run_sweep",
    "simulate",
    "stack",
]

__version__ = "0.1.0"

#: Public submodules loaded on first use, because they load heavy libraries.
_LAZY_MODULES = frozenset({"plots", "stack"})
#: Public names loaded on first use, with their modules: the studies and the validation load
#: what one run does not need (a process pool, multiprocessing), and ``throttlesim run`` starts
#: faster without them.
_LAZY_NAMES = {
    **dict.fromkeys(["PlanResult", "choose", "parse_slo", "plan"], "simulator.studies.planner"),
    **dict.fromkeys(["QuotaForecast", "forecast_quotas"], "simulator.studies.quota_forecast"),
    **dict.fromkeys(["SweepResult", "headline", "parse_vary", "run_sweep"], "simulator.studies.sweep"),
    **dict.fromkeys(["ValidationReport", "replay_scenario"], "simulator.validate"),
    **dict.fromkeys(["ComposedMonth", "compose_month", "parse_month"], "simulator.cost.month"),
    "parse_growth": "simulator.studies.growth",
    "Objective": "simulator.studies.objective",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        module: ModuleType = importlib.import_module(f"{__name__}.{name}")
        return module
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_NAMES, *_LAZY_MODULES})
