"""Authorizers on the emulated target, and the tokens load-test clients send them.

A client's identity ``k`` travels as ``Authorization: <client>.<k>`` (:func:`identity_token`);
an attempt without a token carries no header. The emulated gateway checks it as the model
does (:mod:`simulator.integrations.authorizer`), with the model's own cache and policy
(:class:`~simulator.integrations.authorizer.AuthorizerState`) and the function runtime's
pools, in real time:

1. no token, or one naming no client of the scenario: 401 (not for ``AWS_IAM``);
2. ``COGNITO_USER_POOLS``, ``JWT`` and ``AWS_IAM``: wait ``latency``, then go on;
3. a Lambda authorizer: a cached answer decides at once; otherwise the authorizer's
   function is invoked (a throttle, a failure, or an answer later than ``timeout``: 500),
   its answer is cached from when it arrives, and a Deny is 403.
"""

from __future__ import annotations

import asyncio

from loadtests.plan import AUTHORIZATION_HEADER, identity_token
from loadtests.target.clock import Clock
from loadtests.target.runtime import FunctionRuntime
from simulator import outcomes as oc
from simulator.integrations.authorizer import AuthorizerState
from simulator.scenario import Scenario

__all__ = ["AUTHORIZATION_HEADER", "EmulatedAuthorizers", "identity_token", "parse_identity_token"]

def parse_identity_token(token: str | None, clients: dict[str, tuple[int, int]]) -> tuple[int, int] | None:
    """``(client index, identity)`` of *token*, or None when it names no identity of
    *clients* (name -> (index, identity count))."""
    if not token:
        return None
    name, _, k = token.rpartition(".")
    if name not in clients or not k.isdigit():
        return None
    index, count = clients[name]
    identity = int(k)
    return (index, identity) if identity < count else None


class EmulatedAuthorizers:
    """The authorizers of one scenario's stage, in front of its routes."""

    def __init__(self, scenario: Scenario, runtime: FunctionRuntime, clock: Clock) -> None:
        self.runtime = runtime
        self.clock = clock
        self.states = {a.name: AuthorizerState(a, None) for a in scenario.authorizers}
        self.by_route = {r.name: scenario.route_authorizer(r) for r in scenario.routes}
        self.clients = {c.name: (i, c.identities.count) for i, c in enumerate(scenario.clients)}
        self.counts = [c.identities.count for c in scenario.clients]

    async def check(self, route: str, token: str | None) -> tuple[int, float]:
        """The cause the authorizer of *route* gives a request with *token* (``ok`` to go on),
        and the time it took that the model draws (its invocation, or its ``latency``)."""
        spec = self.by_route.get(route)
        if spec is None:
            return oc.OK, 0.0
        identity = parse_identity_token(token, self.clients)
        if identity is None:
            if spec.type != "AWS_IAM":
                return oc.UNAUTHORIZED, 0.0
            identity = (0, 0)
        if not spec.invokes_lambda:
            if spec.latency > 0:
                await asyncio.sleep(spec.latency)
            return oc.OK, spec.latency
        state = self.states[spec.name]
        denied = state.denied(identity[1], self.counts[identity[0]])
        if state.cached(identity, self.clock.now()):
            return (oc.ACCESS_DENIED if denied else oc.OK), 0.0
        assert spec.function is not None
        inv = self.runtime.invoke(spec.function, self.clock.now())
        if inv.finished is None:
            return oc.AUTHORIZER_ERROR, 0.0
        if inv.busy_s > state.timeout_s:
            await asyncio.sleep(state.timeout_s)
            return oc.AUTHORIZER_ERROR, state.timeout_s
        await asyncio.shield(inv.finished)
        if inv.cause != oc.OK:
            return oc.AUTHORIZER_ERROR, inv.busy_s
        state.fill(identity, self.clock.now())
        return (oc.ACCESS_DENIED if denied else oc.OK), inv.busy_s
