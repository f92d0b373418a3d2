"""Concurrency that changes during a run: exact simulated timelines, target tracking, billing.

Schedules of provisioned and reserved concurrency are events on the engine's clock; each
test below pins down when a change takes effect and what it does to the requests around it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import simulator
from simulator.cost import LambdaUsage, lambda_cost, load_prices, run_cost
from simulator.cost.metering import provisioned_periods
from simulator.engine.fast.engine import unsupported
from simulator.outcomes import COLD, LAMBDA_THROTTLED, OK, PROVISIONED

ROUTE = "GET /x"
ROOT = Path(__file__).resolve().parents[1]


def scenario(duration: str = "3m", clients: list[dict[str, Any]] | None = None,
             behaviour: dict[str, Any] | None = None, **function: Any) -> simulator.Scenario:
    f = dict({"name": "f", "duration": "1s", "init": "500ms", "timeout": "10s"}, **function)
    data: dict[str, Any] = {
        "name": "over-time", "duration": duration, "routes": [{"name": ROUTE, "function": "f"}], "functions": [f],
        "clients": clients or [{"name": "c", "routes": {ROUTE: 1}, "arrivals": {"process": "uniform", "rate": 2}}],
    }
    if behaviour:
        data["behaviour"] = behaviour
    return simulator.parse_scenario(data)


def bursts(*points: tuple[str, int]) -> list[dict[str, Any]]:
    """A client that sends only bursts: ``count`` requests at once at each time."""
    return [{"name": "c", "routes": {ROUTE: 1},
             "arrivals": {"process": "uniform", "rate": 0, "bursts": [{"at": at, "count": n} for at, n in points]}}]


def attempts(result: Any) -> list[tuple[float, int, int]]:
    """(time, cause, flags) of every attempt, in the order sent."""
    a = result.attempts
    return [(float(t), int(c), int(f)) for t, c, f in zip(a["time_s"], a["gateway_cause"], a["flags"])]


# --------------------------------------------------------------------------- schedules


def test_provisioned_concurrency_added_at_60s_serves_every_request_from_60s_on() -> None:
    r = simulator.simulate(scenario(provisioned_concurrency=[["0s", 0], ["1m", 10]]), engine="simpy")
    rows = attempts(r)
    after = [(t, f) for t, _, f in rows if t >= 60.0]
    assert after[0][0] == 60.0 and len(after) == 240
    assert all(f == PROVISIONED for _, f in after)  # provisioned, never cold, the request at 60 s included
    before = [f for t, _, f in rows if t < 60.0]
    assert all(f & PROVISIONED == 0 for f in before) and sum(f & COLD != 0 for f in before) == 3
    assert r.provisioned_changes == ((60.0, 0, 10),)


def test_added_environments_serve_once_the_allocation_delay_has_passed() -> None:
    s = scenario(provisioned_concurrency=[["0s", 0], ["1m", 10]], behaviour={"provisioned_allocation_delay": "2m"},
                 duration="4m")
    rows = attempts(simulator.simulate(s, engine="simpy"))
    assert all(f & PROVISIONED == 0 for t, _, f in rows if t < 180.0)
    assert all(f == PROVISIONED for t, _, f in rows if t >= 180.0)


def test_lowered_reserved_concurrency_throttles_the_second_concurrent_invocation() -> None:
    s = scenario(reserved_concurrency=[["0s", 5], ["30s", 1]], clients=bursts(("10s", 2), ("40s", 2)))
    rows = attempts(simulator.simulate(s, engine="simpy"))
    assert [(t, c) for t, c, _ in rows] == [(10.0, OK), (10.0, OK), (40.0, OK), (40.0, LAMBDA_THROTTLED)]


def test_invocations_above_a_lowered_reserved_concurrency_finish_and_hold_it_until_then() -> None:
    s = scenario(reserved_concurrency=[["0s", 5], ["30s", 1]], duration="1m",
                 clients=bursts(("29.5s", 3), ("30.2s", 1), ("30.6s", 1)))
    r = simulator.simulate(s, engine="simpy")
    assert [(t, c) for t, c, _ in attempts(r)] == [
        (29.5, OK), (29.5, OK), (29.5, OK),  # running at 30 s: they finish, at 31.0 s (init 0.5 s + 1 s)
        (30.2, LAMBDA_THROTTLED), (30.6, LAMBDA_THROTTLED)]
    assert list(r.attempts["run_s"][:3]) == [1.0, 1.0, 1.0]


def test_busy_provisioned_environments_finish_and_count_until_they_do() -> None:
    # Reserved 2, both provisioned; provisioned concurrency drops to 0 at 10 s while both are busy
    # (8 s to 13 s): they finish, and until then they still take the function's 2 slots.
    data = {"name": "drain", "duration": "20s", "routes": [{"name": ROUTE, "function": "f"}],
            "functions": [{"name": "f", "duration": "5s", "init": "500ms", "timeout": "10s", "reserved_concurrency": 2,
                           "provisioned_concurrency": [["0s", 2], ["10s", 0]]}],
            "clients": bursts(("8s", 2), ("11s", 1), ("14s", 1))}
    r = simulator.simulate(simulator.parse_scenario(data), engine="simpy")
    assert attempts(r) == [(8.0, OK, PROVISIONED), (8.0, OK, PROVISIONED), (11.0, LAMBDA_THROTTLED, 0),
                           (14.0, OK, COLD)]
    assert list(r.attempts["run_s"][:2]) == [5.0, 5.0]


def test_idle_provisioned_environments_go_at_once_when_the_schedule_lowers_it() -> None:
    # Reserved 3 with 3 provisioned, lowered to 1 at 10 s while all are idle: from then on two
    # on-demand invocations fit beside the provisioned one.
    s = scenario(reserved_concurrency=3, provisioned_concurrency=[["0s", 3], ["10s", 1]], duration="20s",
                 clients=bursts(("5s", 3), ("12s", 3), ("15s", 4)))
    rows = attempts(simulator.simulate(s, engine="simpy"))
    assert [f for _, _, f in rows[:3]] == [PROVISIONED] * 3
    assert [(c, f) for _, c, f in rows[3:6]] == [(OK, PROVISIONED), (OK, COLD), (OK, COLD)]
    assert [c for _, c, _ in rows[6:]] == [OK, OK, OK, LAMBDA_THROTTLED]


# --------------------------------------------------------------------------- target tracking

BUSY_USERS = [{"name": "c", "routes": {ROUTE: 1},
               "arrivals": {"process": "closed", "users": 2, "spawn_rate": 1000, "wait": {"kind": "constant",
                                                                                          "time": "0s"}}}]
#: Users that never wait need answers that take time: 10 ms of gateway overhead beyond each 1 s run.
BUSY_GATEWAY = {"gateway_overhead": "10ms"}


def test_target_tracking_scales_out_after_three_datapoints_of_one_minute() -> None:
    # Two users keep two provisioned environments busy 1 s of every 1.01 s: utilization 0.99
    # against a target of 0.5, from the first minute. The third datapoint (t = 180 s) scales
    # out to ceil(2 x 0.99 / 0.5) = 4; at 4 the utilization (0.495) is below the target, but 15
    # datapoints of it would ask for ceil(3.96) = 4 again, so nothing more happens.
    s = scenario(duration="20m", clients=BUSY_USERS, behaviour=BUSY_GATEWAY, provisioned_concurrency=2,
                 provisioned_autoscaling={"target_utilization": 0.5, "max_capacity": 10})
    r = simulator.simulate(s, engine="simpy")
    assert r.provisioned_changes == ((180.0, 0, 4),)


def test_target_tracking_with_one_datapoint_of_30s_scales_out_at_30s() -> None:
    s = scenario(duration="10m", clients=BUSY_USERS, behaviour=BUSY_GATEWAY, provisioned_concurrency=1,
                 provisioned_autoscaling={"target_utilization": 0.9, "max_capacity": 2, "scale_out_datapoints": 1,
                                          "metric_period": "30s"})
    r = simulator.simulate(s, engine="simpy")
    # One user's worth of environments is provisioned: utilization 1.0 at the first 30 s period.
    assert r.provisioned_changes == ((30.0, 0, 2),)


def test_target_tracking_waits_out_its_scale_out_cooldown() -> None:
    # Four busy users, one provisioned environment, one 30 s datapoint above 0.9 per scale-out:
    # 1 -> 2 at 30 s; the next scale-outs wait for the 2 min cooldown (150 s, 270 s).
    users = [dict(BUSY_USERS[0], arrivals=dict(BUSY_USERS[0]["arrivals"], users=4))]
    scaling = {"target_utilization": 0.9, "max_capacity": 10, "scale_out_datapoints": 1, "metric_period": "30s"}
    s = scenario(duration="5m", clients=users, behaviour=BUSY_GATEWAY, provisioned_concurrency=1,
                 provisioned_autoscaling=dict(scaling, scale_out_cooldown="2m"))
    assert simulator.simulate(s, engine="simpy").provisioned_changes == ((30.0, 0, 2), (150.0, 0, 3), (270.0, 0, 4))
    s = scenario(duration="5m", clients=users, behaviour=BUSY_GATEWAY, provisioned_concurrency=1,
                 provisioned_autoscaling=scaling)
    assert simulator.simulate(s, engine="simpy").provisioned_changes == ((30.0, 0, 2), (60.0, 0, 3), (90.0, 0, 4),
                                                                          (120.0, 0, 5))


def test_target_tracking_scales_in_after_fifteen_datapoints_to_the_scheduled_minimum() -> None:
    # A minimum of 4 lowered to 1 at 1 min leaves the capacity at 4 (AWS enforces a minimum, it does
    # not lower capacity to it); idle environments give datapoints of 0, below the target from the
    # first minute, so the 15th (t = 900 s) scales in to max(ceil(0), minimum 1) = 1.
    quiet = [{"name": "c", "routes": {ROUTE: 1}, "arrivals": {"process": "uniform", "rate": 0,
                                                                "bursts": [{"at": "1s", "count": 1}]}}]
    s = scenario(duration="17m", clients=quiet, provisioned_concurrency=[["0s", 4], ["1m", 1]],
                 provisioned_autoscaling={"target_utilization": 0.7, "max_capacity": 8})
    r = simulator.simulate(s, engine="simpy")
    assert r.provisioned_changes == ((900.0, 0, 1),)


def test_disable_scale_in_keeps_the_capacity() -> None:
    quiet = bursts(("1s", 1))
    s = scenario(duration="17m", clients=quiet, provisioned_concurrency=[["0s", 4], ["1m", 1]],
                 provisioned_autoscaling={"target_utilization": 0.7, "max_capacity": 8, "disable_scale_in": True})
    assert simulator.simulate(s, engine="simpy").provisioned_changes == ()


# --------------------------------------------------------------------------- re-initialisation


def test_a_recycled_provisioned_environment_is_away_for_an_init_duration() -> None:
    # One provisioned environment, re-initialised every minute (first at 60 s) for init = 0.5 s:
    # requests in [60 s, 60.5 s) spill over to on-demand environments (each a cold start, as the
    # one before is still initialising).
    data = {"name": "recycle", "duration": "100s", "routes": [{"name": ROUTE, "function": "f"}],
            "functions": [{"name": "f", "duration": "10ms", "init": "500ms", "provisioned_concurrency": 1}],
            "behaviour": {"provisioned_recycle_interval": "1m"},
            "clients": [{"name": "c", "routes": {ROUTE: 1}, "arrivals": {"process": "uniform", "rate": 10}}]}
    rows = attempts(simulator.simulate(simulator.parse_scenario(data), engine="simpy"))
    away = [(t, f) for t, _, f in rows if 60.0 <= t < 60.5 - 1e-9]
    assert away == [(60.0, COLD), (60.1, COLD), (60.2, COLD), (60.3, COLD), (60.4, COLD)]
    assert all(f == PROVISIONED for t, _, f in rows if t < 60.0 - 1e-9 or t >= 60.5 - 1e-9)
    off = dict(data, behaviour={})
    assert all(f == PROVISIONED for _, _, f in attempts(simulator.simulate(simulator.parse_scenario(off))))


# --------------------------------------------------------------------------- billing


def test_100_provisioned_from_7h_to_9h03_bills_2h05() -> None:
    periods = provisioned_periods([(0.0, 0), (7 * 3600.0, 100), (9 * 3600.0 + 180.0, 0)], 86400.0)
    assert periods == ((100, 7380.0),)
    usage = LambdaUsage(requests=0, billed_ms=0, memory_mb=1024, provisioned_concurrency=100,
                        provisioned_periods=periods)
    line = next(x for x in lambda_cost(usage).lines if x.item.startswith("Provisioned concurrency"))
    # 2 h 03 min rounds up to 2 h 05 min = 7,500 s; x 100 environments x 1 GB.
    assert line.quantity == 750_000.0
    assert line.usd == pytest.approx(750_000 * 0.0000041667, rel=1e-12)


def test_each_level_is_rounded_up_on_its_own() -> None:
    periods = provisioned_periods([(0.0, 10), (61.0, 20), (400.0, 20), (700.0, 0), (800.0, 5)], 1000.0)
    assert periods == ((10, 61.0), (20, 639.0), (5, 200.0))
    usage = LambdaUsage(requests=0, billed_ms=0, memory_mb=2048, provisioned_concurrency=20,
                        provisioned_periods=periods, provisioned_repeat=3.0)
    # (10 x 300 + 20 x 900 + 5 x 300) s x 2 GB, three times.
    assert usage.provisioned_unit_seconds * usage.memory_gb == 3 * (3000 + 18000 + 1500) * 2.0


def test_a_run_bills_the_schedule_and_a_month_repeats_it() -> None:
    s = scenario(duration="10m", memory_mb=2048, provisioned_concurrency=[["0s", 0], ["1m", 3], ["3m1s", 0]])
    cost = run_cost(simulator.simulate(s, engine="simpy"))

    def configured(bill: Any) -> float:
        return sum(x.quantity for x in bill.lines if x.item.startswith("Provisioned concurrency"))

    assert configured(cost.run) == 3 * 300.0 * 2.0  # 121 s rounds up to 5 min
    assert configured(cost.monthly) == pytest.approx(3 * 300.0 * 2.0 * 730 * 3600 / 600, rel=1e-12)
    price = load_prices("us-east-1")["lambda.provisioned_concurrency.x86_64"]
    assert price.cost(1800.0) == pytest.approx(1800.0 * 0.0000041667, rel=1e-12)


def test_a_constant_provisioned_concurrency_is_billed_as_before() -> None:
    s = scenario(duration="7m", provisioned_concurrency=2)
    cost = run_cost(simulator.simulate(s, engine="simpy"))
    line = next(x for x in cost.run.lines if x.item.startswith("Provisioned concurrency"))
    assert line.quantity == 2 * 600.0 * 0.125


# --------------------------------------------------------------------------- engines and checks


def test_the_fast_engine_declines_changing_concurrency_and_auto_says_why() -> None:
    s = scenario(provisioned_concurrency=[["0s", 0], ["1m", 10]])
    assert unsupported(s) is not None and "provisioned_autoscaling of function 'f'" in unsupported(s)
    r = simulator.simulate(s)
    assert r.engine == "simpy" and "changes during a run" in (r.engine_note or "")
    assert unsupported(scenario(provisioned_concurrency=4)) is None
    assert unsupported(scenario(provisioned_concurrency=4, behaviour={"provisioned_recycle_interval": "1h"}))


def test_the_shipped_schedule_with_fixed_values_runs_the_same_on_both_engines() -> None:
    fixed = {"duration": "2m", "cost.month_from": "run", "functions.feed.provisioned_concurrency": "3",
             "clients.app.arrivals.bursts": []}
    s = simulator.load_scenario(ROOT / "scenarios" / "scheduled_capacity.toml", overrides=fixed)
    assert unsupported(s) is None
    ref, fast = simulator.simulate(s, engine="simpy"), simulator.simulate(s, engine="fast")
    assert attempts(ref) == attempts(fast) and ref.n_attempts > 100
    one, two = ref.summary(), fast.summary()
    assert one.pop("engine") == "simpy" and two.pop("engine") == "fast" and one == two


def test_constant_schedules_match_the_plain_numbers_on_both_engines() -> None:
    one = simulator.simulate(scenario(provisioned_concurrency=[["0s", 3]], reserved_concurrency=[["0s", 6]]),
                             engine="fast")
    two = simulator.simulate(scenario(provisioned_concurrency=3, reserved_concurrency=6), engine="simpy")
    assert attempts(one) == attempts(two) and any(f & PROVISIONED for _, _, f in attempts(one))


@pytest.mark.parametrize("keys, message", [
    ({"reserved_concurrency": [["0s", 20], ["30s", 5]], "provisioned_concurrency": [["0s", 0], ["1m", 10]]},
     r"functions\[0\]\.provisioned_concurrency: must not exceed reserved_concurrency \(5\) at 1m, got 10"),
    ({"provisioned_concurrency": [["1s", 1]]}, r"a schedule must start at '0s'"),
    ({"provisioned_concurrency": [["0s", 1], ["1m", 2], ["1m", 3]]}, r"schedule times must increase"),
    ({"provisioned_concurrency": [["0s", 1], ["1m", -2]]}, r"schedule values must be between 0 and"),
    ({"reserved_concurrency": "many"}, r"reserved_concurrency: must be a number, or a schedule"),
    ({"provisioned_concurrency": 5, "provisioned_autoscaling": {"target_utilization": 0.7, "max_capacity": 4}},
     r"max_capacity: must be at least provisioned_concurrency, its minimum \(5\), got 4"),
    ({"reserved_concurrency": 3, "provisioned_autoscaling": {"target_utilization": 0.7, "max_capacity": 4}},
     r"provisioned_autoscaling\.max_capacity: must not exceed reserved_concurrency \(3\), got 4"),
    ({"reserved_concurrency": [["0s", 100], ["2m", 950]]},
     r"reserved concurrency adds up to 950 at 2m, more than the 900 the account can reserve"),
])
def test_bad_schedules_are_one_line_errors(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(simulator.ScenarioError, match=message) as info:
        scenario(**keys)
    assert "\n" not in str(info.value)


def test_uniform_arrivals_are_exact_here() -> None:
    # The timelines above rely on uniform arrivals at k / rate.
    r = simulator.simulate(scenario(duration="2s"), engine="simpy")
    assert np.array_equal(r.attempts["time_s"], [0.0, 0.5, 1.0, 1.5])


# --------------------------------------------------------------------------- properties

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from simulator.engine.reference import ReferenceEngine  # noqa: E402


@st.composite
def changing(draw: Any) -> dict[str, Any]:
    times = sorted(draw(st.sets(st.integers(1, 59), max_size=4)))
    reserved = draw(st.one_of(st.none(), st.integers(3, 8)))
    top = reserved if reserved is not None else 8
    prov = [["0s", draw(st.integers(0, top))]] + [[f"{t}s", draw(st.integers(0, top))] for t in times]
    points = draw(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 6)), min_size=1, max_size=8))
    return {"reserved": reserved, "provisioned": prov, "delay": draw(st.sampled_from(["0s", "2s", "15s"])),
            "recycle": draw(st.sampled_from([None, "5s", "20s"])),
            "bursts": [{"at": f"{t}s", "count": n} for t, n in points],
            "duration": draw(st.sampled_from(["300ms", "2s", "9s"]))}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=changing())
def test_schedules_leave_the_pool_consistent_and_within_reserved(case: dict[str, Any]) -> None:
    f: dict[str, Any] = {"name": "f", "duration": case["duration"], "init": "400ms", "timeout": "10s",
                         "provisioned_concurrency": case["provisioned"]}
    if case["reserved"] is not None:
        f["reserved_concurrency"] = case["reserved"]
    s = simulator.parse_scenario({
        "name": "p", "duration": "70s", "routes": [{"name": ROUTE, "function": "f"}], "functions": [f],
        "behaviour": {"provisioned_allocation_delay": case["delay"],
                      **({"provisioned_recycle_interval": case["recycle"]} if case["recycle"] else {})},
        "clients": [{"name": "c", "routes": {ROUTE: 1},
                     "arrivals": {"process": "uniform", "rate": 0.5, "bursts": case["bursts"]}}]})
    engine = ReferenceEngine(s, 0)
    result = engine.run()
    pool = engine.functions[0].pool
    last = s.functions[0].provisioned_schedule[-1][1]
    # Everything finished: the configured environments are all there and idle, nothing leaked.
    assert pool.busy == 0 and pool.allocating == 0 and pool.reinitializing == 0
    assert pool.provisioned_target == last == pool.provisioned == len(pool.idle_provisioned)
    if case["reserved"] is not None:
        assert pool.on_demand_cap == case["reserved"] - last
        values = [n for _, n in case["provisioned"]]
        if all(b <= a for a, b in zip(values, values[1:])):
            # Never above reserved; more provisioned concurrency can add to on-demand invocations
            # that were already running (they finish), so the bound is checked without increases.
            assert int(result._conc[2].max(initial=0)) <= case["reserved"]
    else:
        assert pool.account_pool.in_use == last
    # The recorded changes replay the schedule.
    steps = [(t, n) for t, n in s.functions[0].provisioned_schedule]
    replayed = [(0.0, steps[0][1])] + [(t, n) for t, _, n in result.provisioned_changes]
    assert provisioned_periods(replayed, 70.0) == provisioned_periods(steps, 70.0)


@given(steps=st.lists(st.tuples(st.integers(1, 10_000), st.integers(0, 50)), max_size=6),
       first=st.integers(0, 50), end=st.integers(1, 12_000))
def test_periods_bill_between_the_use_and_five_minutes_more_per_period(steps: list[tuple[int, int]], first: int,
                                                                        end: int) -> None:
    points = [(0.0, first)] + sorted({float(t): n for t, n in steps}.items())
    periods = provisioned_periods(points, float(end))
    used = sum(n * (min(b, end) - a) for (a, n), (b, _) in zip(points, [*points[1:], (float(end), 0)]) if a < end)
    billed = LambdaUsage(requests=0, billed_ms=0, memory_mb=1024, provisioned_concurrency=max([1, *dict(periods)]),
                         provisioned_periods=periods).provisioned_unit_seconds if periods else 0.0
    assert sum(n * d for n, d in periods) == used
    assert used <= billed < used + 300 * sum(n for n, _ in periods) + 1e-9
    assert all(n > 0 and d > 0 for n, d in periods)


# --------------------------------------------------------------------------- what cannot follow a schedule

CHANGING = """
name = "s"
duration = "2s"
routes = [{ name = "GET /a", function = "f" }]
functions = [{ name = "f", duration = "5ms", provisioned_concurrency = [["0s", 0], ["1s", 2]] }]
[[clients]]
name = "open"
routes = { "GET /a" = 1 }
arrivals = { process = "uniform", rate = 5 }
"""


@pytest.mark.parametrize("argv, says", [
    (["validate", "{path}", "--target", "emulated", "--out", "{tmp}/v"],
     "{path}: functions.f: the local targets keep concurrency fixed"),
    (["serve", "{path}", "--port", "18123"], "{path}: functions.f: the local targets keep concurrency fixed"),
    (["export", "{path}", "-o", "{tmp}/x.yaml"], "functions.f: concurrency that changes during the run"),
])
def test_local_targets_and_export_refuse_changing_concurrency_in_one_line(
        argv: list[str], says: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.cli import main

    path = tmp_path / "s.toml"
    path.write_text(CHANGING)
    code = main([a.format(path=path, tmp=tmp_path) for a in argv])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and says.format(path=path) in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]
