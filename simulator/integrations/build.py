"""Each route's integration, built once per run from the scenario."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.functions.pool import build_functions
from simulator.functions.request_rate import request_rates
from simulator.integrations.base import Host, Integration
from simulator.integrations.cache import CacheEntries, CacheIntegration
from simulator.integrations.lambda_function import LambdaIntegration
from simulator.integrations.web_function import WebEndpoint
from simulator.scenario.cache import route_caches

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
    streams. A cached route (REST cache) gets a :class:`CacheIntegration` in front of it; all
    of them share the stage's cache."""
    functions = build_functions(scenario, seed)
    rates = request_rates(scenario)
    by_name: dict[str, Integration] = {}
    for spec, f in zip(scenario.functions, functions):
        by_name[f.name] = (WebEndpoint(f, spec.web, host) if spec.web is not None
                           else LambdaIntegration(f, host, rates[f.index]))
    integrations = [by_name[r.function] for r in scenario.routes]
    entries = CacheEntries()
    for i, rc in enumerate(route_caches(scenario)):
        if rc is not None:
            integrations[i] = CacheIntegration(integrations[i], host, entries, i, rc.ttl_s, rc.hit_latency_s)
    return integrations, functions
