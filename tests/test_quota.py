"""Usage-plan quotas: calendar periods in UTC, offset, and the limit itself."""

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.gateway.quota import QuotaCounter, period_start

UTC = UTC


def test_periods_are_calendar_aligned_in_utc():
    t = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # a Wednesday
    assert period_start(t, "DAY") == datetime(2026, 3, 4, tzinfo=UTC)
    assert period_start(t, "WEEK", "SUNDAY") == datetime(2026, 3, 1, tzinfo=UTC)
    assert period_start(t, "WEEK", "MONDAY") == datetime(2026, 3, 2, tzinfo=UTC)
    assert period_start(t, "MONTH") == datetime(2026, 3, 1, tzinfo=UTC)


def test_a_day_quota_resets_at_midnight_utc():
    # The run starts 10 s before midnight; the quota allows 3 a day.
    q = QuotaCounter(3, "DAY", 0, datetime(2026, 3, 4, 23, 59, 50, tzinfo=UTC))
    got = []
    for t in [0, 1, 2, 3, 9.999, 10.0, 10.5, 11, 12]:
        ok = q.ready(t)
        if ok:
            q.take()
        got.append(ok)
    assert got == [True, True, True, False, False, True, True, True, False]


def test_offset_reduces_only_the_first_period():
    q = QuotaCounter(5, "DAY", 3, datetime(2026, 3, 4, 23, 0, tzinfo=UTC))
    first = [q.ready(t) and (q.take() or True) for t in range(4)]
    assert first == [True, True, False, False]
    second = [q.ready(3600 + t) and (q.take() or True) for t in range(6)]
    assert second == [True] * 5 + [False]


def test_a_month_quota_rolls_over_on_the_first():
    start = datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)
    q = QuotaCounter(1, "MONTH", 0, start)
    assert q.ready(0) and (q.take() or True)
    assert not q.ready(0.5)
    assert q.ready(1.0)  # 2026-02-01T00:00:00Z
    q.take()
    feb = (datetime(2026, 3, 1, tzinfo=UTC) - start).total_seconds()
    assert not q.ready(feb - 0.001)
    assert q.ready(feb)


@settings(max_examples=100, deadline=None)
@given(
    limit=st.integers(0, 20),
    period=st.sampled_from(["DAY", "WEEK", "MONTH"]),
    gaps=st.lists(st.floats(0, 40_000), min_size=1, max_size=200),
    hour=st.integers(0, 23),
)
def test_a_quota_is_never_exceeded_within_a_period(limit, period, gaps, hour):
    start = datetime(2026, 2, 27, hour, tzinfo=UTC)
    q = QuotaCounter(limit, period, 0, start)
    per_period: dict[datetime, int] = {}
    t = 0.0
    from datetime import timedelta

    for g in gaps:
        t += g
        if q.ready(t):
            q.take()
            key = period_start(start + timedelta(seconds=t), period)
            per_period[key] = per_period.get(key, 0) + 1
    assert all(n <= limit for n in per_period.values())
