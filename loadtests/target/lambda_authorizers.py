"""The scenario's authorizers, answered for nginx's ``auth_request`` beside the independent runtime.

nginx asks ``GET`` (any method) :data:`~loadtests.target.answers.AUTHORIZER_PATH` with the
client's headers before it proxies a request to a route that has an authorizer
(:mod:`loadtests.target.nginx`), and goes on when the answer is 2xx. This module is the
part of API Gateway nginx does not have: the authorizer's result cache, the call to its
Lambda function and what its policy says. It is written from AWS's documentation, like
the runtime it calls, and takes nothing from the model but the scenario and ``outcomes``
(``tests/test_lambda_runtime_imports.py``):

1. the token is the ``Authorization`` header. None, or one that names no identity of the
   scenario's clients (``<client>.<k>`` with ``k`` below the client's ``identities.count``):
   401 (for ``AWS_IAM`` the request goes on without one);
2. ``COGNITO_USER_POOLS``, ``JWT`` and ``AWS_IAM`` call no function: the answer is 204
   after the authorizer's ``latency``;
3. a Lambda authorizer (``TOKEN``, ``REQUEST``) looks the token up in its result cache: an
   answer cached less than ``result_ttl`` ago decides at once. Otherwise its function is
   invoked on the runtime like any other (same accounting, cold starts, reserved
   concurrency and account pool). A throttle, a failed or timed-out function, or no
   answer within the authorizer's ``timeout`` (the function runs on): 500. Otherwise the
   answer is cached from the instant the function ended, keyed by the token (one cache
   per authorizer, shared by every route that uses it), and the policy decides: 403 for
   Deny, 204 for Allow. Concurrent misses for one token each invoke the function.
4. the policy is Deny for the first ``floor(deny_share x count)`` identities of each
   client (identities ``0`` to that number less one), Allow for the rest.

Every answer carries ``x-throttlesim-cause`` (what the gateway should answer: ``ok``,
``unauthorized``, ``access_denied`` or ``authorizer_error``), ``x-throttlesim-function-ms``:
how long the check took that the model counts (the function's busy time when it was
invoked, the ``latency`` of the others, 0 on a cached answer), which nginx passes on to
the invocation (``x-throttlesim-authorizer-ms``), and ``x-throttlesim-received-s``: when
the request first reached the runtime's process, on its clock, which nginx gives the
client as the request's receive time. It is the instant the model puts the gateway's
decisions at (the route's function is invoked later, by the authorizer's time), and the
requests the authorizer refused have it too.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from loadtests.target.answers import AUTHORIZER_PATH, CAUSE_HEADER, FUNCTION_MS_HEADER, RECEIVED_HEADER
from simulator import outcomes as oc
from simulator.scenario import Scenario
from simulator.scenario.authorizers import Authorizer

__all__ = ["GatewayAuthorizers", "add_authorizer_routes"]

#: The status each outcome of a check has between the authorizer server and nginx:
#: ``auth_request`` lets 2xx through, passes 401 and 403 on and turns anything else into 500.
STATUS = {oc.OK: 204, oc.UNAUTHORIZED: 401, oc.ACCESS_DENIED: 403, oc.AUTHORIZER_ERROR: 500}


class _Ended(Protocol):
    """What the runtime says of an invocation it ran."""

    cause: int
    received_s: float
    ended_s: float
    throttle_reason: str


class _Authorizer:
    """One authorizer: its settings, its result cache (token -> the instants answers for it
    were cached, each valid for ``result_ttl`` from then)."""

    def __init__(self, spec: Authorizer) -> None:
        self.spec = spec
        self.ttl_s = float(spec.result_ttl)
        self.timeout_s = spec.timeout
        self.cached_at: dict[str, list[float]] = {}

    def fresh(self, token: str, now_s: float) -> bool:
        live = [at for at in self.cached_at.get(token, ()) if now_s < at + self.ttl_s]
        if live:
            self.cached_at[token] = live
        else:
            self.cached_at.pop(token, None)
        return any(at <= now_s for at in live)

    def cache(self, token: str, at_s: float) -> None:
        if self.ttl_s > 0:
            self.cached_at.setdefault(token, []).append(at_s)


class GatewayAuthorizers:
    """The scenario's authorizers, calling their functions through *invoke* (the runtime's
    ``invoke(name, request_id)``) and reading the time from *now* (seconds, the runtime's clock)."""

    def __init__(self, scenario: Scenario, invoke: Callable[[str, str], Awaitable[_Ended]],
                 now: Callable[[], float]) -> None:
        self.authorizers = [_Authorizer(a) for a in scenario.authorizers]
        self.identities = {c.name: c.identities.count for c in scenario.clients}
        self.invoke = invoke
        self.now = now

    def identity(self, token: str | None) -> tuple[int, int] | None:
        """``(identity, the client's count)`` of a ``<client>.<k>`` token, or None."""
        if not token:
            return None
        client, _, k = token.rpartition(".")
        count = self.identities.get(client)
        if count is None or not k.isdigit() or int(k) >= count:
            return None
        return int(k), count

    async def check(self, index: int, token: str | None) -> tuple[int, float]:
        """The outcome of authorizer *index* for *token*, and the time it took that the model
        counts (seconds)."""
        a = self.authorizers[index]
        spec = a.spec
        identity = self.identity(token)
        if identity is None and spec.type != "AWS_IAM":
            return oc.UNAUTHORIZED, 0.0
        if not spec.invokes_lambda:
            if spec.latency > 0:
                await asyncio.sleep(spec.latency)
            return oc.OK, float(spec.latency)
        assert identity is not None and token is not None and spec.function is not None
        k, count = identity
        policy = oc.ACCESS_DENIED if k < math.floor(spec.deny_share * count + 1e-9) else oc.OK
        if a.fresh(token, self.now()):
            return policy, 0.0
        running = asyncio.ensure_future(self.invoke(spec.function, ""))
        running.add_done_callback(_retrieve)
        try:
            inv = await asyncio.wait_for(asyncio.shield(running), a.timeout_s)
        except TimeoutError:
            return oc.AUTHORIZER_ERROR, float(a.timeout_s or 0.0)
        except RuntimeError:  # the host's limit on environments
            return oc.AUTHORIZER_ERROR, 0.0
        if inv.throttle_reason:
            return oc.AUTHORIZER_ERROR, 0.0
        busy_s = inv.ended_s - inv.received_s
        if inv.cause != oc.OK:
            return oc.AUTHORIZER_ERROR, busy_s
        a.cache(token, inv.ended_s)
        return policy, busy_s


def _retrieve(task: asyncio.Future[_Ended]) -> None:
    """Take the outcome of an invocation nobody waits for any more (past the timeout)."""
    if not task.cancelled():
        task.exception()


def add_authorizer_routes(app: web.Application, authorizers: GatewayAuthorizers) -> None:
    """Serve :data:`AUTHORIZER_PATH` for each of *authorizers* on *app*."""

    async def answer(request: web.Request) -> web.Response:
        index = request.match_info["index"]
        if not index.isdigit() or int(index) >= len(authorizers.authorizers):
            return web.json_response({"message": f"Authorizer not found: {index}"}, status=404)
        received_s = authorizers.now()
        cause, took_s = await authorizers.check(int(index), request.headers.get("authorization"))
        return web.Response(status=STATUS[cause], headers={CAUSE_HEADER: oc.CAUSES[cause],
                                                           FUNCTION_MS_HEADER: f"{took_s * 1000:.3f}",
                                                           RECEIVED_HEADER: f"{received_s:.6f}"})

    app.router.add_route("*", AUTHORIZER_PATH, answer)
