"""The building blocks every scenario model shares: a strict frozen model, durations, ranges.

A scenario file is validated by pydantic models (:mod:`simulator.scenario` and
:mod:`simulator.scenario.clients`). They all derive from :class:`_Model`, which

* refuses unknown keys (``extra="forbid"``), so a misspelt key is an error that the loader
  turns into "unknown key (did you mean ...?)" rather than a silently ignored setting;
* is frozen: once loaded, a scenario is a tree of values the engines read but never change;
* is strict: TOML's types are taken as written (``"5"`` is not the number 5);
* refuses ``nan`` and ``inf`` wherever a number is expected (``allow_inf_nan=False``): a
  rate of ``nan`` would silently never send, a weight of ``nan`` never pick its route.

The limits on sizes and counts (:mod:`simulator.limits`) are set on the fields themselves
with ``Field(le=...)``, so that they are checked before anything is built from them.

A duration is always written with its unit (``"250ms"``, ``"29s"``, ``"10m"``) and held as
seconds: annotate a field with :data:`Duration`. A bare number is refused, because whether
``30`` means seconds or milliseconds is exactly the mistake a unit prevents.

A timestamp (the scenario's ``start``) is validated by ``_utc``: it needs a time zone and
is held in UTC.

The errors raised here are :class:`~pydantic_core.PydanticCustomError` with a short type
(``"duration"``, ``"range"``) and a message the loader prints after the key path.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from simulator.limits import DATE_RANGE, echo
from simulator.units import parse_duration

__all__ = ["Duration"]


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise PydanticCustomError(
            "duration",
            "must be a duration string with a unit such as '250ms', '29s' or '10m', got {got}",
            {"got": echo(value)},
        )
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", str(exc)) from None


#: A duration written with its unit ("250ms"), held as seconds.
Duration = Annotated[float, BeforeValidator(_duration)]


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _between(value: float, low: float, high: float, what: str = "") -> float:
    if not low <= value <= high:
        raise PydanticCustomError(
            "range",
            "must be between {low} and {high}{what}, got {got}",
            {"low": _fmt(low), "high": _fmt(high), "what": what, "got": _fmt(value)},
        )
    return value


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _utc(value: Any) -> Any:
    """A timestamp with a time zone, as UTC within :data:`~simulator.limits.DATE_RANGE`."""
    example = "a UTC timestamp such as 2026-03-01T00:00:00Z"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise PydanticCustomError("datetime", "must be {example}, got {got}",
                                      {"example": example, "got": echo(value)}) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        raise PydanticCustomError("datetime", "must be {example}, got the date {got} without a time",
                                  {"example": example, "got": value.isoformat()})
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PydanticCustomError("datetime", "needs a time zone; write it in UTC, e.g. ...T00:00:00Z")
        got = value.isoformat().replace("+00:00", "Z")
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 in another time zone
            value = None
        if value is None or not DATE_RANGE[0] <= value <= DATE_RANGE[1]:
            raise PydanticCustomError(
                "datetime", "must be between {low} and {high}, got {got}",
                {"low": f"{DATE_RANGE[0]:%Y-%m-%d}", "high": f"{DATE_RANGE[1]:%Y-%m-%d}", "got": got},
            )
    return value
