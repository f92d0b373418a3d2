"""Quota forecasts: hand computations in closed form, the calendar, the behaviour
switches, and agreement with a simulated run."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator.studies.quota_forecast import QuotaForecast, forecast_quotas

UTC = UTC

KEYED: dict[str, Any] = {
    "name": "quota",
    "duration": "10m",
    "start": "2026-03-02T00:00:00Z",  # a Monday
    "api": {"type": "REST", "api_key_required": True},
    "routes": [{"name": "GET /x", "function": "f"}, {"name": "POST /x", "function": "f"}],
    "functions": [{"name": "f", "duration": "50ms"}],
    "usage_plans": [{"name": "p", "quota": {"limit": 1_000_000, "period": "DAY"}}],
    "clients": [{"name": "c", "api_key": "k1", "usage_plan": "p", "routes": {"GET /x": 1},
                 "arrivals": {"process": "uniform", "rate": 100}}],
}


def scenario(tmp_path: Path | None = None, **changes: Any) -> simulator.Scenario:
    data = copy.deepcopy(KEYED)
    for dotted, value in changes.items():
        node = data
        *path, last = dotted.split("__")
        for part in path:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return simulator.parse_scenario(data, base_dir=tmp_path or ".")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_day_at_100_rps_against_a_million() -> None:
    # 1,000,000 / 100 rps = 10,000 s = 02:46:40; the other 86,400 - 10,000 s are refused.
    (f,) = forecast_quotas(scenario())
    assert (f.api_key, f.clients, f.usage_plan, f.period) == ("k1", ("c",), "p", "DAY")
    assert (f.period_start, f.period_end) == (at("2026-03-02T00:00:00"), at("2026-03-03T00:00:00"))
    assert f.limit == 1_000_000
    assert f.expected_requests == pytest.approx(8_640_000)
    assert f.exhausted_at == at("2026-03-02T02:46:40")
    assert f.refused_requests == pytest.approx(7_640_000)
    assert f.fraction_refused == pytest.approx(7_640_000 / 8_640_000)
    assert f.throttled_requests == 0 and f.method == "analytic"


def test_a_quota_that_lasts() -> None:
    (f,) = forecast_quotas(scenario(usage_plans__0__quota={"limit": 9_000_000, "period": "DAY"}))
    assert f.exhausted_at is None and f.refused_requests == 0 and f.fraction_refused == 0


# --------------------------------------------------------------------------- throttles and switches

THROTTLED = {"usage_plans__0__throttle": {"rate": 5, "burst": 10},
             "usage_plans__0__quota": {"limit": 1000, "period": "DAY"},
             "clients__0__arrivals": {"process": "poisson", "rate": 8}}


def test_the_throttle_holds_back_what_counts_toward_the_quota() -> None:
    # 8 rps offered, bucket 5/s with 10 tokens: admitted min(8t, 10 + 5t), which reaches
    # 1,000 at t = 198 s. Then every request is refused by the quota: a refused request takes
    # no token, so the throttle no longer holds anything back.
    (f,) = forecast_quotas(scenario(**THROTTLED))
    assert f.exhausted_at == at("2026-03-02T00:03:18")
    assert f.throttled_requests == pytest.approx(8 * 198 - 1000)
    assert f.refused_requests == pytest.approx(8 * (86_400 - 198))
    assert f.expected_requests == pytest.approx(8 * 86_400)


def test_refused_requests_that_take_tokens_stay_throttled() -> None:
    (f,) = forecast_quotas(scenario(**THROTTLED, behaviour={"rejected_requests_consume_tokens": True}))
    assert f.exhausted_at == at("2026-03-02T00:03:18")
    # The bucket never refills: 10 + 5 * 86,400 admitted in the day, 1,000 of them within the quota.
    assert f.refused_requests == pytest.approx(10 + 5 * 86_400 - 1000)
    assert f.throttled_requests == pytest.approx(8 * 86_400 - (10 + 5 * 86_400))


def test_throttled_requests_that_count_toward_the_quota() -> None:
    (f,) = forecast_quotas(scenario(**THROTTLED, behaviour={"throttled_requests_count_toward_quota": True}))
    assert f.exhausted_at == at("2026-03-02T00:02:05")  # 1,000 / 8 rps = 125 s
    assert f.refused_requests == pytest.approx(8 * 86_400 - 1000)


@settings(max_examples=40, deadline=None)
@given(
    offered=st.floats(0.5, 500),
    rate=st.floats(0.1, 400),
    burst=st.integers(0, 5000),
    limit=st.integers(1, 2_000_000),
)
def test_constant_traffic_through_a_bucket_in_closed_form(offered: float, rate: float, burst: int, limit: int) -> None:
    # Offered lambda, bucket (rate, burst): admitted A(t) = lambda t while the bucket lasts
    # (t <= burst / (lambda - rate)), then burst + rate t. The quota runs out when A(t) = limit.
    s = scenario(usage_plans__0__throttle={"rate": rate, "burst": burst},
                 usage_plans__0__quota={"limit": limit, "period": "DAY"},
                 clients__0__arrivals={"process": "poisson", "rate": offered})
    (f,) = forecast_quotas(s)
    if offered <= rate:
        t = limit / offered
    else:
        t = limit / offered if limit <= offered * burst / (offered - rate) else (limit - burst) / rate
    if t >= 86_400:
        assert f.exhausted_at is None
        assert f.refused_requests == 0
    else:
        assert f.exhausted_at is not None
        got = (f.exhausted_at - s.start).total_seconds()
        assert got == pytest.approx(t, rel=1e-6, abs=1e-6)
        assert f.refused_requests == pytest.approx(offered * (86_400 - t), rel=1e-6, abs=1e-3)


# --------------------------------------------------------------------------- shapes of traffic


def test_a_repeating_ramp_runs_out_inside_a_cycle() -> None:
    # 0 -> 200 rps over each 10-minute cycle: tau^2 / 6 requests by tau, 60,000 per cycle.
    # 153,000 = 2 cycles (1,200 s) + 33,000, reached when tau^2 / 6 = 33,000.
    s = scenario(clients__0__arrivals={"process": "poisson", "rate": [["0s", 0], ["10m", 200]]},
                 usage_plans__0__quota={"limit": 153_000, "period": "DAY"})
    (f,) = forecast_quotas(s)
    assert f.expected_requests == pytest.approx(144 * 60_000)
    assert f.exhausted_at is not None
    assert (f.exhausted_at - s.start).total_seconds() == pytest.approx(1200 + 198_000**0.5)


def test_bursts_are_counted_at_their_instant() -> None:
    # 500 requests at 30 s of every minute; 1,200 allowed: the third burst overflows.
    s = scenario(duration="1m", clients__0__arrivals={"process": "poisson", "rate": 0,
                                                       "bursts": [{"at": "30s", "count": 500}]},
                 usage_plans__0__quota={"limit": 1200, "period": "DAY"})
    (f,) = forecast_quotas(s)
    assert f.exhausted_at == at("2026-03-02T00:02:30")
    assert f.expected_requests == pytest.approx(1440 * 500)
    assert f.refused_requests == pytest.approx(1440 * 500 - 1200)


def test_a_replayed_trace_repeats(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("time_s,route\n0.5,GET /x\n1.5,\n1.5,\n")
    s = scenario(tmp_path, duration="2s", clients__0__arrivals={"process": "replay", "file": "t.csv"},
                 usage_plans__0__quota={"limit": 7, "period": "DAY"})
    (f,) = forecast_quotas(s)
    # Three requests every 2 s: the 7th arrives at 4.5 s (0.5, 1.5, 1.5, 2.5, 3.5, 3.5, 4.5).
    assert f.exhausted_at is not None and (f.exhausted_at - s.start).total_seconds() == pytest.approx(4.5)
    assert f.expected_requests == pytest.approx(3 * 43_200)


def test_clients_sharing_a_key_share_its_quota_and_closed_users_are_approximated() -> None:
    clients = [KEYED["clients"][0],
               {"name": "users", "api_key": "k1", "usage_plan": "p", "routes": {"GET /x": 1},
                "arrivals": {"process": "closed", "users": 10, "spawn_rate": 10,
                             "wait": {"kind": "constant", "time": "940ms"}}}]
    (f,) = forecast_quotas(scenario(clients=clients, behaviour={"gateway_overhead": "10ms"}))
    # 10 users / (0.94 s wait + 0.05 s function + 0.01 s gateway) = 10 rps more: 110 rps.
    assert f.clients == ("c", "users")
    assert f.exhausted_at is not None
    assert (f.exhausted_at - datetime(2026, 3, 2, tzinfo=UTC)).total_seconds() == pytest.approx(1e6 / 110)
    assert any("closed users approximated" in n for n in f.notes)
    # Once refused, the users loop on quick 429s: 10 / (0.94 + 0.01) rps.
    assert f.refused_requests == pytest.approx((100 + 10 / 0.95) * (86_400 - 1e6 / 110))


# --------------------------------------------------------------------------- the calendar


def test_periods_follow_the_utc_calendar_offset_and_start() -> None:
    s = scenario(start="2026-03-04T12:00:00Z", usage_plans__0__quota={"limit": 1_000_000, "period": "DAY",
                                                                       "offset": 400_000})
    first, second = forecast_quotas(s, horizon="1d")
    # Traffic starts at noon; the first period allows 600,000: 6,000 s later.
    assert first.period_start == at("2026-03-04T00:00:00") and first.limit == 600_000
    assert first.exhausted_at == at("2026-03-04T13:40:00")
    assert first.expected_requests == pytest.approx(100 * 43_200)
    assert second.period_start == at("2026-03-05T00:00:00") and second.limit == 1_000_000
    assert second.exhausted_at == at("2026-03-05T02:46:40")


@pytest.mark.parametrize("week_start, begins", [("SUNDAY", "2026-03-01"), ("MONDAY", "2026-03-02")])
def test_week_periods_start_on_the_configured_day(week_start: str, begins: str) -> None:
    s = scenario(start="2026-03-04T00:00:00Z", behaviour={"quota_week_start": week_start},
                 usage_plans__0__quota={"limit": 10**9, "period": "WEEK"})
    (f,) = forecast_quotas(s)
    assert f.period_start == at(f"{begins}T00:00:00")
    assert (f.period_end - f.period_start).days == 7
    # Traffic from Wednesday 00:00 to the end of the week.
    assert f.expected_requests == pytest.approx(100 * (f.period_end - s.start).total_seconds())


def test_months_at_100_rps() -> None:
    # 200,000,000 / 100 rps = 2,000,000 s = 23 d 3 h 33 m 20 s into March; April has 30 days.
    s = scenario(start="2026-03-01T00:00:00Z", usage_plans__0__quota={"limit": 200_000_000, "period": "MONTH"})
    march, april, may = forecast_quotas(s, horizon="90d")
    assert march.exhausted_at == at("2026-03-24T03:33:20")
    assert march.refused_requests == pytest.approx(100 * 31 * 86_400 - 200_000_000)
    assert (april.period_start, april.period_end) == (at("2026-04-01T00:00:00"), at("2026-05-01T00:00:00"))
    assert april.expected_requests == pytest.approx(100 * 30 * 86_400)
    assert may.exhausted_at == at("2026-05-24T03:33:20")
    json.dumps([f.to_dict() for f in (march, april, may)])


def test_keys_without_a_quota_are_left_out() -> None:
    plans = [{"name": "p", "throttle": {"rate": 5, "burst": 10}}]
    assert forecast_quotas(scenario(usage_plans=plans)) == []


def test_bad_horizons() -> None:
    with pytest.raises(ValueError, match="longer than 0s"):
        forecast_quotas(scenario(), horizon="0s")
    with pytest.raises(ValueError, match="duration"):
        forecast_quotas(scenario(), horizon="soon")
    with pytest.raises(ValueError, match="first period only"):
        forecast_quotas(scenario(), horizon="2d", exact=True)


# --------------------------------------------------------------------------- against the simulator


def short(**changes: Any) -> simulator.Scenario:
    # Ten minutes before midnight: the first DAY period is 600 s long.
    return scenario(start="2026-03-02T23:50:00Z", duration="2m", **changes)


def test_exact_run_agrees_on_uniform_traffic() -> None:
    s = short(clients__0__arrivals={"process": "uniform", "rate": 5},
              usage_plans__0__quota={"limit": 1000, "period": "DAY"})
    (analytic,) = forecast_quotas(s)
    (exact,) = forecast_quotas(s, exact=True)
    assert exact.method == "exact"
    # Uniform arrivals at k / 5 s: request 1,000 (0-based) at 200 s is the first refused.
    for f in (analytic, exact):
        assert f.exhausted_at == at("2026-03-02T23:53:20")
        assert f.refused_requests == pytest.approx(2000)
        assert f.expected_requests == pytest.approx(3000)


def test_exact_run_agrees_with_throttles_bursts_and_a_ramp() -> None:
    s = short(
        usage_plans__0__quota={"limit": 1000, "period": "DAY"},
        usage_plans__0__throttle={"rate": 5, "burst": 10},
        usage_plans__0__method_throttles={"POST /x": {"rate": 1, "burst": 2}},
        clients__0__routes={"GET /x": 3, "POST /x": 1},
        clients__0__arrivals={"process": "poisson", "rate": [["0s", 4], ["1m", 10], ["2m", 4]],
                              "bursts": [{"at": "30s", "count": 50}]},
    )
    (analytic,) = forecast_quotas(s)
    (exact,) = forecast_quotas(s, exact=True, seed=4)
    assert analytic.exhausted_at is not None and exact.exhausted_at is not None
    assert abs((analytic.exhausted_at - exact.exhausted_at).total_seconds()) < 6
    assert analytic.refused_requests == pytest.approx(exact.refused_requests, rel=0.05)
    assert analytic.throttled_requests == pytest.approx(exact.throttled_requests, rel=0.15)
    assert analytic.expected_requests == pytest.approx(exact.expected_requests, rel=0.05)


def test_exact_refuses_a_long_first_period() -> None:
    with pytest.raises(ValueError, match="exact=True would simulate about 8,640,000"):
        forecast_quotas(scenario(), exact=True)


def test_forecast_objects_are_plain() -> None:
    (f,) = forecast_quotas(scenario())
    assert isinstance(f, QuotaForecast)
    d = f.to_dict()
    assert d["exhausted_at"] == "2026-03-02T02:46:40Z" and d["period_start"] == "2026-03-02T00:00:00Z"
