"""The resolved description of one run: what both engines read, derived once from a scenario.

A :class:`~simulator.scenario.Scenario` says what the user wrote; the engines need it worked
out: the status code of every cause, the gateway's chain of levels for each (client, route),
which function each route invokes and the integration's timeout, each client's routes with
their cumulative weights, its timeout and retry rules, the functions' first concurrency
values and the pool they share, Lambda's request-rate buckets. :func:`resolve` derives all of
that once; :class:`~simulator.engine.reference.ReferenceEngine` runs it on SimPy and the fast
engine packs it into arrays (:func:`simulator.engine.fast.inputs.flatten`), so the two cannot
read the scenario two ways.

**Stateful parts.** The description is immutable except for the throttling state it holds: the
:class:`~simulator.gateway.path.Gateway` (its token buckets and usage-plan quota counters, which
every chain refers to, shared by identity where AWS shares them) and the request-rate
:class:`~simulator.functions.request_rate.RequestRate` buckets. A run takes them as its own,
so a description is built per run and never given to two runs.

**Random streams.** Every random number comes from a stream named by what draws it
(:meth:`Resolved.stream`, :func:`simulator.rng.stream` under the run's seed):

=====================================  =============================================
``("gateway", "overhead")``            the gateway's own latency per attempt
``("duration" | "init" | "errors" | "idle", function)``
                                       a function's run times, init times, error coin
                                       flips and environments' idle timeouts
``("routes" | "retry" | "wait" | "identity" | "arrivals", client)``
                                       a client's route choices, retry jitter, Locust
                                       waits, the identity it presents, open arrivals
``("cache_keys", client, route)``      the cache keys a client asks for on a cached route
=====================================  =============================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from simulator import outcomes as oc
from simulator.functions.request_rate import RequestRate, request_rates
from simulator.gateway.path import Chain, Gateway
from simulator.rng import stream
from simulator.scenario import ClosedArrivals, ReplayArrivals, Scenario
from simulator.scenario.background import unreserved_capacity
from simulator.scenario.cache import RouteCache, route_caches
from simulator.traffic.clients import Waiter, route_weights

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np

__all__ = ["Resolved", "ResolvedClient", "ResolvedFunction", "ResolvedRoute", "resolve"]


@dataclass(frozen=True)
class ResolvedRoute:
    """One route: what it invokes, how long the gateway waits for it, what stands in front."""

    name: str
    #: The function the route invokes (its index in ``Resolved.functions``), -1 for an HTTP backend.
    function: int
    #: How long API Gateway waits for the integration (:meth:`Scenario.integration_timeout_s`).
    integration_timeout_s: float
    #: Whether a Lambda authorizer answers before the integration is called.
    has_authorizer: bool
    #: The REST cache's effective settings for the route, None when it is not cached.
    cache: RouteCache | None


@dataclass(frozen=True)
class ResolvedFunction:
    """One Lambda function's concurrency at the start of the run."""

    name: str
    #: Reserved concurrency (the schedule's first value), None when the function has none.
    reserved: int | None
    #: Provisioned concurrency (the schedule's first value).
    provisioned: int
    #: On-demand environments it may run beside the provisioned ones: reserved minus
    #: provisioned (not below 0), -1 when it shares the account's unreserved pool.
    on_demand_capacity: int


@dataclass(frozen=True)
class ResolvedClient:
    """One ``[[clients]]`` entry: its gateway chains, route choice, timeout, retries, arrivals."""

    index: int
    name: str
    #: The scenario's entry (identities, the retry and arrival settings as written).
    spec: Any
    #: The gateway's levels for each route (in route order); None where the gateway answers 403.
    chains: tuple[Chain | None, ...]
    #: The routes it picks from (route indices) and their cumulative probabilities, the last 1.
    route_indices: tuple[int, ...]
    cumulative_weights: tuple[float, ...]
    #: How long it waits for an answer (inf: forever).
    timeout_s: float
    #: The cache-key law it draws from on each route (in route order), None where not cached.
    cache_keys: tuple[Any, ...]
    #: A replayed trace's route per arrival (-1: the client picks), None for other arrivals.
    replay_routes: tuple[int, ...] | None
    #: When each closed-model user starts (Locust's spawn rate), those before the run's end.
    spawn_times_s: tuple[float, ...]

    @property
    def retry(self) -> Any:
        """The client's retry settings (``[clients.retry]``)."""
        return self.spec.retry

    @property
    def arrivals(self) -> Any:
        """The client's arrival settings (open, closed or replayed)."""
        return self.spec.arrivals


