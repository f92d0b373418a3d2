"""Each route's integration, built once per run from the scenario."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.functions.pool import build_functions
from simulator.functions.request_rate import request_rates
from simulator.integrations.base import Host, Integration
from simulator.integrations.http_backend import HttpBackendIntegration
from simulator.integrations.lambda_function import LambdaIntegration
from simulator.integrations.web_function import WebEndpoint

if TYPE_CHECKING:
    from simulator.functions.pool import FunctionState
    from simulator.results.records import Recorder
    from simulator.scenario import Scenario

__all__ = ["build_integrations"]


def build_integrations(
    scenario: Scenario, seed: int, host: Host, recorder: Recorder | None = None
) -> tuple[list[Integration], list[FunctionState]]:
    """The integration of each route (in scenario order) and the functions behind them.

    Routes that name the same function share one integration (a :class:`LambdaIntegration`,
    or a :class:`WebEndpoint` for a web function), so they share its environments and random
    streams; routes that name the same backend share one :class:`HttpBackendIntegration`
    (its workers and queue), which logs its requests in *recorder*."""
    functions = build_functions(scenario, seed)
    rates = request_rates(scenario)
    by_name: dict[str, Integration] = {}
    for spec, f in zip(scenario.functions, functions):
        by_name[f.name] = (WebEndpoint(f, spec.web, host) if spec.web is not None
                           else LambdaIntegration(f, host, rates[f.index]))
    backends: dict[str, Integration] = {
        b.name: HttpBackendIntegration(b, i, seed, recorder) for i, b in enumerate(scenario.backends)
    }
    return [by_name[r.function] if r.function is not None else backends[str(r.backend)]
            for r in scenario.routes], functions
