"""Lambda's bill: requests, duration in GB-seconds, provisioned concurrency, ephemeral storage.

AWS bills every Lambda request ($0.20 per million in us-east-1) and the duration of every
invocation in GB-seconds: billed milliseconds (:func:`~simulator.cost.metering.lambda_billed_ms`)
times the configured memory. The bill for a month of one or several functions is built in
three steps:

1. **the free tier** (1M requests and 400,000 GB-s a month, when asked for) is what is left of
   the month's allowances, shared in proportion to use among the functions it applies to: it
   "does not apply to functions that have Provisioned Concurrency enabled";
2. **on-demand duration** is priced in monthly volume tiers per architecture, applied to the
   aggregate of all the functions of that architecture (free units count as the month's first
   units), and each function gets its share in proportion to its GB-seconds;
3. **each function's lines**: its billable and free requests and duration; with provisioned
   concurrency, the configured environments for as long as they were enabled (rounded up to
   five minutes) and the lower duration rate of the invocations they served (spillover runs
   at on-demand rates); and ephemeral storage above the included 512 MB, per GB-second of
   duration.

Throttled invokes are not billed, so they are not in a :class:`LambdaUsage`.
Source: https://aws.amazon.com/lambda/pricing/
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from simulator.cost.breakdown import CostBreakdown, CostLine, _add_line
from simulator.cost.metering import (
    Prices,
    _already_used,
    _architecture,
    _integer,
    _memory,
    _non_negative,
    _table,
    gb_seconds,
    provisioned_billed_seconds,
)
from simulator.cost.pricing import ARCHITECTURES, PriceTable

__all__ = ["EPHEMERAL_STORAGE_INCLUDED_MB", "EPHEMERAL_STORAGE_MAX_MB", "LambdaUsage", "lambda_cost"]

#: Ephemeral storage (/tmp) included in the Lambda price, and the maximum that can be configured.
EPHEMERAL_STORAGE_INCLUDED_MB: int = 512
EPHEMERAL_STORAGE_MAX_MB: int = 10240


@dataclass(frozen=True)
class LambdaUsage:
    """One function's usage in a month (or part of one).

    *requests* counts every billed invocation, on-demand and provisioned. *billed_ms* is the
    total billed duration (see :func:`lambda_billed_ms`) of invocations on on-demand
    environments, *provisioned_billed_ms* that of invocations served by provisioned
    environments. *provisioned_seconds* is how long *provisioned_concurrency* environments
    were configured, before the five-minute rounding.

    Provisioned concurrency that changed over time is given instead as
    *provisioned_periods*, ``(count, seconds)`` at each level
    (:func:`~simulator.cost.metering.provisioned_periods`), each rounded up to five minutes
    on its own, the whole repeated *provisioned_repeat* times (a month of a typical day);
    *provisioned_concurrency* is then the highest count (it decides the free tier).
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
    provisioned_periods: tuple[tuple[int, float], ...] = ()
    provisioned_repeat: float = 1.0

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
        for i, (count, seconds) in enumerate(self.provisioned_periods):
            _integer(f"provisioned_periods[{i}] count", count, 1, self.provisioned_concurrency)
            _non_negative(f"provisioned_periods[{i}] seconds", seconds)
        _non_negative("provisioned_repeat", self.provisioned_repeat)
        if self.function is not None and not isinstance(self.function, str):
            raise ValueError(f"function must be a string or None, got {self.function!r}")

    @property
    def memory_gb(self) -> float:
        return self.memory_mb / 1024.0

    @property
    def on_demand_gb_seconds(self) -> float:
        return gb_seconds(self.billed_ms, self.memory_mb)

    @property
    def provisioned_unit_seconds(self) -> float:
        """Billed seconds of provisioned concurrency, summed over its units (before memory)."""
        if self.provisioned_periods:
            return self.provisioned_repeat * math.fsum(
                n * provisioned_billed_seconds(seconds) for n, seconds in self.provisioned_periods)
        return provisioned_billed_seconds(self.provisioned_seconds) * self.provisioned_concurrency


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
    free_requests, free_gbs = _free_allowances(usages, on_demand, free_tier, table, already_gbs, already_requests)
    billable_gbs = [max(0.0, g - f) for g, f in zip(on_demand, free_gbs, strict=True)]
    duration_usd = _tiered_duration(usages, billable_gbs, free_gbs, table, already_gbs)
    lines: list[CostLine] = []
    for i, u in enumerate(usages):
        _function_lines(lines, u, table, free_requests[i], billable_gbs[i], free_gbs[i], duration_usd[i])
    return CostBreakdown(tuple(lines))


def _free_allowances(
    usages: list[LambdaUsage],
    on_demand: list[float],
    free_tier: bool,
    table: PriceTable,
    already_gbs: Mapping[str, float],
    already_requests: float,
) -> tuple[list[float], list[float]]:
    """The free requests and GB-seconds of each function: with *free_tier*, the allowances
    left this month, shared in proportion to use among the functions without provisioned
    concurrency."""
    free_requests = [0.0] * len(usages)
    free_gbs = [0.0] * len(usages)
    if not free_tier:
        return free_requests, free_gbs
    eligible = [u.provisioned_concurrency == 0 for u in usages]
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
    return free_requests, free_gbs


def _tiered_duration(
    usages: list[LambdaUsage],
    billable_gbs: list[float],
    free_gbs: list[float],
    table: PriceTable,
    already_gbs: Mapping[str, float],
) -> list[float]:
    """Each function's on-demand duration cost: its architecture's tiers applied to the
    aggregate of its functions (free units first), shared in proportion to GB-seconds."""
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
    return duration_usd


def _function_lines(
    lines: list[CostLine],
    u: LambdaUsage,
    table: PriceTable,
    free_requests: float,
    billable_gbs: float,
    free_gbs: float,
    duration_usd: float,
) -> None:
    """One function's lines: requests, duration, provisioned concurrency, ephemeral storage."""
    arch = u.architecture
    add = functools.partial(_add_line, lines, "Lambda", u.function, None)
    requests_item = table["lambda.requests"]
    storage_item = table["lambda.ephemeral_storage"]
    billable_requests = max(0.0, u.requests - free_requests)
    add("Requests", billable_requests, "request", requests_item.cost(billable_requests), requests_item.key)
    add("Requests (free tier)", free_requests, "request", 0.0, "free_tier.lambda.requests")
    add(f"Duration ({arch})", billable_gbs, "GB-second", duration_usd, f"lambda.duration.{arch}")
    add("Duration (free tier)", free_gbs, "GB-second", 0.0, "free_tier.lambda.duration")
    if u.provisioned_concurrency > 0:
        pc_item = table[f"lambda.provisioned_concurrency.{arch}"]
        configured = u.provisioned_unit_seconds * u.memory_gb
        add(f"Provisioned concurrency ({arch})", configured, "GB-second", pc_item.cost(configured), pc_item.key)
        pd_item = table[f"lambda.provisioned_duration.{arch}"]
        served = gb_seconds(u.provisioned_billed_ms, u.memory_mb)
        add(f"Provisioned duration ({arch})", served, "GB-second", pd_item.cost(served), pd_item.key)
    extra_gb = (u.ephemeral_storage_mb - EPHEMERAL_STORAGE_INCLUDED_MB) / 1024.0
    storage = extra_gb * (u.billed_ms + u.provisioned_billed_ms) / 1000.0
    add("Ephemeral storage", storage, "GB-second", storage_item.cost(storage), storage_item.key)
