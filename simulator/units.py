"""Units: the one place where human-written quantities become numbers.

Scenario files say ``"250ms"``, ``"29s"``, ``"10m"`` or ``"1h30m"`` for durations and
``"50M"`` for large counts. Everything inside the simulator works in seconds (floats)
and plain counts, so these strings are parsed once, here, when a scenario is loaded.

>>> parse_duration("250ms")
0.25
>>> parse_duration("1h30m")
5400.0
>>> parse_count("50M")
50000000.0
"""

from __future__ import annotations

import math
import re

from simulator.limits import MAX_DURATION_S, echo

__all__ = ["DURATION_UNITS", "format_duration", "parse_count", "parse_duration"]

#: Seconds per unit suffix accepted in duration strings.
DURATION_UNITS: dict[str, float] = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}

_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s|m|h|d)\s*")
_COUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKMGB]?)\s*$")
_COUNT_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9}


def parse_duration(text: str) -> float:
    """Parse a duration string such as ``"250ms"`` or ``"1h30m"`` into seconds.

    A bare number is refused: a duration always carries its unit, so that ``30``
    can never silently mean thirty milliseconds to one reader and thirty seconds
    to another. A duration longer than :data:`~simulator.limits.MAX_DURATION_S`
    (100 years) is refused too.
    """
    if not isinstance(text, str):
        raise ValueError(
            f"expected a duration string with a unit such as '250ms' or '29s', got {echo(text)}"
        )
    pos = 0
    total = 0.0
    parts = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            break
        total += float(match.group(1)) * DURATION_UNITS[match.group(2)]
        pos = match.end()
        parts += 1
    if parts == 0 or pos != len(text):
        raise ValueError(
            f"expected a duration such as '250ms', '29s', '10m' or '1h30m' "
            f"(units: {', '.join(DURATION_UNITS)}), got {echo(text)}"
        )
    if not math.isfinite(total) or total > MAX_DURATION_S:
        raise ValueError(f"must be at most {MAX_DURATION_S / 86400 / 365:g} years, got {echo(text)}")
    return total


def parse_count(text: str | int | float) -> float:
    """Parse a count that may carry a k/M/G (or B for billion) suffix: ``"50M"`` -> 5e7."""
    if isinstance(text, bool):
        raise ValueError(f"expected a number, got {text!r}")
    if isinstance(text, (int, float)):
        value = float(text) if abs(text) < 1e300 else math.inf
    else:
        match = _COUNT.match(text)
        if match is None:
            raise ValueError(f"expected a count such as 1000, '50k' or '50M', got {echo(text)}")
        value = float(match.group(1)) * _COUNT_SUFFIX[match.group(2)]
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {echo(text)}")
    return value


def format_duration(seconds: float) -> str:
    """Render seconds compactly for tables and messages: 0.25 -> '250ms', 5400 -> '1h30m'."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:g}us"
    if seconds < 1:
        return f"{seconds * 1e3:g}ms"
    if seconds < 60 or seconds != int(seconds):
        return f"{seconds:g}s"
    out = []
    rest = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out)
