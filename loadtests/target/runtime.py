"""A Lambda runtime in real time: the scenario's functions, served over HTTP on 127.0.0.1.

Each function has the model's own :class:`~simulator.functions.pool.FunctionPool`, driven
by a real clock (:class:`~loadtests.target.clock.Clock`, seconds since the server
started) instead of simulated time, so the rules are the model's rules:

* provisioned environments are initialised when the server starts;
* an invocation needs concurrency room: the function's reserved concurrency minus its
  provisioned concurrency, or room in the account's unreserved pool;
* Lambda's request rate (:mod:`simulator.functions.request_rate`) may refuse it first;
* a warm idle environment serves it if one has not passed its idle timeout; else a new
  one is created (a cold start: the handler first sleeps the ``init`` time) if the
  function's scaling bucket has a token; else Lambda throttles the invocation;
* the handler sleeps the ``duration`` drawn for it, or the function's ``timeout`` if that
  is shorter; ``error_rate`` decides whether it fails; the environment is busy (holds
  concurrency) until then, whatever the caller does meanwhile.

Durations, init times, error coin flips and idle timeouts come from the same named random
streams as the model's (:func:`simulator.rng.stream`), drawn in the same order, so the
n-th invocation of a function gets the same numbers here as in a simulated run that
invokes it in the same order.

Over HTTP (``POST /2015-03-31/functions/{name}/invocations``, the Lambda Invoke path) the
runtime answers the way API Gateway's Lambda-proxy integration would map the result:
200 with a small JSON body, a throttle as 500 ``{"message":"Internal server error"}``, a
failure or function timeout as 502, with the HTTP API variants (see
:mod:`loadtests.target.answers`). nginx proxies these answers unchanged.

Why asyncio and aiohttp: every request in flight is a handler asleep on a timer, and
thousands of sleeping handlers cost a coroutine each on one event loop, with no thread
per request, which suits a machine with two cores shared with the load generator.
aiohttp's server parses HTTP/1.1 in C, keeps connections alive for nginx's upstream
pool, and does not cancel a handler whose client went away, so a function whose caller
timed out runs on and keeps its concurrency, as on AWS.
"""

from __future__ import annotations

import asyncio
import heapq
import json
from dataclasses import dataclass, field

from aiohttp import web

from loadtests.target.answers import INVOKE_PATH, Answers, headers
from loadtests.target.clock import Clock
from loadtests.target.invocation_log import INVOCATION_REQUEST_ID_HEADER, InvocationLog
from simulator import outcomes as oc
from simulator import rules
from simulator.functions.pool import ExecutionEnvironment, FunctionState, build_functions
from simulator.functions.request_rate import RequestRate, request_rates
from simulator.scenario import Scenario

__all__ = ["INVOKE_PATH", "FunctionRuntime", "Invocation", "runtime_app"]


@dataclass
class Invocation:
    """One invocation: how it ends and when its environment is free again."""

    function: str
    #: ``ok``, ``function_error``, ``function_timeout``, ``lambda_throttled`` or ``lambda_rate_throttled``.
    cause: int
    cold_start: bool = False
    provisioned: bool = False
    init_s: float = 0.0
    run_s: float = 0.0
    #: Resolves when the environment is released; None when Lambda throttled.
    finished: asyncio.Future[None] | None = field(default=None, repr=False)

    @property
    def busy_s(self) -> float:
        """How long the environment is busy: init (cold starts) plus the run."""
        return self.init_s + self.run_s

    def result(self) -> dict[str, object]:
        """The JSON body a successful invocation returns."""
        return {
            "function": self.function,
            "cold_start": self.cold_start,
            "init_ms": round(self.init_s * 1000, 3),
            "run_ms": round(self.run_s * 1000, 3),
        }


