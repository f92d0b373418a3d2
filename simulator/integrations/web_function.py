"""A Lambda Web Function: execution environments that each serve many requests at once.

AWS's rules (Lambda developer guide, "Scaling behavior for Lambda Web Functions",
https://docs.aws.amazon.com/lambda/latest/dg/web-functions-scaling.html, and the
``AWS::Lambda::WebFunctionEndpoint`` ScalingConfig and ThrottleConfig references):

* an endpoint **scales from zero**; there is no minimum or reserved environment setting;
* it scales in two dimensions: the **number of environments**, up to ``maxEnvironments``
  (2 to 10,000; without it, only the account's vCPU quota bounds it), and the **requests
  per environment**, under a dynamic limit that Lambda manages and that never exceeds
  ``maxConcurrencyPerEnvironment`` (1 to 128, default 64);
* when existing environments approach their limit, Lambda starts new ones; when the limit
  keeps every environment from taking more requests, requests **queue for the next
  available environment**, a warm one or a newly started one (a cold start);
* ``rateLimit`` limits the endpoint's request rate **before** requests reach environments
  (0 rejects every request; 100 to 1,000 in steps of 100, 2,000 to 10,000 in steps of 1,000);
* idle environments are drained and removed, down to zero.

What the documentation leaves open is a named setting, neutral unless stated:

* the dynamic per-environment limit is taken to be ``max_concurrency_per_environment``
  itself (the upper bound; Lambda may keep it lower under CPU pressure, which the model
  does not see);
* a new environment starts only when every slot of the running and starting environments
  is taken (no headroom kept ahead of demand: AWS says it keeps some, not how much), and the
  waiting request takes whichever comes first, a slot that frees or the new environment;
* requests wait in one first-come-first-served queue with no length limit (none is
  documented), and a request whose gateway stopped waiting still runs when its turn comes
  (the environment does not know the client left);
* ``rate_limit`` is a token bucket of ``rate_burst`` tokens (default: one second of the
  rate) refilled at the rate; a refused request answers 429 (``web_rate_limited``);
* ``scale_in_after_idle``: an environment idle that long is removed (default none: the
  delay is not documented, so environments stay for the run);
* Web Functions are billed by requests, active CPU time and memory over each environment's
  life, with rates not in the price tables here: their invocations are left out of the
  Lambda cost, and the cost report says so. Their requests do not use the account's Lambda
  concurrency (their bound is the vCPU quota).

Each request's start is decided when it arrives: with first-come-first-served slots and
service times drawn on arrival, the slot it will get and when are known then, so queueing
needs no extra events; only the in-flight count (the concurrency series) changes later.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

from simpy.events import NORMAL, URGENT

from simulator import outcomes as oc
from simulator import rules
from simulator.functions.pool import FunctionState
from simulator.integrations.base import Call, Host
from simulator.scenario.web_function import WebFunction

__all__ = ["WebEndpoint"]


class _Environment:
    __slots__ = ("ident", "ready_s", "last_end_s", "fresh", "alive")

    def __init__(self, ident: int, ready_s: float, slots: int) -> None:
        self.ident = ident
        self.ready_s = ready_s
        self.last_end_s = ready_s
        #: Slots not yet given a request (while the environment starts, they are promised capacity).
        self.fresh = slots
        self.alive = True


class WebEndpoint:
    """One web function's endpoint: its environments, their request slots and its rate limit."""

    def __init__(self, function: FunctionState, web: WebFunction, host: Host) -> None:
        self.function = function
        self.host = host
        self.per_env = web.max_concurrency_per_environment
        self.max_envs = web.max_environments
        self.rate = web.rate_limit
        self.burst = float(web.rate_burst if web.rate_burst is not None else max(1.0, web.rate_limit or 0.0))
        self.tokens = self.burst
        self.last_refill_s = 0.0
        self.idle_s = web.scale_in_after_idle
        #: No environment can have been idle ``idle_s`` before this time (the earliest
        #: ``last_end_s`` plus ``idle_s``, or earlier: an environment's end only moves later).
        self.scale_in_from_s = math.inf
        self.envs: list[_Environment] = []
        #: Every slot of every environment: (free from, environment id, fresh); fresh slots
        #: have had no request yet. Slots of removed environments are dropped lazily.
        self.slots: list[tuple[float, int, bool]] = []
        self.by_id: dict[int, _Environment] = {}
        self.next_id = 0
        self.fresh_total = 0
        self.busy = 0

    def call(self, now: float, limit_s: float, client: int = 0, identity: int = 0) -> Call:
        f = self.function
        if self.rate is not None and not self._take_token(now):
            return Call(oc.WEB_RATE_LIMITED, 0.0)
        if self.idle_s is not None:
            self._scale_in(now)
        start, env, cold, init = self._place(now)
        duration = f.duration.next()
        failed = f.coin.next() < f.error_rate
        run, cause = rules.function_outcome(duration, f.timeout_s, failed)
        end = start + run
        env.last_end_s = max(env.last_end_s, end)
        heapq.heappush(self.slots, (end, env.ident, False))
        self._track(now, start, end)
        latency, cause = rules.integration_outcome(end - now, limit_s, cause)
        return Call(cause, latency, init, run, oc.COLD if cold else 0, f.index)

    # ------------------------------------------------------------------ placing a request

    def _take_token(self, now: float) -> bool:
        assert self.rate is not None
        self.tokens, self.last_refill_s = rules.refill(self.tokens, self.last_refill_s, self.rate, self.burst, now)
        if not rules.has_token(self.tokens):
            return False
        self.tokens -= 1.0
        return True

    def _top(self) -> tuple[float, int, bool] | None:
        """The slot that frees first (of a live environment), or None."""
        slots = self.slots
        while slots and not self.by_id[slots[0][1]].alive:
            heapq.heappop(slots)
        return slots[0] if slots else None

    def _place(self, now: float) -> tuple[float, _Environment, bool, float]:
        """``(start, environment, cold start, init_s)`` of a request arriving at *now*."""
        top = self._top()
        if top is not None and (top[0] <= now or self.fresh_total > 0):
            # A slot is free now, or environments already starting promise one: the request
            # takes the next available slot.
            return (*self._take(now), False, 0.0)
        if self.max_envs is None or len(self.envs) < self.max_envs:
            init = self.function.init.next()
            ready_s = now + init
            if top is None or ready_s < top[0]:
                # The new environment is the next available one: this request is its cold start.
                return ready_s, self._start_environment(ready_s, taken=1), True, init
            self._start_environment(ready_s, taken=0)
        return (*self._take(now), False, 0.0)

    def _take(self, now: float) -> tuple[float, _Environment]:
        free_s, ident, fresh = heapq.heappop(self.slots)
        env = self.by_id[ident]
        if fresh:
            env.fresh -= 1
            self.fresh_total -= 1
        return max(now, free_s), env

    def _start_environment(self, ready_s: float, taken: int) -> _Environment:
        env = _Environment(self.next_id, ready_s, self.per_env - taken)
        self.next_id += 1
        self.envs.append(env)
        self.by_id[env.ident] = env
        self.fresh_total += env.fresh
        if self.idle_s is not None:
            self.scale_in_from_s = min(self.scale_in_from_s, ready_s + self.idle_s)
        for _ in range(env.fresh):
            heapq.heappush(self.slots, (ready_s, env.ident, True))
        return env

    def _scale_in(self, now: float) -> None:
        """Remove the environments idle for ``scale_in_after_idle`` (all their requests ended)."""
        assert self.idle_s is not None
        if now < self.scale_in_from_s:
            return
        keep = []
        for env in self.envs:
            if env.last_end_s + self.idle_s <= now:
                env.alive = False
                self.fresh_total -= env.fresh
            else:
                keep.append(env)
        self.envs = keep
        self.scale_in_from_s = min((env.last_end_s + self.idle_s for env in keep), default=math.inf)

    # ------------------------------------------------------------------ the concurrency series

    def _track(self, now: float, start: float, end: float) -> None:
        if start <= now:
            self._change(+1)(None)
        else:
            self.host.at(start - now, self._change(+1), NORMAL)
        self.host.at(end - now, self._change(-1), URGENT)

    def _change(self, delta: int) -> Callable[[Any], None]:
        def change(_: Any) -> None:
            self.busy += delta
            self.host.concurrency(self.host.now, self.function.index, self.busy)

        return change
