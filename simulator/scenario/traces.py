"""Replay traces: the CSV files a ``process = "replay"`` client sends again, request by request.

A trace is read once, when the scenario is loaded, into the client's ``times`` and
``routes``; the engines only walk those tuples.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

__all__ = ["read_trace"]


def read_trace(file: str, base_dir: str | None) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Read a replay trace: CSV rows of ``time offset in seconds[, route]``, sorted by time.

    A first row whose time is not a number is taken as a header. A row without a route
    gets ``""``, meaning "pick from the client's route weights".
    """
    path = Path(file)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except OSError:
        raise ValueError(f"cannot read trace file {path}") from None
    times: list[float] = []
    routes: list[str] = []
    for n, row in enumerate(rows, 1):
        if not row or not "".join(row).strip():
            continue
        try:
            t = float(row[0])
        except ValueError:
            if n == 1:
                continue
            raise ValueError(f"{path}: line {n}: time {row[0]!r} is not a number") from None
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"{path}: line {n}: time must be a number >= 0, got {row[0]!r}")
        times.append(t)
        routes.append(row[1].strip() if len(row) > 1 else "")
    order = sorted(range(len(times)), key=lambda i: times[i])
    return tuple(times[i] for i in order), tuple(routes[i] for i in order)
