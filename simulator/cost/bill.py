"""Billing arithmetic: from aggregate monthly usage to a dollar breakdown.

What AWS bills, and the rules applied here (us-east-1 numbers live in the price file):

* **Lambda** bills every request ($0.20 per million) and the duration of every invocation in
  GB-seconds: the duration rounded up to the nearest 1 ms, times the configured memory in GB
  (memory_mb / 1024). Duration prices fall in monthly volume tiers per architecture. Provisioned
  concurrency bills the configured environments for as long as they are enabled, "rounded up to
  the nearest five minutes", plus a lower duration rate for invocations they serve; spillover
  runs at on-demand rates. Ephemeral storage above the included 512 MB is billed per GB-second
  of duration. The free tier (1M requests and 400,000 GB-s a month) "does not apply to functions
  that have Provisioned Concurrency enabled". Throttled invokes are not billed.
  Source: https://aws.amazon.com/lambda/pricing/
* **API Gateway** bills requests that reach the API (REST, HTTP) or WebSocket messages and
  connection minutes, in monthly tiers. HTTP API requests are metered in 512 KB increments and
  WebSocket messages in 32 KB increments, so a 513 KB request counts as two. Requests throttled
  by API Gateway or rejected for authorization are not billed. A REST cache is billed per hour
  by size and has no free tier. Source: https://aws.amazon.com/api-gateway/pricing/
* **Data transfer out** to the internet is billed per GB after 100 GB a month free across the
  account; **CloudWatch Logs** bills ingestion per GB.

Functions here are pure: they take monthly quantities (already aggregated by the caller) and
a price table, and return a :class:`CostBreakdown`. Free tiers are off by default, because a
simulated workload usually shares its account with others. ``already_used`` arguments place
a run's usage at its position in the month, so that tiers and free allowances apply correctly.

Bytes are converted to GB with 1 GB = 2**30 bytes, the convention AWS uses on its bills.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from simulator.cost.pricing import ARCHITECTURES, PriceItem, PriceTable, load_prices

__all__ = [
    "BYTES_PER_GB",
    "EPHEMERAL_STORAGE_INCLUDED_MB",
    "EPHEMERAL_STORAGE_MAX_MB",
    "HOURS_PER_MONTH",
    "LOG_CLASSES",
    "MEMORY_MB_MAX",
    "MEMORY_MB_MIN",
    "PROVISIONED_ROUNDING_SECONDS",
    "SERVICES",
    "CostBreakdown",
    "CostLine",
    "LambdaUsage",
    "analytic_monthly_cost",
    "api_gateway_cost",
    "data_transfer_cost",
    "gb_seconds",
    "http_metered_requests",
    "lambda_billed_ms",
    "lambda_cost",
    "logs_cost",
    "provisioned_billed_seconds",
    "websocket_metered_messages",
]

#: Bytes in one billed GB.
BYTES_PER_GB: int = 2**30
#: Hours in a billing month, the convention of the AWS Pricing Calculator.
HOURS_PER_MONTH: float = 730.0
#: Lambda memory limits (MB), inclusive.
MEMORY_MB_MIN: int = 128
MEMORY_MB_MAX: int = 10240
#: Ephemeral storage (/tmp) included in the Lambda price, and the maximum that can be configured.
EPHEMERAL_STORAGE_INCLUDED_MB: int = 512
EPHEMERAL_STORAGE_MAX_MB: int = 10240
#: Provisioned concurrency time is rounded up to a multiple of this many seconds.
PROVISIONED_ROUNDING_SECONDS: int = 300
#: Services in the order they are reported.
SERVICES: tuple[str, ...] = ("API Gateway", "Lambda", "CloudWatch Logs", "Data Transfer")
#: CloudWatch Logs ingestion classes and their price keys.
LOG_CLASSES: Mapping[str, str] = {
    "standard": "cloudwatch_logs.ingestion.standard",
    "infrequent_access": "cloudwatch_logs.ingestion.infrequent_access",
}

# Durations are rounded to this many decimals of a millisecond before rounding up to whole
# milliseconds, so that floating-point noise (200.00000000000003) is not billed as 201 ms.
_MS_GRID_DECIMALS = 6
_ROUND_DECIMALS = 6

Prices = PriceTable | str


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostLine:
    """One billed quantity: *quantity* of *unit* of *service*/*item*, costing *usd*.

    *function* and *client* optionally attribute the line to a Lambda function or an API client.
    *price_key* is the price-file key used, so an explanation view can show the price's source.
    """

    service: str
    item: str
    quantity: float
    unit: str
    usd: float
    function: str | None = None
    client: str | None = None
    price_key: str | None = None

    def __post_init__(self) -> None:
        for name in ("service", "item", "unit"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        _non_negative("quantity", self.quantity)
        _non_negative("usd", self.usd)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, amounts rounded to 1e-6."""
        return {
            "service": self.service,
            "item": self.item,
            "function": self.function,
            "client": self.client,
            "quantity": _rounded(self.quantity),
            "unit": self.unit,
            "usd": _rounded(self.usd),
            "price_key": self.price_key,
        }


@dataclass(frozen=True)
class CostBreakdown:
    """A bill: a sequence of :class:`CostLine`. Breakdowns add up with ``+`` and ``sum()``."""

    lines: tuple[CostLine, ...] = ()

    def __post_init__(self) -> None:
        lines = tuple(self.lines)
        for index, line in enumerate(lines):
            if not isinstance(line, CostLine):
                raise TypeError(f"lines[{index}] must be a CostLine, got {line!r}")
        object.__setattr__(self, "lines", lines)

    @property
    def total_usd(self) -> float:
        """Sum of all lines, in USD."""
        return math.fsum(line.usd for line in self.lines)

    def by_service(self) -> dict[str, float]:
        """USD per service, in :data:`SERVICES` order (others after, alphabetically)."""
        groups = _group(self.lines, lambda line: line.service)
        order = [s for s in SERVICES if s in groups] + sorted(set(groups) - set(SERVICES))
        return {service: groups[service] for service in order}

    def by_item(self) -> dict[tuple[str, str], float]:
        """USD per ``(service, item)``, in order of first appearance."""
        return _group(self.lines, lambda line: (line.service, line.item))

    def by_function(self) -> dict[str | None, float]:
        """USD per Lambda function label (``None`` for lines without one)."""
        return _group(self.lines, lambda line: line.function)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with a fixed key order; amounts are floats rounded to 1e-6."""
        return {
            "currency": "USD",
            "total_usd": _rounded(self.total_usd),
            "by_service": {k: _rounded(v) for k, v in self.by_service().items()},
            "lines": [line.to_dict() for line in self.lines],
        }

    def __add__(self, other: CostBreakdown) -> CostBreakdown:
        if not isinstance(other, CostBreakdown):
            return NotImplemented
        return CostBreakdown(self.lines + other.lines)

    def __radd__(self, other: object) -> CostBreakdown:
        # Lets sum(breakdowns) start from its default 0.
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self
        return NotImplemented


def _add_line(
    lines: list[CostLine],
    service: str,
    function: str | None,
    client: str | None,
    item: str,
    quantity: float,
    unit: str,
    usd: float,
    key: str,
) -> None:
    """Append a line unless its quantity is zero."""
    if quantity > 0:
        lines.append(CostLine(service, item, quantity, unit, usd, function, client, key))


def _group(lines: Iterable[CostLine], key: Any) -> dict[Any, float]:
    parts: dict[Any, list[float]] = {}
    for line in lines:
        parts.setdefault(key(line), []).append(line.usd)
    return {k: math.fsum(v) for k, v in parts.items()}


def _rounded(value: float) -> float:
    return round(float(value), _ROUND_DECIMALS) + 0.0


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


def _already_used(name: str, value: Mapping[str, float] | None, allowed: Sequence[str]) -> dict[str, float]:
    out = dict.fromkeys(allowed, 0.0)
    for key, amount in (value or {}).items():
        if key not in out:
            raise ValueError(f"{name} has unknown key {key!r} (allowed: {', '.join(allowed)})")
        out[key] = _non_negative(f"{name}[{key!r}]", amount)
    return out


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


# --------------------------------------------------------------------------------------------
# Lambda
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LambdaUsage:
    """One function's usage in a month (or part of one).

    *requests* counts every billed invocation, on-demand and provisioned. *billed_ms* is the
    total billed duration (see :func:`lambda_billed_ms`) of invocations on on-demand
    environments, *provisioned_billed_ms* that of invocations served by provisioned
    environments. *provisioned_seconds* is how long *provisioned_concurrency* environments
    were configured, before the five-minute rounding.
    """

    requests: float
    billed_ms: float
    memory_mb: int
    architecture: str = "x86_64"
    provisioned_concurrency: int = 0
    provisioned_seconds: float = 0.0
    provisioned_billed_ms: float = 0.0
    ephemeral_storage_mb: int = EPHEMERAL_STORAGE_INCLUDED_MB
    function: str | None = None

    def __post_init__(self) -> None:
        _non_negative("requests", self.requests)
        _non_negative("billed_ms", self.billed_ms)
        _memory("memory_mb", self.memory_mb)
        _architecture("architecture", self.architecture)
        _integer("provisioned_concurrency", self.provisioned_concurrency, 0)
        _non_negative("provisioned_seconds", self.provisioned_seconds)
        _non_negative("provisioned_billed_ms", self.provisioned_billed_ms)
        _integer(
            "ephemeral_storage_mb",
            self.ephemeral_storage_mb,
            EPHEMERAL_STORAGE_INCLUDED_MB,
            EPHEMERAL_STORAGE_MAX_MB,
        )
        if self.provisioned_concurrency == 0 and (self.provisioned_billed_ms > 0 or self.provisioned_seconds > 0):
            raise ValueError(
                "provisioned_billed_ms and provisioned_seconds must be 0 when "
                f"provisioned_concurrency is 0, got {self.provisioned_billed_ms!r} and "
                f"{self.provisioned_seconds!r}"
            )
        if self.function is not None and not isinstance(self.function, str):
            raise ValueError(f"function must be a string or None, got {self.function!r}")

    @property
    def memory_gb(self) -> float:
        return self.memory_mb / 1024.0

    @property
    def on_demand_gb_seconds(self) -> float:
        return gb_seconds(self.billed_ms, self.memory_mb)


def _share(total: float, part: float, whole: float) -> float:
    return total * (part / whole) if whole > 0 else 0.0


def lambda_cost(
    usage: LambdaUsage | Iterable[LambdaUsage],
    *,
    free_tier: bool = False,
    already_used_gb_s: Mapping[str, float] | None = None,
    already_used_requests: float = 0.0,
    prices: Prices = "us-east-1",
) -> CostBreakdown:
    """Lambda bill for one function's usage or several functions' usages in the same account.

    On-demand duration is priced in the architecture's volume tiers applied to the aggregate of
    all given functions of that architecture, at the month position *already_used_gb_s*
    (GB-seconds per architecture used earlier this month); each function gets its share in
    proportion to its GB-seconds. With *free_tier*, the monthly allowances (less what
    *already_used_requests* and *already_used_gb_s* consumed) are shared, in proportion to use,
    among functions without provisioned concurrency; free units count as the first units of the
    month for the tiers.

    >>> bill = lambda_cost(LambdaUsage(requests=3e6, billed_ms=3e9, memory_mb=512), free_tier=True)
    >>> round(bill.total_usd, 2)
    18.73
    """
    usages = [usage] if isinstance(usage, LambdaUsage) else list(usage)
    for index, item in enumerate(usages):
        if not isinstance(item, LambdaUsage):
            raise TypeError(f"usage[{index}] must be a LambdaUsage, got {item!r}")
    if not isinstance(free_tier, bool):
        raise TypeError(f"free_tier must be True or False, got {free_tier!r}")
    table = _table(prices)
    already_gbs = _already_used("already_used_gb_s", already_used_gb_s, ARCHITECTURES)
    already_requests = _non_negative("already_used_requests", already_used_requests)

    on_demand = [u.on_demand_gb_seconds for u in usages]
    eligible = [free_tier and u.provisioned_concurrency == 0 for u in usages]

    # Free allowances left this month, shared among eligible functions in proportion to use.
    free_requests = [0.0] * len(usages)
    free_gbs = [0.0] * len(usages)
    if free_tier:
        left_requests = max(0.0, table["free_tier.lambda.requests"].allowance - already_requests)
        left_gbs = max(0.0, table["free_tier.lambda.duration"].allowance - math.fsum(already_gbs.values()))
        eligible_requests = math.fsum(u.requests for u, e in zip(usages, eligible, strict=True) if e)
        eligible_gbs = math.fsum(g for g, e in zip(on_demand, eligible, strict=True) if e)
        used_requests = min(eligible_requests, left_requests)
        used_gbs = min(eligible_gbs, left_gbs)
        for i, u in enumerate(usages):
            if eligible[i]:
                free_requests[i] = min(u.requests, _share(used_requests, u.requests, eligible_requests))
                free_gbs[i] = min(on_demand[i], _share(used_gbs, on_demand[i], eligible_gbs))
    billable_gbs = [max(0.0, g - f) for g, f in zip(on_demand, free_gbs, strict=True)]

    # Tiered on-demand duration per architecture, over the aggregate of its functions.
    duration_usd = [0.0] * len(usages)
    for arch in ARCHITECTURES:
        members = [i for i, u in enumerate(usages) if u.architecture == arch]
        if not members:
            continue
        total = math.fsum(billable_gbs[i] for i in members)
        free_here = math.fsum(free_gbs[i] for i in members)
        arch_usd = table[f"lambda.duration.{arch}"].cost(total, already_used=already_gbs[arch] + free_here)
        for i in members:
            duration_usd[i] = _share(arch_usd, billable_gbs[i], total)

    lines: list[CostLine] = []
    requests_item = table["lambda.requests"]
    storage_item = table["lambda.ephemeral_storage"]
    for i, u in enumerate(usages):
        arch = u.architecture
        add = functools.partial(_add_line, lines, "Lambda", u.function, None)

        billable_requests = max(0.0, u.requests - free_requests[i])
        add("Requests", billable_requests, "request", requests_item.cost(billable_requests), requests_item.key)
        add("Requests (free tier)", free_requests[i], "request", 0.0, "free_tier.lambda.requests")
        add(f"Duration ({arch})", billable_gbs[i], "GB-second", duration_usd[i], f"lambda.duration.{arch}")
        add("Duration (free tier)", free_gbs[i], "GB-second", 0.0, "free_tier.lambda.duration")
        if u.provisioned_concurrency > 0:
            pc_item = table[f"lambda.provisioned_concurrency.{arch}"]
            configured = provisioned_billed_seconds(u.provisioned_seconds) * u.provisioned_concurrency * u.memory_gb
            add(f"Provisioned concurrency ({arch})", configured, "GB-second", pc_item.cost(configured), pc_item.key)
            pd_item = table[f"lambda.provisioned_duration.{arch}"]
            served = gb_seconds(u.provisioned_billed_ms, u.memory_mb)
            add(f"Provisioned duration ({arch})", served, "GB-second", pd_item.cost(served), pd_item.key)
        extra_gb = (u.ephemeral_storage_mb - EPHEMERAL_STORAGE_INCLUDED_MB) / 1024.0
        storage = extra_gb * (u.billed_ms + u.provisioned_billed_ms) / 1000.0
        add("Ephemeral storage", storage, "GB-second", storage_item.cost(storage), storage_item.key)
    return CostBreakdown(tuple(lines))


# --------------------------------------------------------------------------------------------
# API Gateway, CloudWatch Logs, data transfer
# --------------------------------------------------------------------------------------------


def _metered_lines(
    *,
    service: str,
    item_name: str,
    unit: str,
    price: PriceItem,
    free: PriceItem | None,
    quantity: float,
    already_used: float,
    client: str | None = None,
    function: str | None = None,
) -> list[CostLine]:
    """Lines for one tiered or flat item, with an optional free allowance taken first."""
    free_units = 0.0
    if free is not None:
        free_units = min(quantity, max(0.0, free.allowance - already_used))
    billable = quantity - free_units
    usd = price.cost(billable, already_used=already_used + free_units)
    lines = []
    if billable > 0:
        lines.append(CostLine(service, item_name, billable, unit, usd, function, client, price.key))
    if free_units > 0:
        assert free is not None
        lines.append(CostLine(service, f"{item_name} (free tier)", free_units, unit, 0.0, function, client, free.key))
    return lines


_API_QUANTITIES = (
    "rest_requests",
    "http_requests",
    "websocket_messages",
    "websocket_connection_minutes",
)


def api_gateway_cost(
    *,
    rest_requests: float = 0.0,
    http_requests: float = 0.0,
    websocket_messages: float = 0.0,
    websocket_connection_minutes: float = 0.0,
    cache_size_gb: float | None = None,
    cache_hours: float = 0.0,
    free_tier: bool = False,
    already_used: Mapping[str, float] | None = None,
    client: str | None = None,
    prices: Prices = "us-east-1",
) -> CostBreakdown:
    """API Gateway bill for a month's billed requests, messages, connection minutes and cache.

    *http_requests* and *websocket_messages* are metered counts (see
    :func:`http_metered_requests`). Requests throttled by API Gateway are not billed, so leave
    them out. *already_used* maps any of ``rest_requests``, ``http_requests``,
    ``websocket_messages``, ``websocket_connection_minutes`` to the amount used earlier this
    month (for tiers and the free tier). *free_tier* applies the 12-month free tier; the cache
    is never free.

    >>> round(api_gateway_cost(rest_requests=400e6).total_usd, 2)
    1353.1
    """
    quantities = {
        "rest_requests": _non_negative("rest_requests", rest_requests),
        "http_requests": _non_negative("http_requests", http_requests),
        "websocket_messages": _non_negative("websocket_messages", websocket_messages),
        "websocket_connection_minutes": _non_negative("websocket_connection_minutes", websocket_connection_minutes),
    }
    hours = _non_negative("cache_hours", cache_hours)
    if not isinstance(free_tier, bool):
        raise TypeError(f"free_tier must be True or False, got {free_tier!r}")
    used = _already_used("already_used", already_used, _API_QUANTITIES)
    table = _table(prices)

    cache_item: PriceItem | None = None
    if cache_size_gb is not None:
        size = _non_negative("cache_size_gb", cache_size_gb)
        sizes = table.cache_sizes()
        matches = [item for gb, item in sizes.items() if math.isclose(gb, size, rel_tol=1e-9)]
        if not matches:
            listed = ", ".join(f"{gb:g}" for gb in sizes) or "none"
            raise ValueError(f"cache_size_gb must be one of {listed} (GB), got {cache_size_gb!r}")
        cache_item = matches[0]
    elif hours > 0:
        raise ValueError(f"cache_hours is {cache_hours!r} but cache_size_gb is None")

    spec = (
        ("rest_requests", "REST requests", "request", "apigateway.rest.requests"),
        ("http_requests", "HTTP requests", "request", "apigateway.http.requests"),
        ("websocket_messages", "WebSocket messages", "message", "apigateway.websocket.messages"),
        (
            "websocket_connection_minutes",
            "WebSocket connection minutes",
            "connection minute",
            "apigateway.websocket.connection_minutes",
        ),
    )
    lines: list[CostLine] = []
    for name, item_name, unit, key in spec:
        lines += _metered_lines(
            service="API Gateway",
            item_name=item_name,
            unit=unit,
            price=table[key],
            free=table[f"free_tier.{key}"] if free_tier else None,
            quantity=quantities[name],
            already_used=used[name],
            client=client,
        )
    if cache_item is not None and hours > 0:
        assert cache_item.size_gb is not None
        lines.append(
            CostLine(
                "API Gateway",
                f"Cache ({cache_item.size_gb:g} GB)",
                hours,
                "hour",
                cache_item.cost(hours),
                None,
                client,
                cache_item.key,
            )
        )
    return CostBreakdown(tuple(lines))


def logs_cost(
    ingested_bytes: float,
    *,
    log_class: str = "standard",
    function: str | None = None,
    prices: Prices = "us-east-1",
) -> CostBreakdown:
    """CloudWatch Logs ingestion bill for *ingested_bytes* of log events.

    >>> round(logs_cost(10 * 2**30).total_usd, 2)   # 10 GB at $0.50/GB
    5.0
    """
    amount = _non_negative("ingested_bytes", ingested_bytes)
    if log_class not in LOG_CLASSES:
        raise ValueError(f"log_class must be one of {', '.join(LOG_CLASSES)}, got {log_class!r}")
    item = _table(prices)[LOG_CLASSES[log_class]]
    gb = amount / BYTES_PER_GB
    if gb == 0:
        return CostBreakdown()
    return CostBreakdown(
        (CostLine("CloudWatch Logs", f"Ingestion ({log_class})", gb, "GB", item.cost(gb), function, None, item.key),)
    )


def data_transfer_cost(
    bytes_out: float,
    *,
    free_tier: bool = False,
    already_used_gb: float = 0.0,
    client: str | None = None,
    prices: Prices = "us-east-1",
) -> CostBreakdown:
    """Data-transfer-out (to the internet) bill for *bytes_out* bytes, in monthly GB tiers.

    With *free_tier*, the account's 100 GB a month (less *already_used_gb*) is free.

    >>> round(data_transfer_cost(200 * 2**30, free_tier=True).total_usd, 2)   # 100 GB x $0.09
    9.0
    """
    amount = _non_negative("bytes_out", bytes_out)
    used = _non_negative("already_used_gb", already_used_gb)
    if not isinstance(free_tier, bool):
        raise TypeError(f"free_tier must be True or False, got {free_tier!r}")
    table = _table(prices)
    lines = _metered_lines(
        service="Data Transfer",
        item_name="Out to internet",
        unit="GB",
        price=table["data_transfer.out.internet"],
        free=table["free_tier.data_transfer.out"] if free_tier else None,
        quantity=amount / BYTES_PER_GB,
        already_used=used,
        client=client,
    )
    return CostBreakdown(tuple(lines))


# --------------------------------------------------------------------------------------------
# Analytic mode
# --------------------------------------------------------------------------------------------


def analytic_monthly_cost(
    api: str,
    monthly_requests: float,
    duration_ms: float,
    memory_mb: int,
    architecture: str = "x86_64",
    request_bytes: int = 1024,
    response_bytes: int = 1024,
    provisioned_concurrency: int = 0,
    free_tier: bool = False,
    log_bytes_per_request: int = 0,
    region: str = "us-east-1",
    *,
    prices: PriceTable | None = None,
) -> CostBreakdown:
    """Monthly cost from averages alone, without simulation (like Infracost's usage files).

    Every request is assumed to succeed, take *duration_ms* and be billed; responses are
    transferred out to the internet. With *provisioned_concurrency*, the environments are
    configured all month (730 hours) and requests are spread evenly over the month: the mean
    concurrency ``monthly_requests x duration / month`` is served by provisioned environments
    up to *provisioned_concurrency*, and the rest spills over to on-demand rates.

    >>> round(analytic_monthly_cost("HTTP", 100e6, 100, 128).by_service()["API Gateway"], 2)
    100.0
    """
    if api not in ("REST", "HTTP"):
        raise ValueError(f"api must be 'REST' or 'HTTP', got {api!r}")
    requests = _non_negative("monthly_requests", monthly_requests)
    duration = _non_negative("duration_ms", duration_ms)
    memory = _memory("memory_mb", memory_mb)
    arch = _architecture("architecture", architecture)
    req_bytes = _integer("request_bytes", request_bytes, 0)
    resp_bytes = _integer("response_bytes", response_bytes, 0)
    pc = _integer("provisioned_concurrency", provisioned_concurrency, 0)
    log_bytes = _integer("log_bytes_per_request", log_bytes_per_request, 0)
    if not isinstance(free_tier, bool):
        raise TypeError(f"free_tier must be True or False, got {free_tier!r}")
    table = prices if prices is not None else _table(region)

    billed_total = requests * lambda_billed_ms(duration)
    month_seconds = HOURS_PER_MONTH * 3600.0
    on_pc = 0.0
    if pc > 0:
        mean_concurrency = requests * duration / 1000.0 / month_seconds
        on_pc = 1.0 if mean_concurrency <= pc else pc / mean_concurrency
    usage = LambdaUsage(
        requests=requests,
        billed_ms=billed_total * (1.0 - on_pc),
        memory_mb=memory,
        architecture=arch,
        provisioned_concurrency=pc,
        provisioned_seconds=month_seconds if pc > 0 else 0.0,
        provisioned_billed_ms=billed_total * on_pc,
    )
    if api == "REST":
        gateway = api_gateway_cost(rest_requests=requests, free_tier=free_tier, prices=table)
    else:
        metered = requests * http_metered_requests(req_bytes, prices=table)
        gateway = api_gateway_cost(http_requests=metered, free_tier=free_tier, prices=table)
    return (
        gateway
        + lambda_cost(usage, free_tier=free_tier, prices=table)
        + logs_cost(requests * log_bytes, prices=table)
        + data_transfer_cost(requests * resp_bytes, free_tier=free_tier, prices=table)
    )
