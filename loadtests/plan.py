"""The arrival plan: every request an open client will send, and when, before the test starts.

A load test that is to validate the model must send what the model simulates. For *open*
clients (``poisson``, ``uniform``, bursts, ``replay``) that is fully known in advance: the
arrival times come from :func:`simulator.traffic.arrivals.open_arrival_times` with the same named
random stream the engine uses (``("arrivals", client)`` under the run's seed), replayed
traces come from the scenario, and each request's route is drawn from the client's
weights with the engine's ``("routes", client)`` stream, one draw per arrival in time
order (none when the client has one route; none for trace rows that name their route).
A request on a route the REST cache covers gets its cache key the same way: the trace
row's key, or a draw from the engine's ``("cache_keys", client, route)`` stream, in the
client's order. So the plan below is the engine's open traffic, request for request.

*Closed* clients (Locust-style users) have no plan: when they send depends on the
answers they get, so they run as Locust users and the log records what they sent.

The plan is split across N load-generating workers by position: worker k takes
arrivals k, k + N, k + 2N, ... of the merged, time-sorted plan, so every worker carries
about the same rate at every moment.

This module needs only the simulator and NumPy; it never imports Locust.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulator.dists import Uniforms
from simulator.rng import stream
from simulator.scenario import Client, ClosedArrivals, OpenArrivals, ReplayArrivals, Scenario
from simulator.scenario.cache import route_caches
from simulator.scenario.loader import load_scenario
from simulator.traffic.arrivals import open_arrival_times
from simulator.traffic.cache_keys import KeyDraws

__all__ = [
    "AUTHORIZATION_HEADER",
    "Arrival",
    "CacheKeyChooser",
    "IdentityTokens",
    "RouteChooser",
    "api_key_variable",
    "client_headers",
    "closed_clients",
    "drain_bound_s",
    "identity_token",
    "load_plan",
    "open_clients",
    "plan_arrivals",
    "request_body",
    "route_request",
    "worker_share",
]

#: How long an attempt may take when the client sets no ``timeout``: longer than any
#: integration timeout (29 s REST, 30 s HTTP APIs), so the gateway answers first.
DEFAULT_ATTEMPT_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Arrival:
    """One planned request of an open client.

    ``index`` is the request's position among its client's own arrivals (0-based): with
    the client's name it identifies the request in the log (``request_id``). ``cache_key``
    is the REST cache key it asks for ("" on a route without a cache).
    """

    time_s: float
    client: str
    route: str
    index: int
    cache_key: str = ""


class RouteChooser:
    """Picks a client's route from its weights, as the engine does.

    The weights are normalised into cumulative shares in the order the scenario lists
    the routes; a U(0, 1) draw ``u`` from the client's ``routes`` stream picks the first
    route whose cumulative share exceeds ``u``. A client with one route draws nothing.
    """

    def __init__(self, client: Client, seed: int, *stream_suffix: str) -> None:
        self.names = tuple(client.routes)
        total = sum(client.routes.values())
        acc = 0.0
        cum: list[float] = []
        for name in self.names:
            acc += client.routes[name] / total
            cum.append(acc)
        cum[-1] = 1.0
        self.cum = tuple(cum)
        self.coin = Uniforms(stream(seed, "routes", client.name, *stream_suffix))

    def pick(self) -> str:
        if len(self.names) == 1:
            return self.names[0]
        return self.names[bisect.bisect_right(self.cum, self.coin.next())]


def open_clients(scenario: Scenario) -> list[Client]:
    """Clients whose traffic is planned: poisson, uniform (with bursts) and replay."""
    return [c for c in scenario.clients if not isinstance(c.arrivals, ClosedArrivals)]


def closed_clients(scenario: Scenario) -> list[Client]:
    """Clients that run as Locust users."""
    return [c for c in scenario.clients if isinstance(c.arrivals, ClosedArrivals)]


class CacheKeyChooser:
    """Draws the cache key of each request of a client on a cached route, as the engine does."""

    def __init__(self, scenario: Scenario, client: Client, seed: int, *stream_suffix: str) -> None:
        self.draws = {
            r.name: KeyDraws(client.cache_keys or rc.keys, stream(seed, "cache_keys", client.name, r.name,
                                                                  *stream_suffix))
            for r, rc in zip(scenario.routes, route_caches(scenario), strict=True) if rc is not None
        }

    def pick(self, route: str, given: str = "") -> str:
        """The key of the next request on *route*: *given* (a trace's), else a draw; "" if
        the route has no cache."""
        draws = self.draws.get(route)
        if draws is None:
            return ""
        return given or str(draws.next())


def _client_arrivals(scenario: Scenario, client: Client, seed: int, duration_s: float) -> list[Arrival]:
    arr = client.arrivals
    chooser = RouteChooser(client, seed)
    keys = CacheKeyChooser(scenario, client, seed)
    if isinstance(arr, OpenArrivals):
        times = open_arrival_times(arr, duration_s, stream(seed, "arrivals", client.name)).tolist()
        out: list[Arrival] = []
        for k, t in enumerate(times):
            route = chooser.pick()
            out.append(Arrival(t, client.name, route, k, keys.pick(route)))
        return out
    if isinstance(arr, ReplayArrivals):
        out = []
        given = arr.keys or ("",) * len(arr.times)
        for k, (t, route, key) in enumerate(zip(arr.times, arr.routes, given, strict=True)):
            if t >= duration_s:
                break
            route = route or chooser.pick()
            out.append(Arrival(float(t), client.name, route, k, keys.pick(route, key)))
        return out
    return []


def plan_arrivals(scenario: Scenario, *, seed: int | None = None, duration_s: float | None = None) -> list[Arrival]:
    """Every open client's arrivals, merged and sorted by time.

    *seed* defaults to the scenario's; *duration_s* to its duration (a shorter one keeps
    the arrivals before it: the same times the engine draws for that duration).
    Simultaneous arrivals keep the scenario's client order, then each client's order.
    """
    run_seed = scenario.seed if seed is None else seed
    end_s = scenario.duration if duration_s is None else duration_s
    merged: list[Arrival] = []
    for client in open_clients(scenario):
        merged.extend(_client_arrivals(scenario, client, run_seed, end_s))
    merged.sort(key=lambda a: a.time_s)  # stable: ties stay in client order
    return merged


def load_plan(path: str | Path, *, seed: int | None = None, duration_s: float | None = None) -> list[Arrival]:
    """:func:`plan_arrivals` of a scenario file."""
    return plan_arrivals(load_scenario(path, seed=seed), duration_s=duration_s)


def worker_share(plan: Sequence[Arrival], worker: int, workers: int) -> list[Arrival]:
    """The arrivals worker *worker* (0-based) of *workers* sends: every N-th, from the k-th."""
    if workers < 1 or not 0 <= worker < workers:
        raise ValueError(f"worker must be in [0, {workers}), got {worker}")
    return list(plan[worker::workers])


def route_request(name: str) -> tuple[str, str]:
    """The HTTP method and path a route name stands for.

    ``"GET /orders"`` is ``("GET", "/orders")``; ``ANY`` and ``$default`` send ``GET``
    (``$default`` to ``/``); path parameters (``{id}``, ``{proxy+}``) are filled with ``1``.
    """
    method, _, path = name.strip().partition(" ")
    if method == "$default" or not path:
        return "GET", "/"
    method = method.upper()
    if method == "ANY":
        method = "GET"
    path = re.sub(r"\{[^}/]*\}", "1", path.strip())
    return method, path if path.startswith("/") else "/" + path


def drain_bound_s(scenario: Scenario) -> float:
    """An upper bound on how long a request sent just before the end may still run.

    Per client: ``max_attempts`` attempts of at most ``timeout`` each (60 s without one),
    and the longest backoff before each retry (``delay``, or ``cap``).
    """
    bound = 0.0
    for c in scenario.clients:
        attempt_s = c.timeout if c.timeout is not None else DEFAULT_ATTEMPT_TIMEOUT_S
        retry = c.retry
        attempts = getattr(retry, "max_attempts", 1) if retry.mode != "none" else 1
        backoff_s = float(retry.delay) if retry.mode == "fixed" else float(getattr(retry, "cap", 0.0))
        bound = max(bound, attempts * attempt_s + (attempts - 1) * backoff_s)
    return bound


def api_key_variable(client: str) -> str:
    """The environment variable whose value replaces *client*'s ``api_key`` in a load test.

    ``THROTTLESIM_API_KEY_`` and the client's name in upper case, every character other
    than A-Z and 0-9 written ``_``: ``free-poller`` reads ``THROTTLESIM_API_KEY_FREE_POLLER``.
    """
    return "THROTTLESIM_API_KEY_" + re.sub(r"[^A-Z0-9]", "_", client.upper())


def client_headers(client: Client, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The headers every request of *client* carries: its ``x-api-key``, if it has one."""
    key = environ.get(api_key_variable(client.name)) or client.api_key
    return {"x-api-key": key} if key else {}


