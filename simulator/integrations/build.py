"""Each route's integration, built once per run from the scenario."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.functions.capacity import start_capacity
from simulator.functions.pool import build_functions
from simulator.functions.request_rate import request_rates
from simulator.integrations.base import Host, Integration
from simulator.integrations.lambda_function import LambdaIntegration
from simulator.integrations.web_function import WebEndpoint

if TYPE_CHECKING:
    from simulator.functions.pool import FunctionState
    from simulator.scenario import Scenario

__all__ = ["build_integrations"]


def build_integrations(
    scenario: Scenario, seed: int, host: Host
) -> tuple[list[Integration], list[FunctionState]]:
    """The integration of each route (in scenario order) and the functions behind them.

    Routes that name the same function share one integration (a :class:`LambdaIntegration`,
    or a :class:`WebEndpoint` for a web function), so they share its environments and random
    streams. Concurrency changes during the run (schedules, target tracking) are scheduled on
    *host* here."""
    functions = build_functions(scenario, seed)
    start_capacity(functions, scenario, seed, host)
    rates = request_rates(scenario)
    by_name: dict[str, Integration] = {}
    for spec, f in zip(scenario.functions, functions):
        by_name[f.name] = (WebEndpoint(f, spec.web, host) if spec.web is not None
                           else LambdaIntegration(f, host, rates[f.index]))
    return [by_name[r.function] for r in scenario.routes], functions
