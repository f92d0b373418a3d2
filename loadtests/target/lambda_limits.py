"""The Lambda runtime's own accounting: which invocation gets an execution environment.

This is the bookkeeping half of the independent Lambda runtime
(:mod:`loadtests.target.lambda_runtime`), written from AWS's documentation, not from the
model's code. It decides; it starts nothing. Time goes in as an argument (seconds on the
runtime's clock), so tests can drive it without a clock.

The rules, in AWS's words:

* **Reserved concurrency** "sets both the maximum and minimum number of concurrent
  instances allocated to your function ... no other function can use that concurrency"
  (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
* The **unreserved pool** is the account's concurrency minus every function's reserved
  concurrency; the functions without reserved concurrency share it. AWS keeps at least
  ``unreserved_min`` (100) of it unreserved: "You can reserve up to the Unreserved account
  concurrency value that is shown, minus 100" (same page). That is a configuration rule,
  checked here once when the runtime is built.
* **Provisioned concurrency** is "the number of pre-initialized execution environments";
  it "counts toward the function's reserved concurrency and the Regional limits", and
  "when all provisioned concurrency is in use, the function scales up normally to handle
  any additional requests" (spillover;
  https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html). So a
  function with reserved concurrency R and provisioned P runs at most R - P on-demand
  invocations at once; a function without reserved concurrency holds its P in the
  unreserved pool for good.
* **Scaling rate**: "for each function, your concurrency scaling rate is 1,000 execution
  environment instances every 10 seconds", refilled "continuously over time", and Lambda
  "doesn't accrue unused portions" beyond 1,000
  (https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html). Only *new*
  environments spend it. Before November 2023 the limit was an account-wide burst (then
  500 more per minute), kept as ``behaviour.scaling_model = "account_burst"``.
* "If requests come in faster than your function can scale, or if your function is at
  maximum concurrency, then additional requests fail with a throttling error" (same page).
* **Request rate**: "Across all functions in your account, Lambda enforces a requests per
  second limit that's equal to 10 times your account concurrency"
  (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html); per function, "the
  total invocation limit is 10 times your concurrency limit" (the quotas page), which for a
  function with reserved concurrency R is 10 R. An allowance per limit, holding
  ``behaviour.lambda_request_rate_burst_s`` seconds of its rate (AWS gives no burst), is
  checked before concurrency; an invocation spends from each only once it is placed.
  ``behaviour.provisioned_request_rate_limit`` adds 10 P for provisioned concurrency P.
* **Background load** (``[[account.background]]``) holds rate x mean duration of the
  unreserved pool (rounded half up) and uses its invocations per second of the account's rate.
* Idle environments are kept for a while (AWS publishes no figure: the scenario's
  ``idle_timeout``), then stopped; an environment is retired once it has lived
  ``behaviour.max_environment_lifetime``.

An invocation is placed like this: it needs an allowance of every request rate it counts
against; then an idle provisioned environment if there is one;
otherwise it needs concurrency room (reserved cap, or the unreserved pool); with room, an
idle warm environment (most or least recently used, ``behaviour.environment_reuse``);
otherwise a new environment if the scaling rate allows one; otherwise a throttle, whose
reason says which rule refused it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from simulator.scenario import Scenario

__all__ = ["Environment", "Grant", "LambdaLimits", "ScalingRate", "THROTTLE_REASONS"]

#: Why an invocation was throttled: the function's reserved concurrency is in use, the
#: account's unreserved pool is in use, no new environment may start yet, or Lambda's
#: invocations per second are used up.
THROTTLE_REASONS = ("reserved_concurrency", "unreserved_pool", "scaling_rate", "request_rate")


class ScalingRate:
    """How many new execution environments may start: at most ``burst`` at once, earning
    ``refill_per_s`` more per second, continuously, never more than ``burst`` saved."""

    __slots__ = ("burst", "refill_per_s", "allowance", "updated_s")

    def __init__(self, burst: float, refill_per_s: float) -> None:
        self.burst = float(burst)
        self.refill_per_s = float(refill_per_s)
        self.allowance = float(burst)
        self.updated_s = 0.0

    def allow(self, now_s: float) -> bool:
        """Spend one start at *now_s* if one is available."""
        if now_s > self.updated_s:
            self.allowance = min(self.burst, self.allowance + (now_s - self.updated_s) * self.refill_per_s)
            self.updated_s = now_s
        if self.allowance >= 1.0 - 1e-9:
            self.allowance -= 1.0
            return True
        return False

    def available(self, now_s: float) -> bool:
        """Whether one is available at *now_s*, spending nothing (:meth:`spend` does)."""
        if now_s > self.updated_s:
            self.allowance = min(self.burst, self.allowance + (now_s - self.updated_s) * self.refill_per_s)
            self.updated_s = now_s
        return self.allowance >= 1.0 - 1e-9

    def spend(self) -> None:
        self.allowance -= 1.0


@dataclass(eq=False)
class Environment:
    """One execution environment of one function (a worker process, once started)."""

    id: int
    function: str
    provisioned: bool
    created_s: float
    #: When it stops being kept idle; infinity while busy, and for provisioned ones.
    idle_until_s: float = float("inf")
    invocations: int = 0
    #: The worker process's id, once it has reported.
    pid: int = 0


@dataclass
class Grant:
    """The decision for one invocation: an environment (new when ``cold``), or a throttle."""

    environment: Environment | None
    cold: bool = False
    throttle_reason: str = ""


@dataclass
class _Function:
    name: str
    reserved: int | None
    provisioned: int
    scaling: ScalingRate
    idle_provisioned: list[Environment] = field(default_factory=list)
    idle: deque[Environment] = field(default_factory=deque)
    busy_on_demand: int = 0
    busy_provisioned: int = 0

    @property
    def on_demand_cap(self) -> int | None:
        return None if self.reserved is None else self.reserved - self.provisioned


class LambdaLimits:
    """Every function of a scenario, the account's unreserved pool and the scaling rates."""

    def __init__(self, scenario: Scenario) -> None:
        account, b = scenario.account, scenario.behaviour
        reserved_total = sum(f.reserved_concurrency or 0 for f in scenario.functions)
        if reserved_total > account.lambda_concurrency - account.unreserved_min:
            raise ValueError(f"reserved concurrency adds up to {reserved_total}, more than lambda_concurrency "
                             f"{account.lambda_concurrency} minus unreserved_min {account.unreserved_min}")
        #: The account's unreserved pool: its size and the invocations (and provisioned
        #: environments of functions without reservations) holding part of it.
        self.unreserved_capacity = account.lambda_concurrency - reserved_total
        background = [(x.rate * x.lambda_share, x.mean_duration) for x in account.background]
        if background:  # Little's law: the mean number of its invocations in flight
            held = int(sum(rate * mean_s for rate, mean_s in background) + 0.5)
            self.unreserved_capacity = max(0, self.unreserved_capacity - held)
        self.request_rates = self._request_rates(scenario, sum(rate for rate, _ in background))
        self.unreserved_in_use = 0
        self.max_lifetime_s = b.max_environment_lifetime if b.max_environment_lifetime is not None else float("inf")
        self.most_recent_first = b.environment_reuse == "mru"
        shared = ScalingRate(b.account_burst, b.account_burst_refill_per_s)
        self.functions: dict[str, _Function] = {}
        for f in scenario.functions:
            rate = ScalingRate(b.scaling_burst, b.scaling_refill_per_s) if b.scaling_model == "per_function" else shared
            self.functions[f.name] = _Function(f.name, f.reserved_concurrency, f.provisioned_concurrency, rate)
            if f.reserved_concurrency is None:
                self.unreserved_in_use += f.provisioned_concurrency
        if self.unreserved_in_use > self.unreserved_capacity:
            raise ValueError(f"provisioned concurrency outside reservations ({self.unreserved_in_use}) exceeds "
                             f"the unreserved pool ({self.unreserved_capacity})")
        self._next_id = 0
        #: Expired idle environments found by :meth:`acquire`, not yet handed out to stop.
        self._expired: list[Environment] = []

    @staticmethod
    def _request_rates(scenario: Scenario, background_rps: float) -> dict[str, list[ScalingRate]]:
        """Each function's request-rate allowances: its own (reserved, provisioned), then the account's."""
        b = scenario.behaviour
        if not b.lambda_request_rate_limit:
            return {f.name: [] for f in scenario.functions}
        per_s = 10.0 * scenario.account.lambda_concurrency
        account = ScalingRate(per_s * b.lambda_request_rate_burst_s, max(0.0, per_s - background_rps))
        if background_rps > 0 and background_rps >= per_s:
            account.allowance = 0.0
        out = {}
        for f in scenario.functions:
            own = [10.0 * f.reserved_concurrency] if f.reserved_concurrency else []
            if b.provisioned_request_rate_limit and f.provisioned_concurrency:
                own.append(10.0 * f.provisioned_concurrency)
            out[f.name] = [ScalingRate(rate * b.lambda_request_rate_burst_s, rate) for rate in own] + [account]
        return out

    def new_environment(self, function: str, now_s: float, *, provisioned: bool = False) -> Environment:
        self._next_id += 1
        return Environment(self._next_id, function, provisioned, now_s)

    def add_provisioned(self, env: Environment) -> None:
        """A provisioned environment that finished its init before the runtime listens."""
        self.functions[env.function].idle_provisioned.append(env)

    def busy(self, function: str) -> int:
        """Invocations of *function* in flight (its ConcurrentExecutions)."""
        f = self.functions[function]
        return f.busy_on_demand + f.busy_provisioned

    def acquire(self, function: str, now_s: float) -> Grant:
        """Place an invocation of *function* received at *now_s*. A cold grant carries a new
        :class:`Environment` that the caller must start; expired idle ones it finds are
        dropped here too (the caller stops them: :meth:`expired`)."""
        f = self.functions[function]
        rates = self.request_rates[function]
        if not all(rate.available(now_s) for rate in rates):
            return Grant(None, throttle_reason="request_rate")
        grant = self._place(f, now_s)
        if grant.environment is not None:
            for rate in rates:
                rate.spend()
        return grant

    def _place(self, f: _Function, now_s: float) -> Grant:
        if f.idle_provisioned:
            env = f.idle_provisioned.pop()
            f.busy_provisioned += 1
            return self._grant(env, cold=False)
        cap = f.on_demand_cap
        if cap is not None and f.busy_on_demand >= cap:
            return Grant(None, throttle_reason="reserved_concurrency")
        if cap is None and self.unreserved_in_use >= self.unreserved_capacity:
            return Grant(None, throttle_reason="unreserved_pool")
        env = self._warm(f, now_s)
        cold = env is None
        if env is None:
            if not f.scaling.allow(now_s):
                return Grant(None, throttle_reason="scaling_rate")
            env = self.new_environment(f.name, now_s)
        f.busy_on_demand += 1
        if cap is None:
            self.unreserved_in_use += 1
        return self._grant(env, cold=cold)

    @staticmethod
    def _grant(env: Environment, *, cold: bool) -> Grant:
        env.idle_until_s = float("inf")
        env.invocations += 1
        return Grant(env, cold=cold)

    def _warm(self, f: _Function, now_s: float) -> Environment | None:
        while f.idle:
            env = f.idle.pop() if self.most_recent_first else f.idle.popleft()
            if env.idle_until_s > now_s and now_s - env.created_s < self.max_lifetime_s:
                return env
            self._expired.append(env)
        return None

    def release(self, env: Environment, now_s: float) -> bool:
        """The invocation on *env* ended at *now_s*. True when *env* is kept idle (then set
        its ``idle_until_s``); False when it has lived its maximum lifetime and must stop."""
        f = self.functions[env.function]
        if env.provisioned:
            f.busy_provisioned -= 1
            f.idle_provisioned.append(env)
            return True
        f.busy_on_demand -= 1
        if f.reserved is None:
            self.unreserved_in_use -= 1
        if now_s - env.created_s >= self.max_lifetime_s:
            return False
        f.idle.append(env)
        return True

    def abandon(self, env: Environment) -> None:
        """Forget a new environment granted by :meth:`acquire` that could not be started."""
        f = self.functions[env.function]
        f.busy_on_demand -= 1
        if f.reserved is None:
            self.unreserved_in_use -= 1

    def expire(self, now_s: float) -> list[Environment]:
        """Drop the idle environments whose idle time is up at *now_s* (to be stopped),
        with those :meth:`acquire` skipped since the last call."""
        out, self._expired = self._expired, []
        for f in self.functions.values():
            keep = deque(e for e in f.idle if e.idle_until_s > now_s)
            if len(keep) != len(f.idle):
                out += [e for e in f.idle if e.idle_until_s <= now_s]
                f.idle = keep
        return out
