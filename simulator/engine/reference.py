"""The reference engine: the whole request path on SimPy, written to be read.

SimPy's environment is the only clock. Clients are processes (open clients walk their
precomputed arrival times; closed clients run Locust-style user loops); each attempt is
decided at the instant it is sent, which fixes its response time, and the only things
scheduled for later are the moments that change shared state:

* an execution environment finishing its invocation (it frees concurrency and goes idle);
* a response reaching a client that will retry or that a user is waiting for.

An HTTP backend's FIFO queue needs no events at all: a request's start is known when it
arrives (:mod:`simulator.integrations.http_backend`).

Tie-breaking at the same simulated instant is part of the model, and written down:

1. environments finishing at *t* are released before anything else at *t* (SimPy's
   ``URGENT`` priority), so a request sent at *t* can use the slot;
2. everything else at *t* runs in the order it was scheduled (SimPy's event ids):
   clients in scenario order at the start, then first come first served;
3. a burst of requests at one instant is sent in order, one at a time.

Random numbers come from named streams (:mod:`simulator.rng`): a client's arrivals,
route choices, waits, retry jitter and the identity it presents to an authorizer; a
function's durations, init times, error coin flips and idle timeouts; the gateway's
overhead; a client's cache keys on each cached route. Each stream is consumed in the order
of the events that use it.

A logical request on a cached route (the REST cache) draws its cache key when it starts
(:mod:`simulator.traffic.cache_keys`), and its retries ask for the same key; the engine
hands the key to the route's integration as :attr:`ReferenceEngine.cache_key`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Generator
from typing import Any

import simpy
from simpy.events import NORMAL, Event, EventPriority

from simulator import outcomes as oc
from simulator import rules
from simulator.dists import Draws, Uniforms
from simulator.engine.resolved import ResolvedClient, resolve
from simulator.gateway.path import Chain
from simulator.integrations import build_integrations
from simulator.integrations.authorizer import AuthorizerIntegration, IdentityPicker
from simulator.integrations.base import Call
from simulator.results import Recorder, Result
from simulator.scenario import ClosedArrivals, OpenArrivals, ReplayArrivals, Scenario
from simulator.traffic.arrivals import open_arrival_times
from simulator.traffic.cache_keys import KeyDraws, trace_key
from simulator.traffic.clients import RetryPolicy, Waiter

__all__ = ["ReferenceEngine"]

#: What an attempt's answer tells its request: (cause, latency, delay until the client has it).
Answered = Callable[[int, float, float], None]
#: The authorizer columns of an attempt that passed no authorizer.
NO_AUTHORIZER = Call(-1, 0.0)


class _Client:
    """One ``[[clients]]`` entry as the engine runs it: its gateway chain and integration
    timeout per route, its route choice, its retry policy and its own timeout."""

    __slots__ = ("index", "spec", "chains", "route_timeout", "cum_weights", "route_coin", "retry", "timeout_s",
                 "identity", "authorized", "key_draws", "resolved")

    index: int
    spec: Any
    chains: list[Chain | None]
    route_timeout: list[float]
    cum_weights: tuple[tuple[int, ...], tuple[float, ...]]
    route_coin: Uniforms
    retry: RetryPolicy
    timeout_s: float
    identity: Any
    authorized: list[bool]
    key_draws: list[KeyDraws | None]
    resolved: ResolvedClient

    def __init__(self, index: int, spec: Any) -> None:
        self.index = index
        self.spec = spec


def _later(fn: Callable[..., None], *args: Any) -> Callable[[Event], None]:
    """A callback that calls ``fn(*args)``. Made here rather than as a lambda in the engine's
    methods: a variable a lambda uses becomes a cell each time its function runs, even when
    the lambda is not made."""

    def call(_: Event) -> None:
        fn(*args)

    return call


def _succeeder(done: Event) -> Callable[[Event], None]:
    """A callback that triggers *done* (a user's request has its answer)."""

    def succeed(_: Event) -> None:
        done.succeed()

    return succeed


class ReferenceEngine:
    """Runs one scenario once. Use :func:`simulator.simulate` rather than this directly."""

    name = "simpy"

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.s = scenario
        self.seed = seed
        self.env = simpy.Environment()
        #: Whether any route has an authorizer (an attempt's answer may come later).
        self.authorizers = bool(scenario.authorizers)
        #: Whether authorizers answer before the gateway's throttles (``behaviour.authorizer_before_throttles``).
        self.authorize_first = scenario.behaviour.authorizer_before_throttles
        self.rec = Recorder(authorizers=self.authorizers, statuses=False)
        #: Record *function*'s invocations in flight from *now* (the integrations' Host):
        #: the recorder's own method, called once per invocation start and end.
        self.concurrency = self.rec.concurrency
        #: The ``append`` of each column an attempt's row fills (:meth:`_record`), bound once.
        self.row = self.rec.appenders(
            "request", "attempt", "client", "route", "function", "cause", "gateway_cause", "flags",
            "time_s", "latency_s", "gateway_latency_s", "integration_latency_s", "init_s", "run_s")
        #: What the run reads of the scenario, worked out once (:mod:`simulator.engine.resolved`).
        self.resolved = r = resolve(scenario, seed)
        self.gateway = r.gateway
        self.status = r.status_codes
        self.overhead = Draws(scenario.behaviour.gateway_overhead.build(), r.stream("gateway", "overhead"))
        #: The cache key of the attempt being forwarded (the integrations' Host).
        self.cache_key: int | str = 0
        self.integrations, self.functions = build_integrations(scenario, seed, self, self.rec)
        self.clients = [self._build_client(c) for c in r.clients]

    # ------------------------------------------------------------------ set-up

    def _build_client(self, rc: ResolvedClient) -> _Client:
        """The running state of a resolved client: its random streams and retry quota."""
        r = self.resolved
        spec = rc.spec
        c = _Client(rc.index, spec)
        c.chains = list(rc.chains)
        c.route_timeout = [route.integration_timeout_s for route in r.routes]
        c.cum_weights = (rc.route_indices, rc.cumulative_weights)
        c.route_coin = Uniforms(r.stream("routes", rc.name))
        c.retry = RetryPolicy(rc.retry, r.stream("retry", rc.name))
        c.timeout_s = rc.timeout_s
        c.identity = IdentityPicker.build(spec.identities, r.seed, rc.name)
        c.authorized = [route.has_authorizer for route in r.routes]
        c.key_draws = [
            None if keys is None else KeyDraws(keys, r.stream("cache_keys", rc.name, route.name))
            for keys, route in zip(rc.cache_keys, r.routes, strict=True)
        ]
        c.resolved = rc
        return c

    # ------------------------------------------------------------------ scheduling

    @property
    def now(self) -> float:
        return self.env.now

    def at(self, delay_s: float, fn: Callable[[Event], None], priority: EventPriority = NORMAL) -> None:
        """Call *fn* *delay_s* seconds from now (the integrations' :class:`~simulator.integrations.Host`)."""
        ev = Event(self.env)
        ev._ok = True
        ev._value = None
        ev.callbacks.append(fn)
        self.env.schedule(ev, priority, delay_s)

    def provisioned(self, now: float, function: int, configured: int) -> None:
        """Record *function*'s configured provisioned concurrency from *now* (a schedule or target tracking)."""
        self.rec.provisioned(now, function, configured)

    # ------------------------------------------------------------------ one attempt

    def _pick_route(self, c: _Client) -> int:
        routes, cum = c.cum_weights
        if len(routes) == 1:
            return routes[0]
        return routes[bisect.bisect_right(cum, c.route_coin.next())]

    def _authorized_attempt(self, c: _Client, rid: int, route: int, n: int, key: int | str,
                            answered: Answered) -> None:
        """Send attempt *n* of request *rid* (cache key *key*) now, in a scenario with
        authorizers; record it and tell *answered* its ``(cause, latency, delay)``, *delay*
        being how long from then until the answer reaches the client: at once, or when an
        authorizer in front has answered."""
        now = self.env.now
        # The client picks the token it sends on a route with an authorizer (its own stream).
        identity = c.identity.pick() if c.authorized[route] else 0
        integration = self.integrations[route]
        if self.authorize_first and isinstance(integration, AuthorizerIntegration):
            self._authorize_first(c, rid, route, n, key, answered, identity, integration)
            return
        cause = self.gateway.admit(now, c.chains[route])
        overhead = self.overhead.next()
        call = Call(cause, 0.0)
        if cause == oc.OK:
            self.cache_key = key
            call = integration.call(now, c.route_timeout[route], c.index, identity)
        self._answer(c, rid, route, n, key, answered, now, overhead, call)

    def _authorize_first(self, c: _Client, rid: int, route: int, n: int, key: int | str, answered: Answered,
                         identity: int, integration: AuthorizerIntegration) -> None:
        """:meth:`_authorized_attempt` with the authorizer before the gateway's checks: the API
        key, throttles and quota are checked when it has answered, and only if it allowed."""
        now = self.env.now
        step = integration.authorize(now, c.index, identity)
        overhead = self.overhead.next()
        auth = step.authorizer

        def checked() -> Call:
            at = self.env.now
            cause = self.gateway.admit(at, c.chains[route])
            if cause != oc.OK:
                return Call(cause, 0.0)
            self.cache_key = key
            return integration.inner.call(at, c.route_timeout[route], c.index, max(identity, 0))

        if step.cause != oc.OK:
            call = Call(step.cause, 0.0, authorizer=auth)
        elif auth is None or (auth.latency_s <= 0 and auth.function < 0):
            call = checked()
        else:
            call = Call(oc.OK, 0.0, authorizer=auth, then=checked)
        self._answer(c, rid, route, n, key, answered, now, overhead, call)

    def _answer(self, c: _Client, rid: int, route: int, n: int, key: int | str, answered: Answered, now: float,
                overhead: float, call: Call) -> None:
        """Record the attempt sent at *now* and tell *answered*, at once or, behind an
        authorizer that takes time, when the integration behind it has been called."""
        if call.then is None:
            cause, latency = self._record_authorized(c, rid, route, n, now, overhead, call)
            answered(cause, latency, latency)
            return
        auth = call.authorizer
        assert auth is not None
        before_s = auth.latency_s + overhead
        early = before_s > c.timeout_s  # the client gives up before the integration is called
        if early:
            answered(oc.CLIENT_TIMEOUT, c.timeout_s, c.timeout_s)

        then = call.then

        def resume(_: Any) -> None:
            self.cache_key = key  # the integration behind the authorizer (a cache) reads it now
            cause, latency = self._record_authorized(c, rid, route, n, now, overhead, then()._replace(authorizer=auth))
            if not early:
                answered(cause, latency, max(0.0, latency - auth.latency_s))

        self.at(auth.latency_s, resume)

    def _record(self, c: _Client, rid: int, route: int, n: int, now: float, overhead: float,
                call: Call, auth_latency_s: float = 0.0) -> tuple[int, float]:
        """Write the attempt's row (without the authorizer's columns, *auth_latency_s* being
        the authorizer's part of the gateway's latency, and without the status codes, which
        follow from the causes); return the client's (cause, latency)."""
        gateway_cause, integration_latency_s, init_s, run_s, flags, function, _, _ = call
        gateway_latency = integration_latency_s + auth_latency_s + overhead
        latency, cause = rules.client_outcome(gateway_latency, c.timeout_s, gateway_cause)
        (put_request, put_attempt, put_client, put_route, put_function, put_cause, put_gateway_cause, put_flags,
         put_time, put_latency, put_gateway_latency, put_integration_latency, put_init, put_run) = self.row
        put_request(rid)
        put_attempt(n)
        put_client(c.index)
        put_route(route)
        put_function(function)
        put_cause(cause)
        put_gateway_cause(gateway_cause)
        put_flags(flags)
        put_time(now)
        put_latency(latency)
        put_gateway_latency(gateway_latency)
        put_integration_latency(integration_latency_s)
        put_init(init_s)
        put_run(run_s)
        return cause, latency

    def _record_authorized(self, c: _Client, rid: int, route: int, n: int, now: float, overhead: float,
                           call: Call) -> tuple[int, float]:
        """:meth:`_record` with the authorizer's columns."""
        auth = call.authorizer if call.authorizer is not None else NO_AUTHORIZER
        answer = self._record(c, rid, route, n, now, overhead, call, auth.latency_s)
        a_int = self.rec.a_int
        a_int["authorizer_function"].append(auth.function)
        a_int["authorizer_cause"].append(auth.cause)
        a_int["authorizer_flags"].append(auth.flags)
        a_f = self.rec.a_float
        a_f["authorizer_latency_s"].append(auth.latency_s)
        a_f["authorizer_init_s"].append(auth.init_s)
        a_f["authorizer_run_s"].append(auth.run_s)
        return answer

    # ------------------------------------------------------------------ logical requests

    def _request(self, c: _Client, route: int, done: Event | None = None, key: str = "") -> None:
        """Start a logical request now (a trace's cache *key*, or "" to draw one); attempts
        follow the client's retry policy."""
        rid = self.rec.new_request(c.index, route, self.env.now)
        draws = c.key_draws[route]
        k: int | str = 0 if draws is None else (trace_key(key) if key else draws.next())
        self._send(c, rid, route, 1, done, k)

    def _send(self, c: _Client, rid: int, route: int, n: int, done: Event | None, key: int | str) -> None:
        """Send attempt *n* of request *rid* (cache key *key*) now and record it. Without
        authorizers in the scenario its answer is decided at once."""
        now = self.env.now
        if self.authorizers:
            self._authorized_attempt(c, rid, route, n, key, self._answerer(c, rid, route, n, done, key, now))
            return
        cause = self.gateway.admit(now, c.chains[route])
        overhead = self.overhead.next()
        if cause == oc.OK:
            self.cache_key = key
            call = self.integrations[route].call(now, c.route_timeout[route], c.index, 0)
        else:
            call = Call(cause, 0.0)
        cause, latency = self._record(c, rid, route, n, now, overhead, call)
        self._answered(c, rid, route, n, done, key, now, cause, latency, latency)

    def _answerer(self, c: _Client, rid: int, route: int, n: int, done: Event | None, key: int | str,
                  sent: float) -> Answered:
        """:meth:`_answered` for attempt *n* of request *rid*, sent at *sent*, whose answer may come later."""
        return lambda cause, latency, delay: self._answered(c, rid, route, n, done, key, sent, cause, latency, delay)

    def _answered(self, c: _Client, rid: int, route: int, n: int, done: Event | None, key: int | str,
                  sent: float, cause: int, latency: float, delay: float) -> None:
        """Attempt *n*, sent at *sent*, has its answer: *cause* after *latency*, reaching
        the client *delay* from now."""
        if c.retry.enabled:
            # The retry decision (and the retry quota) happens when the answer arrives.
            self.at(delay, _later(self._after, c, rid, route, n, cause, done, key))
            return
        self.rec.finish_request(rid, sent + latency, n, self.status[cause], cause)
        if done is not None:
            self.at(delay, _succeeder(done))

    def _after(self, c: _Client, rid: int, route: int, n: int, cause: int, done: Event | None,
               key: int | str) -> None:
        """The response to attempt *n* reached a client with a retry policy."""
        status = self.status[cause]
        retry = c.retry
        delay = retry.next_delay(rid, n, status)
        if delay is None:
            retry.finished(rid, status)
            self.rec.finish_request(rid, self.env.now, n, status, cause)
            if done is not None:
                done.succeed()
            return
        self.at(delay, _later(self._send, c, rid, route, n + 1, done, key))

    # ------------------------------------------------------------------ clients

    def _open_client(self, c: _Client, times: Any, routes: Any | None,
                     keys: Any = ()) -> Generator[Event, Any, None]:
        env = self.env
        for k, t in enumerate(times):
            if t > env.now:
                yield env.timeout(t - env.now)
            route = routes[k] if routes is not None and routes[k] >= 0 else self._pick_route(c)
            self._request(c, route, None, keys[k] if keys else "")

    def _user(self, c: _Client, spawn_at: float, waiter: Waiter) -> Generator[Event, Any, None]:
        env = self.env
        if spawn_at > 0:
            yield env.timeout(spawn_at)
        waiter.spawned(env.now)
        end = self.s.duration
        while env.now < end:
            done = Event(env)
            self._request(c, self._pick_route(c), done)
            yield done
            wait = waiter.wait(env.now)
            if wait > 0:
                yield env.timeout(wait)

    def _start_clients(self) -> None:
        s = self.s
        for c in self.clients:
            arr = c.spec.arrivals
            if isinstance(arr, OpenArrivals):
                times = open_arrival_times(arr, s.duration, self.resolved.stream("arrivals", c.spec.name)).tolist()
                self.env.process(self._open_client(c, times, None))
            elif isinstance(arr, ReplayArrivals):
                routes = c.resolved.replay_routes
                self.env.process(self._open_client(c, list(arr.times), routes, arr.keys))
            elif isinstance(arr, ClosedArrivals):
                coin = Uniforms(self.resolved.stream("wait", c.spec.name))
                for spawn_at in c.resolved.spawn_times_s:
                    self.env.process(self._user(c, spawn_at, Waiter(arr.wait, coin)))

    def run(self) -> Result:
        self._start_clients()
        self.env.run()
        return Result(self.s, self.seed, self.rec, self.name)
