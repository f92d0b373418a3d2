"""Lambda execution environments: who serves an invocation, and when Lambda says no.

Concurrency is the number of invocations in flight. An invocation of function *f* at
time *t* is placed like this:

1. an idle **provisioned** environment of *f*, if any (no cold start, no scaling token;
   provisioned environments are initialised before the run and never expire);
2. otherwise it *spills over* to on-demand, which needs concurrency room:

   * a function with ``reserved_concurrency`` R and provisioned concurrency P may run
     R - P on-demand invocations at once;
   * other functions share the **unreserved pool**: account concurrency minus all
     reserved concurrency, which also holds their provisioned allocations;

3. with room, an idle on-demand environment of *f* that has not expired (most recently
   used first by default, ``behaviour.environment_reuse``);
4. with room but no idle environment, a new one (a **cold start**), if the scaling
   bucket has a token: per function, 1,000 environments per 10 s refilled continuously
   (``behaviour.scaling_model = "per_function"``), or the pre-November-2023 account-wide
   burst (``"account_burst"``);
5. otherwise Lambda throttles the invocation.

An environment that finishes goes idle until its idle timeout (drawn per idle period)
or until it has lived ``behaviour.max_environment_lifetime``; expired environments
are dropped lazily, when an invocation looks for one.

Provisioned concurrency that changes during a run (schedules, target tracking, periodic
re-initialisation) is applied by :mod:`simulator.functions.capacity`; the pool only keeps
the counts that module changes and, when a provisioned environment comes back, keeps it,
retires it (a decrease was waiting for it) or hands it to be re-initialised.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from simulator.dists import Draws, Uniforms
from simulator.gateway.buckets import TokenBucket
from simulator.rng import stream
from simulator.scenario.background import unreserved_capacity

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = ["ExecutionEnvironment", "FunctionPool", "FunctionState", "UnreservedPool", "build_functions"]


class ExecutionEnvironment:
    """One Lambda execution environment."""

    __slots__ = ("created", "expires", "provisioned", "recycle_due")

    def __init__(self, created: float, provisioned: bool) -> None:
        self.created = created
        self.expires = float("inf")
        self.provisioned = provisioned
        #: A provisioned environment whose periodic re-initialisation came while it was busy.
        self.recycle_due = False


class UnreservedPool:
    """The account's concurrency that no function has reserved, shared by the others."""

    __slots__ = ("capacity", "in_use")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0


