"""The limits on what throttlesim reads and writes, and what each one protects against.

A simulator trusts its input more than a server does, but a typo (``1e308`` for ``1e3``,
one ``0`` too many in ``lambda_concurrency``) must end in a one-line error, not in an
hour-long run, a multi-gigabyte allocation or a traceback. Every limit below is checked
*before* the work or the allocation it guards, and every one is far above what a real
AWS account allows, so no sensible scenario meets one: simulating a million requests a
second for an hour (3.6e9 requests) is within all of them, memory permitting.

=============================  =====================  ==============================================
limit                          value                  protects against
=============================  =====================  ==============================================
``MAX_SCENARIO_BYTES``         8 MiB                  reading ``/dev/zero`` or a stray log as TOML
``MAX_SAMPLES_BYTES``          32 MiB                 the same for a samples file (about 3 M samples)
``MAX_TRACE_BYTES``            256 MiB                the same for a replay trace (about 10 M rows)
``MAX_TRACE_FIELD_CHARS``      1,024                  a CSV field that swallows the file (open quote)
``MAX_NESTING``                32 levels              Python's recursion limit (TOML reader, copies)
``MAX_RATE_PER_S``             1e8 requests/s         float overflow and runs that never end
``MAX_THROTTLE_RATE_PER_S``    1e9 tokens/s           the same, for token-bucket refill rates
``MAX_COUNT``                  1e15                   int64 overflow (quota limits, bucket sizes)
``MAX_USERS``                  1e7 per client         one process per closed user
``MAX_CONCURRENCY``            1e6 environments       arrays sized by lambda_concurrency
``MAX_BURST_COUNT``            1e9 requests           a burst's arrival times are drawn at once
``MAX_REQUESTS``               1e11 per run           runs measured in years (requests x max_attempts)
``MAX_ATTEMPTS``               1,000 per request      retry storms (``on = [200]``) without end
``MAX_WEIGHT``                 1e12                   route weights that round the others to 0
``MAX_DURATION_S``             100 years              durations past what dates can hold
``DATE_RANGE``                 years 1970 to 9000     quota periods past year 9999 or before year 1
``MAX_OUTPUT_ROWS``            1e7 rows               ``--interval 1us`` writing gigabytes
``MAX_QUOTA_PERIODS``          5,000 per API key      a quota forecast over a century of days
``MAX_GRID_POINTS``            10,000 points          a sweep or plan grid of a million runs
``MAX_WORKERS``                256 processes          ``--workers`` starting a process per typo
``MAX_PRINTED_ERRORS``         20 lines               a file of a million unknown keys
``MAX_ECHO_CHARS``             60 characters          a 5 MB value echoed back in an error
``MAX_DIGITS``                 30 digits              int-from-string limits (4,300 digits)
=============================  =====================  ==============================================

Durations: any duration (in a scenario or a flag) is at most ``MAX_DURATION_S``, and the
run (``start + duration``) and a quota forecast (``start + horizon``) must end before
``DATE_RANGE[1]``, so every quota period they touch is a date Python can represent.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = [
    "DATE_RANGE",
    "MAX_ATTEMPTS",
    "MAX_BURST_COUNT",
    "MAX_CONCURRENCY",
    "MAX_COUNT",
    "MAX_DIGITS",
    "MAX_DURATION_S",
    "MAX_ECHO_CHARS",
    "MAX_GRID_POINTS",
    "MAX_NESTING",
    "MAX_OUTPUT_ROWS",
    "MAX_PRINTED_ERRORS",
    "MAX_QUOTA_PERIODS",
    "MAX_RATE_PER_S",
    "MAX_REQUESTS",
    "MAX_SAMPLES_BYTES",
    "MAX_SCENARIO_BYTES",
    "MAX_THROTTLE_RATE_PER_S",
    "MAX_TRACE_BYTES",
    "MAX_TRACE_FIELD_CHARS",
    "MAX_USERS",
    "MAX_WEIGHT",
    "MAX_WORKERS",
    "clip",
    "echo",
    "read_bounded",
]

MAX_SCENARIO_BYTES = 8 * 2**20
MAX_SAMPLES_BYTES = 32 * 2**20
MAX_TRACE_BYTES = 256 * 2**20
MAX_TRACE_FIELD_CHARS = 1024
MAX_NESTING = 32
MAX_RATE_PER_S = 1e8
MAX_THROTTLE_RATE_PER_S = 1e9
MAX_COUNT = 10**15
MAX_USERS = 10**7
MAX_CONCURRENCY = 10**6
MAX_BURST_COUNT = 10**9
MAX_REQUESTS = 1e11
MAX_ATTEMPTS = 1000
MAX_WEIGHT = 1e12
MAX_DURATION_S = 100 * 365 * 86400.0
DATE_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 12, 31, tzinfo=UTC))
MAX_OUTPUT_ROWS = 10**7
MAX_QUOTA_PERIODS = 5000
MAX_GRID_POINTS = 10_000
MAX_WORKERS = 256
MAX_PRINTED_ERRORS = 20
MAX_ECHO_CHARS = 60
MAX_DIGITS = 30


def clip(text: str) -> str:
    """*text*, cut to ``MAX_ECHO_CHARS`` with its full length said, for error messages."""
    if len(text) <= MAX_ECHO_CHARS:
        return text
    return f"{text[:MAX_ECHO_CHARS]}... ({len(text):,} characters)"


def echo(value: object) -> str:
    """``repr(value)``, cut by :func:`clip`: how an error message shows a value it refuses."""
    try:
        return clip(repr(value))
    except ValueError:  # an int too long for repr
        return "a whole number of more than 4,300 digits"


def read_bounded(path: str, limit: int) -> bytes:
    """The bytes of *path*, refusing (``ValueError``) a file longer than *limit* without reading
    more than one byte past it; ``OSError`` as ``open`` raises it."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"is larger than {_size(limit)}, the limit for this kind of file")
    return data


def _size(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"
