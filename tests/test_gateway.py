"""The gateway's levels in order, as exact timelines in simulated time."""

import pytest

import simulator
from tests.conftest import causes, timeline

PLAN = {
    "api": {"type": "REST", "api_key_required": True},
    "usage_plans": [{"name": "p", "throttle": {"rate": 1, "burst": 2}}],
}


def keyed(build, times, plan=None, **extra):
    data = dict(PLAN)
    if plan is not None:
        data["usage_plans"] = [dict(name="p", **plan)]
    data.update(extra)
    client = {"name": "c", "api_key": "k" * 30, "usage_plan": "p", "routes": {"GET /x": 1}}
    return build(times, clients=[dict(client, arrivals={"process": "uniform", "rate": 1})], **data)


def test_a_missing_api_key_is_forbidden_403(build):
    s = build([0.0, 1.0], api={"type": "REST", "api_key_required": True})
    r = simulator.simulate(s)
    assert [(x.status, x.cause) for x in r.records()] == [(403, "forbidden")] * 2
    assert r.summary()["lambda"]["f"]["invocations"] == 0


def test_usage_plan_key_bucket_throttles_429(build):
    r = simulator.simulate(keyed(build, [0.0, 0.0, 0.0, 0.5, 1.0, 1.0]))
    assert causes(r) == ["ok", "ok", "throttled_usage_plan", "throttled_usage_plan", "ok", "throttled_usage_plan"]
    assert [x.status for x in r.records()][2] == 429


def test_per_route_plan_throttle_comes_before_the_key_throttle(build):
    plan = {"throttle": {"rate": 100, "burst": 100}, "method_throttles": {"GET /x": {"rate": 1, "burst": 1}}}
    r = simulator.simulate(keyed(build, [0.0, 0.0, 1.0], plan=plan))
    assert causes(r) == ["ok", "throttled_usage_plan", "ok"]


def test_quota_exhaustion_is_429_quota_exceeded(build):
    plan = {"quota": {"limit": 2, "period": "DAY"}}
    r = simulator.simulate(keyed(build, [0.0, 1.0, 2.0, 3.0], plan=plan))
    assert causes(r) == ["ok", "ok", "quota_exceeded", "quota_exceeded"]
    assert {x.status for x in r.records()[2:]} == {429}


def test_the_quota_resets_at_the_period_boundary(build):
    plan = {"quota": {"limit": 1, "period": "DAY"}}
    s = keyed(build, [0.0, 5.0, 10.0, 15.0], plan=plan, start="2026-03-04T23:59:50Z", duration="20s")
    assert causes(simulator.simulate(s)) == ["ok", "quota_exceeded", "ok", "quota_exceeded"]


def test_usage_plan_throttled_requests_do_not_use_quota_by_default(build):
    plan = {"throttle": {"rate": 0.001, "burst": 1}, "quota": {"limit": 2, "period": "DAY"}}
    r = simulator.simulate(keyed(build, [0.0, 0.1, 0.2, 0.3], plan=plan))
    assert causes(r) == ["ok"] + ["throttled_usage_plan"] * 3


def test_switch_throttled_requests_count_toward_quota(build):
    plan = {"throttle": {"rate": 1, "burst": 1}, "quota": {"limit": 3, "period": "DAY"}}
    s = keyed(build, [0.0, 0.1, 0.2, 1.5, 3.0], plan=plan,
              behaviour={"gateway_overhead": "0ms", "throttled_requests_count_toward_quota": True})
    # ok (1 used), two throttled (3 used): the quota is gone by t=1.5.
    assert causes(simulator.simulate(s)) == ["ok", "throttled_usage_plan", "throttled_usage_plan",
                                             "quota_exceeded", "quota_exceeded"]


