"""Each route's integration, built once per run from the scenario."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.functions.capacity import start_capacity
from simulator.functions.pool import build_functions
from simulator.functions.request_rate import request_rates
from simulator.integrations.authorizer import AuthorizerIntegration, build_authorizers
from simulator.integrations.base import Host, Integration
from simulator.integrations.cache import CacheEntries, CacheIntegration
from simulator.integrations.http_backend import HttpBackendIntegration
from simulator.integrations.lambda_function import LambdaIntegration
from simulator.integrations.web_function import WebEndpoint
from simulator.scenario.cache import route_caches

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
    streams; an authorizer's function is invoked through the same one. A route with an
    authorizer gets an :class:`AuthorizerIntegration` in front. Concurrency changes during
    the run (schedules, target tracking) are scheduled on *host* here. A cached route (REST
    cache) gets a :class:`CacheIntegration` in front of its integration, all of them sharing
    the stage's cache; an authorizer goes in front of that (AWS authorizes before the cache).
    Routes that name the same HTTP backend share one :class:`HttpBackendIntegration` (its
    workers and queue), which logs its requests in *recorder*."""
    functions = build_functions(scenario, seed)
    start_capacity(functions, scenario, seed, host)
    rates = request_rates(scenario, binding_only=True)
    lambdas = {f.name: LambdaIntegration(f, host, rates[f.index]) for spec, f in zip(scenario.functions, functions)
               if spec.web is None}
    by_name: dict[str, Integration] = {
        f.name: WebEndpoint(f, spec.web, host) if spec.web is not None else lambdas[f.name]
        for spec, f in zip(scenario.functions, functions)}
    backends: dict[str, Integration] = {
        b.name: HttpBackendIntegration(b, i, seed, recorder) for i, b in enumerate(scenario.backends)}
    routes: list[Integration] = [by_name[r.function] if r.function is not None else backends[str(r.backend)]
                                 for r in scenario.routes]
    entries = CacheEntries()
    for i, rc in enumerate(route_caches(scenario)):
        if rc is not None:
            routes[i] = CacheIntegration(routes[i], host, entries, i, rc.ttl_s, rc.hit_latency_s)
    if not scenario.authorizers:
        return routes, functions
    authorizers = build_authorizers(scenario.authorizers, lambdas)
    counts = [c.identities.count for c in scenario.clients]
    for i, r in enumerate(scenario.routes):
        spec = scenario.route_authorizer(r)
        if spec is not None:
            routes[i] = AuthorizerIntegration(authorizers[spec.name], routes[i], counts)
    return routes, functions
