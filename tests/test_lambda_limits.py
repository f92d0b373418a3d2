"""The independent runtime's accounting on its own, with time as an argument: exact
instants at which the scaling rate, idle expiry and lifetimes change a decision."""

from __future__ import annotations

from loadtests.target.lambda_limits import LambdaLimits


def limits(build, **function):
    return LambdaLimits(build(functions=[{"name": "f", "duration": "1s", **function}],
                              behaviour={"scaling_burst": 2, "scaling_refill_per_s": 0.5}))


def test_the_scaling_rate_refills_continuously_and_saves_no_more_than_its_burst(build):
    lim = limits(build)
    grants = [lim.acquire("f", 0.0) for _ in range(3)]
    assert [g.cold for g in grants[:2]] == [True, True] and grants[2].throttle_reason == "scaling_rate"
    assert lim.acquire("f", 1.999).throttle_reason == "scaling_rate"  # 0.9995 of a start earned
    assert lim.acquire("f", 2.0).cold  # one whole start at 0.5/s
    for g in grants[:2]:
        lim.release(g.environment, 3.0)
    # 100 s idle earns 50 starts, but at most 2 are saved: warm ones first, then 2 new, then no more.
    later = [lim.acquire("f", 100.0) for _ in range(5)]
    expected = [(False, "")] * 2 + [(True, "")] * 2 + [(False, "scaling_rate")]
    assert [(g.cold, g.throttle_reason) for g in later] == expected


def test_an_idle_environment_serves_until_its_idle_time_is_up_then_is_stopped(build):
    lim = limits(build)
    env = lim.acquire("f", 0.0).environment
    assert lim.release(env, 1.0)
    env.idle_until_s = 6.0
    assert lim.expire(5.999) == []
    again = lim.acquire("f", 5.999)
    assert again.environment is env and not again.cold
    lim.release(env, 7.0)
    env.idle_until_s = 8.0
    assert lim.expire(8.0) == [env]
    assert lim.acquire("f", 8.0).cold


def test_an_environment_past_its_lifetime_stops_instead_of_going_idle(build):
    lim = LambdaLimits(build(functions=[{"name": "f", "duration": "1s"}],
                             behaviour={"max_environment_lifetime": "10s"}))
    env = lim.acquire("f", 0.0).environment
    assert lim.release(env, 9.0)
    env.idle_until_s = 600.0
    assert lim.acquire("f", 10.0).cold  # idle past 10 s of life: not reused
    assert lim.expire(10.0) == [env]
    second = lim.acquire("f", 11.0).environment
    assert not lim.release(second, 21.0)  # lived 11 s: retired


def test_provisioned_environments_are_used_first_and_hold_the_unreserved_pool(build):
    lim = LambdaLimits(build(functions=[{"name": "f", "duration": "1s", "provisioned_concurrency": 2}],
                             account={"lambda_concurrency": 3, "unreserved_min": 0}))
    for _ in range(2):
        env = lim.new_environment("f", 0.0, provisioned=True)
        lim.add_provisioned(env)
    grants = [lim.acquire("f", 1.0) for _ in range(4)]
    assert [(g.environment is not None and g.environment.provisioned, g.cold, g.throttle_reason) for g in grants] == [
        (True, False, ""), (True, False, ""), (False, True, ""), (False, False, "unreserved_pool")]
    assert lim.busy("f") == 3


def test_the_request_rate_is_checked_first_and_spent_only_by_placed_invocations(build):
    # 1 concurrency: 10 invocations per second, 0.3 s of burst: 3; each invocation holds it.
    lim = LambdaLimits(build(functions=[{"name": "f", "duration": "1s"}],
                             account={"lambda_concurrency": 1, "unreserved_min": 0},
                             behaviour={"lambda_request_rate_burst_s": 0.3}))
    env = lim.acquire("f", 0.0).environment
    assert [lim.acquire("f", 0.01).throttle_reason for _ in range(5)] == ["unreserved_pool"] * 5  # cost nothing
    lim.release(env, 0.05)
    assert lim.acquire("f", 0.05).environment is env  # 2.5 allowances: placed, 1.5 left
    assert lim.acquire("f", 0.055).throttle_reason == "unreserved_pool"  # 1.55: room is what is missing
    lim.release(env, 0.06)
    assert lim.acquire("f", 0.06).environment is env  # 1.6: placed, 0.6 left
    lim.release(env, 0.07)
    assert lim.acquire("f", 0.07).throttle_reason == "request_rate"  # 0.7: refused, with room free


def test_reserved_concurrency_and_background_load_in_the_request_rate(build):
    lim = LambdaLimits(build(functions=[{"name": "f", "duration": "1s", "reserved_concurrency": 1},
                                        {"name": "g", "duration": "1s"}],
                             account={"lambda_concurrency": 10, "unreserved_min": 0,
                                      "background": [{"name": "b", "rate": 90, "mean_duration": "45ms"}]},
                             behaviour={"lambda_request_rate_burst_s": 0.1}))
    f, g = lim.request_rates["f"], lim.request_rates["g"]
    assert [(r.burst, r.refill_per_s) for r in f] == [(1.0, 10.0), (10.0, 10.0)] and g == [f[1]]
    assert lim.unreserved_capacity == 10 - 1 - 4  # 90/s x 45 ms = 4.05 in flight
