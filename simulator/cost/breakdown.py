"""Cost results: a bill as a sequence of priced lines, and the views AWS's bills give of it.

A :class:`CostLine` is one billed quantity, as it would appear on an AWS bill: *quantity* of a
*unit* (request, GB-second, GB, hour, ...) of an *item* of a *service*, costing *usd*. It may be
attributed to a Lambda function or an API client, and names the price-file key it was priced
with, so a report can show where each price comes from. Free-tier usage appears as its own
line at $0, so a bill shows what was used as well as what was paid: for an item with a free
allowance, the allowance left this month is taken first and the rest is priced in the item's
tiers, starting where the free units end.

A :class:`CostBreakdown` is a bill: an immutable tuple of lines. Breakdowns for different
services or functions add up with ``+`` and ``sum()``; the total and the per-service,
per-item and per-function views are correctly rounded sums (:func:`math.fsum`) of the lines.
Services are reported in :data:`SERVICES` order. The JSON-ready form rounds quantities and
amounts to 1e-6 and keeps a fixed key order, so that saved results compare equal across runs.

>>> bill = CostBreakdown((CostLine("Lambda", "Requests", 1e6, "request", 0.2),))
>>> bill = bill + CostBreakdown((CostLine("API Gateway", "HTTP requests", 1e6, "request", 1.0),))
>>> bill.by_service()
{'API Gateway': 1.0, 'Lambda': 0.2}
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.cost.metering import _non_negative

if TYPE_CHECKING:
    from simulator.cost.pricing import PriceItem

__all__ = ["SERVICES", "CostBreakdown", "CostLine", "items_by_service", "rounded_usd"]

#: Services in the order they are reported.
SERVICES: tuple[str, ...] = ("API Gateway", "Lambda", "CloudWatch Logs", "Data Transfer")

# Quantities and USD amounts in the JSON-ready form are rounded to this many decimals.
_ROUND_DECIMALS = 6


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


def _group(lines: Iterable[CostLine], key: Any) -> dict[Any, float]:
    parts: dict[Any, list[float]] = {}
    for line in lines:
        parts.setdefault(key(line), []).append(line.usd)
    return {k: math.fsum(v) for k, v in parts.items()}


def _rounded(value: float) -> float:
    return round(float(value), _ROUND_DECIMALS) + 0.0


def rounded_usd(value: float) -> float:
    """A figure as reports show it: six decimals, never ``-0.0``."""
    return _rounded(value)


def items_by_service(bill: CostBreakdown) -> dict[str, dict[str, dict[str, Any]]]:
    """``{service: {item: {"quantity", "unit", "usd"}}}``, services in report order."""
    groups: dict[str, dict[str, tuple[str, list[float], list[float]]]] = {}
    for line in bill.lines:
        items = groups.setdefault(line.service, {})
        unit, quantities, amounts = items.setdefault(line.item, (line.unit, [], []))
        quantities.append(line.quantity)
        amounts.append(line.usd)
    order = [s for s in SERVICES if s in groups] + sorted(set(groups) - set(SERVICES))
    return {
        service: {
            item: {"quantity": _rounded(math.fsum(q)), "unit": unit, "usd": _rounded(math.fsum(u))}
            for item, (unit, q, u) in groups[service].items()
        }
        for service in order
    }
