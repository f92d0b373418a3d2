"""Composed months: one bill for a month made of different kinds of day.

A single run's monthly figure stretches that run to 730 hours ("× 730 h / 15m of this run"):
fine for a typical window, wrong for a peak. A real month is, say, one sale day and 29
ordinary days. A *composed month* says so::

    peak.toml:1d,normal.toml:29d

Each *part* is a scenario run once and the *share* of the month it stands for. Its billed
quantities (API Gateway requests, Lambda requests and GB-seconds, bytes out, log bytes) are
multiplied by ``share / run duration`` (for ``1d`` of a 15-minute run: ``× 24 h / 15m``,
96 times), and provisioned concurrency is billed for the part's share of the month.

**One bill, not a sum of bills.** AWS applies its volume tiers and free allowances to the
month's total, so the scaled quantities of every part are added first and priced once with
the monthly tiers (:mod:`simulator.cost.bill`). Each line's cost is then shared among the
parts in proportion to their part of its quantity (every unit of a line costs the line's
average price, the rule :mod:`simulator.cost.usage` uses between clients); a Lambda line
belongs to the part whose function it bills. So the parts' costs add up to the total exactly,
and without tiers a part costs what its own run costs times its scale.

**The month's length.** The shares must add up to a calendar month: 28 to 31 days
(:data:`MONTH_DAYS`). The total is then a bill for that many days (a 30-day month is
720 hours, not the 730 hours of a single run's monthly figure), and the output says which.
All parts are priced in the first part's Region; parts in different Regions are refused.

Usage::

    parts = parse_month("scenarios/flash_sale.toml:1d,scenarios/http_api_routes.toml:29d")
    runs = [(simulate(load_scenario(path)), share_s) for path, share_s in parts]
    month = compose_month(runs, labels=[path for path, _ in parts])
    month.total_usd, month.by_part
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from simulator.cost.bill import (
    CostBreakdown,
    CostLine,
    LambdaUsage,
    api_gateway_cost,
    data_transfer_cost,
    lambda_cost,
    logs_cost,
)
from simulator.cost.breakdown import items_by_service, rounded_usd
from simulator.cost.pricing import PriceTable, load_prices
from simulator.cost.usage import Usage
from simulator.limits import echo
from simulator.units import format_duration, parse_duration

if TYPE_CHECKING:
    from simulator.results.records import Result
    from simulator.scenario import Scenario

__all__ = ["MAX_MONTH_PARTS", "MONTH_DAYS", "ComposedMonth", "MonthPart", "compose_month", "parse_month"]

#: The shortest and longest calendar month, in days: the shares must add up to a value between.
MONTH_DAYS = (28.0, 31.0)

#: At most this many parts (one per day of the longest month).
MAX_MONTH_PARTS = 31

_DAY_S = 86400.0

# Which quantity of a part an account-wide line is shared by, from the line's price key.
_SHARED_BY = (
    ("apigateway.rest.", "rest"),
    ("free_tier.apigateway.rest.", "rest"),
    ("apigateway.http.", "http"),
    ("free_tier.apigateway.http.", "http"),
    ("data_transfer.", "transfer"),
    ("free_tier.data_transfer.", "transfer"),
    ("cloudwatch_logs.", "logs"),
)


def parse_month(text: str, option: str = "--month") -> list[tuple[str, float]]:
    """Read ``"PATH:SHARE,PATH:SHARE,..."`` into ``[(path, share in seconds), ...]``.

    A share is a duration with its unit (``1d``, ``29d``, ``12h``); the shares must add up
    to 28-31 days. Anything else raises a one-line :class:`ValueError` naming the part.

    >>> parse_month("peak.toml:1d,normal.toml:29d")
    [('peak.toml', 86400.0), ('normal.toml', 2505600.0)]
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{option}: expected PATH:DAYS,PATH:DAYS, e.g. peak.toml:1d,normal.toml:29d")
    items = [p.strip() for p in text.split(",")]
    if len(items) > MAX_MONTH_PARTS:
        raise ValueError(f"{option}: at most {MAX_MONTH_PARTS} parts, got {len(items)}")
    out: list[tuple[str, float]] = []
    for item in items:
        path, sep, share = item.rpartition(":")
        if not sep or not path.strip() or not share.strip():
            raise ValueError(f"{option} {echo(item)}: expected PATH:DAYS, e.g. peak.toml:1d")
        try:
            seconds = parse_duration(share.strip())
        except ValueError as exc:
            raise ValueError(f"{option} {echo(item)}: {exc}") from None
        if seconds <= 0:
            raise ValueError(f"{option} {echo(item)}: the share must be longer than 0s")
        out.append((path.strip(), seconds))
    days = math.fsum(s for _, s in out) / _DAY_S
    low, high = MONTH_DAYS
    if not low - 1e-9 <= days <= high + 1e-9:
        raise ValueError(f"{option}: the parts add up to {days:g} days; a month is {low:g} to {high:g} days "
                         "(e.g. peak.toml:1d,normal.toml:29d)")
    return out


