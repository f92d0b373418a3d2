"""Authorizers: a check in front of a route's integration, which may call a Lambda function.

Where it sits. The gateway's own levels come first, in the order the model applies them
(:mod:`simulator.gateway.path`): the API key, the usage plan's throttle and quota, the
route or stage throttle, the account throttle. A request they reject never reaches the
authorizer. AWS documents the order of the throttle levels
(https://repost.aws/knowledge-center/api-gateway-429-limit) but not where authorization
falls among them; what it does document is that a Lambda authorizer can *supply* the API
key of a usage plan (``apiKeySource = AUTHORIZER``,
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html),
in which case it must run before the plan's checks. The model has only header API keys, and
puts the authorizer after every throttle (UNCONFIRMED: a throttled request invokes no
authorizer here). After the authorizer comes the integration (and a REST cache, when one is
in front of it).

What it does with an attempt (everything is decided when the gateway forwards it):

1. the client's identity, which the client picks for every attempt on a route with an
   authorizer, before the gateway's checks (:class:`IdentityPicker`, on the client's own
   stream ``("identity", client)``, so it changes no other stream; a load test's clients
   draw the same stream the same way): with probability ``without_token`` the attempt
   carries no token (or identity sources) and is answered **401** ``unauthorized`` without
   calling the authorizer
   (https://repost.aws/knowledge-center/api-gateway-401-error-lambda-authorizer);
   otherwise it is one of the client's ``count`` identities, picked uniformly.
2. a Lambda authorizer (``TOKEN``, ``REQUEST``) looks the identity up in its result cache
   (per authorizer, keyed by client and identity, shared by every route that uses it). A
   hit decides at once and adds no time. A miss invokes the authorizer's function through
   :class:`~simulator.integrations.lambda_function.LambdaIntegration`, so the invocation
   takes concurrency from the same pools, may start cold or be throttled, and shows in the
   Lambda figures, the concurrency timeline and the bill. Its answer is cached from the
   moment it returns for ``result_ttl`` seconds (0: no cache).
3. the policy: the first ``floor(deny_share x count)`` identities of a client are denied
   (every answer for them is Deny), so ``deny_share`` is exactly the share of identities
   denied and, under uniform picks, the expected share of 403s among attempts with a token.
   A Deny is answered **403** ``access_denied`` (gateway response ``ACCESS_DENIED``).
4. an authorizer that Lambda throttles, whose function fails or runs past its timeout, or
   that the gateway stops waiting for (``timeout``) gives **500** ``authorizer_error``: the
   gateway responses ``AUTHORIZER_FAILURE`` and ``AUTHORIZER_CONFIGURATION_ERROR`` both
   default to 500
   (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
   Nothing is cached then. The record's ``authorizer_cause`` says which it was.
5. an Allow calls the route's integration once the authorizer's latency has passed
   (``Call.then``); the integration timeout counts from there.

``COGNITO_USER_POOLS``, ``JWT`` and ``AWS_IAM`` authorizers invoke nothing: they add their
``latency`` (default 0 s, no published figure) and pass the request on; ``without_token``
still gives 401 for the token-based ones.

The 401, 403 and 500 are gateway rejections: the request is not billed as an API call
("not charged for authorization and authentication failures", archived
``api-gateway-pricing.md``); the authorizer's own invocations are billed by Lambda.
"""

from __future__ import annotations

import math

from simulator import outcomes as oc
from simulator.dists import Uniforms
from simulator.integrations.base import Call, Integration
from simulator.integrations.lambda_function import LambdaIntegration
from simulator.rng import stream
from simulator.scenario.authorizers import Authorizer, Identities

__all__ = ["AuthorizerIntegration", "AuthorizerState", "IdentityPicker", "build_authorizers"]


class IdentityPicker:
    """One client's identities: whether an attempt carries a token, and which one."""

    __slots__ = ("count", "without_token", "coin")

    def __init__(self, spec: Identities, coin: Uniforms) -> None:
        self.count = spec.count
        self.without_token = spec.without_token
        self.coin = coin

    def pick(self) -> int:
        """The identity of the next attempt, or -1 when it carries no token."""
        if self.without_token > 0 and self.coin.next() < self.without_token:
            return -1
        if self.count == 1:
            return 0
        return min(int(self.coin.next() * self.count), self.count - 1)

    @classmethod
    def build(cls, spec: Identities, seed: int, client: str) -> IdentityPicker:
        return cls(spec, Uniforms(stream(seed, "identity", client)))


