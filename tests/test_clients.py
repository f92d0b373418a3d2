"""Clients: retries with backoff and quota, Locust's closed users, open arrivals."""

import math

import numpy as np
import pytest

import simulator
from simulator.scenario import OpenArrivals
from simulator.traffic.arrivals import open_arrival_times
from simulator.traffic.clients import Waiter
from tests.conftest import timeline

THROTTLE_ALL = {"throttle": {"rate": 0, "burst": 0}}


def client(build, times, **keys):
    return [dict({"name": "c", "routes": {"GET /x": 1},
                  "arrivals": {"process": "replay", "file": build.trace(times)}}, **keys)]


def test_fixed_retries_wait_and_stop_at_max_attempts(build):
    s = build(None, account=THROTTLE_ALL,
              clients=client(build, [0.0], retry={"mode": "fixed", "delay": "1s", "max_attempts": 3}),
              behaviour={"gateway_overhead": "10ms"})
    r = simulator.simulate(s)
    assert timeline(r) == [(0.0, "throttled_account", 0.01), (1.01, "throttled_account", 0.01),
                           (2.02, "throttled_account", 0.01)]
    req = r.requests_dataframe()
    assert req["attempts"].tolist() == [3]
    assert req["latency_s"].tolist() == pytest.approx([2.03])


def test_exponential_backoff_without_jitter_doubles_up_to_the_cap(build):
    retry = {"mode": "exponential", "base": "100ms", "cap": "300ms", "jitter": "none", "max_attempts": 5}
    s = build(None, account=THROTTLE_ALL, clients=client(build, [0.0], retry=retry))
    starts = [round(x.time_s, 6) for x in simulator.simulate(s).records()]
    assert starts == [0.0, 0.1, 0.3, 0.6, 0.9]


def test_full_jitter_stays_under_the_ceiling(build):
    retry = {"mode": "exponential", "base": "100ms", "cap": "1s", "max_attempts": 4}
    s = build(None, account=THROTTLE_ALL, clients=client(build, [0.0] * 200, retry=retry))
    df = simulator.simulate(s).to_dataframe().sort_values(["request", "attempt"])
    gaps = df.groupby("request")["time_s"].diff().dropna().to_numpy()
    n = df.groupby("request")["attempt"].transform("max")
    assert len(gaps) == 600 and (gaps >= 0).all()
    ceilings = np.tile([0.1, 0.2, 0.4], 200)
    assert (gaps <= ceilings + 1e-12).all()
    assert gaps.mean() == pytest.approx(ceilings.mean() / 2, rel=0.15)
    assert (n == 4).all()


def test_only_listed_statuses_are_retried(build):
    s = build(None, account=THROTTLE_ALL,
              clients=client(build, [0.0], retry={"mode": "fixed", "delay": "1s", "on": [500]}))
    assert len(simulator.simulate(s).records()) == 1


def test_the_retry_quota_runs_dry(build):
    # Capacity 10, cost 5: two retries in all, then the client stops retrying.
    retry = {"mode": "fixed", "delay": "10ms", "max_attempts": 3, "quota": {"capacity": 10, "cost": 5}}
    s = build(None, account=THROTTLE_ALL, clients=client(build, [0.0, 1.0, 2.0], retry=retry))
    df = simulator.simulate(s).requests_dataframe()
    assert df["attempts"].tolist() == [3, 1, 1]


def test_a_success_refills_the_retry_quota(build):
    retry = {"mode": "fixed", "delay": "10ms", "max_attempts": 2, "quota": {"capacity": 5, "cost": 5,
                                                                             "success_increment": 1}}
    # Account bucket: one token at t=0, then 1 per 10 s. Request 0 succeeds (no retry, +1
    # but capped at 5); request 1 at t=1 is throttled and retries (5 -> 0); request 2 at
    # t=2 is throttled and cannot retry.
    s = build(None, account={"throttle": {"rate": 0.1, "burst": 1}}, clients=client(build, [0.0, 1.0, 2.0],
                                                                                 retry=retry))
    df = simulator.simulate(s).requests_dataframe()
    assert df["attempts"].tolist() == [1, 2, 1]


