"""Lambda in the request path: exact timelines in simulated time."""

import pytest

import simulator
from simulator.dists import Draws, Fixed
from simulator.functions.pool import FunctionPool, UnreservedPool
from simulator.gateway.buckets import TokenBucket
from simulator.rng import stream
from tests.conftest import causes, timeline


def fn(**keys):
    return [dict({"name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s"}, **keys)]


def run(s):
    return simulator.simulate(s)


def test_a_cold_start_adds_init_and_the_next_request_is_warm(build):
    r = run(build([0.0, 1.0]))
    assert timeline(r) == [(0.0, "ok", 0.6), (1.0, "ok", 0.1)]
    assert [x.cold_start for x in r.records()] == [True, False]
    assert r.summary()["lambda"]["f"]["cold_starts"] == 1


def test_concurrent_requests_each_need_an_environment(build):
    r = run(build([0.0, 0.0, 0.65]))
    assert [x.cold_start for x in r.records()] == [True, True, False]
    assert r.summary()["lambda"]["f"]["peak_concurrency"] == 2


def test_reserved_concurrency_caps_and_lambda_throttles_500(build):
    r = run(build([0.0, 0.0, 0.6], functions=fn(reserved_concurrency=1)))
    assert timeline(r) == [(0.0, "ok", 0.6), (0.0, "lambda_throttled", 0.0), (0.6, "ok", 0.1)]
    assert [x.status for x in r.records()] == [200, 500, 200]
    assert r.summary()["lambda"]["f"]["throttles"] == 1


def test_lambda_throttle_status_can_be_502(build):
    s = build([0.0, 0.0], functions=fn(reserved_concurrency=1),
              behaviour={"gateway_overhead": "0ms", "lambda_throttle_status": 502})
    assert [x.status for x in run(s).records()] == [200, 502]


def test_idle_environments_expire(build):
    s = build([0.0, 1.5, 3.0], functions=fn(idle_timeout="1s"))
    # Idle from 0.6 until 1.6: warm at 1.5. Idle again from 1.6 until 2.6: cold at 3.0.
    assert [x.cold_start for x in run(s).records()] == [True, False, True]


def test_environments_are_retired_after_their_maximum_lifetime(build):
    s = build([0.0, 1.0, 2.5], behaviour={"gateway_overhead": "0ms", "max_environment_lifetime": "2s"})
    assert [x.cold_start for x in run(s).records()] == [True, False, True]


@pytest.mark.parametrize("reuse, first", [("mru", "b"), ("lru", "a")])
def test_environment_reuse_order(reuse, first):
    pool = FunctionPool(reserved=None, provisioned=0, unreserved=UnreservedPool(10),
                        scaling=TokenBucket(100, 10), idle_timeout=Draws(Fixed(60), stream(0, "x")),
                        max_lifetime_s=None, reuse=reuse)
    a, _ = pool.acquire(0.0)
    b, _ = pool.acquire(0.0)
    pool.release(a, 1.0)
    pool.release(b, 2.0)
    env, cold = pool.acquire(3.0)
    assert not cold and env is {"a": a, "b": b}[first]


def test_provisioned_environments_are_warm_and_spill_over(build):
    r = run(build([0.0, 0.0, 1.0], functions=fn(provisioned_concurrency=1)))
    assert timeline(r) == [(0.0, "ok", 0.1), (0.0, "ok", 0.6), (1.0, "ok", 0.1)]
    assert [(x.provisioned, x.cold_start) for x in r.records()] == [(True, False), (False, True), (True, False)]
    f = r.summary()["lambda"]["f"]
    assert (f["provisioned_invocations"], f["provisioned_spillover"]) == (2, 1)


def test_provisioned_concurrency_counts_inside_reserved(build):
    s = build([0.0, 0.0, 0.0], functions=fn(reserved_concurrency=2, provisioned_concurrency=1))
    assert causes(run(s)) == ["ok", "ok", "lambda_throttled"]


def test_the_scaling_rate_limits_new_environments(build):
    s = build([0.0, 0.0, 0.0, 0.5, 1.0], functions=fn(duration="5s"),
              behaviour={"gateway_overhead": "0ms", "scaling_burst": 2, "scaling_refill_per_s": 1})
    assert causes(run(s)) == ["ok", "ok", "lambda_throttled", "lambda_throttled", "ok"]


def test_the_legacy_account_burst_is_shared_by_functions(build):
    routes = [{"name": "GET /x", "function": "f"}, {"name": "GET /y", "function": "g"}]
    funcs = fn(duration="5s") + [{"name": "g", "duration": "5s", "init": "500ms", "timeout": "10s"}]
    trace = build.trace([0.0, 0.0, 0.0], ["GET /x", "GET /y", "GET /y"])
    clients = [{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "replay", "file": trace}}]
    common = dict(routes=routes, functions=funcs, clients=clients)
    per_fn = build(None, behaviour={"gateway_overhead": "0ms", "scaling_burst": 1}, **common)
    legacy = build(None, behaviour={"gateway_overhead": "0ms", "scaling_model": "account_burst",
                                    "account_burst": 2}, **common)
    assert causes(run(per_fn)) == ["ok", "ok", "lambda_throttled"]
    assert causes(run(legacy)) == ["ok", "ok", "lambda_throttled"]
    legacy3 = build(None, behaviour={"gateway_overhead": "0ms", "scaling_model": "account_burst",
                                     "account_burst": 3}, **common)
    assert causes(run(legacy3)) == ["ok", "ok", "ok"]


