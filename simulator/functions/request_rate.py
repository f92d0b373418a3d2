"""Lambda's request-rate limit: invocations per second, apart from concurrency.

Concurrency bounds how many invocations run at once; Lambda also bounds how many it
accepts per second. AWS's words:

* "Across all functions in your account, Lambda enforces a requests per second limit
  that's equal to 10 times your account concurrency. For example, since the default
  account concurrency limit is 1,000, functions in your account can handle a maximum of
  10,000 requests per second." (Lambda developer guide, *Understanding Lambda function
  scaling*, "Understanding concurrency and requests per second",
  https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html)
* "Invocation requests per function per Region (synchronous): Each instance of your
  execution environment can serve up to 10 requests per second. In other words, the total
  invocation limit is 10 times your concurrency limit." and "Invocation requests per
  function version or alias (requests per second): 10 x allocated provisioned concurrency
  (applies only to functions that use provisioned concurrency)." (Lambda quotas,
  https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html)
* The throttle's ``Reason`` names both kinds, ``FunctionInvocationRateLimitExceeded`` and
  ``ReservedFunctionInvocationRateLimitExceeded`` (Lambda API, TooManyRequestsException).

The model: a token bucket per limit (:class:`~simulator.gateway.buckets.TokenBucket`,
the arithmetic of :mod:`simulator.rules`), refilled at 10 tokens per second per unit of
concurrency:

* **account**: 10 x ``account.lambda_concurrency`` (less what background load uses,
  :mod:`simulator.scenario.background`), shared by every function;
* **reserved**: a function with reserved concurrency R > 0 also has its own bucket of
  10 x R (its "concurrency limit"); a function without one is limited by the account's;
* **provisioned** (``behaviour.provisioned_request_rate_limit``, off by default): a
  function with provisioned concurrency P also has a bucket of 10 x P for all its
  invocations. The quotas page states the figure but not whether it also caps the
  on-demand spillover, which would cap a function with 5 provisioned environments at
  50 rps however far it scales, so it is a switch.

AWS documents no burst for these limits; the bucket holds
``behaviour.lambda_request_rate_burst_s`` seconds of its rate (1 s by default: at most
one second's worth of requests at once, a named assumption).

An invocation is checked at the instant API Gateway forwards it, before its concurrency
(bucket by bucket, in the order above, stopping at the first that is empty): without a
token it is refused with ``lambda_rate_throttled``. It takes a token from each bucket only
when Lambda places it on an environment, so a concurrency throttle costs no token (the
same rule as API Gateway's levels, ``rejected_requests_consume_tokens = false``).
``behaviour.lambda_request_rate_limit = false`` turns the limit off.

A bucket can be left out of the checks when it provably never refuses
(:func:`never_binds`): API Gateway's account throttle admits at most its burst plus its rate
times any window, and every invocation of a scenario without authorizers happens at the
instant the gateway admits its attempt, so a Lambda bucket that starts full with at least
the gateway's rate and a burst at least two tokens above the gateway's always has a token
(one token of the margin covers the floating point of the refills).
"""


from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.gateway.buckets import TokenBucket
from simulator.scenario.background import background_gateway_rps, background_lambda_rps, left_over

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = ["REQUESTS_PER_S_PER_CONCURRENCY", "RequestRate", "never_binds", "request_rates"]

#: Synchronous invocations per second per unit of concurrency (AWS's quotas page).
REQUESTS_PER_S_PER_CONCURRENCY = 10.0


class RequestRate:
    """The request-rate buckets one function's invocations draw from, in checking order."""

    __slots__ = ("buckets",)

    def __init__(self, buckets: tuple[TokenBucket, ...]) -> None:
        self.buckets = buckets

    def ready(self, now: float) -> bool:
        """Whether every bucket has a token at *now* (refilling each, up to the first empty)."""
        return all(bucket.ready(now) for bucket in self.buckets)

    def take(self) -> None:
        """Take a token from every bucket (after :meth:`ready`)."""
        for bucket in self.buckets:
            bucket.take()


def _bucket(concurrency: float, burst_s: float) -> TokenBucket:
    rate = REQUESTS_PER_S_PER_CONCURRENCY * max(0.0, concurrency)
    return TokenBucket(rate, rate * burst_s)


def never_binds(bucket: TokenBucket, scenario: Scenario) -> bool:
    """Whether *bucket*, a Lambda request-rate bucket of *scenario*, can be shown never to
    refuse an invocation: it starts full, its rate is at least the gateway's account
    throttle's and its burst at least two tokens more, and every invocation happens when
    the gateway admits its attempt (no authorizers, token buckets at the gateway)."""
    if scenario.authorizers or scenario.behaviour.throttle_algorithm != "aws_token_bucket":
        return False
    acct = scenario.account.throttle
    gateway_rate = left_over(acct.rate, background_gateway_rps(scenario))
    return bucket.tokens == bucket.burst and bucket.rate >= gateway_rate and bucket.burst >= acct.burst + 2.0


def request_rates(scenario: Scenario, binding_only: bool = False) -> list[RequestRate]:
    """Each function's :class:`RequestRate` (in scenario order); the account bucket is one
    object shared by all of them. Empty when ``behaviour.lambda_request_rate_limit`` is off.
    With *binding_only*, buckets that :func:`never_binds` are left out (the decisions are
    the same, with fewer checks)."""
    b = scenario.behaviour
    if not b.lambda_request_rate_limit:
        return [RequestRate(()) for _ in scenario.functions]
    used = background_lambda_rps(scenario)
    account_rps = REQUESTS_PER_S_PER_CONCURRENCY * scenario.account.lambda_concurrency
    account = TokenBucket(left_over(account_rps, used), account_rps * b.lambda_request_rate_burst_s)
    if used > 0 and account.rate == 0.0:
        account.tokens = 0.0  # background load alone uses the whole rate: nothing is left over
    out = []
    for f in scenario.functions:
        own: list[TokenBucket] = []
        # A schedule's value at the start sizes the bucket: a rate that follows a schedule
        # during the run is not modelled (stated in the README).
        reserved = f.reserved_schedule[0][1] if f.reserved_schedule is not None else 0
        if reserved:  # R = 0 refuses every invocation by concurrency already
            own.append(_bucket(reserved, b.lambda_request_rate_burst_s))
        provisioned = f.provisioned_schedule[0][1]
        if b.provisioned_request_rate_limit and provisioned:
            own.append(_bucket(provisioned, b.lambda_request_rate_burst_s))
        buckets = (*own, account)
        if binding_only:
            buckets = tuple(bucket for bucket in buckets if not never_binds(bucket, scenario))
        out.append(RequestRate(buckets))
    return out
