"""Metering: how AWS turns raw usage into the billed quantities that prices apply to.

AWS does not bill what was used; it bills usage rounded to its metering units:

* **Lambda duration** is rounded up to the nearest 1 ms per invocation, then billed in
  GB-seconds: billed milliseconds / 1000 times the configured memory in GB (memory_mb / 1024).
  Source: https://aws.amazon.com/lambda/pricing/
* **Provisioned concurrency** bills the configured environments for as long as they are
  enabled, "rounded up to the nearest five minutes".
* **API Gateway** meters HTTP API requests in 512 KB increments and WebSocket messages in
  32 KB increments, each counting at least once, so a 513 KB HTTP request counts as two.
  The increments are read from the price file. Source: https://aws.amazon.com/api-gateway/pricing/

Before rounding up, amounts are rounded to a 1e-6 grid (of a millisecond, or of a second), so
floating-point noise is not billed: 200.00000000000003 ms bills 200 ms, not 201 ms.

The functions here are pure and vectorised where a size or duration may be per request.
The validators they share with :mod:`simulator.cost.bill` and :mod:`simulator.cost.lambda_bill`
live here too.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from simulator.cost.pricing import ARCHITECTURES, PriceTable, load_prices

__all__ = [
    "MEMORY_MB_MAX",
    "MEMORY_MB_MIN",
    "PROVISIONED_ROUNDING_SECONDS",
    "gb_seconds",
    "http_metered_requests",
    "lambda_billed_ms",
    "provisioned_billed_seconds",
    "provisioned_periods",
    "websocket_metered_messages",
]

#: Lambda memory limits (MB), inclusive.
MEMORY_MB_MIN: int = 128
MEMORY_MB_MAX: int = 10240
#: Provisioned concurrency time is rounded up to a multiple of this many seconds.
PROVISIONED_ROUNDING_SECONDS: int = 300

# Durations are rounded to this many decimals of a millisecond before rounding up to whole
# milliseconds, so that floating-point noise (200.00000000000003) is not billed as 201 ms.
_MS_GRID_DECIMALS = 6

#: A price table, or the Region whose price file to load.
Prices = PriceTable | str


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _non_negative(name: str, value: Any) -> float:
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _integer(name: str, value: Any, low: int, high: int | None = None) -> int:
    integral = _is_real(value) and math.isfinite(value) and float(value).is_integer()
    if not integral or value < low or (high is not None and value > high):
        bounds = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {bounds}, got {value!r}")
    return int(value)


def _memory(name: str, value: Any) -> int:
    return _integer(name, value, MEMORY_MB_MIN, MEMORY_MB_MAX)


def _architecture(name: str, value: Any) -> str:
    if value not in ARCHITECTURES:
        raise ValueError(f"{name} must be one of {', '.join(ARCHITECTURES)}, got {value!r}")
    return str(value)


def _already_used(name: str, value: Mapping[str, float] | None, allowed: Sequence[str]) -> dict[str, float]:
    out = dict.fromkeys(allowed, 0.0)
    for key, amount in (value or {}).items():
        if key not in out:
            raise ValueError(f"{name} has unknown key {key!r} (allowed: {', '.join(allowed)})")
        out[key] = _non_negative(f"{name}[{key!r}]", amount)
    return out


def _table(prices: Prices) -> PriceTable:
    if isinstance(prices, PriceTable):
        return prices
    if isinstance(prices, str):
        return load_prices(prices)
    raise TypeError(f"prices must be a PriceTable or a Region name, got {prices!r}")


def _array(name: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {values!r}") from None
    bad = ~np.isfinite(arr) | (arr < 0)
    if np.any(bad):
        first = arr[bad].flat[0] if arr.ndim else arr.item()
        raise ValueError(f"{name} must hold finite numbers >= 0, got {first!r}")
    return arr


# --------------------------------------------------------------------------------------------
# Metering helpers
# --------------------------------------------------------------------------------------------


@overload
def lambda_billed_ms(duration_ms: float) -> int: ...
@overload
def lambda_billed_ms(duration_ms: Sequence[float] | npt.NDArray[Any]) -> npt.NDArray[np.int64]: ...
def lambda_billed_ms(duration_ms: float | npt.ArrayLike) -> int | npt.NDArray[np.int64]:
    """Billed milliseconds: each duration rounded up to a whole millisecond.

    Durations are first rounded to a 1e-6 ms grid, so floating-point noise does not add a
    millisecond: 200.0 and 200.00000000000003 bill 200 ms, 200.000001 bills 201 ms.
    A scalar gives an ``int``; an array gives an ``int64`` array of the same shape.

    >>> lambda_billed_ms(200.0), lambda_billed_ms(200.4), lambda_billed_ms([0.1, 1.0])
    (200, 201, array([1, 1]))
    """
    arr = _array("duration_ms", duration_ms)
    billed = np.ceil(np.round(arr, _MS_GRID_DECIMALS))
    if arr.ndim == 0:
        return int(billed)
    return billed.astype(np.int64)


def gb_seconds(billed_ms_total: float, memory_mb: int) -> float:
    """GB-seconds for *billed_ms_total* milliseconds at *memory_mb* (GB = memory_mb / 1024).

    >>> gb_seconds(3_000_000 * 1000, 512)   # 3M invocations of 1 s at 512 MB
    1500000.0
    """
    total = _non_negative("billed_ms_total", billed_ms_total)
    memory = _memory("memory_mb", memory_mb)
    return total / 1000.0 * (memory / 1024.0)


def _metered(name: str, sizes: npt.ArrayLike, increment: int) -> int:
    arr = _array(name, sizes)
    units = np.maximum(1.0, np.ceil(arr / increment))
    return int(np.sum(units, dtype=np.float64))


def http_metered_requests(request_bytes: float | npt.ArrayLike, prices: Prices = "us-east-1") -> int:
    """Billed HTTP API requests for requests of *request_bytes* each (one size or an array).

    Each request counts ``ceil(size / 512 KB)`` times, at least once: 513 KB counts as 2.

    >>> http_metered_requests([1024, 512 * 1024, 513 * 1024])
    4
    """
    increment = _table(prices)["apigateway.http.requests"].metering_increment_bytes
    assert increment is not None
    return _metered("request_bytes", request_bytes, increment)


def websocket_metered_messages(message_bytes: float | npt.ArrayLike, prices: Prices = "us-east-1") -> int:
    """Billed WebSocket messages for messages of *message_bytes* each (32 KB increments, at least 1).

    >>> websocket_metered_messages([100, 33 * 1024])
    3
    """
    increment = _table(prices)["apigateway.websocket.messages"].metering_increment_bytes
    assert increment is not None
    return _metered("message_bytes", message_bytes, increment)


def provisioned_billed_seconds(configured_seconds: float) -> float:
    """Provisioned-concurrency time as billed: rounded up to a multiple of five minutes.

    >>> provisioned_billed_seconds(1), provisioned_billed_seconds(300), provisioned_billed_seconds(301)
    (300.0, 300.0, 600.0)
    """
    seconds = _non_negative("configured_seconds", configured_seconds)
    # Same grid rounding as durations, so 600.0000000001 s is not billed as 900 s.
    blocks = math.ceil(round(seconds, _MS_GRID_DECIMALS) / PROVISIONED_ROUNDING_SECONDS)
    return float(blocks * PROVISIONED_ROUNDING_SECONDS)


def provisioned_periods(steps: Sequence[tuple[float, int]], end_s: float) -> tuple[tuple[int, float], ...]:
    """The periods of a provisioned-concurrency timeline up to *end_s*: ``(count, seconds)``
    for each stretch at one level above 0, in order.

    *steps* are ``(time_s, count)`` changes, the first at 0 s; each count holds until the
    next change. AWS bills provisioned concurrency "from the time you enable it on your
    function until it is disabled, rounded up to the nearest 5 minutes"
    (https://aws.amazon.com/lambda/pricing/); it does not say how a change of the amount
    is rounded, so each period at one level is billed as its own period (rounded up on its
    own, :func:`provisioned_billed_seconds`): at most five minutes times the level more
    per change than rounding each unit of concurrency separately.

    >>> provisioned_periods([(0.0, 0), (7 * 3600.0, 100), (9 * 3600.0 + 180, 0)], 86400.0)
    ((100, 7380.0),)
    """
    levels: list[tuple[float, int]] = []
    for t, n in steps:
        if t < end_s and (not levels or levels[-1][1] != n):
            levels.append((float(t), int(n)))
    ends = [t for t, _ in levels[1:]] + [float(end_s)]
    return tuple((n, end - t) for (t, n), end in zip(levels, ends) if n > 0 and end > t)

