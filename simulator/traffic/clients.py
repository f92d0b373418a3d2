"""Client behaviour: how Locust-style users pace themselves, and how clients retry.

**Closed users** follow Locust's semantics exactly (``locust/user/wait_time.py`` and
``locust/dispatch.py``):

* users are started in batches of ``max(1, floor(spawn_rate))`` every
  ``batch / spawn_rate`` seconds, the first batch at t = 0;
* a user sends a request (a task), waits for the whole answer (retries included), then
  sleeps ``wait_time``, and again, until the run ends;
* ``constant(t)``: t; ``between(a, b)``: ``a + U(0,1) * (b - a)``;
  ``constant_pacing(t)``: ``max(0, t - time the last task took)``, where the first task's
  time counts from the user's start; ``constant_throughput(r)`` is ``constant_pacing(1/r)``.

**Retries**: after an answer whose status is in ``on`` (0 stands for a client timeout)
the client waits and tries again, up to ``max_attempts`` attempts in all. Attempt *n*
waits ``delay`` (fixed) or ``min(cap, base * 2**(n-1))`` (exponential), multiplied by
U(0, 1) with full jitter. With a retry quota (the AWS SDK standard mode), each retry
takes ``cost`` tokens (``timeout_cost`` after a timeout) from a per-client bucket of
``capacity``; with too few tokens the client gives up. A success on the first attempt
returns ``success_increment`` tokens; a success after retries returns what the last
retry took.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulator.dists import Uniforms

__all__ = ["RetryPolicy", "Waiter", "route_weights"]


def route_weights(routes: dict[str, float], route_index: dict[str, int]) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """A client's routes (as indices) and their cumulative probabilities, the last exactly 1:
    a U(0,1) draw u picks the first route whose cumulative probability exceeds u."""
    total = sum(routes.values())
    acc = 0.0
    cum = []
    for name in routes:
        acc += routes[name] / total
        cum.append(acc)
    cum[-1] = 1.0
    return tuple(route_index[n] for n in routes), tuple(cum)


class RetryPolicy:
    """One client's retry rules and its retry-quota state."""

    def __init__(self, spec: Any, rng: np.random.Generator) -> None:
        self.enabled = spec.mode != "none"
        self.mode = spec.mode
        self.max_attempts: int = getattr(spec, "max_attempts", 1)
        self.on = frozenset(getattr(spec, "on", ()))
        self.jitter = Uniforms(rng)
        self.spec = spec
        quota = getattr(spec, "quota", None)
        self.quota = quota
        self.tokens = quota.capacity if quota is not None else 0
        self._last_cost: dict[int, int] = {}

    def backoff(self, n: int) -> float:
        """The wait before attempt n + 1, after attempt *n* failed."""
        s = self.spec
        if self.mode == "fixed":
            return float(s.delay)
        ceiling = min(s.cap, s.base * 2.0 ** (n - 1))
        if s.jitter == "full":
            return self.jitter.next() * ceiling
        return ceiling

    def next_delay(self, rid: int, n: int, status: int) -> float | None:
        """Retry after attempt *n* answered *status*? The delay, or None to give up."""
        if n >= self.max_attempts or status not in self.on:
            return None
        q = self.quota
        if q is not None:
            cost = q.timeout_cost if status == 0 else q.cost
            if self.tokens < cost:
                return None
            self.tokens -= cost
            self._last_cost[rid] = cost
        return self.backoff(n)

    def finished(self, rid: int, status: int) -> None:
        """The request ended with *status*; settle the retry quota."""
        q = self.quota
        if q is None:
            return
        cost = self._last_cost.pop(rid, None)
        if 200 <= status < 300:
            back = q.success_increment if cost is None else cost
            self.tokens = min(q.capacity, self.tokens + back)


class Waiter:
    """One Locust user's ``wait_time`` state."""

    __slots__ = ("spec", "coin", "last_run", "last_wait")

    def __init__(self, spec: Any, coin: Uniforms) -> None:
        self.spec = spec
        self.coin = coin
        self.last_run = 0.0
        self.last_wait = 0.0

    @staticmethod
    def spawn_time(j: int, spawn_rate: float) -> float:
        """When user *j* (0-based) starts, as Locust's dispatcher spaces them."""
        batch = max(1, math.floor(spawn_rate))
        return (j // batch) * (batch / spawn_rate)

    def spawned(self, now: float) -> None:
        self.last_run = now
        self.last_wait = 0.0

    def wait(self, now: float) -> float:
        """The sleep after a task that ended at *now*."""
        s = self.spec
        kind = s.kind
        if kind == "constant":
            return float(s.time)
        if kind == "between":
            return s.min + self.coin.next() * (s.max - s.min)
        pacing = s.time if kind == "constant_pacing" else 1.0 / s.rate
        run_time = now - self.last_run - self.last_wait
        self.last_wait = max(0.0, pacing - run_time)
        self.last_run = now
        return self.last_wait
