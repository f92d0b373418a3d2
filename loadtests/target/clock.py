"""The real clock of a target server: seconds since the server started.

The simulator's pieces (token buckets, quotas, Lambda pools) take the time as an
argument and never read a clock. A target feeds them this one: monotonic, so it never
jumps with the wall clock, and zero when the server starts, so that the server's time 0
stands for the scenario's ``start`` timestamp exactly as simulated time 0 does (quota
periods roll over at the same moments in both).
"""

from __future__ import annotations

import time

__all__ = ["Clock"]


class Clock:
    """Seconds since construction, from :func:`time.monotonic`."""

    __slots__ = ("origin",)

    def __init__(self) -> None:
        self.origin = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.origin
