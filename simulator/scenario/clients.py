"""The ``[[clients]]`` of a scenario: who sends requests, at what pace, and how they retry.

A client is one caller of the API: it has a ``name``, optionally an ``api_key`` in a
``usage_plan``, a weighted choice of ``routes`` (each request picks one route, with
probability proportional to its weight), an ``arrivals`` process that says *when* it sends,
a ``retry`` policy that says what it does with a failed answer, and an optional client-side
``timeout`` per attempt.

**Arrivals** come in three kinds, chosen by ``process``:

* *open* (``"poisson"`` or ``"uniform"``, :class:`OpenArrivals`): requests arrive on their
  own schedule whatever the answers do, at ``rate`` requests per second. The rate is a number
  or a piecewise-linear profile ``[["0s", 100], ["2m", 800]]`` (starting at ``"0s"``, times
  never decreasing, flat after the last point); two points at the same time are an instant
  step, ``[["0s", 100], ["9h", 100], ["9h", 800]]`` jumping from 100 to 800 at 9 h;
  ``bursts`` add ``count`` extra requests at ``at``, spread evenly over ``over``. An open
  client is how a crowd of independent callers looks.
* *closed* (``"closed"``, :class:`ClosedArrivals`): ``users`` Locust users, started at
  ``spawn_rate`` users per second. Each user sends a request, waits for the whole answer
  (retries included), then waits ``wait`` before the next, with Locust's ``wait_time``
  semantics: ``constant(time)``, ``between(min, max)``, ``constant_pacing(time)`` (the wait
  tops the last request up to ``time``) and ``constant_throughput(rate)`` (pacing at
  ``1 / rate``). A slow API slows a closed client down; an open one keeps sending.
* *replay* (``"replay"``, :class:`ReplayArrivals`): a recorded trace, a CSV of
  ``time offset in seconds, route`` rows, read when the scenario is loaded.

**Retries** (``mode``): ``"none"``; ``"fixed"`` (wait ``delay`` between attempts);
``"exponential"`` (attempt *n* waits ``min(cap, base * 2**(n-1))``, times U(0, 1) with full
jitter); ``"aws_standard"`` (the AWS SDKs' standard mode: 3 attempts, base 1 s, cap 20 s,
full jitter and the retry quota). ``on`` lists the statuses retried, 0 standing for a client
timeout; ``max_attempts`` counts the first attempt. A :class:`RetryQuota` is the SDK's
client-side token bucket of retries: each retry costs tokens, and an empty bucket means
the client gives up instead of retrying.

These models only describe the traffic; :mod:`simulator.traffic.arrivals` and
:mod:`simulator.traffic.clients` turn them into arrival times, waits and retry decisions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from simulator.limits import MAX_ATTEMPTS, MAX_BURST_COUNT, MAX_COUNT, MAX_RATE_PER_S, MAX_USERS, MAX_WEIGHT, echo
from simulator.scenario.authorizers import Identities
from simulator.scenario.base import Duration, _as_tuple, _fmt, _Model
from simulator.scenario.cache import CacheKeys
from simulator.scenario.traces import read_trace

__all__ = [
    "DEFAULT_RETRY_ON",
    "ArrivalSpec",
    "BetweenWait",
    "Burst",
    "Client",
    "ClosedArrivals",
    "ConstantPacingWait",
    "ConstantThroughputWait",
    "ConstantWait",
    "ExponentialRetry",
    "FixedRetry",
    "NoRetry",
    "OpenArrivals",
    "ReplayArrivals",
    "RetryQuota",
    "RetrySpec",
    "StandardRetry",
    "WaitSpec",
]


# --------------------------------------------------------------------------- arrivals


class Burst(_Model):
    at: Duration
    count: int = Field(ge=1, le=MAX_BURST_COUNT)
    #: Spread the burst evenly over this long (default: all at the same instant).
    over: Duration = 0.0


def _rate_shape(value: Any) -> Any:
    """One clear message for a rate that is neither a number nor a profile."""
    example = 'a number of requests per second, or a profile like [["0s", 100], ["2m", 800]]'
    if isinstance(value, bool) or not isinstance(value, (int, float, list)):
        raise PydanticCustomError("rate", "must be {example}, got {got}", {"example": example, "got": echo(value)})
    if isinstance(value, list):
        for point in value:
            ok = (
                isinstance(point, (list, tuple)) and len(point) == 2 and isinstance(point[0], str)
                and isinstance(point[1], (int, float)) and not isinstance(point[1], bool)
            )
            if not ok:
                raise PydanticCustomError(
                    "rate", "each profile point must be [duration, rate] like [\"2m\", 800], got {got}",
                    {"got": echo(point)},
                )
    return value


class OpenArrivals(_Model):
    """Requests arrive on their own schedule, whatever the responses do (open model)."""

    process: Literal["poisson", "uniform"]
    #: Requests per second: a number, or a piecewise-linear profile [["0s", 100], ["2m", 800]].
    rate: Annotated[
        float | list[Annotated[tuple[Duration, float], BeforeValidator(_as_tuple)]], BeforeValidator(_rate_shape)
    ]
    bursts: list[Burst] = []

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: float | list[tuple[float, float]]) -> float | list[tuple[float, float]]:
        if isinstance(v, (int, float)):
            if v < 0:
                raise PydanticCustomError("range", "must be >= 0, got {got}", {"got": _fmt(v)})
            if v > MAX_RATE_PER_S:
                raise PydanticCustomError("range", "must be at most {high} requests per second, got {got}",
                                          {"high": _fmt(MAX_RATE_PER_S), "got": _fmt(v)})
            return v
        if not v:
            raise PydanticCustomError("profile", "a rate profile needs at least one point")
        if v[0][0] != 0:
            raise PydanticCustomError("profile", "a rate profile must start at '0s'")
        for (t0, _), (t1, _) in zip(v, v[1:]):
            if t1 < t0:
                raise PydanticCustomError("profile", "profile times must not decrease")
        for (t0, _), (t2, _) in zip(v, v[2:]):
            if t2 == t0:
                raise PydanticCustomError(
                    "profile", "at most two profile points may share a time (the rate before and after a step), "
                               "got three at {at}", {"at": _fmt(t0)})
        for _, r in v:
            if r < 0:
                raise PydanticCustomError("range", "profile rates must be >= 0, got {got}", {"got": _fmt(r)})
            if r > MAX_RATE_PER_S:
                raise PydanticCustomError("range", "profile rates must be at most {high}, got {got}",
                                          {"high": _fmt(MAX_RATE_PER_S), "got": _fmt(r)})
        return v


class ConstantWait(_Model):
    kind: Literal["constant"]
    time: Duration


class BetweenWait(_Model):
    kind: Literal["between"]
    min: Duration
    max: Duration

    @model_validator(mode="after")
    def _order(self) -> BetweenWait:
        if self.max < self.min:
            raise PydanticCustomError("range", "max must be at least min")
        return self


class ConstantPacingWait(_Model):
    kind: Literal["constant_pacing"]
    time: Duration


class ConstantThroughputWait(_Model):
    kind: Literal["constant_throughput"]
    #: Task runs per second per user.
    rate: float = Field(gt=0, le=MAX_RATE_PER_S)


WaitSpec = Annotated[
    ConstantWait | BetweenWait | ConstantPacingWait | ConstantThroughputWait,
    Field(discriminator="kind"),
]


class ClosedArrivals(_Model):
    """Locust-style users: each sends a request, waits for the answer, then waits ``wait``."""

    process: Literal["closed"]
    users: int = Field(ge=1, le=MAX_USERS)
    spawn_rate: float = Field(gt=0, le=MAX_RATE_PER_S)
    wait: WaitSpec


class ReplayArrivals(_Model):
    """Replays a trace: a CSV of ``time offset in seconds, route[, cache key]`` rows."""

    process: Literal["replay"]
    file: str
    times: tuple[float, ...] = Field(default=(), exclude=True)
    routes: tuple[str, ...] = Field(default=(), exclude=True)
    #: Each row's cache key ("" where the row has none: drawn from the key law).
    keys: tuple[str, ...] = Field(default=(), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or "times" in data or not isinstance(data.get("file"), str):
            return data
        base = (info.context or {}).get("base_dir")
        try:
            times, routes, keys = read_trace(data["file"], base)
        except ValueError as exc:
            raise PydanticCustomError("file", "{msg}", {"msg": str(exc), "key": "file"}) from None
        return {**data, "times": times, "routes": routes, "keys": keys}


ArrivalSpec = Annotated[
    OpenArrivals | ClosedArrivals | ReplayArrivals,
    Field(discriminator="process"),
]


# --------------------------------------------------------------------------- retries

#: HTTP statuses a client retries by default; 0 stands for "no response" (client timeout).
DEFAULT_RETRY_ON = (0, 429, 500, 502, 503, 504)


def _statuses(value: tuple[int, ...]) -> tuple[int, ...]:
    for status in value:
        if status != 0 and not 100 <= status <= 599:
            raise PydanticCustomError(
                "status", "statuses must be 0 (no response) or between 100 and 599, got {got}", {"got": echo(status)}
            )
    return value


#: The statuses a retry policy retries: HTTP statuses, 0 for a client timeout.
RetryOn = Annotated[tuple[int, ...], BeforeValidator(_as_tuple), AfterValidator(_statuses)]


class NoRetry(_Model):
    mode: Literal["none"]


class RetryQuota(_Model):
    """The AWS SDK standard-mode retry quota (a client-side token bucket of retries)."""

    capacity: int = Field(default=500, ge=0, le=MAX_COUNT)
    cost: int = Field(default=5, ge=0, le=MAX_COUNT)
    timeout_cost: int = Field(default=10, ge=0, le=MAX_COUNT)
    success_increment: int = Field(default=1, ge=0, le=MAX_COUNT)


class FixedRetry(_Model):
    mode: Literal["fixed"]
    delay: Duration
    max_attempts: int = Field(default=3, ge=1, le=MAX_ATTEMPTS)
    on: RetryOn = DEFAULT_RETRY_ON
    quota: RetryQuota | None = None


class ExponentialRetry(_Model):
    """Exponential backoff: attempt n waits ``min(cap, base * 2**(n-1))``, times U(0,1) with full jitter."""

    mode: Literal["exponential"]
    base: Duration = 0.1
    cap: Duration = 20.0
    jitter: Literal["full", "none"] = "full"
    max_attempts: int = Field(default=3, ge=1, le=MAX_ATTEMPTS)
    on: RetryOn = DEFAULT_RETRY_ON
    quota: RetryQuota | None = None


class StandardRetry(_Model):
    """The AWS SDKs' standard retry mode: 3 attempts, full-jitter backoff with base 1 s
    capped at 20 s, and the 500-token retry quota."""

    mode: Literal["aws_standard"]
    max_attempts: int = Field(default=3, ge=1, le=MAX_ATTEMPTS)
    on: RetryOn = DEFAULT_RETRY_ON

    @property
    def base(self) -> float:
        return 1.0

    @property
    def cap(self) -> float:
        return 20.0

    @property
    def jitter(self) -> str:
        return "full"

    @property
    def quota(self) -> RetryQuota:
        return RetryQuota()


RetrySpec = Annotated[
    NoRetry | FixedRetry | ExponentialRetry | StandardRetry,
    Field(discriminator="mode"),
]


# --------------------------------------------------------------------------- the client


class Client(_Model):
    name: str
    api_key: str | None = Field(default=None, min_length=1)
    usage_plan: str | None = None
    #: Route name -> relative weight.
    routes: dict[str, float]
    arrivals: ArrivalSpec
    retry: RetrySpec = NoRetry(mode="none")
    #: Client-side timeout per attempt; None waits for the gateway's answer.
    timeout: Duration | None = None
    #: The tokens it presents to the routes' authorizers (:mod:`simulator.scenario.authorizers`).
    identities: Identities = Identities()
    #: How this client's requests spread over a cached route's keys (overrides the route's).
    cache_keys: CacheKeys | None = None

    @field_validator("routes")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise PydanticCustomError("routes", "a client needs at least one route")
        for name, w in v.items():
            if w <= 0:
                raise PydanticCustomError(
                    "range", "weight of {route} must be > 0, got {got}", {"route": echo(name), "got": _fmt(w)}
                )
            if w > MAX_WEIGHT:
                raise PydanticCustomError(
                    "range", "weight of {route} must be at most {high}, got {got}",
                    {"route": echo(name), "high": _fmt(MAX_WEIGHT), "got": _fmt(w)},
                )
        return v
