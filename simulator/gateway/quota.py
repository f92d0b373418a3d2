"""Usage-plan quotas: at most ``limit`` requests per API key per calendar period.

Periods are calendar-aligned in UTC (a DAY runs from 00:00 to 24:00 UTC; a WEEK starts
on ``behaviour.quota_week_start``; a MONTH on the 1st). The scenario's ``start``
timestamp says where simulated time 0 falls in the calendar. ``offset`` follows the
current API reference: "the number of requests subtracted from the given limit in the
initial time period", so the period containing ``start`` allows ``limit - offset``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["QuotaCounter", "period_start"]

_WEEKDAY = {"MONDAY": 0, "SUNDAY": 6}


def period_start(moment: datetime, period: str, week_start: str = "SUNDAY") -> datetime:
    """The start (UTC) of the quota period that contains *moment*."""
    moment = moment.astimezone(UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "DAY":
        return day
    if period == "WEEK":
        back = (day.weekday() - _WEEKDAY[week_start]) % 7
        return day - timedelta(days=back)
    if period == "MONTH":
        return day.replace(day=1)
    raise ValueError(f"unknown quota period {period!r}")


def _next_period(start: datetime, period: str) -> datetime:
    if period == "DAY":
        return start + timedelta(days=1)
    if period == "WEEK":
        return start + timedelta(days=7)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


class QuotaCounter:
    """Requests used by one API key in its current period, with lazy period roll-over."""

    __slots__ = ("limit", "period", "start", "week_start", "used", "allowed", "window_end", "_window_start")

    def __init__(self, limit: int, period: str, offset: int, start: datetime, week_start: str = "SUNDAY") -> None:
        self.limit = limit
        self.period = period
        self.start = start
        self.week_start = week_start
        self._window_start = period_start(start, period, week_start)
        end = _next_period(self._window_start, period)
        #: Simulated time (s) at which the current period ends.
        self.window_end = (end - start).total_seconds()
        self.allowed = limit - offset
        self.used = 0

    def _roll(self, now: float) -> None:
        while now >= self.window_end:
            self._window_start = _next_period(self._window_start, self.period)
            end = _next_period(self._window_start, self.period)
            self.window_end = (end - self.start).total_seconds()
            self.allowed = self.limit
            self.used = 0

    def ready(self, now: float) -> bool:
        """Is there quota left for a request at *now*?"""
        if now >= self.window_end:
            self._roll(now)
        return self.used < self.allowed

    def take(self) -> None:
        self.used += 1

    def count(self, now: float) -> None:
        """Count a request against the quota even if none is left (for rejected requests
        under ``throttled_requests_count_toward_quota``)."""
        if now >= self.window_end:
            self._roll(now)
        self.used += 1
