"""Growth: traffic that rises (or falls) by a fixed fraction a day, for forecasts over weeks.

A scenario describes today's traffic. Over a quota period of a month that traffic rarely
stays put, so a forecast may take a *growth rate*, written as a percentage per unit of time::

    10%/month      a month is 30 days: after 30 days the load is 1.1 times today's
    0.5%/day       2%/week       25%/year (365 days)      -5%/month (shrinking)

**Compounded daily, stepped daily.** ``P%/N days`` is a factor per day of
``g = (1 + P/100) ** (1 / N)`` (10%/month: 1.1 ** (1/30) = 1.0031821 a day). The load of
day ``j`` after the scenario's ``start`` (``j = 0`` for the first 24 hours) is ``g ** j``
times the scenario's: every client's offered load (open rates, bursts, replayed rows and
closed users' request rate alike) steps up once every 24 hours, not continuously. The
forecast keeps its cycles whole, so a step falls on the first repetition of the traffic
that starts at or after each 24-hour mark (exactly on it when the scenario's duration
divides a day, as 10m, 1h or 1d do).

With a constant rate ``r`` the requests of the first ``n`` days are then a geometric sum,
``86400 r (g ** n - 1) / (g - 1)``, which is what the tests check the forecast against.
"""

from __future__ import annotations

import math
import re

from simulator.limits import echo

__all__ = ["GROWTH_UNITS", "growth_steps", "parse_growth"]

#: Days per unit of a growth rate.
GROWTH_UNITS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 30.0, "year": 365.0}

_DAY_S = 86400.0
_GROWTH = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*%\s*/\s*([a-z]+)\s*$")


def parse_growth(text: str) -> float:
    """The factor per day of a growth rate such as ``"10%/month"`` (see the module docstring).

    >>> round(parse_growth("10%/month") ** 30, 12)
    1.1
    """
    match = _GROWTH.match(text) if isinstance(text, str) else None
    if match is None or match.group(2) not in GROWTH_UNITS:
        raise ValueError(f"growth: expected a percentage per {', '.join(GROWTH_UNITS)}, "
                         f"e.g. 10%/month or 0.5%/day, got {echo(text)}")
    percent = float(match.group(1))
    if not (-100.0 < percent <= 10_000.0):
        raise ValueError(f"growth: the percentage must be above -100% and at most 10000%, got {echo(text)}")
    return (1.0 + percent / 100.0) ** (1.0 / GROWTH_UNITS[match.group(2)])


def growth_steps(cycle_s: float, cycles: int, per_day: float) -> list[tuple[int, int, float]]:
    """``(first cycle, cycles, factor)`` for cycles ``0 .. cycles - 1`` of *cycle_s* seconds:
    cycle ``k`` runs at ``per_day ** j`` where ``j`` is the day its start falls on."""
    if not (per_day > 0 and math.isfinite(per_day)):
        raise ValueError(f"growth: the factor per day must be a finite number > 0, got {per_day!r}")
    steps: list[tuple[int, int, float]] = []
    k = 0
    while k < cycles:
        day = math.floor(k * cycle_s / _DAY_S + 1e-9)
        nxt = max(k + 1, math.ceil((day + 1) * _DAY_S / cycle_s - 1e-9))
        steps.append((k, min(nxt, cycles) - k, per_day**day))
        k = nxt
    return steps