@dataclass(frozen=True)
class MonthPart:
    """One part of a composed month: a run and the seconds of the month it stands for."""

    label: str
    scenario: Scenario
    share_s: float
    #: This part's USD of the month (its share of every line).
    usd: float

    @property
    def scale(self) -> float:
        """How many times the run is counted: ``share_s / run duration``."""
        return self.share_s / float(self.scenario.duration)

    @property
    def basis(self) -> str:
        """``"× 24 h / 15m of this run"``: the multiplier in words."""
        return f"\u00d7 {self.share_s / 3600.0:g} h / {format_duration(float(self.scenario.duration))} of this run"


@dataclass(frozen=True)
class ComposedMonth:
    """A month's bill composed from several runs (see the module docstring)."""

    parts: tuple[MonthPart, ...]
    bill: CostBreakdown
    free_tier: bool
    bill_init: bool
    region: str

    @property
    def total_usd(self) -> float:
        return self.bill.total_usd

    @property
    def days(self) -> float:
        return math.fsum(p.share_s for p in self.parts) / _DAY_S

    @property
    def by_part(self) -> tuple[float, ...]:
        return tuple(p.usd for p in self.parts)

    @property
    def basis(self) -> str:
        """``"30 days (720 h): 1d of flash-sale + 29d of http-api-routes"``."""
        parts = " + ".join(f"{format_duration(p.share_s)} of {p.scenario.name}" for p in self.parts)
        return f"{self.days:g} days ({self.days * 24:g} h): {parts}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with a stable key order; amounts rounded to 1e-6."""
        return {
            "month_days": round(self.days, 9),
            "month_total": rounded_usd(self.total_usd),
            "basis": self.basis,
            "parts": [
                {"source": p.label, "scenario": p.scenario.name, "share_days": round(p.share_s / _DAY_S, 9),
                 "run_duration_s": float(p.scenario.duration), "scale": round(p.scale, 9), "basis": p.basis,
                 "usd": rounded_usd(p.usd)}
                for p in self.parts
            ],
            "monthly": items_by_service(self.bill),
            "free_tier": self.free_tier,
            "bill_init": self.bill_init,
            "region": self.region,
        }


