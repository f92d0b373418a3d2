"""A real HTTP backend of finite capacity, for validating the model's HTTP integrations.

Each ``[[backends]]`` entry of the scenario is served at ``/backends/NAME`` (nginx proxies
a route that names the backend there) by an asyncio server written from the rule a
worker-pool server follows, not from the model's code (it imports nothing from
``simulator.integrations``):

* ``workers`` slots; a request that finds one free takes it at once;
* otherwise it waits in a first-come-first-served line of futures; a slot that frees is
  handed to the head of the line, at the instant it frees;
* a request that would have to wait is refused when ``queue_limit`` are waiting already,
  and any request when ``connection_limit`` are held (in service plus waiting):
  ``backend_queue_full``, the scenario's status;
* a served request sleeps its service time, measured from the instant it got its slot,
  and answers 200, or 500 on its error coin (``backend_error``). It runs to the end even
  when the gateway has given up and closed the connection (it is shielded from
  cancellation); the slot stays taken until then;
* with ``abandoned_in_queue = "skipped"``, a request that gets its slot after waiting
  longer than the shortest integration timeout of the routes that call the backend hands
  the slot on at once without being served.

Service times and error coins come from the model's named streams, drawn when a request
gets its slot: slots go in order of arrival, so the n-th request served gets the same
numbers as the model's n-th. Every answer carries the ``x-throttlesim-*`` headers of
:mod:`loadtests.target.answers`; ``x-throttlesim-function-ms`` is the time from receipt to
the end of service (wait plus service). With a log, each request is one JSON line
(``backend``, ``received_s``, ``slot_s`` when it got its slot, ``ended_s``, ``cause``),
from which validation replays the service times the server really spent.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from typing import IO

from aiohttp import web

from loadtests.target.answers import Answers, headers
from loadtests.target.clock import Clock
from loadtests.target.invocation_log import INVOCATION_REQUEST_ID_HEADER, InvocationLog
from simulator import outcomes as oc
from simulator.dists import Draws, Uniforms
from simulator.rng import stream
from simulator.scenario import Scenario
from simulator.scenario.schema import Backend

__all__ = ["BACKEND_PATH", "BackendPool", "add_backend_routes", "answer_headers"]

#: Where a backend is served; ``{name}`` is its name.
BACKEND_PATH = "/backends/{name}"


class BackendPool:
    """One backend's slots, its waiting line and its random streams."""

    def __init__(self, spec: Backend, seed: int, clock: Clock, patience_s: float,
                 write: Callable[[dict[str, object]], None] | None = None) -> None:
        self.spec = spec
        self.clock = clock
        self.free = spec.workers
        self.line: deque[asyncio.Future[float]] = deque()
        self.held = 0
        self.service = Draws(spec.service_time.build(), stream(seed, "backend", spec.name, "service"))
        self.coin = Uniforms(stream(seed, "backend", spec.name, "error"))
        #: How long a waiting request may wait before it is skipped (``"skipped"`` only).
        self.patience_s = patience_s if spec.abandoned_in_queue == "skipped" else float("inf")
        self.write = write

    def refuses(self) -> bool:
        limit = self.spec.connection_limit
        if limit is not None and self.held >= limit:
            return True
        queue_limit = self.spec.queue_limit
        return self.free == 0 and queue_limit is not None and len(self.line) >= queue_limit

    def release(self) -> None:
        """A slot frees now: the head of the line takes it, else it stays free."""
        now = self.clock.now()
        while self.line:
            fut = self.line.popleft()
            if not fut.done():
                fut.set_result(now)
                return
        self.free += 1

    async def serve(self) -> tuple[int, float, float, float]:
        """``(cause, received_s, slot_s, ended_s)`` of one request, served to the end."""
        received = self.clock.now()
        if self.refuses():
            return oc.BACKEND_QUEUE_FULL, received, received, received
        self.held += 1
        try:
            if self.free > 0:
                self.free -= 1
                slot = received
            else:
                fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                self.line.append(fut)
                slot = await fut
            if slot - received > self.patience_s:
                self.release()
                return oc.INTEGRATION_TIMEOUT, received, slot, slot
            # Drawn once the slot is taken: slots go first come, first served, so this is
            # the order of arrival, less the refused and the skipped, as in the model.
            service = self.service.next()
            failed = self.coin.next() < self.spec.error_rate
            await asyncio.sleep(max(0.0, slot + service - self.clock.now()))
            ended = self.clock.now()
            self.release()
        finally:
            self.held -= 1
        return (oc.BACKEND_ERROR if failed else oc.OK), received, slot, ended


def add_backend_routes(app: web.Application, scenario: Scenario, seed: int, clock: Clock,
                       log: IO[str] | None = None, invocations: InvocationLog | None = None) -> dict[str, BackendPool]:
    """Serve every backend of *scenario* at :data:`BACKEND_PATH` in *app*; each request
    is a line in *log*, and a row of *invocations* under the gateway's request id (so that
    validation knows when the backend received a request the gateway answered 504 itself),
    when they are given."""

    def write(record: dict[str, object]) -> None:
        if log is not None:
            log.write(json.dumps(record, separators=(",", ":")) + "\n")

    pools = {}
    for b in scenario.backends:
        limits = [scenario.integration_timeout_s(r) for r in scenario.routes if r.backend == b.name]
        pools[b.name] = BackendPool(b, seed, clock, min(limits, default=float("inf")), write)
    answers = Answers(scenario)

    async def served(pool: BackendPool, request_id: str) -> tuple[int, float, float, float]:
        cause, received, slot, ended = await pool.serve()
        write({"backend": pool.spec.name, "received_s": round(received, 6), "slot_s": round(slot, 6),
               "ended_s": round(ended, 6), "cause": oc.CAUSES[cause]})
        if invocations is not None:
            invocations.write(request_id, answer_headers(cause, received, ended))
        return cause, received, slot, ended

    async def handle(request: web.Request) -> web.Response:
        pool = pools.get(request.match_info["name"])
        if pool is None:
            return web.json_response({"message": "Not Found"}, status=404)
        # Shielded: a gateway that gives up does not stop the work (the slot stays taken).
        request_id = request.headers.get(INVOCATION_REQUEST_ID_HEADER, "")[:64]
        cause, received, slot, ended = await asyncio.shield(served(pool, request_id))
        hdrs = answer_headers(cause, received, ended)
        if cause == oc.OK:
            return web.Response(status=200, body=b'{"ok":true}', headers=hdrs, content_type="application/json")
        status, body = answers.error(cause)
        return web.Response(status=status, body=body, headers=hdrs, content_type="application/json")

    app.router.add_route("*", BACKEND_PATH, handle)
    return pools


def answer_headers(cause: int, received_s: float, ended_s: float) -> dict[str, str]:
    """The ``x-throttlesim-*`` headers of a backend's answer; the function time is the
    backend's (receipt to end of service), none for a refusal."""
    return headers(cause, False, received_s, None if cause == oc.BACKEND_QUEUE_FULL else ended_s - received_s)
