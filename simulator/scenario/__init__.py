"""The scenario layer: a TOML file in, a validated, frozen :class:`Scenario` out.

* :mod:`~simulator.scenario.schema`: the models of the file's sections (API, account,
  stage, routes, functions, usage plans, behaviour) and the :class:`Scenario` itself;
* :mod:`~simulator.scenario.clients`: the ``[[clients]]`` models (arrivals, waits, retries);
* :mod:`~simulator.scenario.base`: the strict frozen base model and the duration type;
* :mod:`~simulator.scenario.traces`: reading the CSV traces that replay clients send;
* :mod:`~simulator.scenario.loader`: reading a file, applying ``--set`` overrides and
  turning validation errors into one line per problem.

Everything below the scenario (gateway, functions, engines, results) reads these frozen
objects and never changes them.
"""

from __future__ import annotations

from simulator.scenario.base import Duration
from simulator.scenario.clients import (
    DEFAULT_RETRY_ON,
    ArrivalSpec,
    BetweenWait,
    Burst,
    Client,
    ClosedArrivals,
    ConstantPacingWait,
    ConstantThroughputWait,
    ConstantWait,
    ExponentialRetry,
    FixedRetry,
    NoRetry,
    OpenArrivals,
    ReplayArrivals,
    RetryQuota,
    RetrySpec,
    StandardRetry,
    WaitSpec,
)
from simulator.scenario.loader import apply_overrides, load_scenario, parse_scenario
from simulator.scenario.schema import (
    Account,
    Api,
    Behaviour,
    Function,
    Quota,
    Route,
    Scenario,
    Stage,
    Throttle,
    UsagePlan,
)

__all__ = [
    "DEFAULT_RETRY_ON",
    "Account",
    "Api",
    "ArrivalSpec",
    "Behaviour",
    "BetweenWait",
    "Burst",
    "Client",
    "ClosedArrivals",
    "ConstantPacingWait",
    "ConstantThroughputWait",
    "ConstantWait",
    "Duration",
    "ExponentialRetry",
    "FixedRetry",
    "Function",
    "NoRetry",
    "OpenArrivals",
    "Quota",
    "ReplayArrivals",
    "RetryQuota",
    "RetrySpec",
    "Route",
    "Scenario",
    "Stage",
    "StandardRetry",
    "Throttle",
    "UsagePlan",
    "WaitSpec",
    "apply_overrides",
    "load_scenario",
    "parse_scenario",
]
