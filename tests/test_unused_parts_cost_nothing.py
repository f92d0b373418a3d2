"""What a scenario does not use is not paid for on the SimPy engine, with the same results:
request-rate buckets that can never refuse are not checked, a scenario without authorizers
records no authorizer columns (nor status codes, which follow from the causes), and a web
function's scale-in looks at its environments only when one may have been idle long enough."""

from __future__ import annotations

from typing import Any

import numpy as np
from conftest import timeline

import simulator
from simulator import outcomes as oc
from simulator.functions.request_rate import request_rates

FAST = {"name": "f", "duration": "1ms", "init": "0ms", "timeout": "10s"}


def both(s: simulator.Scenario) -> simulator.Result:
    """Run *s* on both engines (the fast one checks every bucket); they must agree."""
    ref = simulator.simulate(s, engine="simpy")
    assert ref.records() == simulator.simulate(s, engine="fast").records()
    return ref


# --------------------------------------------------------------------------- request-rate buckets


def test_a_lambda_bucket_the_gateway_account_throttle_covers_is_not_checked(build: Any) -> None:
    # Gateway: 100 rps, burst 50. Lambda: 10 x 1000 = 10,000 rps, burst 10,000: never empty.
    g = {"name": "g", "duration": "1ms", "init": "0ms", "reserved_concurrency": 1}
    s = build([0.0] * 60, functions=[FAST, g], account={"throttle": {"rate": 100, "burst": 50}})
    assert [len(r.buckets) for r in request_rates(s)] == [1, 2]
    kept = request_rates(s, binding_only=True)
    assert [len(r.buckets) for r in kept] == [0, 1]
    assert kept[1].buckets[0].rate == 10.0  # g's own bucket (10 rps) can bind: it is kept
    assert [c for _, c, _ in timeline(both(s))] == ["ok"] * 50 + ["throttled_account"] * 10


def test_a_lambda_bucket_that_could_refuse_is_checked(build: Any) -> None:
    lam = {"lambda_concurrency": 1000}
    cases = [
        {"account": {**lam, "throttle": {"rate": 10001, "burst": 50}}},  # the gateway's rate is higher
        {"account": {**lam, "throttle": {"rate": 100, "burst": 9999}}},  # less than two tokens of margin
        {"account": {**lam, "throttle": {"rate": 100, "burst": 50}},
         "behaviour": {"throttle_algorithm": "nginx_limit_req"}},  # not a token bucket at the gateway
        {"account": {**lam, "throttle": {"rate": 100, "burst": 50}, "unreserved_min": 0,
                     "background": [{"name": "other", "rate": 10000, "mean_duration": "1ms"}]}},  # starts empty
    ]
    for keys in cases:
        s = build([0.0], functions=[FAST], **keys)
        assert [len(r.buckets) for r in request_rates(s, binding_only=True)] == [1], keys
    s = build([0.0], functions=[FAST], account={**lam, "throttle": {"rate": 100, "burst": 9998}})
    assert [len(r.buckets) for r in request_rates(s, binding_only=True)] == [0]


def test_the_limit_still_refuses_where_it_binds(build: Any) -> None:
    # Gateway 10,000 rps, burst 5,000; Lambda 10 x 2 = 20 rps, burst 2: the bucket is checked.
    s = build([0.0, 0.0, 0.0, 0.05, 0.1], functions=[FAST],
              account={"lambda_concurrency": 2, "unreserved_min": 0}, behaviour={"lambda_request_rate_burst_s": 0.1})
    assert [len(r.buckets) for r in request_rates(s, binding_only=True)] == [1]
    assert [c for _, c, _ in timeline(both(s))] == ["ok", "ok", "lambda_rate_throttled", "ok", "ok"]


# --------------------------------------------------------------------------- the recorder


def test_columns_left_out_are_filled_as_the_engine_would_have_written_them(build: Any) -> None:
    s = build([0.0, 0.0, 0.5, 0.5, 1.0], functions=[dict(FAST, reserved_concurrency=1, duration="600ms")])
    r = both(s)
    a = r.attempts
    assert list(a) == ["request", "attempt", "client", "route", "function", "status", "cause", "gateway_status",
                       "gateway_cause", "flags", "authorizer_function", "authorizer_cause", "authorizer_flags",
                       "time_s", "latency_s", "gateway_latency_s", "integration_latency_s", "init_s", "run_s",
                       "authorizer_latency_s", "authorizer_init_s", "authorizer_run_s"]
    status = np.asarray(oc.status_codes(s))
    assert a["status"].tolist() == status[a["cause"]].tolist() == [200, 500, 500, 500, 200]
    assert a["gateway_status"].tolist() == status[a["gateway_cause"]].tolist()
    assert a["authorizer_function"].tolist() == a["authorizer_cause"].tolist() == [-1] * 5
    assert a["authorizer_flags"].tolist() == [0] * 5
    for k in ("authorizer_latency_s", "authorizer_init_s", "authorizer_run_s"):
        assert a[k].dtype == np.float64 and a[k].tolist() == [0.0] * 5
    assert a["status"].dtype == a["authorizer_cause"].dtype == np.int64
    rows = r.records()
    assert [x.authorizer_function for x in rows] == [x.authorizer_cause for x in rows] == [""] * 5
    assert "authorizer_function" not in r.to_dataframe()  # only scenarios with authorizers show them


# --------------------------------------------------------------------------- web functions


def test_scale_in_removes_an_environment_once_it_has_been_idle_long_enough(build: Any) -> None:
    # One environment (init 500 ms, run 100 ms), removed after 5 s idle. At 4.0 and 8.0 it has
    # been idle 3.4 s and 3.9 s: kept; at 14.0, 5.9 s: removed, so that request starts another.
    f = {"name": "f", "duration": "100ms", "init": "500ms", "timeout": "30s",
         "web": {"scale_in_after_idle": "5s", "max_concurrency_per_environment": 1}}
    s = build([0.0, 4.0, 8.0, 14.0], functions=[f], duration="20s")
    r = simulator.simulate(s, engine="simpy")
    assert r.to_dataframe()["cold_start"].tolist() == [True, False, False, True]
    # Two environments, both free from 0.6. At 9.0 the one that served 4.0 (idle since 4.1)
    # stays and the other (idle since 0.6) is gone: of the two requests at 9.0, the second
    # waits for the first's slot (free at 9.1) rather than starting at once.
    times = [0.0, 0.0, 4.0, 9.0, 9.0]
    r = simulator.simulate(build(times, functions=[f], duration="20s"), engine="simpy")
    assert timeline(r) == [(0.0, "ok", 0.6), (0.0, "ok", 0.6), (4.0, "ok", 0.1), (9.0, "ok", 0.1), (9.0, "ok", 0.2)]
    kept = dict(f, web={"max_concurrency_per_environment": 1})
    r = simulator.simulate(build(times, functions=[kept], duration="20s"), engine="simpy")
    assert timeline(r)[-1] == (9.0, "ok", 0.1)