def compose_month(
    runs: Sequence[tuple[Result, float]],
    *,
    labels: Sequence[str] | None = None,
    free_tier: bool = False,
    bill_init: bool = True,
    prices: PriceTable | str | None = None,
) -> ComposedMonth:
    """One month's bill from *runs*: ``(result, share in seconds)`` pairs (see the module
    docstring). *labels* name the parts in the output (default: the scenarios' names);
    *prices* defaults to the first scenario's Region. The shares are not checked against
    :data:`MONTH_DAYS` here (:func:`parse_month` does): a caller may price a fortnight."""
    if not runs:
        raise ValueError("give at least one run and its share of the month")
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"labels: {len(labels)} labels for {len(runs)} runs")
    for result, share in runs:
        if not hasattr(result, "attempts"):
            raise TypeError(f"{result.scenario.name}: compose_month needs a run with its records "
                            "(simulate(..., record=True))")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not (share > 0 and math.isfinite(share)):
            raise ValueError(f"{result.scenario.name}: the share must be a number of seconds > 0, got {share!r}")
        changing = [f.name for f in result.scenario.functions if f.changes_concurrency]
        if changing:
            raise ValueError(f"{result.scenario.name}: function {changing[0]!r} changes its concurrency during the "
                             "run (a schedule or target tracking); a composed month takes parts with fixed "
                             "concurrency (price that scenario alone with throttlesim cost)")
    regions = sorted({r.scenario.account.region for r, _ in runs})
    if prices is None and len(regions) > 1:
        raise ValueError(f"the parts are in different Regions ({', '.join(regions)}); a month is priced in one")
    first = runs[0][0].scenario
    table = prices if isinstance(prices, PriceTable) else load_prices(prices or first.account.region)
    usages = [Usage(result, bill_init, table) for result, _ in runs]
    shares = [float(share) for _, share in runs]
    bill, usd = _price(usages, [r.scenario for r, _ in runs], shares, free_tier, table)
    names = list(labels) if labels is not None else [r.scenario.name for r, _ in runs]
    parts = tuple(MonthPart(name, r.scenario, share, u) for name, (r, _), share, u in zip(names, runs, shares, usd))
    return ComposedMonth(parts=parts, bill=bill, free_tier=free_tier, bill_init=bill_init, region=table.region)


def _price(
    usages: list[Usage], scenarios: list[Scenario], shares: list[float], free_tier: bool, table: PriceTable
) -> tuple[CostBreakdown, list[float]]:
    """The month's bill of every part's scaled quantities together, and each part's USD of it."""
    n = len(usages)
    quantity: dict[str, list[float]] = {k: [0.0] * n for k in ("rest", "http", "transfer", "logs")}
    lambdas: list[LambdaUsage] = []
    owners: dict[str, tuple[int, str]] = {}
    for i, (usage, scenario, share) in enumerate(zip(usages, scenarios, shares)):
        scale = share / float(scenario.duration)
        per_function = {kind: cube.sum(axis=(1, 2)) for kind, cube in usage.cube.items()}
        for j, f in enumerate(usage.functions):
            tag = f"{i}:{f.name}"
            owners[tag] = (i, f.name)
            lambdas.append(LambdaUsage(
                requests=float(per_function["requests"][j]) * scale,
                billed_ms=float(per_function["on_demand_ms"][j]) * scale,
                memory_mb=f.memory_mb, architecture=f.architecture,
                provisioned_concurrency=f.provisioned_peak,
                provisioned_seconds=share if f.provisioned_peak > 0 else 0.0,
                provisioned_billed_ms=float(per_function["provisioned_ms"][j]) * scale,
                ephemeral_storage_mb=f.ephemeral_storage_mb, function=tag))
        quantity["rest" if usage.api_type == "REST" else "http"][i] = float(usage.cube["gateway"].sum()) * scale
        quantity["transfer"][i] = float(usage.cube["transfer"].sum()) * scale
        quantity["logs"][i] = float(usage.cube["logs"].sum()) * scale
    gateway = api_gateway_cost(rest_requests=math.fsum(quantity["rest"]), http_requests=math.fsum(quantity["http"]),
                               free_tier=free_tier, prices=table)
    transfer = data_transfer_cost(math.fsum(quantity["transfer"]), free_tier=free_tier, prices=table)
    logs = logs_cost(math.fsum(quantity["logs"]), prices=table)
    usd: list[list[float]] = [[] for _ in range(n)]
    lines: list[CostLine] = []
    for line in lambda_cost(lambdas, free_tier=free_tier, prices=table).lines:
        owner, name = owners[str(line.function)]
        usd[owner].append(line.usd)
        lines.append(replace(line, function=name))
    for line in (gateway + transfer + logs).lines:
        kind = next(k for prefix, k in _SHARED_BY if (line.price_key or "").startswith(prefix))
        whole = math.fsum(quantity[kind])
        for i in range(n):
            if whole > 0 and quantity[kind][i] > 0:
                usd[i].append(line.usd * quantity[kind][i] / whole)
        lines.append(line)
    return CostBreakdown(tuple(lines)), [math.fsum(parts) for parts in usd]
