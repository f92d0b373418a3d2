"""One attempt through API Gateway, level by level.

For each attempt the gateway checks, in the order AWS's knowledge-center article gives:

1. the API key, when the API requires one (403 ``forbidden``);
2. the key's usage-plan throttles: the per-route one, then the per-key one
   (429 ``throttled_usage_plan``);
3. the key's usage-plan quota for the current period (429 ``quota_exceeded``);
4. the route's own throttle, else the stage's default throttle
   (429 ``throttled_method`` / ``throttled_stage``);
5. the account's throttle (429 ``throttled_account``).

The first level that says no decides the cause. Whether the levels a request already
passed keep the token it took is not documented; by default they do not
(``behaviour.rejected_requests_consume_tokens = false``): every level is checked first
and charged only when all of them admit the request.

With ``behaviour.throttle_algorithm = "nginx_limit_req"`` every throttle is nginx's
``limit_req`` (:mod:`simulator.gateway.nginx`) instead of AWS's token bucket, so the model
predicts the nginx gateway used for validation.

The chain of levels for each (client, route) pair is built once, so an attempt is a
short loop over prepared objects. Clients that share an API key share its buckets
and quota.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from simulator import outcomes as oc
from simulator.gateway.buckets import TokenBucket
from simulator.gateway.nginx import nginx_level
from simulator.gateway.quota import QuotaCounter
from simulator.scenario import Scenario
from simulator.scenario.background import background_gateway_rps, left_over

__all__ = ["Gateway", "Level"]


class Level(Protocol):
    """What the gateway needs of a limit: is there room at *now*, and take it."""

    def ready(self, now: float) -> bool: ...

    def take(self) -> None: ...


Chain = tuple[tuple[Level, int], ...]


class Gateway:
    """The throttling state of one API stage and its account."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        b = scenario.behaviour
        self.consume_on_reject = b.rejected_requests_consume_tokens
        self.quota_counts_throttled = b.throttled_requests_count_toward_quota
        if b.throttle_algorithm == "nginx_limit_req":
            self._bucket: Callable[[float, int], Level] = nginx_level
        else:
            self._bucket = TokenBucket
        acct = scenario.account.throttle
        used = background_gateway_rps(scenario)  # other APIs' share of the account throttle
        self.account = self._bucket(left_over(acct.rate, used), acct.burst)
        if used > 0 and acct.rate <= used and isinstance(self.account, TokenBucket):
            self.account.tokens = 0.0  # background load alone uses the whole rate
        stage = scenario.stage.throttle
        shared_stage = (
            self._bucket(stage.rate, stage.burst) if stage and b.stage_throttle_scope == "shared" else None
        )
        #: Per route: the route's own bucket, or the stage default's, with its cause.
        self.route_levels: dict[str, tuple[Level, int] | None] = {}
        for route in scenario.routes:
            if route.throttle is not None:
                self.route_levels[route.name] = (
                    self._bucket(route.throttle.rate, route.throttle.burst), oc.THROTTLED_METHOD
                )
            elif shared_stage is not None:
                self.route_levels[route.name] = (shared_stage, oc.THROTTLED_STAGE)
            elif stage is not None:
                self.route_levels[route.name] = (self._bucket(stage.rate, stage.burst), oc.THROTTLED_STAGE)
            else:
                self.route_levels[route.name] = None
        self.key_buckets: dict[str, Level] = {}
        self.key_route_buckets: dict[tuple[str, str], Level] = {}
        self.quotas: dict[str, QuotaCounter] = {}

    def chain(self, api_key: str | None, usage_plan: str | None, route: str) -> Chain | None:
        """The levels an attempt by this key on this route passes; None means 403."""
        s = self.scenario
        levels: list[tuple[Level, int]] = []
        if s.api.api_key_required:
            if api_key is None or usage_plan is None:
                return None
            plan = s.usage_plan(usage_plan)
            method = plan.method_throttles.get(route)
            if method is not None:
                bucket = self.key_route_buckets.get((api_key, route))
                if bucket is None:
                    bucket = self.key_route_buckets[(api_key, route)] = self._bucket(method.rate, method.burst)
                levels.append((bucket, oc.THROTTLED_USAGE_PLAN))
            if plan.throttle is not None:
                bucket = self.key_buckets.get(api_key)
                if bucket is None:
                    bucket = self.key_buckets[api_key] = self._bucket(plan.throttle.rate, plan.throttle.burst)
                levels.append((bucket, oc.THROTTLED_USAGE_PLAN))
            if plan.quota is not None:
                q = plan.quota
                quota = self.quotas.setdefault(
                    api_key, QuotaCounter(q.limit, q.period, q.offset, s.start, s.behaviour.quota_week_start)
                )
                levels.append((quota, oc.QUOTA_EXCEEDED))
        route_level = self.route_levels[route]
        if route_level is not None:
            levels.append(route_level)
        levels.append((self.account, oc.THROTTLED_ACCOUNT))
        return tuple(levels)

    def admit(self, now: float, chain: Chain | None) -> int:
        """Pass one attempt at *now* through *chain*; returns ``OK`` or the rejecting cause."""
        if chain is None:
            return oc.FORBIDDEN
        if self.consume_on_reject:
            for level, cause in chain:
                if not level.ready(now):
                    self._count_quota(now, chain, cause)
                    return cause
                level.take()
            return oc.OK
        for level, cause in chain:
            if not level.ready(now):
                self._count_quota(now, chain, cause)
                return cause
        for level, _ in chain:
            level.take()
        return oc.OK

    def _count_quota(self, now: float, chain: Chain, cause: int) -> None:
        if cause == oc.THROTTLED_USAGE_PLAN and self.quota_counts_throttled:
            for level, level_cause in chain:
                if level_cause == oc.QUOTA_EXCEEDED:
                    level.count(now)  # type: ignore[attr-defined]
