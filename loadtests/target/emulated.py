"""API Gateway and Lambda in one process, in real time.

A request goes through the model's own gateway (:class:`simulator.gateway.path.Gateway`)
with a real clock, then to the function runtime (:mod:`loadtests.target.runtime`):

1. the route is picked from the method and path (:mod:`loadtests.target.routes`);
2. the ``x-api-key`` header names the API key; its usage plan is the one the scenario's
   clients give for that key (a key belongs to one plan). With ``api.api_key_required``,
   a missing or unknown key, or one in no plan, is answered 403;
3. the key's usage-plan throttles and quota, the route (or stage) throttle and the
   account throttle are checked in AWS's order, by the same token buckets and quota
   counters as the model, under the same ``behaviour`` switches; quota periods roll over
   at the calendar boundaries counted from the scenario's ``start`` (server time 0);
4. the route's authorizer, if any, checks the ``Authorization`` token
   (:mod:`loadtests.target.authorizers`): 401, 403 or 500 ``authorizer_error``, or on;
5. on a route the REST cache covers, the ``x-throttlesim-cache-key`` header names the
   request's cache key (none: the route's one entry); a fresh entry answers 200 after the
   cache's ``hit_latency`` without invoking the function, with the model's own
   :class:`~simulator.integrations.cache.CacheEntries` (``x-throttlesim-cache: hit``);
   a miss goes on, and a 200 fills the entry when it is answered;
6. the function is invoked; Lambda may throttle it (500);
7. if init + run exceeds the route's integration timeout, the client gets 504 (HTTP API:
   503) at the timeout while the function runs on and holds its concurrency; otherwise
   it gets the function's answer (200, or 502 for an error or a function timeout).

The scenario's ``gateway_overhead`` is *not* added: this server's own overhead (parsing,
the event loop, the loopback network) is whatever it really is, and the load test
measures it. Status codes and bodies are API Gateway's (:mod:`loadtests.target.answers`).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from loadtests.target.answers import CACHE_HEADER, CACHE_KEY_HEADER, Answers, headers
from loadtests.target.authorizers import AUTHORIZATION_HEADER, EmulatedAuthorizers
from loadtests.target.clock import Clock
from loadtests.target.routes import RouteTable
from loadtests.target.runtime import FunctionRuntime, invocation_response
from simulator import outcomes as oc
from simulator.gateway.path import Chain, Gateway
from simulator.integrations.cache import CacheEntries
from simulator.scenario import Route, Scenario
from simulator.scenario.cache import route_caches
from simulator.traffic.cache_keys import trace_key

__all__ = ["EmulatedGateway", "emulated_app"]

API_KEY_HEADER = "x-api-key"


class EmulatedGateway:
    """One API stage of a scenario in front of its functions."""

    def __init__(self, scenario: Scenario, runtime: FunctionRuntime, clock: Clock) -> None:
        self.scenario = scenario
        self.runtime = runtime
        self.clock = clock
        self.gateway = Gateway(scenario)
        self.answers = Answers(scenario)
        self.routes = RouteTable(scenario.routes)
        #: API key -> usage plan, from the clients that send each key.
        self.plans: dict[str, str | None] = {}
        for c in scenario.clients:
            if c.api_key is not None:
                self.plans.setdefault(c.api_key, c.usage_plan)
        self._chains: dict[tuple[str | None, str], Chain | None] = {}
        self.authorizers = EmulatedAuthorizers(scenario, runtime, clock)
        self.caches = dict(zip((r.name for r in scenario.routes), route_caches(scenario), strict=True))
        self.route_index = {r.name: i for i, r in enumerate(scenario.routes)}
        self.entries = CacheEntries()

    def chain(self, api_key: str | None, route: str) -> Chain | None:
        """The gateway levels for this key on this route; None means 403."""
        key = (api_key, route)
        if key not in self._chains:
            plan = self.plans.get(api_key) if api_key is not None else None  # unknown key: no plan
            self._chains[key] = self.gateway.chain(api_key, plan, route)
        return self._chains[key]

    async def handle(self, request: web.Request) -> web.Response:
        route = self.routes.match(request.method, request.path)
        if route is None:
            status, body = self.answers.no_route()
            return web.Response(status=status, body=body, content_type="application/json")
        api_key = request.headers.get(API_KEY_HEADER) if self.scenario.api.type == "REST" else None
        now = self.clock.now()
        cause = self.gateway.admit(now, self.chain(api_key, route.name))
        if cause != oc.OK:
            return self._error(cause, received_s=now)
        cause, authorizer_s = await self.authorizers.check(route.name, request.headers.get(AUTHORIZATION_HEADER))
        if cause != oc.OK:
            return self._error(cause, received_s=now)
        cache = self.caches[route.name]
        entry = (self.route_index[route.name], trace_key(request.headers.get(CACHE_KEY_HEADER, "") or "0"))
        if cache is not None and self.entries.fresh(entry, now):
            if cache.hit_latency_s > 0:
                await asyncio.sleep(cache.hit_latency_s)
            return web.Response(status=200, body=b'{"cached":true}', content_type="application/json",
                                headers={**headers(oc.OK, received_s=now), CACHE_HEADER: "hit"})
        response, busy_s = await self._invoke(route, now, authorizer_s)
        if cache is not None:
            response.headers[CACHE_HEADER] = "miss"
            if response.status == 200:
                # Filled at the instant the function's answer was due, as in the model.
                self.entries.fill(entry, now + busy_s, cache.ttl_s)
        return response

    async def _invoke(self, route: Route, now: float, authorizer_s: float = 0.0) -> tuple[web.Response, float]:
        """The function's answer through the integration (its timeout included), and how
        long the request kept the route busy: the authorizer's time, then the invocation's."""
        inv = self.runtime.invoke(route.function, self.clock.now())
        if inv.finished is None:
            return self._error(inv.cause, received_s=now), 0.0
        limit_s = self.scenario.integration_timeout_s(route)
        if inv.busy_s > limit_s:
            await asyncio.sleep(limit_s)
            return self._error(oc.INTEGRATION_TIMEOUT, inv.cold_start, received_s=now), inv.busy_s
        await asyncio.shield(inv.finished)
        response = invocation_response(self.answers, inv, received_s=now, authorizer_s=authorizer_s)
        return response, authorizer_s + inv.busy_s

    def _error(self, cause: int, cold_start: bool = False, *, received_s: float | None = None) -> web.Response:
        status, body = self.answers.error(cause)
        return web.Response(status=status, body=body, headers=headers(cause, cold_start, received_s),
                            content_type="application/json")


def emulated_app(scenario: Scenario, *, seed: int | None = None, clock: Clock | None = None) -> web.Application:
    """An aiohttp application that answers every path as the scenario's API would."""
    clock = clock or Clock()
    runtime = FunctionRuntime(scenario, seed=seed, clock=clock)
    gateway = EmulatedGateway(scenario, runtime, clock)

    async def close(_: web.Application) -> None:
        runtime.close()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", gateway.handle)
    app.on_cleanup.append(close)
    return app
