"""Concurrency that changes during a run: schedules, target tracking, re-initialisation.

A function's pool (:mod:`simulator.functions.pool`) starts with the concurrency the
scenario gives at ``"0s"``. Everything that changes it later is an event the engine
schedules through its host (``at``), so the engine's clock stays the only clock; this
module never reads one. The events at an instant come before requests sent at it
(SimPy's ``URGENT``, like environments finishing), so a change at 60 s applies to a
request sent at 60 s.

**Scheduled changes** (``provisioned_concurrency`` or ``reserved_concurrency`` as a schedule;
see :mod:`simulator.scenario.concurrency`):

* *more provisioned concurrency*: the new environments count against the function's
  concurrency at once (AWS: provisioned concurrency counts toward reserved and account
  concurrency) and serve requests once allocated, ``behaviour.provisioned_allocation_delay``
  later (0 s by default: AWS reports an allocation as ``IN_PROGRESS`` until ``READY``
  and documents no duration). On-demand invocations already running finish, so until
  they do a function at its reserved concurrency can run that many more;
* *less provisioned concurrency*: idle provisioned environments are retired at once,
  least recently used first; a busy one finishes its invocation (nothing is cut off) and
  is retired when it comes back. Until then it still counts against concurrency, so a
  function never runs more than its reserved concurrency;
* *reserved concurrency*: the function's limit changes at once; invocations already
  running above a lowered limit finish, and new ones are throttled until the function is
  below it. The account's unreserved pool grows or shrinks by the difference.

**Target tracking** (``provisioned_autoscaling``): every ``metric_period`` the pool's
``ProvisionedConcurrencyUtilization`` (busy provisioned environments / ready ones, its
time-weighted ``Average`` over the period or its ``Maximum``; the metric is described under
"Provisioned concurrency metrics" in
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html) is one datapoint; no ready
provisioned environment in a period gives no datapoint. ``scale_out_datapoints``
consecutive datapoints above the target scale out, ``scale_in_datapoints`` below it scale
in, to ``ceil(configured x datapoint / target)`` within ``[minimum, max_capacity]``, at
most once per cooldown in each direction. Periods start at the start of the run.

**Periodic re-initialisation** (``behaviour.provisioned_recycle_interval``, off by
default): "AWS Lambda periodically recycles the execution environments and re-runs your
initialization code" (https://aws.amazon.com/lambda/pricing/, no interval given). Each
provisioned environment is re-initialised that long after it became ready; the run's
first ones are spread evenly over the first interval. While it re-initialises (an init
duration, drawn from the function's ``init`` on its own ``recycle`` stream) it serves
nothing and requests spill over; a busy one is re-initialised when its invocation ends.

The configured provisioned concurrency after each change is recorded (the host's
``provisioned``), which is what :mod:`simulator.cost.usage` bills.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from simpy.events import URGENT

from simulator.dists import Draws
from simulator.functions.pool import ExecutionEnvironment, FunctionState
from simulator.rng import stream

if TYPE_CHECKING:
    from simulator.scenario import Scenario
    from simulator.scenario.concurrency import ProvisionedAutoscaling
    from simulator.scenario.schema import Function

__all__ = ["Capacity", "Scheduler", "Tracking", "start_capacity"]


class Scheduler(Protocol):
    """What capacity changes need of the engine (a part of the integrations' ``Host``)."""

    @property
    def now(self) -> float:
        """The simulated time."""

    def at(self, delay_s: float, fn: Callable[[Any], None], priority: int = ...) -> None:
        """Call *fn* *delay_s* seconds from now."""

    def provisioned(self, now: float, function: int, configured: int) -> None:
        """Record *function*'s configured provisioned concurrency from *now*."""


def start_capacity(functions: list[FunctionState], scenario: Scenario, seed: int, host: Scheduler) -> None:
    """Schedule the concurrency changes of every function that has any."""
    recycling = scenario.behaviour.provisioned_recycle_interval is not None
    for state, spec in zip(functions, scenario.functions):
        if spec.changes_concurrency or (recycling and spec.provisioned_peak > 0):
            Capacity(state, spec, scenario, seed, host).start()


class Capacity:
    """Changes one function's reserved and provisioned concurrency during a run."""

    def __init__(self, state: FunctionState, spec: Function, scenario: Scenario, seed: int, host: Scheduler) -> None:
        b = scenario.behaviour
        self.state = state
        self.pool = state.pool
        self.spec = spec
        self.host = host
        self.end_s = float(scenario.duration)
        self.delay_s = float(b.provisioned_allocation_delay)
        self.interval_s = b.provisioned_recycle_interval
        self.reinit = (Draws(spec.init.build(), stream(seed, "recycle", spec.name))
                       if self.interval_s is not None else None)
        scaling = spec.provisioned_autoscaling
        self.tracking = Tracking(self, scaling) if scaling is not None else None

    def start(self) -> None:
        host, pool = self.host, self.pool
        for t, n in self.spec.provisioned_schedule[1:]:
            if t < self.end_s:
                host.at(t, lambda _, n=n: self.set_minimum(n), URGENT)
        for t, r in (self.spec.reserved_schedule or ())[1:]:
            if t < self.end_s:
                host.at(t, lambda _, r=r: self.set_reserved(r), URGENT)
        if self.interval_s is not None:
            pool.recycler = self._reinitialise
            first = list(pool.idle_provisioned)
            for j, env in enumerate(first):
                self._due_in(env, self.interval_s * (j + 1) / len(first))
        if self.tracking is not None:
            self.tracking.start()

    # ------------------------------------------------------------------ changes

    def set_minimum(self, n: int) -> None:
        """A scheduled value: the configured concurrency, or with target tracking its minimum."""
        if self.tracking is None:
            self.set_provisioned(n)
            return
        self.tracking.minimum = n
        if self.pool.provisioned_target < n:
            self.set_provisioned(n)

    def set_provisioned(self, n: int) -> None:
        """Configure *n* provisioned environments from now."""
        host, pool = self.host, self.pool
        now = host.now
        if n == pool.provisioned_target:
            return
        pool.provisioned_target = n
        host.provisioned(now, self.state.index, n)
        missing = n - pool.provisioned_count()
        if missing > 0:
            pool.allocating += missing
            pool.hold(missing)
            host.at(self.delay_s, lambda _: self._ready(missing), URGENT)
        while pool.idle_provisioned and pool.provisioned_count() > n:
            env = pool.idle_provisioned.pop(0)  # the least recently used
            env.expires = now
            pool.hold(-1)
        self._metered(now)

    def set_reserved(self, r: int) -> None:
        """The function's reserved concurrency is *r* from now."""
        pool = self.pool
        pool.account_pool.capacity -= r - pool.reserved  # type: ignore[operator]
        pool.reserved = r
        pool.on_demand_cap = r - pool.provisioned

    def _ready(self, k: int) -> None:
        """*k* environments allocated earlier are ready."""
        pool = self.pool
        now = self.host.now
        pool.allocating -= k
        for _ in range(k):
            env = ExecutionEnvironment(now, True)
            pool.provisioned_back(env, now)
            if self.interval_s is not None and env.expires == math.inf:
                self._due_in(env, self.interval_s)
        self._metered(now)

    def _metered(self, now: float) -> None:
        if self.pool.meter is not None:
            self.pool.meter(now)

    # ------------------------------------------------------------------ re-initialisation

    def _due_in(self, env: ExecutionEnvironment, delay_s: float) -> None:
        if self.host.now + delay_s < self.end_s:
            self.host.at(delay_s, lambda _: self._due(env), URGENT)

    def _due(self, env: ExecutionEnvironment) -> None:
        pool = self.pool
        if env.expires != math.inf:  # retired meanwhile
            return
        if env in pool.idle_provisioned:
            pool.idle_provisioned.remove(env)
            self._reinitialise(env, self.host.now)
            self._metered(self.host.now)
        else:
            env.recycle_due = True

    def _reinitialise(self, env: ExecutionEnvironment, now: float) -> None:
        self.pool.reinitializing += 1
        self.host.at(self.reinit.next(), lambda _: self._reinitialised(env), URGENT)  # type: ignore[union-attr]

    def _reinitialised(self, env: ExecutionEnvironment) -> None:
        pool = self.pool
        now = self.host.now
        pool.reinitializing -= 1
        env.created = now
        env.recycle_due = False
        pool.provisioned_back(env, now)
        if env.expires == math.inf:
            self._due_in(env, self.interval_s)  # type: ignore[arg-type]
        self._metered(now)


class Tracking:
    """A target tracking policy on ``ProvisionedConcurrencyUtilization``."""

    def __init__(self, capacity: Capacity, spec: ProvisionedAutoscaling) -> None:
        self.capacity = capacity
        self.pool = capacity.pool
        self.spec = spec
        self.minimum = capacity.spec.provisioned_schedule[0][1]
        self.period_s = float(spec.metric_period)
        self.area = 0.0
        self.peak = 0.0
        self.last_t = 0.0
        self.last_u = 0.0
        self.seen = False
        self.above = 0
        self.below = 0
        self.last_out = -math.inf
        self.last_in = -math.inf

    def start(self) -> None:
        self.pool.meter = self.meter
        self.meter(0.0)
        self._next()

    def _next(self) -> None:
        host = self.capacity.host
        if host.now + self.period_s <= self.capacity.end_s:
            host.at(self.period_s, self.tick, URGENT)

    def meter(self, now: float) -> None:
        """The pool's provisioned state changed at *now* (or a period ends)."""
        pool = self.pool
        self.area += (now - self.last_t) * self.last_u
        self.last_t = now
        ready = len(pool.idle_provisioned) + pool.busy_provisioned
        self.last_u = pool.busy_provisioned / ready if ready else 0.0
        self.peak = max(self.peak, self.last_u)
        self.seen = self.seen or ready > 0

    def datapoint(self, now: float) -> float | None:
        """Close the period ending at *now*: its datapoint, or None without one."""
        self.meter(now)
        value = (self.area / self.period_s if self.spec.statistic == "Average" else self.peak) if self.seen else None
        pool = self.pool
        self.area = 0.0
        self.peak = self.last_u
        self.seen = len(pool.idle_provisioned) + pool.busy_provisioned > 0
        return value

    def tick(self, _: Any) -> None:
        now = self.capacity.host.now
        value = self.datapoint(now)
        self._decide(now, value)
        self._next()

    def _decide(self, now: float, value: float | None) -> None:
        spec = self.spec
        target = spec.target_utilization
        if value is None:
            self.above = self.below = 0
            return
        self.above = self.above + 1 if value > target else 0
        self.below = self.below + 1 if value < target else 0
        configured = self.pool.provisioned_target
        desired = math.ceil(round(configured * value / target, 9))
        desired = min(max(desired, self.minimum), spec.max_capacity)
        out = self.above >= spec.scale_out_datapoints and desired > configured
        scale_in = self.below >= spec.scale_in_datapoints and desired < configured and not spec.disable_scale_in
        if out and now - self.last_out >= spec.scale_out_cooldown:
            self.last_out = now
            self.capacity.set_provisioned(desired)
        elif scale_in and now - self.last_in >= spec.scale_in_cooldown:
            self.last_in = now
            self.capacity.set_provisioned(desired)
