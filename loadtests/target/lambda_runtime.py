"""An independent Lambda runtime: real worker processes behind the Lambda Invoke API.

The model's Lambda (concurrency caps, throttles, cold starts, the scaling rate, idle
expiry, provisioned environments and spillover) is checked against this runtime, so it
is written from AWS's documented rules, not from the model's code, and it imports nothing
from ``simulator.functions``, ``simulator.gateway`` or ``simulator.engine`` (a test
enforces that). What it shares with the model is the scenario and its random numbers.

How a request is served
-----------------------
``POST /2015-03-31/functions/{name}/invocations`` (the Lambda Invoke path, which nginx
proxies to) is one synchronous invocation:

1. the runtime notes when it received it, on a monotonic clock (seconds since start);
2. it reads every report its workers have written (invocations that ended before this
   request came in have freed their environment), and stops idle workers whose idle
   timeout has passed;
3. its own accounting (:mod:`loadtests.target.lambda_limits`) places the invocation:
   an idle provisioned environment, else concurrency room (reserved cap or unreserved
   pool) and a warm idle environment, else a new environment if the scaling rate allows,
   else a throttle;
4. a new environment is a new worker process (:mod:`loadtests.target.lambda_processes`),
   whose cold start is its real start-up plus the drawn init time; the worker then runs
   the handler, which sleeps the drawn duration, fails on the drawn error coin, or is
   cut off at the function's timeout;
5. the worker's report frees the environment, which stays idle for the drawn idle
   timeout (then its worker is stopped) or, past its maximum lifetime, stops at once.

The answer is API Gateway's Lambda-proxy mapping (:mod:`loadtests.target.answers`):
200 with a small JSON body; a throttle is 500 ``{"message":"Internal server error"}``;
an error or a function timeout is 502. A caller that goes away does not stop the
function: the environment stays busy until its worker reports, as on AWS.

Random numbers
--------------
Durations, init times, error coins and idle timeouts come from the model's named streams
(:func:`simulator.rng.stream`), each drawn in the order the model draws it: per granted
invocation the duration, then the init time (cold starts only), then the error coin; an
idle timeout each time an environment goes idle. So the n-th invocation of a function
gets the same numbers as in a simulated run that invokes it in the same order.
Provisioned environments finish their Init phase before the runtime listens, so they
draw no init time.

What it reports
---------------
Every answer carries the headers of :mod:`loadtests.target.answers` (cause, cold start,
received time; ``x-throttlesim-function-ms``, how long the environment was busy with it,
from receipt to the worker's report) and, when an environment served it: ``x-throttlesim-environment`` (its
id, ``function#n``), ``x-throttlesim-init-ms`` (request to end of Init: real start plus
drawn init; 0 when warm), ``x-throttlesim-run-ms`` (the handler's own time),
``x-throttlesim-provisioned``; a throttle carries ``x-throttlesim-throttle-reason``
(:data:`~loadtests.target.lambda_limits.THROTTLE_REASONS`). With a log directory, it
writes ``invocations.csv`` (:mod:`loadtests.target.invocation_log`, by the gateway's
request id, so that validation can complete the answers nginx gave alone: a row when an
invocation starts, another with its outcome when it ends) and
``runtime.jsonl``: one JSON line per invocation with all of the above and the drawn
numbers, and one per environment stopped.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aiohttp import web

from loadtests.target import lambda_worker as lw
from loadtests.target.answers import (
    AUTHORIZER_MS_HEADER,
    CAUSE_HEADER,
    ENVIRONMENT_HEADER,
    INIT_MS_HEADER,
    INVOKE_PATH,
    PROVISIONED_HEADER,
    RUN_MS_HEADER,
    THROTTLE_REASON_HEADER,
    Answers,
    headers,
)
from loadtests.target.clock import Clock
from loadtests.target.http_backend import add_backend_routes
from loadtests.target.invocation_log import INVOCATION_REQUEST_ID_HEADER, InvocationLog
from loadtests.target.lambda_authorizers import GatewayAuthorizers, add_authorizer_routes
from loadtests.target.lambda_limits import Environment, LambdaLimits
from loadtests.target.lambda_processes import Report, Workers
from simulator import outcomes as oc
from simulator.dists import Draws, Uniforms
from simulator.rng import stream
from simulator.scenario import Scenario

__all__ = ["Invocation", "LambdaRuntime", "lambda_app"]

_CAUSE = {lw.OK: oc.OK, lw.ERROR: oc.FUNCTION_ERROR, lw.TIMEOUT: oc.FUNCTION_TIMEOUT}


@dataclass
class Invocation:
    """What happened to one invocation."""

    function: str
    received_s: float
    cause: int
    environment: str = ""
    pid: int = 0
    cold_start: bool = False
    provisioned: bool = False
    #: Cold starts: from the request to the end of Init (real start-up plus drawn init).
    init_s: float = 0.0
    #: Cold starts: from the request to the worker process running.
    start_s: float = 0.0
    run_s: float = 0.0
    throttle_reason: str = ""
    #: The drawn numbers: the duration and (cold starts) the init time the worker slept.
    drawn_duration_s: float = 0.0
    drawn_init_s: float = 0.0
    #: When the worker reported the end, on the runtime's clock.
    ended_s: float = 0.0
    #: The id the gateway gave the request (nginx's ``$request_id``), when it sent one.
    request_id: str = ""

    def record(self) -> dict[str, object]:
        return {"received_s": round(self.received_s, 6), "request_id": self.request_id, "function": self.function,
                "cause": oc.CAUSES[self.cause], "environment": self.environment, "pid": self.pid,
                "cold_start": self.cold_start, "provisioned": self.provisioned, "init_ms": round(self.init_s * 1000, 3),
                "start_ms": round(self.start_s * 1000, 3), "run_ms": round(self.run_s * 1000, 3),
                "throttle_reason": self.throttle_reason, "ended_s": round(self.ended_s, 6),
                "drawn_duration_ms": round(self.drawn_duration_s * 1000, 3),
                "drawn_init_ms": round(self.drawn_init_s * 1000, 3)}


class _Streams:
    """One function's random numbers, named as the model names them."""

    def __init__(self, scenario: Scenario, index: int, seed: int) -> None:
        f = scenario.functions[index]
        b = scenario.behaviour
        self.duration = Draws(f.duration.build(), stream(seed, "duration", f.name))
        self.init = Draws(f.init.build(), stream(seed, "init", f.name))
        self.coin = Uniforms(stream(seed, "errors", f.name))
        self.idle = Draws((f.idle_timeout or b.idle_timeout).build(), stream(seed, "idle", f.name))
        self.error_rate = f.error_rate
        self.timeout_s = f.timeout