class AuthorizerState:
    """One authorizer: its function (if any), its result cache and its policy."""

    def __init__(self, spec: Authorizer, function: LambdaIntegration | None) -> None:
        self.spec = spec
        self.function = function
        self.ttl_s = spec.result_ttl
        self.timeout_s = spec.timeout if spec.timeout is not None else math.inf
        self.latency = spec.latency
        #: (client, identity) -> the times at which answers for it were cached.
        self.cache: dict[tuple[int, int], list[float]] = {}

    def denied(self, identity: int, count: int) -> bool:
        """Whether the policy for *identity* (of a client with *count*) is Deny."""
        return identity < math.floor(self.spec.deny_share * count + 1e-9)

    def cached(self, key: tuple[int, int], now: float) -> bool:
        """Whether an answer for *key* is in the cache at *now* (and drop expired ones)."""
        if self.ttl_s <= 0:
            return False
        fills = self.cache.get(key)
        if not fills:
            return False
        live = [t for t in fills if t + self.ttl_s > now]
        if len(live) != len(fills):
            self.cache[key] = live
        return any(t <= now for t in live)

    def fill(self, key: tuple[int, int], at_s: float) -> None:
        """Cache an answer for *key* from *at_s* (when the authorizer's answer arrives)."""
        if self.ttl_s > 0:
            self.cache.setdefault(key, []).append(at_s)


class AuthorizerIntegration:
    """A route's integration behind an authorizer. *counts* holds each client's number of
    identities; the client picks the identity of each attempt (:class:`IdentityPicker`)."""

    def __init__(self, authorizer: AuthorizerState, inner: Integration, counts: list[int]) -> None:
        self.authorizer = authorizer
        self.inner = inner
        self.counts = counts

    def authorize(self, now: float, client: int = 0, identity: int = 0) -> Call:
        """The authorizer's step alone, for an attempt sent at *now*: its cause (``OK``,
        ``UNAUTHORIZED``, ``ACCESS_DENIED`` or ``AUTHORIZER_ERROR``), ``latency_s`` until
        its answer (0 for a cached one), and ``authorizer``: its invocation or check, or
        None when nothing ran (no token, a cached answer)."""
        a = self.authorizer
        if identity < 0 and a.spec.type != "AWS_IAM":
            return Call(oc.UNAUTHORIZED, 0.0)
        identity = max(identity, 0)
        if a.function is None:
            check = Call(oc.OK, a.latency)
            return Call(oc.OK, a.latency, authorizer=check)
        key = (client, identity)
        denied = a.denied(identity, self.counts[client])
        if a.cached(key, now):
            return Call(oc.ACCESS_DENIED if denied else oc.OK, 0.0)
        auth = a.function.call(now, a.timeout_s, client)
        if auth.cause != oc.OK:
            return Call(oc.AUTHORIZER_ERROR, auth.latency_s, authorizer=auth)
        a.fill(key, now + auth.latency_s)
        return Call(oc.ACCESS_DENIED if denied else oc.OK, auth.latency_s, authorizer=auth)

    def call(self, now: float, limit_s: float, client: int = 0, identity: int = 0) -> Call:
        step = self.authorize(now, client, identity)
        if step.cause != oc.OK:
            return Call(step.cause, 0.0, authorizer=step.authorizer)
        auth = step.authorizer
        if auth is None or (auth.latency_s <= 0 and auth.function < 0):
            return self.inner.call(now, limit_s, client, max(identity, 0))
        return Call(oc.OK, 0.0, authorizer=auth,
                    then=lambda: self.inner.call(now + auth.latency_s, limit_s, client, max(identity, 0)))


def build_authorizers(specs: list[Authorizer], functions: dict[str, LambdaIntegration]) -> dict[str, AuthorizerState]:
    """Each authorizer by name, sharing the Lambda integration of its function."""
    return {a.name: AuthorizerState(a, functions[a.function] if a.function else None) for a in specs}
