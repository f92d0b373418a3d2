"""Quota forecasts with growing traffic, against the geometric sums of the model.

The model (simulator/studies/growth.py): the load of day j after start is g ** j times the
scenario's. A constant offered rate r therefore sends 86,400 r g ** j requests on day j and
86,400 r (g ** n - 1) / (g - 1) in the first n days.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator.studies.growth import growth_steps, parse_growth
from simulator.studies.quota_forecast import forecast_quotas

DAY = 86_400.0
START = datetime(2026, 3, 1, tzinfo=UTC)

KEYED: dict[str, Any] = {
    "name": "growing",
    "duration": "1h",
    "start": "2026-03-01T00:00:00Z",
    "api": {"type": "REST", "api_key_required": True},
    "routes": [{"name": "GET /x", "function": "f"}],
    "functions": [{"name": "f", "duration": "50ms"}],
    "usage_plans": [{"name": "p", "quota": {"limit": 30_000_000, "period": "MONTH"}}],
    "clients": [{"name": "c", "api_key": "k1", "usage_plan": "p", "routes": {"GET /x": 1},
                 "arrivals": {"process": "poisson", "rate": 10}}],
}


def scenario(plan: dict[str, Any] | None = None, rate: float = 10, duration: str = "1h") -> simulator.Scenario:
    data = copy.deepcopy(KEYED)
    data["duration"] = duration
    data["clients"][0]["arrivals"]["rate"] = rate
    data["usage_plans"][0].update(plan or {})
    return simulator.parse_scenario(data, base_dir=".")


def days_sum(per_day: float, g: float, n: float) -> float:
    """Requests in the first *n* whole days: per_day (g^n - 1) / (g - 1)."""
    return per_day * n if g == 1 else per_day * (g**n - 1) / (g - 1)


def exhaustion_s(rate: float, g: float, limit: float) -> float:
    """Seconds after start at which a constant *rate* growing by *g* a day has sent *limit*."""
    per_day = DAY * rate
    if g == 1:
        return limit / rate
    n = math.floor(math.log(1 + limit * (g - 1) / per_day) / math.log(g))  # whole days before
    before = per_day * (g**n - 1) / (g - 1)
    return n * DAY + (limit - before) / (rate * g**n)


def test_growth_rates_are_factors_per_day_compounded_daily():
    assert parse_growth("10%/month") == pytest.approx(1.1 ** (1 / 30), rel=1e-15)
    assert parse_growth("0.5%/day") == 1.005
    assert parse_growth("2%/week") ** 7 == pytest.approx(1.02, rel=1e-14)
    assert parse_growth("-5%/month") ** 30 == pytest.approx(0.95, rel=1e-14)
    assert parse_growth("20% / year") ** 365 == pytest.approx(1.2, rel=1e-14)


@pytest.mark.parametrize("text", ["10%", "10/month", "10%/mo", "-100%/day", "ten%/day", "", "1e3%/day"])
def test_bad_growth_rates_are_one_line_errors(text):
    with pytest.raises(ValueError, match="growth") as caught:
        parse_growth(text)
    assert "\n" not in str(caught.value)


def test_the_load_steps_every_24_hours_at_whole_cycles():
    assert growth_steps(3600.0, 50, 2.0) == [(0, 24, 1.0), (24, 24, 2.0), (48, 2, 4.0)]
    # A 7-hour cycle: cycles start at 0, 7, 14, 21 h (day 0), 28 h (day 1), ...
    assert growth_steps(7 * 3600.0, 5, 2.0) == [(0, 4, 1.0), (4, 1, 2.0)]
    assert growth_steps(2 * DAY, 3, 2.0) == [(0, 1, 1.0), (1, 1, 4.0), (2, 1, 16.0)]


def test_the_day_the_quota_runs_out_at_10_percent_a_month():
    # 10 rps is 864,000 a day: flat, 26M lasts 30.09 days (to 31 March 02:13:20); growing 10% a
    # month, day j sends 864,000 g^j and the sum reaches 26M on 29 March.
    g = 1.1 ** (1 / 30)
    (f,) = forecast_quotas(scenario({"quota": {"limit": 26_000_000, "period": "MONTH"}}), growth="10%/month")
    t = exhaustion_s(10, g, 26_000_000)
    assert 28 * DAY < t < 29 * DAY
    assert f"{f.exhausted_at:%Y-%m-%d %H:%M:%S}" == "2026-03-29 18:47:38"
    assert (f.exhausted_at - START).total_seconds() == pytest.approx(t, abs=1e-3)
    march = 864_000 * (g**31 - 1) / (g - 1)
    assert f.expected_requests == pytest.approx(march, rel=1e-12)
    assert f.refused_requests == pytest.approx(march - 26_000_000, rel=1e-9)


def test_without_growth_the_same_quota_lasts_longer():
    (flat,) = forecast_quotas(scenario({"quota": {"limit": 26_000_000, "period": "MONTH"}}))
    assert (flat.exhausted_at - START).total_seconds() == pytest.approx(26_000_000 / 10, abs=1e-3)
    (grown,) = forecast_quotas(scenario({"quota": {"limit": 26_000_000, "period": "MONTH"}}), growth=1.0)
    assert grown.exhausted_at == flat.exhausted_at


def test_the_next_months_start_from_where_growth_got_to():
    g = parse_growth("10%/month")
    plan = {"quota": {"limit": 29_000_000, "period": "MONTH"}}
    march, april = forecast_quotas(scenario(plan), horizon="40d", growth="10%/month")
    assert march.exhausted_at is None  # 864,000 (g^31 - 1)/(g - 1) = 28.1M < 29M
    assert march.expected_requests == pytest.approx(864_000 * (g**31 - 1) / (g - 1), rel=1e-12)
    # April starts on day 31: 864,000 g^31 (g^n - 1)/(g - 1) reaches 29M about 30 April.
    t = exhaustion_s(10 * g**31, g, 29_000_000)
    assert 28 * DAY < t < 30 * DAY
    assert (april.exhausted_at - datetime(2026, 4, 1, tzinfo=UTC)).total_seconds() == pytest.approx(t, abs=1e-3)


def test_a_key_that_outgrows_its_throttle_is_held_at_the_throttles_rate():
    # 10 rps growing 10% a day against a 12/s bucket of 10 tokens: day 0 admits 864,000 and
    # day 1 (11 rps) 950,400. Day 2 offers 12.1 rps: the bucket drains at 0.1/s for 100 s
    # (1,210 admitted instead of 1,200), then 12/s: 1,036,810. From day 3 on, 1,036,800 a day.
    # A quota of 4,406,410 is then gone half-way through day 4.
    plan = {"throttle": {"rate": 12, "burst": 10}, "quota": {"limit": 4_406_410, "period": "MONTH"}}
    (f,) = forecast_quotas(scenario(plan), growth="10%/day")
    assert (f.exhausted_at - START).total_seconds() == pytest.approx(4.5 * DAY, abs=1e-3)
    assert f.throttled_requests == pytest.approx(10 * DAY * (1.1**2 + 1.1**3 + 1.1**4.0 / 2) - (1_036_810 + 1_036_800
                                                                                              + 518_400), rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(0.5, 200), percent=st.floats(-20, 50), limit=st.integers(1_000, 50_000_000))
def test_exhaustion_matches_the_geometric_sum(rate: float, percent: float, limit: int) -> None:
    text = f"{percent:.6f}"
    g = (1 + float(text) / 100) ** (1 / 30)
    (f,) = forecast_quotas(scenario({"quota": {"limit": limit, "period": "MONTH"}}, rate=rate),
                           growth=f"{text}%/month")
    month = days_sum(DAY * rate, g, 31)
    if limit >= month:
        assert f.exhausted_at is None
    else:
        t = exhaustion_s(rate, g, limit)
        assert (f.exhausted_at - START).total_seconds() == pytest.approx(t, rel=1e-9, abs=1e-3)


def test_growth_and_exact_do_not_mix():
    with pytest.raises(ValueError, match="growth"):
        forecast_quotas(scenario(), exact=True, growth="10%/month")
    with pytest.raises(ValueError, match="growth"):
        forecast_quotas(scenario(), growth=0.0)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True)


def test_the_cli_takes_growth_and_says_so(tmp_path: Path):
    path = tmp_path / "growing.toml"
    path.write_text("""
name = "growing"
duration = "1h"
start = 2026-03-01T00:00:00Z
[api]
type = "REST"
api_key_required = true
[[routes]]
name = "GET /x"
function = "f"
[[functions]]
name = "f"
duration = "50ms"
[[usage_plans]]
name = "p"
quota = { limit = 26000000, period = "MONTH" }
[[clients]]
name = "c"
api_key = "k1-0000000000000000"
usage_plan = "p"
routes = { "GET /x" = 1 }
arrivals = { process = "poisson", rate = 10 }
""")
    out = cli("quota", str(path), "--growth", "10%/month", "--json")
    assert out.returncode == 0, out.stderr
    (f,) = json.loads(out.stdout)
    t = exhaustion_s(10, 1.1 ** (1 / 30), 26_000_000)
    expected = (START + timedelta(seconds=t)).isoformat().replace("+00:00", "Z")
    assert f["exhausted_at"][:19] == expected[:19]
    assert any("1.003182 a day" in note for note in f["notes"])
    table = cli("quota", str(path), "--growth", "10%/month")
    assert table.returncode == 0 and "growing 10%/month compounded daily" in table.stdout
    bad = cli("quota", str(path), "--growth", "10%/fortnight")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--growth" in bad.stderr
