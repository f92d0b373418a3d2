"""Steps in rate profiles: two points at the same time jump from one rate to the other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import simulator
from simulator.studies.quota_forecast import forecast_quotas
from simulator.traffic.arrivals import cumulative_rate, open_arrival_times
from tests.conftest import BASE, merge
from tests.test_quota_forecast import scenario as keyed


def with_rate(rate: object, duration: str = "2s") -> simulator.Scenario:
    return simulator.parse_scenario(merge(BASE, {"duration": duration, "clients": [
        {"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform", "rate": rate}}]}))


def test_uniform_arrivals_follow_a_step_exactly():
    s = with_rate([["0s", 10], ["1s", 10], ["1s", 100]])
    times = open_arrival_times(s.clients[0].arrivals, s.duration, np.random.default_rng(0))
    # Evenly spaced in the cumulative rate: 10 a second up to 1 s, then 100 a second.
    assert len(times) == 110
    np.testing.assert_allclose(times[:10], np.arange(10) / 10, atol=1e-12)
    np.testing.assert_allclose(times[10:], 1 + np.arange(100) / 100, atol=1e-12)


def test_the_cumulative_rate_of_a_step_has_no_ramp():
    ts, cum = cumulative_rate([(0.0, 0.0), (0.0, 20.0), (3.0, 20.0), (3.0, 120.0)], 5.0)
    assert list(ts) == [0, 0, 3, 3, 5] and list(cum) == [0, 0, 60, 60, 300]


def test_both_engines_see_a_step_alike():
    s = with_rate([["0s", 5], ["1s", 5], ["1s", 80], ["1500ms", 80], ["1500ms", 0]])
    a = simulator.simulate(s, engine="simpy").records()
    b = simulator.simulate(s, engine="fast").records()
    assert a == b and len(a) == 5 + 40


@pytest.mark.parametrize("rate, message", [
    ([["0s", 10], ["2s", 10], ["1s", 20]], "profile times must not decrease"),
    ([["0s", 10], ["1s", 10], ["1s", 20], ["1s", 30]], "at most two profile points may share a time"),
])
def test_a_decreasing_time_or_three_points_at_one_time_is_refused(rate, message):
    with pytest.raises(simulator.ScenarioError, match=message):
        with_rate(rate)


def test_quota_forecast_of_a_stepped_day():
    # 1 request a second until noon, 3 after: 43,200 by noon, the other 56,800 of the
    # 100,000 at 3 a second take 18,933.33 s, so the quota runs out at 17:15:33.333.
    s = keyed(duration="1d", usage_plans__0__quota={"limit": 100_000, "period": "DAY"},
              clients__0__arrivals={"process": "uniform", "rate": [["0s", 1], ["12h", 1], ["12h", 3]]})
    (f,) = forecast_quotas(s)
    assert f.expected_requests == pytest.approx(43_200 + 129_600)
    expected = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(seconds=43_200 + 56_800 / 3)
    assert abs((f.exhausted_at - expected).total_seconds()) < 1e-3
