"""Duration distributions in a scenario file: a duration string (fixed) or a table with
``kind`` (``fixed``, ``exponential``, ``lognormal``, ``uniform``, ``empirical``, ``sequence``),
each built into a :mod:`simulator.dists` distribution."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from simulator import dists
from simulator.limits import MAX_DURATION_S, MAX_SAMPLES_BYTES, echo, read_bounded
from simulator.scenario.base import Duration, _Model

__all__ = [
    "DistSpec", "EmpiricalDist", "ExponentialDist", "FixedDist", "LogNormalDist", "SequenceDist", "UniformDist",
]


class FixedDist(_Model):
    kind: Literal["fixed"]
    value: Duration

    def build(self) -> dists.Distribution:
        return dists.Fixed(self.value)


class ExponentialDist(_Model):
    kind: Literal["exponential"]
    mean: Duration

    @field_validator("mean")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise PydanticCustomError("range", "must be greater than 0s")
        return v

    def build(self) -> dists.Distribution:
        return dists.Exponential(self.mean)


class LogNormalDist(_Model):
    kind: Literal["lognormal"]
    median: Duration
    p99: Duration

    @model_validator(mode="after")
    def _order(self) -> LogNormalDist:
        if self.median <= 0:
            raise PydanticCustomError("range", "median must be greater than 0s")
        if self.p99 < self.median:
            raise PydanticCustomError("range", "p99 must be at least the median")
        return self

    def build(self) -> dists.Distribution:
        if self.p99 == self.median:
            return dists.Fixed(self.median)
        return dists.LogNormal(self.median, self.p99)


class UniformDist(_Model):
    kind: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _order(self) -> UniformDist:
        if self.high < self.low:
            raise PydanticCustomError("range", "high must be at least low")
        return self

    def build(self) -> dists.Distribution:
        return dists.Uniform(self.low, self.high)


class EmpiricalDist(_Model):
    kind: Literal["empirical"]
    file: str
    unit: Literal["us", "ms", "s"] = "ms"
    values: tuple[float, ...] = Field(default=(), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or "values" in data or not isinstance(data.get("file"), str):
            return data
        base = (info.context or {}).get("base_dir")
        from pathlib import Path

        path = Path(data["file"])
        if base is not None and not path.is_absolute():
            path = Path(base) / path
        try:
            lines = read_bounded(str(path), MAX_SAMPLES_BYTES).decode("utf-8-sig").split()
        except OSError:
            raise PydanticCustomError(
                "file", "cannot read samples file {path}", {"path": str(path), "key": "file"}
            ) from None
        except UnicodeDecodeError as exc:
            raise PydanticCustomError(
                "file", "{path}: not UTF-8 text (byte {at})", {"path": str(path), "at": exc.start, "key": "file"}
            ) from None
        except ValueError as exc:
            raise PydanticCustomError(
                "file", "{path}: {why}", {"path": str(path), "why": str(exc), "key": "file"}
            ) from None
        unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0}.get(data.get("unit", "ms"), 1e-3)
        values = []
        for number, word in enumerate(lines, 1):
            try:
                value = float(word)
            except ValueError:
                raise PydanticCustomError(
                    "file",
                    "{path}: sample {n} is not a number: {word}",
                    {"path": str(path), "n": number, "word": echo(word), "key": "file"},
                ) from None
            if not math.isfinite(value) or value * unit > MAX_DURATION_S:
                raise PydanticCustomError(
                    "file",
                    "{path}: sample {n} must be a finite number of {unit}, got {word}",
                    {"path": str(path), "n": number, "unit": data.get("unit", "ms"), "word": echo(word),
                     "key": "file"},
                ) from None
            if value < 0:
                raise PydanticCustomError(
                    "file", "{path}: sample {n} is negative", {"path": str(path), "n": number, "key": "file"}
                )
            values.append(value * unit)
        if not values:
            raise PydanticCustomError("file", "{path} holds no samples", {"path": str(path), "key": "file"})
        return {**data, "values": tuple(values)}

    def build(self) -> dists.Distribution:
        return dists.Empirical(self.values, source=self.file)


class SequenceDist(EmpiricalDist):
    """A file's values (one per line) handed out in order, one per draw: replays the times
    a real target measured, invocation by invocation (validation writes these)."""

    kind: Literal["sequence"]  # type: ignore[assignment]

    def build(self) -> dists.Distribution:
        return dists.Sequence(self.values, source=self.file)


def _dist_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"kind": "fixed", "value": value}
    return value


#: A distribution of durations: a duration string (fixed) or a table with ``kind``.
DistSpec = Annotated[
    FixedDist | ExponentialDist | LogNormalDist | UniformDist | EmpiricalDist | SequenceDist,
    Field(discriminator="kind"),
    BeforeValidator(_dist_shorthand),
]


