"""Replay traces: the CSV files a ``process = "replay"`` client sends again, request by request.

A trace is read once, when the scenario is loaded, into the client's ``times`` and
``routes``; the engines only walk those tuples.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from simulator.limits import MAX_TRACE_BYTES, MAX_TRACE_FIELD_CHARS, echo, read_bounded

__all__ = ["read_trace"]


def read_trace(file: str, base_dir: str | None) -> tuple[tuple[float, ...], tuple[str, ...], tuple[str, ...]]:
    """Read a replay trace: CSV rows of ``time offset in seconds[, route[, cache key]]``, sorted
    by time: the times, the routes and the cache keys.

    A first row whose time is not a number is taken as a header. A row without a route
    gets ``""``, meaning "pick from the client's route weights"; a row without a cache key
    gets ``""``, meaning "draw it from the route's key law" (the REST cache). The file must be UTF-8
    (a byte-order mark is allowed) and at most :data:`~simulator.limits.MAX_TRACE_BYTES`;
    quoting follows RFC 4180 strictly, so an unclosed quote is an error at its line rather
    than a field that swallows the rest of the file. Every error is a ``ValueError``
    naming the file and, where there is one, the line.
    """
    path = Path(file)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    try:
        text = read_bounded(str(path), MAX_TRACE_BYTES).decode("utf-8-sig")
    except OSError as exc:
        raise ValueError(f"cannot read trace file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    times: list[float] = []
    routes: list[str] = []
    keys: list[str] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        first_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "end of data" in str(exc):
                what = "a quote opened here is never closed"
            elif "field larger" in str(exc):
                what = f"a field is longer than {MAX_TRACE_FIELD_CHARS} characters"
            else:
                what = f"not valid CSV ({exc})"
            raise ValueError(f"{path}: line {first_line}: {what}") from None
        n = reader.line_num
        if not row or not "".join(row).strip():
            continue
        if any(len(field) > MAX_TRACE_FIELD_CHARS for field in row):
            raise ValueError(f"{path}: line {n}: a field is longer than {MAX_TRACE_FIELD_CHARS} characters")
        try:
            t = float(row[0])
        except ValueError:
            if not times and n == 1:
                continue
            raise ValueError(f"{path}: line {n}: time {echo(row[0])} is not a number") from None
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"{path}: line {n}: time must be a finite number >= 0, got {echo(row[0])}")
        times.append(t)
        routes.append(row[1].strip() if len(row) > 1 else "")
        keys.append(row[2].strip() if len(row) > 2 else "")
    order = sorted(range(len(times)), key=lambda i: times[i])
    return tuple(times[i] for i in order), tuple(routes[i] for i in order), tuple(keys[i] for i in order)
