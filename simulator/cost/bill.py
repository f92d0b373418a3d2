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

The cost records (:mod:`simulator.cost.breakdown`), the metering rules
(:mod:`simulator.cost.metering`) and Lambda's bill (:mod:`simulator.cost.lambda_bill`) are
importable from here as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from simulator.cost.breakdown import SERVICES, CostBreakdown, CostLine, _metered_lines
from simulator.cost.lambda_bill import (
    EPHEMERAL_STORAGE_INCLUDED_MB,
    EPHEMERAL_STORAGE_MAX_MB,
    LambdaUsage,
    lambda_cost,
)
from simulator.cost.metering import (
    MEMORY_MB_MAX,
    MEMORY_MB_MIN,
    PROVISIONED_ROUNDING_SECONDS,
    Prices,
    _already_used,
    _architecture,
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
from simulator.cost.pricing import PriceItem, PriceTable

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
#: CloudWatch Logs ingestion classes and their price keys.
LOG_CLASSES: Mapping[str, str] = {
    "standard": "cloudwatch_logs.ingestion.standard",
    "infrequent_access": "cloudwatch_logs.ingestion.infrequent_access",
}


# --------------------------------------------------------------------------------------------
# API Gateway, CloudWatch Logs, data transfer
# --------------------------------------------------------------------------------------------


_API_QUANTITIES = (
    "rest_requests",
    "http_requests",
    "websocket_messages",
    "websocket_connection_minutes",
)


#: Each metered API Gateway quantity: its name, its line's name, its unit, its price key.
_API_METERED = (
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

    cache_item = _cache_item(table, cache_size_gb, cache_hours, hours)
    lines: list[CostLine] = []
    for name, item_name, unit, key in _API_METERED:
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


def _cache_item(table: PriceTable, cache_size_gb: float | None, cache_hours: float, hours: float) -> PriceItem | None:
    """The price of the cache of *cache_size_gb* (one of the sizes API Gateway offers), or
    None without a cache; cache hours need a cache size."""
    if cache_size_gb is None:
        if hours > 0:
            raise ValueError(f"cache_hours is {cache_hours!r} but cache_size_gb is None")
        return None
    size = _non_negative("cache_size_gb", cache_size_gb)
    sizes = table.cache_sizes()
    matches = [item for gb, item in sizes.items() if math.isclose(gb, size, rel_tol=1e-9)]
    if not matches:
        listed = ", ".join(f"{gb:g}" for gb in sizes) or "none"
        raise ValueError(f"cache_size_gb must be one of {listed} (GB), got {cache_size_gb!r}")
    return matches[0]


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
