"""Background load: the account's other traffic, known by its rate and mean duration only.

Other APIs and functions in the same account and Region share the limits the scenario's
own traffic meets: API Gateway's account throttle (10,000 rps by default, "across HTTP
APIs, REST APIs, WebSocket APIs, and WebSocket callback APIs"), Lambda's unreserved
concurrency and Lambda's account request rate (10 x account concurrency per second). A
planner knows that load as a rate and a mean duration, not request by request, so an
``[[account.background]]`` entry describes it that way::

    [[account.background]]
    name = "orders-api"
    rate = 3000              # requests per second, constant over the run
    mean_duration = "40ms"   # mean Lambda run time of one of its requests
    gateway_share = 1.0      # fraction of its requests that pass this account's API Gateway
    lambda_share = 1.0       # fraction that invoke functions on the unreserved pool

**Deterministic fluid consumption** (the model's choice): background load is a steady
stream that takes its part of every shared limit before the scenario's own traffic, and
has no records of its own:

* the API Gateway account bucket refills at ``rate - sum(rate x gateway_share)``;
* Lambda's account request-rate bucket refills at ``10 x concurrency - sum(rate x
  lambda_share)``;
* the unreserved pool loses ``sum(rate x lambda_share x mean_duration)`` environments,
  rounded half up: Little's law, L = lambda W, the mean number in flight.

A limit that background load alone exhausts is left with rate 0 and starts empty. Both
engines see the same reduced limits (they are built from the scenario before a run), so
the fast engine needs nothing of its own.

What this leaves out, on purpose: the background's own randomness. Its concurrency is in
truth Poisson-distributed around L (standard deviation sqrt(L)) and its arrivals compete
with the scenario's for each token; the fluid model gives the scenario's traffic exactly
what is left on average, so near a limit it is optimistic about peaks and pessimistic
about the background yielding. Background load is not billed (it is another workload's
bill) and does not appear in records, time series or Lambda summaries.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from simulator.limits import MAX_THROTTLE_RATE_PER_S
from simulator.scenario.base import Duration, _Model

if TYPE_CHECKING:
    from simulator.scenario.schema import Scenario

__all__ = ["Background", "background_concurrency", "background_gateway_rps", "background_lambda_rps", "left_over",
           "unreserved_capacity"]


class Background(_Model):
    """One ``[[account.background]]`` entry."""

    name: str
    #: Requests per second, constant over the run.
    rate: float = Field(ge=0, le=MAX_THROTTLE_RATE_PER_S)
    #: Mean time one of its Lambda invocations holds an environment.
    mean_duration: Duration
    #: Fraction of its requests that pass this account's API Gateway (the account throttle).
    gateway_share: float = Field(default=1.0, ge=0, le=1)
    #: Fraction of its requests that invoke functions without reserved concurrency (the
    #: unreserved pool and Lambda's account request rate).
    lambda_share: float = Field(default=1.0, ge=0, le=1)


def background_gateway_rps(scenario: Scenario) -> float:
    """Requests per second that background load sends through the account's API Gateway throttle."""
    return math.fsum(x.rate * x.gateway_share for x in scenario.account.background)


def background_lambda_rps(scenario: Scenario) -> float:
    """Synchronous invocations per second that background load makes on unreserved functions."""
    return math.fsum(x.rate * x.lambda_share for x in scenario.account.background)


def background_concurrency(scenario: Scenario) -> int:
    """Unreserved environments background load holds: rate x mean duration (Little's law),
    summed over the entries and rounded half up."""
    mean_in_flight = math.fsum(x.rate * x.lambda_share * x.mean_duration for x in scenario.account.background)
    return math.floor(mean_in_flight + 0.5)


def left_over(rate: float, used_rps: float) -> float:
    """A limit's refill rate once background load has taken *used_rps* of it (never below 0)."""
    return max(0.0, rate - used_rps)


def unreserved_capacity(scenario: Scenario) -> int:
    """The unreserved pool the scenario's functions share: account concurrency minus every
    reservation, minus what background load holds (never below 0 on its account)."""
    reserved = sum(f.reserved_schedule[0][1] for f in scenario.functions if f.reserved_schedule is not None)
    capacity = scenario.account.lambda_concurrency - reserved
    held = background_concurrency(scenario)
    return max(0, capacity - held) if held else capacity