@dataclass(frozen=True, eq=False)
class Resolved:
    """Everything an engine needs to run one scenario once (see the module's docstring);
    compared by identity, as the run's throttling state it holds is."""

    scenario: Scenario
    seed: int
    #: The status code of each cause (:func:`simulator.outcomes.status_codes`), by cause index.
    status_codes: tuple[int, ...]
    #: The stage's and account's throttling state; every client's chains are made of its levels.
    gateway: Gateway
    routes: tuple[ResolvedRoute, ...]
    #: Route index by name.
    route_index: Mapping[str, int]
    functions: tuple[ResolvedFunction, ...]
    #: The account's unreserved concurrency left to these functions (less background load).
    unreserved_capacity: int
    #: Each function's Lambda request-rate buckets, every one of them (the account's shared).
    request_rates: tuple[RequestRate, ...]
    clients: tuple[ResolvedClient, ...]

    def stream(self, kind: str, *owner: str) -> np.random.Generator:
        """The random stream *kind* of *owner* (a function, a client, a client and route) for this run."""
        return stream(self.seed, kind, *owner)


def _client(index: int, spec: Any, s: Scenario, gateway: Gateway, route_index: Mapping[str, int],
            caches: list[RouteCache | None]) -> ResolvedClient:
    routes, cum = route_weights(spec.routes, dict(route_index))
    arr = spec.arrivals
    spawn: list[float] = []
    if isinstance(arr, ClosedArrivals):
        for j in range(arr.users):
            at = Waiter.spawn_time(j, arr.spawn_rate)
            if at >= s.duration:
                break
            spawn.append(at)
    return ResolvedClient(
        index=index, name=spec.name, spec=spec,
        chains=tuple(gateway.chain(spec.api_key, spec.usage_plan, r.name) for r in s.routes),
        route_indices=routes, cumulative_weights=cum,
        timeout_s=spec.timeout if spec.timeout is not None else math.inf,
        cache_keys=tuple(None if rc is None else (spec.cache_keys or rc.keys) for rc in caches),
        replay_routes=(tuple(route_index[r] if r else -1 for r in arr.routes)
                       if isinstance(arr, ReplayArrivals) else None),
        spawn_times_s=tuple(spawn),
    )


def resolve(scenario: Scenario, seed: int) -> Resolved:
    """The resolved description of one run of *scenario* under *seed* (build one per run)."""
    s = scenario
    gateway = Gateway(s)
    route_index = MappingProxyType({r.name: i for i, r in enumerate(s.routes)})
    fn_index = {f.name: i for i, f in enumerate(s.functions)}
    caches = route_caches(s)
    routes = tuple(
        ResolvedRoute(r.name, fn_index[r.function] if r.function is not None else -1, s.integration_timeout_s(r),
                      s.route_authorizer(r) is not None, rc)
        for r, rc in zip(s.routes, caches, strict=True))
    functions = []
    for f in s.functions:
        # Fixed concurrency is a schedule's first value; later values are events of the run.
        reserved = None if f.reserved_schedule is None else f.reserved_schedule[0][1]
        provisioned = f.provisioned_schedule[0][1]
        capacity = -1 if reserved is None else max(0, reserved - provisioned)
        functions.append(ResolvedFunction(f.name, reserved, provisioned, capacity))
    return Resolved(
        scenario=s, seed=seed, status_codes=tuple(oc.status_codes(s)), gateway=gateway, routes=routes,
        route_index=route_index, functions=tuple(functions), unreserved_capacity=unreserved_capacity(s),
        request_rates=tuple(request_rates(s)),
        clients=tuple(_client(i, c, s, gateway, route_index, caches) for i, c in enumerate(s.clients)),
    )