def test_functions_without_reserved_concurrency_share_the_unreserved_pool(build):
    routes = [{"name": "GET /x", "function": "f"}, {"name": "GET /y", "function": "g"}]
    funcs = fn(duration="5s") + [{"name": "g", "duration": "5s", "init": "500ms", "timeout": "10s"},
                                 {"name": "h", "duration": "1s", "reserved_concurrency": 1}]
    trace = build.trace([0.0, 0.0, 0.0, 6.0], ["GET /x", "GET /x", "GET /y", "GET /y"])
    clients = [{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "replay", "file": trace}}]
    s = build(None, routes=routes, functions=funcs, clients=clients,
              account={"lambda_concurrency": 3, "unreserved_min": 0})
    assert causes(run(s)) == ["ok", "ok", "lambda_throttled", "ok"]


def test_an_integration_timeout_is_504_while_the_function_runs_on(build):
    s = build([0.0, 35.0, 41.0], duration="60s",
              functions=fn(duration="40s", timeout="60s", reserved_concurrency=1))
    r = run(s)
    assert timeline(r) == [(0.0, "integration_timeout", 29.0), (35.0, "lambda_throttled", 0.0),
                           (41.0, "integration_timeout", 29.0)]
    assert [x.status for x in r.records()] == [504, 500, 504]
    assert [x.run_s for x in r.records()] == [40.0, 0.0, 40.0]
    assert r.end_s == pytest.approx(81.0)  # the second run ends at 41 + 40


def test_a_cold_start_counts_inside_the_integration_timeout(build):
    s = build([0.0, 1.0], routes=[{"name": "GET /x", "function": "f", "integration_timeout": "550ms"}])
    assert timeline(run(s)) == [(0.0, "integration_timeout", 0.55), (1.0, "ok", 0.1)]


def test_a_function_timeout_is_502_at_the_timeout(build):
    r = run(build([0.0], functions=fn(duration="5s", timeout="2s")))
    assert timeline(r) == [(0.0, "function_timeout", 2.5)]
    assert r.records()[0].status == 502
    assert r.summary()["lambda"]["f"]["errors"] == 1


def test_function_errors_are_502(build):
    r = run(build([0.0, 1.0], functions=fn(error_rate=1.0)))
    assert [(x.status, x.cause) for x in r.records()] == [(502, "function_error")] * 2


@pytest.mark.parametrize("switch, timeout_status", [(None, 503), (504, 504)])
def test_http_api_statuses(build, switch, timeout_status):
    behaviour = {"gateway_overhead": "0ms"}
    if switch:
        behaviour["http_api_timeout_status"] = switch
    routes = [{"name": "GET /x", "function": "f"}, {"name": "GET /y", "function": "g"},
              {"name": "GET /z", "function": "h"}]
    funcs = [{"name": "f", "duration": "100ms", "error_rate": 1.0},
             {"name": "g", "duration": "5s", "timeout": "1s"},
             {"name": "h", "duration": "31s", "timeout": "60s"}]
    trace = build.trace([0.0, 0.0, 0.0], ["GET /x", "GET /y", "GET /z"])
    clients = [{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "replay", "file": trace}}]
    s = build(None, api={"type": "HTTP"}, routes=routes, functions=funcs, clients=clients,
              behaviour=behaviour, duration="10s")
    r = run(s)
    assert [(x.status, x.cause) for x in r.records()] == [
        (500, "function_error"), (500, "function_timeout"), (timeout_status, "integration_timeout")]
    assert r.records()[2].latency_s == pytest.approx(30.0)


def test_a_client_timeout_ends_the_attempt_but_not_the_invocation(build):
    clients = [{"name": "c", "routes": {"GET /x": 1}, "timeout": "300ms",
                "arrivals": {"process": "replay", "file": build.trace([0.0, 1.0])}}]
    r = run(build(None, clients=clients))
    assert timeline(r) == [(0.0, "client_timeout", 0.3), (1.0, "ok", 0.1)]
    first = r.records()[0]
    assert (first.status, first.gateway_status, first.gateway_cause) == (0, 200, "ok")
    assert r.summary()["lambda"]["f"]["invocations"] == 2


def test_releases_happen_before_arrivals_at_the_same_instant(build):
    # The first invocation ends at exactly 0.6 s; a request sent then may use its slot.
    r = run(build([0.0, 0.6], functions=fn(reserved_concurrency=1)))
    assert causes(r) == ["ok", "ok"]
    assert [x.cold_start for x in r.records()] == [True, False]
