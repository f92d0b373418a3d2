"""``--vary``: the values a sweep tries for one key, read from the command line.

A flag is ``key.path=v1,v2,v3`` (a list) or ``key.path=start:stop:step`` (a range); the key
path is the one ``--set`` takes, list entries by name::

    functions.checkout.reserved_concurrency=50:200:50   ->  [50, 100, 150, 200]
    functions.orders.architecture=x86_64,arm64          ->  ['x86_64', 'arm64']
    api.integration_timeout=5s:15s:5s                   ->  ['5s', '10s', '15s']

Listed values are read as lightly as possible: numbers become numbers, ``true``/``false``
booleans, and anything else (``90ms``, ``arm64``) stays a string for the scenario loader,
which says what is wrong with a bad one, naming the key. A range is all numbers (whole
numbers stay whole) or all durations with units; it includes *stop* when *stop* falls on the
grid, with float noise removed (``0.1 * 3`` is ``0.3``). Every mistake is a one-line
:class:`ValueError` that names the flag, and the size of a range and of the whole grid is
bounded by :data:`simulator.limits.MAX_GRID_POINTS` (a typo guard).

:func:`parse_vary_flags` gathers several flags into the ``vary`` mapping
:func:`simulator.studies.sweep.run_sweep` takes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from simulator import limits
from simulator.units import format_duration, parse_duration

__all__ = ["MAX_RANGE_POINTS", "parse_vary", "parse_vary_flags"]

#: The most grid points one ``--vary`` range, or the whole grid, may have (a typo guard, not a
#: limit of the model; set in :mod:`simulator.limits`).
MAX_RANGE_POINTS = limits.MAX_GRID_POINTS

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _number(text: str) -> int | float | None:
    if len(text) > limits.MAX_DIGITS:
        return None  # left as a string: the scenario loader says what is wrong with it
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return None


def _duration(text: str) -> float | None:
    try:
        return parse_duration(text)
    except ValueError:
        return None


def _value(item: str) -> Any:
    """A listed value: a number, a boolean, or a string the scenario loader reads (``"90ms"``)."""
    number = _number(item)
    if number is not None:
        return number
    if item in ("true", "false"):
        return item == "true"
    return item


def _tidy(x: float) -> float:
    """Remove float noise from a grid value: 0.1 * 3 -> 0.3."""
    return float(f"{x:.12g}")


def _range(flag: str, parts: list[str]) -> list[Any]:
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{flag}: a range is start:stop:step, e.g. 50:200:50")
    numbers = [_number(p) for p in parts]
    durations = [_duration(p) for p in parts]
    if all(n is not None for n in numbers):
        start, stop, step = (float(n) for n in numbers)  # type: ignore[arg-type]
        whole = all(isinstance(n, int) for n in numbers)
    elif all(d is not None for d in durations):
        start, stop, step = (float(d) for d in durations)  # type: ignore[arg-type]
        whole = False
    else:
        raise ValueError(f"{flag}: start, stop and step must all be numbers or all durations with units")
    if step <= 0:
        raise ValueError(f"{flag}: step must be greater than 0, got {parts[2]}")
    if stop < start:
        raise ValueError(f"{flag}: stop ({parts[1]}) is below start ({parts[0]})")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_RANGE_POINTS:
        raise ValueError(f"{flag}: the range has {count:,} points, more than {MAX_RANGE_POINTS:,}")
    grid = [_tidy(start + i * step) for i in range(count)]
    if whole:
        return [int(v) for v in grid]
    if durations[0] is not None and numbers[0] is None:
        return [format_duration(v) for v in grid]
    return grid


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """Read one ``--vary`` flag: ``key=v1,v2,v3`` or ``key=start:stop:step``.

    Listed values become numbers when they are numbers and booleans for ``true``/``false``;
    anything else (``90ms``, ``arm64``) stays a string for the scenario loader. A range
    includes *stop* when it falls on the grid; it is made of numbers (whole numbers stay
    whole) or of durations (``100ms:500ms:100ms``, kept as duration strings). Anything
    else raises a one-line :class:`ValueError` that names the flag.

    >>> parse_vary("functions.checkout.reserved_concurrency=50:200:50")
    ('functions.checkout.reserved_concurrency', [50, 100, 150, 200])
    >>> parse_vary("functions.orders.architecture=x86_64,arm64")
    ('functions.orders.architecture', ['x86_64', 'arm64'])
    """
    flag = f"--vary {limits.clip(text)}"
    key, sep, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep:
        raise ValueError(f"{flag}: expected key.path=v1,v2,... or key.path=start:stop:step")
    if not key or any(not part or part != part.strip() or " " in part for part in key.split(".")):
        raise ValueError(f"{flag}: the key must be a dotted path such as functions.orders.memory_mb")
    if key == "seed":
        raise ValueError(f"{flag}: seeds are set by replications and the sweep's seed, not varied")
    if not spec:
        raise ValueError(f"{flag}: no values after '='")
    if "," not in spec and ":" in spec:
        parts = [p.strip() for p in spec.split(":")]
        if all(_number(p) is not None or _duration(p) is not None for p in parts if p):
            return key, _range(flag, parts)
    items = [item.strip() for item in spec.split(",")]
    if any(not item for item in items):
        raise ValueError(f"{flag}: an empty value in the list")
    values = [_value(item) for item in items]
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"{flag}: {item} is listed twice")
        seen.add(item)
    return key, values


def parse_vary_flags(texts: Sequence[str]) -> dict[str, list[Any]]:
    """Several ``--vary`` flags as one ``vary`` mapping; a key given twice is an error."""
    out: dict[str, list[Any]] = {}
    for text in texts:
        key, values = parse_vary(text)
        if key in out:
            raise ValueError(f"--vary {text}: {key} is already varied by another --vary")
        out[key] = values
    points = math.prod(len(v) for v in out.values())
    if points > limits.MAX_GRID_POINTS:
        raise ValueError(f"--vary: the grid has {points:,} points (every combination), more than "
                         f"{limits.MAX_GRID_POINTS:,} (see simulator/limits.py)")
    return out