class LambdaRuntime:
    """The scenario's functions on worker processes. Call :meth:`start` inside the event
    loop (it starts the provisioned environments), :meth:`close` at the end."""

    def __init__(self, scenario: Scenario, *, seed: int | None = None, clock: Clock | None = None,
                 max_environments: int = 256, log_dir: str | Path | None = None) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.clock = clock or Clock()
        self.limits = LambdaLimits(scenario)
        self.streams = {f.name: _Streams(scenario, i, self.seed) for i, f in enumerate(scenario.functions)}
        self.max_environments = max_environments
        self.environments: dict[int, Environment] = {}
        self.workers: Workers | None = None
        self._waiting: dict[int, asyncio.Future[Report]] = {}
        self._log: IO[str] | None = None
        #: Where the logs go (``runtime.jsonl``, ``invocations.csv``, ``backends.jsonl``), if anywhere.
        self.log_dir = Path(log_dir) if log_dir is not None else None
        #: The gateway-facing invocation log (``invocations.csv``), when logging.
        self.invocations: InvocationLog | None = None
        if log_dir is not None:
            folder = Path(log_dir)
            folder.mkdir(parents=True, exist_ok=True)
            self._log = open(folder / "runtime.jsonl", "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - close()
            self.invocations = InvocationLog(folder / "invocations.csv")

    # ------------------------------------------------------------------ life cycle

    async def start(self, timeout_s: float = 60.0) -> None:
        """Start the zygote and every provisioned environment; return once they are ready."""
        loop = asyncio.get_running_loop()
        self.workers = Workers()
        loop.add_reader(self.workers.report_fd, self._drain)
        starting = []
        for f in self.scenario.functions:
            for _ in range(f.provisioned_concurrency):
                env = self.limits.new_environment(f.name, self.clock.now(), provisioned=True)
                starting.append((env, self._dispatch(env, lw.PREPARE, 0.0, 0.0, f.timeout, False, start=True)))
        reports = await asyncio.wait_for(asyncio.gather(*(fut for _, fut in starting)), timeout_s)
        for (env, _), report in zip(starting, reports, strict=True):
            if report.outcome != lw.READY:
                raise RuntimeError(f"provisioned environment {env.function}#{env.id} did not start")
            self.limits.add_provisioned(env)

    def close(self) -> None:
        """Stop every worker (at shutdown) and close the log."""
        if self.workers is not None:
            asyncio.get_running_loop().remove_reader(self.workers.report_fd)
            self.workers.close()
            self.workers = None
        for fut in self._waiting.values():
            fut.cancel()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.invocations is not None:
            self.invocations.close()

    # ------------------------------------------------------------------ invocations

    async def invoke(self, name: str, request_id: str = "") -> Invocation:
        """Invoke *name* now and wait for its end (raises KeyError for an unknown function);
        *request_id* only goes to the log."""
        s = self.streams[name]
        received = self.clock.now()
        self._drain()
        self._expire(received)
        grant = self.limits.acquire(name, received)
        env = grant.environment
        if env is None:
            cause = oc.LAMBDA_RATE_THROTTLED if grant.throttle_reason == "request_rate" else oc.LAMBDA_THROTTLED
            return self._done(Invocation(name, received, cause, throttle_reason=grant.throttle_reason,
                                         request_id=request_id))
        if grant.cold and self.workers is not None and self.workers.live >= self.max_environments:
            self.limits.abandon(env)
            raise RuntimeError(f"this host runs at most {self.max_environments} environments (--max-environments)")
        duration_s = s.duration.next()
        init_s = s.init.next() if grant.cold else 0.0
        fail = s.coin.next() < s.error_rate
        running = self._dispatch(env, lw.INVOKE, init_s, duration_s, s.timeout_s, fail, start=grant.cold)
        if self.invocations is not None:
            # Logged as it starts, so that one still running when the server stops is known;
            # the row written when it ends (:func:`lambda_app`) completes it.
            self.invocations.write(request_id, headers(oc.OK, grant.cold, received) | {CAUSE_HEADER: ""})
        report = await running
        inv = Invocation(name, received, _CAUSE[report.outcome], f"{name}#{env.id}", report.pid, grant.cold,
                         env.provisioned, run_s=report.ended - report.ready, drawn_duration_s=duration_s,
                         drawn_init_s=init_s, ended_s=report.ended - self.clock.origin, request_id=request_id)
        if grant.cold:
            origin = self.clock.origin
            inv.init_s = report.ready - origin - received
            inv.start_s = report.started - origin - received
        return self._done(inv)

    def _dispatch(self, env: Environment, kind: int, init_s: float, duration_s: float, timeout_s: float,
                  fail: bool, *, start: bool) -> asyncio.Future[Report]:
        assert self.workers is not None, "LambdaRuntime.start() was not called"
        if start:
            self.environments[env.id] = env
            self.workers.start(env.id)
        fut: asyncio.Future[Report] = asyncio.get_running_loop().create_future()
        self._waiting[env.id] = fut
        self.workers.send(env.id, kind, init_s, duration_s, timeout_s, fail)
        return asyncio.shield(fut)

    def _drain(self) -> None:
        """Take in every report: free the environments whose invocation ended."""
        if self.workers is None:
            return
        for report in self.workers.drain():
            env = self.environments.get(report.environment)
            if env is None:  # stopped meanwhile (shutdown)
                continue
            env.pid = report.pid
            fut = self._waiting.pop(env.id, None)
            if report.outcome != lw.READY:
                self._release(env, report.ended - self.clock.origin)
            if fut is not None and not fut.done():
                fut.set_result(report)

    def _release(self, env: Environment, ended_s: float) -> None:
        if not self.limits.release(env, ended_s):
            self._stop(env, "max_lifetime", ended_s)
            return
        if env.provisioned:
            return
        env.idle_until_s = ended_s + self.streams[env.function].idle.next()
        loop = asyncio.get_running_loop()
        loop.call_at(self.clock.origin + env.idle_until_s, self._expire_later)

    def _expire_later(self) -> None:
        self._drain()
        self._expire(self.clock.now())

    def _expire(self, now_s: float) -> None:
        for env in self.limits.expire(now_s):
            self._stop(env, "idle_timeout", now_s)

    def _stop(self, env: Environment, reason: str, now_s: float) -> None:
        if self.workers is not None:
            self.workers.stop(env.id)
        self.environments.pop(env.id, None)
        self._write({"stopped_s": round(now_s, 6), "environment": f"{env.function}#{env.id}", "reason": reason,
                     "invocations": env.invocations})

    def _done(self, inv: Invocation) -> Invocation:
        self._write(inv.record())
        return inv

    def _write(self, record: dict[str, object]) -> None:
        if self._log is not None:
            self._log.write(json.dumps(record, separators=(",", ":")) + "\n")


def lambda_app(runtime: LambdaRuntime) -> web.Application:
    """An aiohttp application serving :data:`INVOKE_PATH` for *runtime*'s functions (and
    the scenario's HTTP backends, :mod:`loadtests.target.http_backend`); it starts the
    runtime's environments on start-up and stops them on clean-up."""
    answers = Answers(runtime.scenario)

    async def invoke(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in runtime.streams:
            return web.json_response({"message": f"Function not found: {name}"}, status=404)
        try:
            request_id = request.headers.get(INVOCATION_REQUEST_ID_HEADER, "")[:64]
            inv = await runtime.invoke(name, request_id)
        except RuntimeError as exc:
            return web.json_response({"message": str(exc)}, status=503)
        hdrs = invocation_headers(inv, _ms(request.headers.get(AUTHORIZER_MS_HEADER)))
        if runtime.invocations is not None:
            runtime.invocations.write(request_id, hdrs)
        return invocation_response(answers, inv, hdrs)

    async def start(_: web.Application) -> None:
        await runtime.start()

    backend_log = None
    if runtime.scenario.backends and runtime.log_dir is not None:
        backend_log = open(runtime.log_dir / "backends.jsonl", "w", encoding="utf-8", buffering=1)  # noqa: SIM115

    async def stop(_: web.Application) -> None:
        runtime.close()
        if backend_log is not None:
            backend_log.close()

    app = web.Application()
    app.router.add_route("*", INVOKE_PATH, invoke)
    add_backend_routes(app, runtime.scenario, runtime.seed, runtime.clock, backend_log, runtime.invocations)
    if runtime.scenario.authorizers:
        add_authorizer_routes(app, GatewayAuthorizers(runtime.scenario, runtime.invoke, runtime.clock.now))
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


def _ms(text: str | None) -> float:
    """Seconds from a header's milliseconds (0 when absent or not a number)."""
    try:
        value = float(text or 0.0) / 1000
    except ValueError:
        return 0.0
    return value if 0.0 <= value < 86400.0 else 0.0


def invocation_headers(inv: Invocation, authorizer_s: float = 0.0) -> dict[str, str]:
    """What the runtime saw of *inv*, as the ``x-throttlesim-*`` headers of its answer;
    *authorizer_s*, what the route's authorizer took before (nginx says it), is added to
    the function's time."""
    busy_s = None if inv.throttle_reason else inv.ended_s - inv.received_s + authorizer_s
    hdrs = headers(inv.cause, inv.cold_start, inv.received_s, busy_s)
    if inv.throttle_reason:
        hdrs[THROTTLE_REASON_HEADER] = inv.throttle_reason
    else:
        hdrs.update({ENVIRONMENT_HEADER: inv.environment, INIT_MS_HEADER: f"{inv.init_s * 1000:.3f}",
                     RUN_MS_HEADER: f"{inv.run_s * 1000:.3f}", PROVISIONED_HEADER: "1" if inv.provisioned else "0"})
    return hdrs


def invocation_response(answers: Answers, inv: Invocation, hdrs: dict[str, str]) -> web.Response:
    """API Gateway's Lambda-proxy answer for *inv*, with what the runtime saw in *hdrs*."""
    if inv.cause == oc.OK:
        body = json.dumps({"function": inv.function, "environment": inv.environment, "pid": inv.pid,
                           "cold_start": inv.cold_start, "init_ms": round(inv.init_s * 1000, 3),
                           "run_ms": round(inv.run_s * 1000, 3)}, separators=(",", ":")).encode()
        return web.Response(status=200, body=body, headers=hdrs, content_type="application/json")
    status, body = answers.error(inv.cause)
    return web.Response(status=status, body=body, headers=hdrs, content_type="application/json")
