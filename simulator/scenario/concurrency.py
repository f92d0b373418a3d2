"""Concurrency that changes during a run: schedules and target tracking of a function.

A function's ``reserved_concurrency`` and ``provisioned_concurrency`` are either one number
for the whole run or a **schedule**: ``[["0s", 0], ["7h", 100], ["9h", 0]]``, a list of
``[time, value]`` points. Times are durations from the start of the run, like the points
of a rate profile (:mod:`simulator.scenario.clients`); the first point is at ``"0s"``, the
times increase, and each value holds from its time until the next point (a step, not a
ramp). That is what Application Auto Scaling's *scheduled actions* do to a Lambda alias:
at a time, set the capacity to a value ("You can scale AWS Lambda provisioned concurrency
using target tracking scaling policies and scheduled scaling",
https://docs.aws.amazon.com/autoscaling/application/userguide/services-that-can-integrate-lambda.html);
changing reserved concurrency during a run is a ``PutFunctionConcurrency`` call at that time.

``[functions.provisioned_autoscaling]`` adds a **target tracking** policy on the metric
``ProvisionedConcurrencyUtilization`` (provisioned environments busy / provisioned
concurrency allocated, per CloudWatch period). Its CloudWatch alarms fire when
``scale_out_datapoints`` consecutive periods are above the target (3 periods of 1 minute)
or ``scale_in_datapoints`` consecutive periods are below it (15 periods of 1 minute), with
the ``Average`` statistic by default (G. Mao, then AWS's worldwide serverless tech lead,
https://georgemao.medium.com/understanding-lambda-provisioned-concurrency-autoscaling-735eb14040cf).
The new capacity is ``ceil(capacity x utilization / target_utilization)`` clamped to
``[minimum, max_capacity]``, where the minimum is ``provisioned_concurrency`` at that time
(a schedule then plays the part of scheduled actions that set ``MinCapacity``). Cooldowns
default to 0 s, Application Auto Scaling's default for Lambda provisioned concurrency
(https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_lambda.UtilizationScalingOptions.html).

How the pool applies a change (allocation time, busy environments on a decrease, periodic
re-initialisation) is in :mod:`simulator.functions.capacity`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from simulator.limits import MAX_CONCURRENCY, MAX_COUNT, echo
from simulator.scenario.base import Duration, _as_tuple, _fmt, _Model

__all__ = ["Concurrency", "ProvisionedAutoscaling", "Schedule", "as_schedule", "changes", "check_schedule", "peak",
           "value_at"]

#: ``(time_s, value)`` steps, the first at 0 s.
Schedule = tuple[tuple[float, int], ...]


def _shape(value: Any) -> Any:
    """One clear message for a value that is neither a count nor a schedule."""
    example = 'a number, or a schedule like [["0s", 0], ["7h", 100], ["9h", 0]]'
    if isinstance(value, bool) or not isinstance(value, (int, list)):
        raise PydanticCustomError("schedule", "must be {example}, got {got}", {"example": example, "got": echo(value)})
    if isinstance(value, list):
        for point in value:
            ok = (isinstance(point, (list, tuple)) and len(point) == 2 and isinstance(point[0], str)
                  and isinstance(point[1], int) and not isinstance(point[1], bool))
            if not ok:
                raise PydanticCustomError(
                    "schedule", "each schedule point must be [duration, count] like [\"7h\", 100], got {got}",
                    {"got": echo(point)})
    return value


def check_schedule(v: Any) -> Any:
    """A count in range, or a schedule that starts at 0 s with increasing times (a schedule
    of one point is that point's count)."""
    if isinstance(v, int):
        if not 0 <= v <= MAX_CONCURRENCY:
            raise PydanticCustomError("range", "must be between 0 and {high}, got {got}",
                                      {"high": MAX_CONCURRENCY, "got": v})
        return v
    if not v:
        raise PydanticCustomError("schedule", "a schedule needs at least one point")
    if v[0][0] != 0:
        raise PydanticCustomError("schedule", "a schedule must start at '0s'")
    for (t0, _), (t1, _) in zip(v, v[1:]):
        if t1 <= t0:
            raise PydanticCustomError("schedule", "schedule times must increase, got {a} then {b}",
                                      {"a": f"{_fmt(t0)}s", "b": f"{_fmt(t1)}s"})
    for _, n in v:
        if not 0 <= n <= MAX_CONCURRENCY:
            raise PydanticCustomError("range", "schedule values must be between 0 and {high}, got {got}",
                                      {"high": MAX_CONCURRENCY, "got": n})
    return v[0][1] if len(v) == 1 else list(v)  # one point is a constant


#: A concurrency setting: one count, or a schedule of counts.
Concurrency = Annotated[int | list[Annotated[tuple[Duration, int], BeforeValidator(_as_tuple)]],
                        BeforeValidator(_shape)]


def as_schedule(value: int | Any) -> Schedule:
    """*value* (a count or a schedule) as a schedule: ``5`` is ``((0.0, 5),)``."""
    if isinstance(value, int):
        return ((0.0, value),)
    return tuple((float(t), int(n)) for t, n in value)


def value_at(schedule: Schedule, t: float) -> int:
    """The value *schedule* holds at time *t* (a point's value applies from its time on)."""
    out = schedule[0][1]
    for at, n in schedule:
        if at > t:
            break
        out = n
    return out


def peak(provisioned: Schedule, autoscaling: ProvisionedAutoscaling | None) -> int:
    """The most provisioned concurrency a function can have during the run."""
    top = max(n for _, n in provisioned)
    return top if autoscaling is None else max(top, autoscaling.max_capacity)


def changes(reserved: Schedule | None, provisioned: Schedule, autoscaling: ProvisionedAutoscaling | None) -> bool:
    """Whether reserved or provisioned concurrency changes during the run."""
    return len(provisioned) > 1 or (reserved is not None and len(reserved) > 1) or autoscaling is not None


class ProvisionedAutoscaling(_Model):
    """Target tracking of ``ProvisionedConcurrencyUtilization`` (Application Auto Scaling)."""

    #: The utilization to keep, 0 < target <= 1 (0.7 keeps 70% of provisioned environments busy).
    target_utilization: float = Field(gt=0, le=1)
    #: The scalable target's MaxCapacity.
    max_capacity: int = Field(ge=1, le=MAX_CONCURRENCY)
    #: The CloudWatch period of the metric.
    metric_period: Duration = 60.0
    #: "Average" (the predefined metric's statistic) or "Maximum" (a customized metric).
    statistic: Literal["Average", "Maximum"] = "Average"
    #: Consecutive periods above the target before scaling out, and below it before scaling in.
    scale_out_datapoints: int = Field(default=3, ge=1, le=MAX_COUNT)
    scale_in_datapoints: int = Field(default=15, ge=1, le=MAX_COUNT)
    #: After a scaling activity, how long before the next one of the same direction.
    scale_out_cooldown: Duration = 0.0
    scale_in_cooldown: Duration = 0.0
    #: The policy never removes capacity.
    disable_scale_in: bool = False

    @field_validator("metric_period")
    @classmethod
    def _period(cls, v: float) -> float:
        if v < 1.0:
            raise PydanticCustomError("range", "must be at least 1s, got {got}", {"got": f"{_fmt(v)}s"})
        return v
