"""``--scale X``: every client's offered load multiplied, one transformation for every command."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator.errors import ScenarioError
from simulator.scenario.scale import scale_scenario, scaled_trace
from simulator.studies.sweep import run_point

ROOT = Path(__file__).resolve().parents[1]
REST = str(ROOT / "scenarios" / "rest_usage_plans.toml")
FLASH = str(ROOT / "scenarios" / "flash_sale.toml")
HTTP = str(ROOT / "scenarios" / "http_api_routes.toml")
#: rest_usage_plans.toml's clients at twice their rates, written out by hand.
DOUBLED = {
    "clients.free-poller.arrivals.rate": "16",
    "clients.free-casual.arrivals.rate": "1",
    "clients.paid-shop.arrivals.rate": '[["0s", 20], ["5m", 160], ["10m", 160]]',
    "clients.no-key.arrivals.rate": "0.4",
}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True)


def test_open_rates_and_profiles_are_multiplied():
    s = scale_scenario(simulator.load_scenario(REST), 2)
    rates = {c.name: c.arrivals.rate for c in s.clients}
    assert rates == {"free-poller": 16, "free-casual": 1, "paid-shop": [(0, 20), (300, 160), (600, 160)],
                     "no-key": 0.4}


def test_bursts_are_multiplied_and_rounded_to_whole_requests():
    s = simulator.load_scenario(FLASH)
    (burst,) = [b for c in s.clients for b in getattr(c.arrivals, "bursts", [])]
    assert burst.count == 2000
    scaled = scale_scenario(s, 1.2345)
    assert [b.count for c in scaled.clients for b in getattr(c.arrivals, "bursts", [])] == [2469]
    # A burst that rounds to no request is removed.
    tiny = scale_scenario(s, 0.001)
    assert [b.count for c in tiny.clients for b in getattr(c.arrivals, "bursts", [])] == [2]
    assert all(not c.arrivals.bursts for c in scale_scenario(
        simulator.load_scenario(FLASH, overrides={"clients.sale-opening-rush.arrivals.bursts": '[{at="3m", count=1}]'}),
        0.4).clients if c.arrivals.process == "poisson")


def test_closed_users_and_spawn_rate_are_multiplied():
    s = scale_scenario(simulator.load_scenario(HTTP), 3)
    closed = [(c.arrivals.users, c.arrivals.spawn_rate) for c in s.clients if c.arrivals.process == "closed"]
    assert closed == [(1500, 30), (30, 30)]
    half = scale_scenario(simulator.load_scenario(HTTP), 0.25)
    assert [c.arrivals.users for c in half.clients if c.arrivals.process == "closed"] == [125, 3]  # 2.5 -> 3


def test_a_client_scaled_to_no_user_is_refused_naming_it():
    with pytest.raises(ScenarioError, match="users"):
        scale_scenario(simulator.load_scenario(HTTP), 0.01)
    out = cli("run", HTTP, "--scale", "0.01")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "clients." in out.stderr and "users" in out.stderr and "Traceback" not in out.stderr


def test_scale_one_is_the_scenario_itself():
    s = simulator.load_scenario(REST)
    assert scale_scenario(s, 1.0) is s


def test_replay_traces_are_duplicated_or_thinned_deterministically():
    times, routes = (0.0, 1.0, 2.0, 4.0), ("a", "b", "c", "d")
    assert scaled_trace(times, routes, 3) == (
        (0.0, 1 / 3, 2 / 3, 1.0, 1 + 1 / 3, 1 + 2 / 3, 2.0, 2 + 2 / 3, 2 + 4 / 3, 4.0, 4.0, 4.0),
        ("a",) * 3 + ("b",) * 3 + ("c",) * 3 + ("d",) * 3,
    )
    assert scaled_trace(times, routes, 0.5) == ((1.0, 4.0), ("b", "d"))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=40).map(sorted),
    st.floats(0.001, 20),
)
def test_scaled_traces_keep_order_span_and_count(times, factor):
    routes = tuple(str(i) for i in range(len(times)))
    new_times, new_routes = scaled_trace(tuple(times), routes, factor)
    assert len(new_times) == len(new_routes) == math.floor(len(times) * factor)
    assert list(new_times) == sorted(new_times)
    assert all(times[0] <= t <= times[-1] for t in new_times)
    assert scaled_trace(tuple(times), routes, factor) == (new_times, new_routes)


def test_run_scale_equals_the_rates_written_out():
    scaled = cli("run", REST, "--set", "duration=30s", "--scale", "2", "--json")
    by_hand = cli("run", REST, "--set", "duration=30s", *(f for k, v in DOUBLED.items() for f in ("--set", f"{k}={v}")),
                  "--json")
    assert scaled.returncode == 0, scaled.stderr
    assert json.loads(scaled.stdout) == json.loads(by_hand.stdout)


def test_sweep_points_are_scaled():
    fixed = {"duration": "30s"}
    assert run_point(REST, fixed, 7, 2.0) == run_point(REST, {**fixed, **DOUBLED}, 7)
    assert run_point(REST, fixed, 7, 2.0) != run_point(REST, fixed, 7)


def test_quota_forecast_runs_out_sooner_at_twice_the_load():
    one = json.loads(cli("quota", REST, "--horizon", "30d", "--json").stdout)
    two = cli("quota", REST, "--horizon", "30d", "--json", "--scale", "2")
    assert two.returncode == 0, two.stderr
    pairs = list(zip(one, json.loads(two.stdout), strict=True))
    assert all((a["api_key"], a["period_start"]) == (b["api_key"], b["period_start"]) for a, b in pairs)
    assert all(b["expected_requests"] >= a["expected_requests"] for a, b in pairs)
    ran_out = [(a["exhausted_at"], b["exhausted_at"]) for a, b in pairs if a["exhausted_at"]]
    # Every key runs out no later; a key below its plan's throttle (free-casual, 0.5 of 5 requests per
    # second) runs out after 1,000 s instead of 2,000 s.
    assert ran_out and all(b is not None and b <= a for a, b in ran_out)
    assert ("2026-03-03T00:33:20Z", "2026-03-03T00:16:40Z") in ran_out


@pytest.mark.parametrize("command", ["run", "cost", "sweep", "plan", "quota"])
def test_a_bad_scale_is_one_line(command):
    extra = {"sweep": ["--vary", "functions.orders.memory_mb=512"],
             "plan": ["--vary", "functions.orders.memory_mb=512", "--slo", "rate_5xx<0.1"]}.get(command, [])
    out = cli(command, REST, *extra, "--scale", "0")
    assert out.returncode == 2 and "--scale" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_compare_scales_both_sides_and_says_so():
    out = cli("cost", REST, "--compare", "--scale", "2", "--set", "duration=30s", "--set",
              "functions.orders.memory_mb=1024", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["both_sides"] == {"duration": "30s", "--scale": 2.0}
    alone = json.loads(cli("cost", REST, "--scale", "2", "--set", "duration=30s", "--json").stdout)
    assert d["baseline_cost_usd"]["run_total"] == alone["run_total"]
