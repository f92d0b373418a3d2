"""Billing arithmetic: from aggregate monthly usage to a dollar breakdown.

What AWS bills, and the rules applied here (us-east-1 numbers live in the price file):

* **Lambda** bills every request ($0.20 per million) and the duration of every invocation in
  GB-seconds (see :mod:`simulator.cost.metering` for the rounding). Duration prices fall in
  monthly volume tiers per architecture. Provisioned concurrency bills the configured
  environments for as long as they are enabled, rounded up to five minutes, plus a lower
  duration rate for invocations they serve; spillover runs at on-demand rates. Ephemeral
  storage above the included 512 MB is billed per GB-second of duration. The free tier
  (1M requests and 400,000 GB-s a month) "does not apply to functions that have Provisioned
  Concurrency enabled". Throttled invokes are not billed.
  Source: https://aws.amazon.com/lambda/pricing/
* **API Gateway** bills requests that reach the API (REST, HTTP) or WebSocket messages and
  connection minutes, in monthly tiers; HTTP requests and WebSocket messages are counted in
  size increments (:func:`http_metered_requests`, :func:`websocket_metered_messages`). Requests
  throttled by API Gateway or rejected for authorization are not billed. A REST cache is billed
  per hour by size and has no free tier. Source: https://aws.amazon.com/api-gateway/pricing/
* **Data transfer out** to the internet is billed per GB after 100 GB a month free across the
  account; **CloudWatch Logs** bills ingestion per GB.

Functions here are pure: they take monthly quantities (already aggregated by the caller) and
a price table, and return a :class:`~simulator.cost.breakdown.CostBreakdown`. Free tiers are
off by default, because a simulated workload usually shares its account with others.
``already_used`` arguments place a run's usage at its position in the month, so that tiers and
free allowances apply correctly.

Bytes are converted to GB with 1 GB = 2**30 bytes, the convention AWS uses on its bills.

The cost records (:mod:`simulator.cost.breakdown`) and the metering rules
(:mod:`simulator.cost.metering`) are importable from here as well.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.cost.breakdown import SERVICES, CostBreakdown, CostLine, _add_line, _metered_lines
from simulator.cost.metering import (
    MEMORY_MB_MAX,
    MEMORY_MB_MIN,
    PROVISIONED_ROUNDING_SECONDS,
    Prices,
    _integer,
    _memory,
    _non_negative,
    _table,
    gb_seconds,
    http_metered_requests,
    lambda_billed_ms,
    provisioned_billed_seconds,
    websocket_metered_messages,
)
from simulator.cost.pricing import ARCHITECTURES, PriceItem, PriceTable

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
#: Ephemeral storage (/tmp) included in the Lambda price, and the maximum that can be configured.
EPHEMERAL_STORAGE_INCLUDED_MB: int = 512
EPHEMERAL_STORAGE_MAX_MB: int = 10240
#: CloudWatch Logs ingestion classes and their price keys.
LOG_CLASSES: Mapping[str, str] = {
    "standard": "cloudwatch_logs.ingestion.standard",
    "infrequent_access": "cloudwatch_logs.ingestion.infrequent_access",
}


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


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