class FunctionRuntime:
    """The scenario's functions on a real clock. Use it from inside a running event loop."""

    def __init__(self, scenario: Scenario, *, seed: int | None = None, clock: Clock | None = None) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.clock = clock or Clock()
        self.functions = self._build()
        self._timers: set[asyncio.TimerHandle] = set()
        #: Invocations by the instant they are due to finish (heap of (due, seq, ...)).
        self._due: list[tuple[float, int, FunctionState, ExecutionEnvironment, Invocation]] = []
        self._seq = 0

    def _build(self) -> dict[str, FunctionState]:
        functions = build_functions(self.scenario, self.seed)
        self.rates: dict[str, RequestRate] = dict(zip((f.name for f in functions), request_rates(self.scenario)))
        return {f.name: f for f in functions}

    def concurrency(self, name: str) -> int:
        """Invocations of *name* in flight now."""
        return self.functions[name].pool.busy

    def invoke(self, name: str, now: float | None = None) -> Invocation:
        """Start an invocation of *name* at *now* (default: the clock). Raises KeyError for an
        unknown function.

        Environments are released at the instant their invocation is due to finish, not when
        the event loop gets round to the timer: every invocation settles the ones already due
        first. A busy event loop then delays answers, but not the concurrency the next request
        sees, which is what the model predicts.
        """
        f = self.functions[name]
        now = self.clock.now() if now is None else now
        self._settle(now)
        rate = self.rates[name]
        if not rate.ready(now):
            return Invocation(name, oc.LAMBDA_RATE_THROTTLED)
        env, cold = f.pool.acquire(now)
        if env is None:
            return Invocation(name, oc.LAMBDA_THROTTLED)
        rate.take()
        duration = f.duration.next()
        init = f.init.next() if cold else 0.0
        failed = f.coin.next() < f.error_rate
        run, cause = rules.function_outcome(duration, f.timeout_s, failed)
        loop = asyncio.get_running_loop()
        inv = Invocation(name, cause, cold, env.provisioned, init, run, loop.create_future())
        due = now + inv.busy_s
        self._seq += 1
        heapq.heappush(self._due, (due, self._seq, f, env, inv))
        timer = loop.call_later(max(0.0, due - self.clock.now()), self._settle_timer, due)
        self._timers.add(timer)
        inv.finished.add_done_callback(lambda _: self._timers.discard(timer))  # type: ignore[union-attr]
        return inv

    def _settle_timer(self, due: float) -> None:
        self._settle(due)

    def _settle(self, now: float) -> None:
        """Release, in order, every invocation due at or before *now*, at its due instant."""
        heap = self._due
        while heap and heap[0][0] <= now:
            due, _, f, env, inv = heapq.heappop(heap)
            f.pool.release(env, due)
            if inv.finished is not None and not inv.finished.done():
                inv.finished.set_result(None)

    def close(self) -> None:
        """Forget the invocations still running (at shutdown)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()


def runtime_app(runtime: FunctionRuntime, log: InvocationLog | None = None) -> web.Application:
    """An aiohttp application serving :data:`INVOKE_PATH` for *runtime*'s functions; with
    *log*, every invocation is logged as it starts (closed with the application)."""
    answers = Answers(runtime.scenario)

    async def invoke(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in runtime.functions:
            return web.json_response({"message": f"Function not found: {name}"}, status=404)
        received = runtime.clock.now()
        inv = runtime.invoke(name, received)
        if log is not None:
            log.write(request.headers.get(INVOCATION_REQUEST_ID_HEADER, ""), invocation_headers(inv, received))
        if inv.finished is not None:
            await asyncio.shield(inv.finished)
        return invocation_response(answers, inv, received_s=received)

    app = web.Application()
    app.router.add_route("*", INVOKE_PATH, invoke)
    if log is not None:
        async def close(_app: web.Application) -> None:
            log.close()

        app.on_cleanup.append(close)
    return app


def invocation_headers(inv: Invocation, received_s: float | None = None, authorizer_s: float = 0.0) -> dict[str, str]:
    """The ``x-throttlesim-*`` headers of an invocation's answer (*authorizer_s*: the time
    an authorizer in front took, which the model draws too)."""
    function_s = None if inv.cause in oc.LAMBDA_REFUSALS else inv.busy_s + authorizer_s
    return headers(inv.cause, inv.cold_start, received_s, function_s)


def invocation_response(answers: Answers, inv: Invocation, *, received_s: float | None = None,
                        authorizer_s: float = 0.0) -> web.Response:
    """The answer API Gateway's Lambda-proxy integration gives for a finished invocation."""
    hdrs = invocation_headers(inv, received_s, authorizer_s)
    if inv.cause == oc.OK:
        body = json.dumps(inv.result(), separators=(",", ":")).encode()
        return web.Response(status=200, body=body, headers=hdrs, content_type="application/json")
    status, body = answers.error(inv.cause)
    return web.Response(status=status, body=body, headers=hdrs, content_type="application/json")
