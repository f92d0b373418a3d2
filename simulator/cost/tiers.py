"""Tiered (volume-discount) prices.

AWS prices several items in monthly volume tiers: API Gateway REST requests cost $3.50 per
million for the first 333 million of the month and less after that, and Lambda duration gets
cheaper past 6 billion GB-seconds per architecture. A tier's price applies only to the units
that fall inside it (marginal pricing, like income-tax brackets), and the tiers count from the
start of the billing month across the whole account and Region.

A run of the simulator covers only part of a month, so :func:`tiered_cost` takes the number
of units *already used* earlier in the month and prices the run's units at that position.
The result is additive, ``tiered_cost(a) + tiered_cost(b, already_used=a) == tiered_cost(a + b)``,
and continuous across tier boundaries.

A tier is written as ``Tier(up_to, price)``: ``up_to`` is the cumulative upper bound of the
tier (``math.inf`` for the last one) and ``price`` the price of one unit inside it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Tier", "check_tiers", "tiered_cost"]


@dataclass(frozen=True)
class Tier:
    """One volume tier: units up to the cumulative bound *up_to* cost *price* each."""

    up_to: float
    price: float


TierLike = Tier | tuple[float, float]


def _as_tier(tier: TierLike) -> Tier:
    if isinstance(tier, Tier):
        return tier
    up_to, price = tier
    return Tier(float(up_to), float(price))


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_tiers(tiers: Sequence[TierLike]) -> tuple[Tier, ...]:
    """Return *tiers* as a tuple of :class:`Tier`, or raise ``ValueError`` if they are malformed.

    Well formed means: at least one tier; every price finite and >= 0; bounds > 0 and strictly
    increasing; only the last bound infinite, and the last bound infinite (so every quantity
    has a price).
    """
    if len(tiers) == 0:
        raise ValueError("tiers must contain at least one tier, got an empty sequence")
    out = tuple(_as_tier(t) for t in tiers)
    previous = 0.0
    for index, tier in enumerate(out):
        last = index == len(out) - 1
        if not _is_number(tier.price) or not math.isfinite(tier.price) or tier.price < 0:
            raise ValueError(f"tiers[{index}].price must be a finite number >= 0, got {tier.price!r}")
        if not _is_number(tier.up_to) or math.isnan(tier.up_to):
            raise ValueError(f"tiers[{index}].up_to must be a number, got {tier.up_to!r}")
        if last and not math.isinf(tier.up_to):
            raise ValueError(f"tiers[{index}].up_to (the last tier) must be infinite, got {tier.up_to!r}")
        if not last and math.isinf(tier.up_to):
            raise ValueError(f"tiers[{index}].up_to is infinite but is not the last tier")
        if tier.up_to <= previous:
            raise ValueError(
                f"tiers[{index}].up_to must be greater than {previous!r} "
                f"(bounds strictly increasing and > 0), got {tier.up_to!r}"
            )
        previous = tier.up_to
    return out


def _check_quantity(name: str, value: float) -> float:
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def tiered_cost(quantity: float, tiers: Sequence[TierLike], already_used: float = 0.0) -> float:
    """Cost of *quantity* units priced by *tiers*, after *already_used* units this month.

    >>> tiers = [Tier(333, 3.50), Tier(1000, 2.80), Tier(math.inf, 2.38)]
    >>> round(tiered_cost(400, tiers), 2)          # 333 x 3.50 + 67 x 2.80
    1353.1
    >>> round(tiered_cost(100, tiers, already_used=300), 2)   # 33 x 3.50 + 67 x 2.80
    303.1
    """
    quantity = _check_quantity("quantity", quantity)
    already_used = _check_quantity("already_used", already_used)
    checked = check_tiers(tiers)
    start = already_used
    end = already_used + quantity
    parts: list[float] = []
    lower = 0.0
    for tier in checked:
        upper = tier.up_to
        overlap = min(end, upper) - max(start, lower)
        if overlap > 0:
            parts.append(overlap * tier.price)
        if upper >= end:
            break
        lower = upper
    return math.fsum(parts)