#: The header that carries a client's token to the routes' authorizers.
AUTHORIZATION_HEADER = "authorization"


def identity_token(client: str, identity: int) -> str:
    """The token of *client*'s identity number *identity* (``<client>.<identity>``)."""
    return f"{client}.{identity}"


class IdentityTokens:
    """The ``Authorization`` header of each attempt of a scenario's clients on routes with
    an authorizer: an identity picked as the model picks it (:class:`IdentityPicker`, on
    the client's ``("identity", client)`` stream, per worker), or none (no header)."""

    def __init__(self, scenario: Scenario, seed: int, *suffix: str) -> None:
        from simulator.integrations.authorizer import IdentityPicker

        self.routes = {r.name for r in scenario.routes if scenario.route_authorizer(r) is not None}
        self.pickers = {c.name: IdentityPicker(c.identities, Uniforms(stream(seed, "identity", c.name, *suffix)))
                        for c in scenario.clients}

    def headers(self, client: str, route: str, base: dict[str, str]) -> dict[str, str]:
        """*base* plus the token of the attempt's identity, when *route* has an authorizer."""
        if route not in self.routes:
            return base
        k = self.pickers[client].pick()
        return base if k < 0 else {**base, AUTHORIZATION_HEADER: identity_token(client, k)}


def request_body(method: str, request_bytes: int) -> str | None:
    """A JSON body of about *request_bytes* bytes for POST, PUT and PATCH; None otherwise."""
    if method not in ("POST", "PUT", "PATCH"):
        return None
    return '{"pad":"' + "x" * max(0, request_bytes - 10) + '"}'