class FunctionPool:
    """The environments of one function and the limits on running them."""

    def __init__(
        self,
        *,
        reserved: int | None,
        provisioned: int,
        unreserved: UnreservedPool,
        scaling: TokenBucket,
        idle_timeout: Draws,
        max_lifetime_s: float | None,
        reuse: str = "mru",
    ) -> None:
        self.reserved = reserved
        self.provisioned = provisioned
        self.unreserved = None if reserved is not None else unreserved
        self.on_demand_cap = (reserved - provisioned) if reserved is not None else None
        if self.unreserved is not None:
            self.unreserved.in_use += provisioned
        self.scaling = scaling
        self.idle_timeout = idle_timeout
        self.max_lifetime_s = max_lifetime_s if max_lifetime_s is not None else float("inf")
        self.mru = reuse == "mru"
        self.idle_provisioned: list[ExecutionEnvironment] = [
            ExecutionEnvironment(0.0, True) for _ in range(provisioned)
        ]
        self.idle: deque[ExecutionEnvironment] = deque()
        self.busy_on_demand = 0
        self.busy_provisioned = 0
        # Concurrency over time (simulator.functions.capacity): the configured provisioned
        # concurrency, environments on their way (allocating, re-initialising), the account's
        # pool (a reserved function's changes move its capacity), and who is told when a
        # provisioned environment's busy count changes or it comes back due for recycling.
        self.provisioned_target = provisioned
        self.allocating = 0
        self.reinitializing = 0
        self.account_pool = unreserved
        self.meter: Callable[[float], None] | None = None
        self.recycler: Callable[[ExecutionEnvironment, float], None] | None = None

    @property
    def busy(self) -> int:
        """Invocations in flight (the function's ConcurrentExecutions)."""
        return self.busy_on_demand + self.busy_provisioned

    def acquire(self, now: float) -> tuple[ExecutionEnvironment | None, bool]:
        """An environment for an invocation at *now* and whether it is a cold start;
        ``(None, False)`` when Lambda throttles."""
        if self.idle_provisioned:
            self.busy_provisioned += 1
            env = self.idle_provisioned.pop()
            if self.meter is not None:
                self.meter(now)
            return env, False
        if self.on_demand_cap is not None:
            if self.busy_on_demand >= self.on_demand_cap:
                return None, False
        elif self.unreserved.in_use >= self.unreserved.capacity:  # type: ignore[union-attr]
            return None, False
        env = self._warm(now)
        cold = env is None
        if cold:
            if not self.scaling.try_take(now):
                return None, False
            env = ExecutionEnvironment(now, False)
        self.busy_on_demand += 1
        if self.unreserved is not None:
            self.unreserved.in_use += 1
        return env, cold

    def _warm(self, now: float) -> ExecutionEnvironment | None:
        idle = self.idle
        while idle:
            env = idle.pop() if self.mru else idle.popleft()
            if env.expires > now and now - env.created < self.max_lifetime_s:
                return env
        return None

    def release(self, env: ExecutionEnvironment, now: float) -> None:
        """The invocation on *env* finished at *now*."""
        if env.provisioned:
            self.busy_provisioned -= 1
            self.provisioned_back(env, now)
            if self.meter is not None:
                self.meter(now)
            return
        self.busy_on_demand -= 1
        if self.unreserved is not None:
            self.unreserved.in_use -= 1
        if now - env.created >= self.max_lifetime_s:
            return
        env.expires = now + self.idle_timeout.next()
        idle = self.idle
        idle.append(env)
        # Drop environments that expired at the old end, so memory stays bounded.
        while idle and idle[0].expires <= now:
            idle.popleft()

    # ------------------------------------------------------------------ provisioned concurrency over time

    def provisioned_count(self) -> int:
        """Provisioned environments that exist: idle, busy, allocating or re-initialising."""
        return len(self.idle_provisioned) + self.busy_provisioned + self.allocating + self.reinitializing

    def hold(self, delta: int) -> None:
        """*delta* more provisioned environments count against the function's concurrency."""
        self.provisioned += delta
        if self.reserved is not None:
            self.on_demand_cap = self.reserved - self.provisioned
        else:
            self.unreserved.in_use += delta  # type: ignore[union-attr]

    def provisioned_back(self, env: ExecutionEnvironment, now: float) -> None:
        """Provisioned *env* is free again: retired if there are more than configured (a
        decrease waited for it), re-initialised if due, else idle."""
        if self.provisioned_count() >= self.provisioned_target:
            env.expires = now  # retired: a pending re-initialisation of it is void
            self.hold(-1)
        elif env.recycle_due and self.recycler is not None:
            self.recycler(env, now)
        else:
            self.idle_provisioned.append(env)


class FunctionState:
    """One function's pool and its random streams: durations, init times, error coin flips."""

    __slots__ = ("index", "name", "pool", "duration", "init", "coin", "error_rate", "timeout_s")

    def __init__(self, index: int, name: str, pool: FunctionPool, duration: Draws, init: Draws, coin: Uniforms,
                 error_rate: float, timeout_s: float) -> None:
        self.index = index
        self.name = name
        self.pool = pool
        self.duration = duration
        self.init = init
        self.coin = coin
        self.error_rate = error_rate
        self.timeout_s = timeout_s


def build_functions(scenario: Scenario, seed: int) -> list[FunctionState]:
    """Every function of *scenario* with its pool, limits and named random streams, in
    scenario order: the one way both the engine and the real-time runtime set Lambda up."""
    b = scenario.behaviour
    unreserved = UnreservedPool(unreserved_capacity(scenario))  # less background load's share
    account_scaling = TokenBucket(b.account_burst_refill_per_s, b.account_burst)
    out = []
    for i, f in enumerate(scenario.functions):
        scaling = (
            TokenBucket(b.scaling_refill_per_s, b.scaling_burst) if b.scaling_model == "per_function"
            else account_scaling
        )
        idle_spec = f.idle_timeout if f.idle_timeout is not None else b.idle_timeout
        reserved = f.reserved_schedule
        pool = FunctionPool(
            reserved=None if reserved is None else reserved[0][1],
            provisioned=f.provisioned_schedule[0][1],
            unreserved=unreserved,
            scaling=scaling,
            idle_timeout=Draws(idle_spec.build(), stream(seed, "idle", f.name)),
            max_lifetime_s=b.max_environment_lifetime,
            reuse=b.environment_reuse,
        )
        out.append(FunctionState(
            i, f.name, pool,
            Draws(f.duration.build(), stream(seed, "duration", f.name)),
            Draws(f.init.build(), stream(seed, "init", f.name)),
            Uniforms(stream(seed, "errors", f.name)),
            f.error_rate, f.timeout,
        ))
    return out
