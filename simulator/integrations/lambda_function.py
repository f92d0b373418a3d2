"""The Lambda integration: a synchronous invocation of one function.

At the instant the gateway forwards the attempt, Lambda's request-rate limit
(:mod:`simulator.functions.request_rate`) may refuse it (``lambda_rate_throttled``); else the
function's pool (:mod:`simulator.functions.pool`) places the invocation on a provisioned,
warm or new environment, or Lambda throttles it (``lambda_throttled``); a placed
invocation takes its request-rate tokens. A placed invocation draws
its duration (and its init time on a cold start) and its error coin from the function's
streams; the function's own timeout cuts it (:func:`simulator.rules.function_outcome`),
and the gateway stops waiting at the integration timeout while the function runs on
(:func:`simulator.rules.integration_outcome`). The environment is busy for init plus
run and is released then, before anything else at that instant (SimPy's ``URGENT``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simpy.events import URGENT

from simulator import outcomes as oc
from simulator import rules
from simulator.functions.pool import ExecutionEnvironment, FunctionState
from simulator.functions.request_rate import RequestRate
from simulator.integrations.base import Call, Host

__all__ = ["LambdaIntegration"]

#: Makes a :class:`Call` from its eight fields without the keyword handling of ``Call(...)``
#: (one invocation's answer, on the engine's hot path).
_make_call = tuple.__new__


class LambdaIntegration:
    """Invokes one function (shared by every route that names it)."""

    def __init__(self, function: FunctionState, host: Host, rate: RequestRate | None = None) -> None:
        self.function = function
        self.host = host
        self.rate = rate if rate is not None else RequestRate(())

    def call(self, now: float, limit_s: float, client: int = 0, identity: int = 0) -> Call:
        f = self.function
        rate = self.rate
        if rate.buckets and not rate.ready(now):
            return Call(oc.LAMBDA_RATE_THROTTLED, 0.0, function=f.index)
        env, cold = f.pool.acquire(now)
        if env is None:
            return Call(oc.LAMBDA_THROTTLED, 0.0, function=f.index)
        if rate.buckets:
            rate.take()
        self.host.concurrency(now, f.index, f.pool.busy)
        duration = f.duration.next()
        init = 0.0
        flags = 0
        if cold:
            init = f.init.next()
            flags |= oc.COLD
        if env.provisioned:
            flags |= oc.PROVISIONED
        failed = f.coin.next() < f.error_rate
        run, cause = rules.function_outcome(duration, f.timeout_s, failed)
        busy_for = init + run
        self.host.at(busy_for, self._releaser(env), URGENT)
        latency, cause = rules.integration_outcome(busy_for, limit_s, cause)
        return _make_call(Call, (cause, latency, init, run, flags, f.index, None, None))

    def _releaser(self, env: ExecutionEnvironment) -> Callable[[Any], None]:
        f = self.function

        def release(_: Any) -> None:
            now = self.host.now
            f.pool.release(env, now)
            self.host.concurrency(now, f.index, f.pool.busy)

        return release