def test_locust_spawns_users_in_batches_of_floor_spawn_rate():
    assert [Waiter.spawn_time(j, 2.0) for j in range(5)] == [0.0, 0.0, 1.0, 1.0, 2.0]
    assert [Waiter.spawn_time(j, 0.5) for j in range(3)] == [0.0, 2.0, 4.0]
    assert [Waiter.spawn_time(j, 2.5) for j in range(5)] == pytest.approx([0, 0, 0.8, 0.8, 1.6])


def closed(build, wait, users=1, spawn_rate=1.0, duration="5s", **fkeys):
    return build(None, duration=duration,
                 functions=[dict({"name": "f", "duration": "200ms", "init": "0ms"}, **fkeys)],
                 clients=[{"name": "c", "routes": {"GET /x": 1},
                           "arrivals": {"process": "closed", "users": users, "spawn_rate": spawn_rate,
                                        "wait": wait}}])


def test_closed_user_with_constant_wait(build):
    r = simulator.simulate(closed(build, {"kind": "constant", "time": "1s"}, duration="4s"))
    # task 0.2 s, then 1 s wait: starts at 0, 1.2, 2.4, 3.6
    assert [round(x.time_s, 6) for x in r.records()] == [0.0, 1.2, 2.4, 3.6]


def test_closed_user_with_constant_pacing(build):
    r = simulator.simulate(closed(build, {"kind": "constant_pacing", "time": "1s"}, duration="4s"))
    assert [round(x.time_s, 6) for x in r.records()] == [0.0, 1.0, 2.0, 3.0]


def test_constant_throughput_is_pacing_at_one_over_rate(build):
    r = simulator.simulate(closed(build, {"kind": "constant_throughput", "rate": 2}, duration="2s"))
    assert [round(x.time_s, 6) for x in r.records()] == [0.0, 0.5, 1.0, 1.5]


def test_constant_pacing_waits_zero_when_the_task_is_slower(build):
    r = simulator.simulate(closed(build, {"kind": "constant_pacing", "time": "100ms"}, duration="1s"))
    assert [round(x.time_s, 6) for x in r.records()] == [0.0, 0.2, 0.4, 0.6, 0.8]


def test_closed_users_between_waits_stay_in_range(build):
    r = simulator.simulate(closed(build, {"kind": "between", "min": "1s", "max": "2s"}, users=20,
                                  spawn_rate=10, duration="60s"))
    df = r.to_dataframe().sort_values("time_s")
    assert len(df) > 20 * 60 / 2.5 * 0.8


def test_uniform_arrivals_are_evenly_spaced():
    spec = OpenArrivals(process="uniform", rate=4)
    assert open_arrival_times(spec, 1.0, np.random.default_rng(0)).tolist() == [0.0, 0.25, 0.5, 0.75]


def test_a_linear_ramp_gives_the_integral_of_its_rate():
    spec = OpenArrivals.model_validate({"process": "uniform", "rate": [["0s", 0], ["10s", 100]]})
    times = open_arrival_times(spec, 10.0, np.random.default_rng(0))
    assert len(times) == 500  # integral of a 0 -> 100 ramp over 10 s
    # Lambda(t) = 5 t^2, so the k-th request arrives at sqrt(k / 5).
    assert times[:4] == pytest.approx([0, math.sqrt(0.2), math.sqrt(0.4), math.sqrt(0.6)])


def test_poisson_counts_per_second_have_the_poisson_mean_and_variance():
    spec = OpenArrivals(process="poisson", rate=50)
    times = open_arrival_times(spec, 2000.0, np.random.default_rng(1))
    counts = np.bincount(times.astype(int), minlength=2000)
    assert counts.mean() == pytest.approx(50, rel=0.01)
    assert counts.var() == pytest.approx(50, rel=0.1)


def test_bursts_arrive_at_their_instant_or_spread():
    spec = OpenArrivals.model_validate({"process": "uniform", "rate": 0, "bursts": [
        {"at": "1s", "count": 3}, {"at": "2s", "count": 2, "over": "1s"}]})
    assert open_arrival_times(spec, 5.0, np.random.default_rng(0)).tolist() == [1.0, 1.0, 1.0, 2.0, 2.5]


def test_a_profile_longer_than_the_run_is_cut_at_its_end():
    spec = OpenArrivals.model_validate({"process": "uniform", "rate": [["0s", 0], ["20s", 200]]})
    # Over the first 10 s the rate ramps 0 -> 100: 500 requests.
    assert len(open_arrival_times(spec, 10.0, np.random.default_rng(0))) == 500