def test_route_throttle_is_throttled_method_and_stage_default_is_throttled_stage(build):
    routes = [{"name": "GET /x", "function": "f", "throttle": {"rate": 1, "burst": 1}},
              {"name": "GET /y", "function": "f"}]
    s = build(None, routes=routes, stage={"throttle": {"rate": 1, "burst": 1}})
    data = s.model_dump()
    trace = build.trace([0.0, 0.0, 0.0, 0.0], ["GET /x", "GET /x", "GET /y", "GET /y"])
    s = build(None, routes=routes, stage={"throttle": {"rate": 1, "burst": 1}},
              clients=[{"name": "c", "routes": {"GET /x": 1, "GET /y": 1},
                        "arrivals": {"process": "replay", "file": trace}}])
    assert data["name"] == "test"
    assert causes(simulator.simulate(s)) == ["ok", "throttled_method", "ok", "throttled_stage"]


def test_stage_default_is_per_route_unless_shared(build):
    routes = [{"name": "GET /x", "function": "f"}, {"name": "GET /y", "function": "f"}]
    trace = build.trace([0.0, 0.0], ["GET /x", "GET /y"])
    clients = [{"name": "c", "routes": {"GET /x": 1, "GET /y": 1}, "arrivals": {"process": "replay", "file": trace}}]
    per_route = build(None, routes=routes, clients=clients, stage={"throttle": {"rate": 1, "burst": 1}})
    shared = build(None, routes=routes, clients=clients, stage={"throttle": {"rate": 1, "burst": 1}},
                   behaviour={"gateway_overhead": "0ms", "stage_throttle_scope": "shared"})
    assert causes(simulator.simulate(per_route)) == ["ok", "ok"]
    assert causes(simulator.simulate(shared)) == ["ok", "throttled_stage"]


def test_account_throttle_is_throttled_account(build):
    s = build([0.0, 0.0, 0.0], account={"throttle": {"rate": 1, "burst": 2}})
    assert causes(simulator.simulate(s)) == ["ok", "ok", "throttled_account"]


@pytest.mark.parametrize("consume, expected", [
    (False, ["ok", "throttled_account", "ok"]),
    # Consuming: the rejected request took the route's only token, so the third is refused there.
    (True, ["ok", "throttled_account", "throttled_method"]),
])
def test_whether_a_request_rejected_later_keeps_earlier_tokens(build, consume, expected):
    s = build(
        [0.0, 0.5, 1.0],
        routes=[{"name": "GET /x", "function": "f", "throttle": {"rate": 0.001, "burst": 2}}],
        account={"throttle": {"rate": 1, "burst": 1}},
        behaviour={"gateway_overhead": "0ms", "rejected_requests_consume_tokens": consume},
    )
    assert causes(simulator.simulate(s)) == expected


def test_throttled_responses_take_the_gateway_overhead(build):
    s = build([0.0, 0.0], account={"throttle": {"rate": 1, "burst": 1}},
              behaviour={"gateway_overhead": "7ms"})
    assert timeline(simulator.simulate(s)) == [(0.0, "ok", 0.607), (0.0, "throttled_account", 0.007)]


def test_the_nginx_algorithm_truncates_the_leak_to_whole_milliseconds(build):
    # rate 2/s burst 2 -> nginx "2r/s burst=1 nodelay": two at once, then one every 500 ms;
    # at 499 ms nothing has leaked yet, at 500 ms one request has.
    times = [0.0, 0.0, 0.0, 0.4995, 0.5]
    aws = build(times, account={"throttle": {"rate": 2, "burst": 2}})
    ngx = build(times, account={"throttle": {"rate": 2, "burst": 2}},
                behaviour={"gateway_overhead": "0ms", "throttle_algorithm": "nginx_limit_req"})
    assert causes(simulator.simulate(ngx)) == ["ok", "ok", "throttled_account", "throttled_account", "ok"]
    # AWS's bucket has 0.999 tokens at 499.5 ms: the same answers here, by a different route.
    assert causes(simulator.simulate(aws)) == ["ok", "ok", "throttled_account", "throttled_account", "ok"]
