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
route choices, waits and retry jitter; a function's durations, init times, error coin
flips and idle timeouts; the gateway's overhead. Each stream is consumed in the order
of the events that use it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Generator
from typing import Any

import simpy
from simpy.events import NORMAL, Event, EventPriority

from simulator import outcomes as oc
from simulator import rules
from simulator.dists import Draws, Uniforms
from simulator.gateway.path import Chain, Gateway
from simulator.integrations import build_integrations
from simulator.integrations.base import NO_CALL
from simulator.results import Recorder, Result
from simulator.rng import stream
from simulator.scenario import ClosedArrivals, OpenArrivals, ReplayArrivals, Scenario
from simulator.traffic.arrivals import open_arrival_times
from simulator.traffic.clients import RetryPolicy, Waiter, route_weights

__all__ = ["ReferenceEngine"]


class _Client:
    """One ``[[clients]]`` entry as the engine runs it: its gateway chain and integration
    timeout per route, its route choice, its retry policy and its own timeout."""

    __slots__ = ("index", "spec", "chains", "route_timeout", "cum_weights", "route_coin", "retry", "timeout_s")

    index: int
    spec: Any
    chains: list[Chain | None]
    route_timeout: list[float]
    cum_weights: tuple[tuple[int, ...], tuple[float, ...]]
    route_coin: Uniforms
    retry: RetryPolicy
    timeout_s: float

    def __init__(self, index: int, spec: Any) -> None:
        self.index = index
        self.spec = spec


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
        self.rec = Recorder()
        self.gateway = Gateway(scenario)
        self.status = oc.status_codes(scenario)
        self.overhead = Draws(scenario.behaviour.gateway_overhead.build(), stream(seed, "gateway", "overhead"))
        self.route_index = {r.name: i for i, r in enumerate(scenario.routes)}
        self.integrations, self.functions = build_integrations(scenario, seed, self, self.rec)
        self.clients = [self._build_client(i, c) for i, c in enumerate(scenario.clients)]

    # ------------------------------------------------------------------ set-up

    def _build_client(self, i: int, spec: Any) -> _Client:
        s = self.s
        c = _Client(i, spec)
        c.chains = [self.gateway.chain(spec.api_key, spec.usage_plan, r.name) for r in s.routes]
        c.route_timeout = [s.integration_timeout_s(r) for r in s.routes]
        c.cum_weights = route_weights(spec.routes, self.route_index)
        c.route_coin = Uniforms(stream(self.seed, "routes", spec.name))
        c.retry = RetryPolicy(spec.retry, stream(self.seed, "retry", spec.name))
        c.timeout_s = spec.timeout if spec.timeout is not None else math.inf
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

    def concurrency(self, now: float, function: int, busy: int) -> None:
        """Record *function*'s invocations in flight from *now*."""
        self.rec.concurrency(now, function, busy)

    # ------------------------------------------------------------------ one attempt

    def _pick_route(self, c: _Client) -> int:
        routes, cum = c.cum_weights
        if len(routes) == 1:
            return routes[0]
        return routes[bisect.bisect_right(cum, c.route_coin.next())]

    def _attempt(self, c: _Client, rid: int, route: int, n: int) -> tuple[int, float]:
        """Send attempt *n* of request *rid* now; record it; return (cause, latency)."""
        now = self.env.now
        cause = self.gateway.admit(now, c.chains[route])
        overhead = self.overhead.next()
        call = NO_CALL
        if cause == oc.OK:
            call = self.integrations[route].call(now, c.route_timeout[route])
            cause = call.cause
        gateway_latency = call.latency_s + overhead
        gateway_cause = cause
        latency, cause = rules.client_outcome(gateway_latency, c.timeout_s, cause)
        a_int = self.rec.a_int
        a_int["request"].append(rid)
        a_int["attempt"].append(n)
        a_int["client"].append(c.index)
        a_int["route"].append(route)
        a_int["function"].append(call.function)
        a_int["status"].append(self.status[cause])
        a_int["cause"].append(cause)
        a_int["gateway_status"].append(self.status[gateway_cause])
        a_int["gateway_cause"].append(gateway_cause)
        a_int["flags"].append(call.flags)
        a_f = self.rec.a_float
        a_f["time_s"].append(now)
        a_f["latency_s"].append(latency)
        a_f["gateway_latency_s"].append(gateway_latency)
        a_f["integration_latency_s"].append(call.latency_s)
        a_f["init_s"].append(call.init_s)
        a_f["run_s"].append(call.run_s)
        return cause, latency

    # ------------------------------------------------------------------ logical requests

    def _request(self, c: _Client, route: int, done: Event | None = None) -> None:
        """Start a logical request now; attempts follow the client's retry policy."""
        rid = self.rec.new_request(c.index, route, self.env.now)
        self._send(c, rid, route, 1, done)

    def _send(self, c: _Client, rid: int, route: int, n: int, done: Event | None) -> None:
        cause, latency = self._attempt(c, rid, route, n)
        if c.retry.enabled:
            # The retry decision (and the retry quota) happens when the answer arrives.
            self.at(latency, lambda _: self._after(c, rid, route, n, cause, done))
            return
        self.rec.finish_request(rid, self.env.now + latency, n, self.status[cause], cause)
        if done is not None:
            self.at(latency, _succeeder(done))

    def _after(self, c: _Client, rid: int, route: int, n: int, cause: int, done: Event | None) -> None:
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
        self.at(delay, lambda _: self._send(c, rid, route, n + 1, done))

    # ------------------------------------------------------------------ clients

    def _open_client(self, c: _Client, times: Any, routes: Any | None) -> Generator[Event, Any, None]:
        env = self.env
        for k, t in enumerate(times):
            if t > env.now:
                yield env.timeout(t - env.now)
            route = routes[k] if routes is not None and routes[k] >= 0 else self._pick_route(c)
            self._request(c, route)

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
                times = open_arrival_times(arr, s.duration, stream(self.seed, "arrivals", c.spec.name)).tolist()
                self.env.process(self._open_client(c, times, None))
            elif isinstance(arr, ReplayArrivals):
                routes = [self.route_index[r] if r else -1 for r in arr.routes]
                self.env.process(self._open_client(c, list(arr.times), routes))
            elif isinstance(arr, ClosedArrivals):
                coin = Uniforms(stream(self.seed, "wait", c.spec.name))
                for j in range(arr.users):
                    spawn_at = Waiter.spawn_time(j, arr.spawn_rate)
                    if spawn_at >= s.duration:
                        break
                    self.env.process(self._user(c, spawn_at, Waiter(arr.wait, coin)))

    def run(self) -> Result:
        self._start_clients()
        self.env.run()
        return Result(self.s, self.seed, self.rec, self.name)
