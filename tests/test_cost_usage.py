"""Cost of a simulated run: billed usage from the attempts, checked against hand calculations.

Prices (us-east-1 price file): REST $3.50 per million requests (first 333 million, then $2.80),
HTTP $1.00 per million, Lambda requests $0.20 per million, on-demand duration $0.0000166667 per
GB-s (x86_64), provisioned duration $0.0000097222 per GB-s, provisioned concurrency
$0.0000041667 per GB-s, ephemeral storage $0.0000000309 per GB-s, data transfer out $0.09/GB
(1 GB = 2**30 bytes). The test function "f" has 128 MB (0.125 GB), runs 100 ms, and a cold
start adds a 500 ms init; responses are 1024 bytes.
"""

import json

import pytest

import simulator
from simulator.cost import RunCost, run_cost
from simulator.cost.usage import UNATTRIBUTED

REST = 3.5e-6
HTTP = 1.0e-6
LAMBDA_REQUEST = 0.2e-6
GB_S = 0.0000166667
PROVISIONED_GB_S = 0.0000097222
PC_GB_S = 0.0000041667
STORAGE_GB_S = 0.0000000309
KB_OUT = 1024 / 2**30 * 0.09  # one 1024-byte response


def fn(**keys):
    return [dict({"name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s"}, **keys)]


def cost(scenario, **options) -> tuple[simulator.Result, RunCost]:
    result = simulator.simulate(scenario)
    return result, run_cost(result, **options)


def item(c: RunCost, service: str, name: str, which: str = "run") -> dict:
    return c.to_dict()[which][service][name]


def quantity(c: RunCost, service: str, name: str) -> float:
    return sum(line.quantity for line in c.run.lines if (line.service, line.item) == (service, name))


# -------------------------------------------------------------------- rejected by the gateway


def test_a_403_costs_nothing(build):
    r, c = cost(build([0.0, 1.0], api={"type": "REST", "api_key_required": True}))
    assert [x.cause for x in r.records()] == ["forbidden", "forbidden"]
    assert c.run.lines == ()
    assert c.run_total == 0.0
    assert c.failed == {"forbidden": 0.0}


def _keyed(build, times, plan):
    client = {"name": "c", "api_key": "k" * 30, "usage_plan": "p", "routes": {"GET /x": 1},
              "arrivals": {"process": "replay", "file": build.trace(times)}}
    return build(None, api={"type": "REST", "api_key_required": True},
                 usage_plans=[dict(name="p", **plan)], clients=[client])


@pytest.mark.parametrize("make, expected", [
    (lambda b: b([0.0, 0.0, 0.0], account={"throttle": {"rate": 1, "burst": 2}}),
     ["ok", "ok", "throttled_account"]),
    (lambda b: b([0.0, 0.0, 0.0], stage={"throttle": {"rate": 1, "burst": 2}}),
     ["ok", "ok", "throttled_stage"]),
    (lambda b: _keyed(b, [0.0, 0.0, 0.0], {"throttle": {"rate": 1, "burst": 2}}),
     ["ok", "ok", "throttled_usage_plan"]),
    (lambda b: _keyed(b, [0.0, 0.0, 1.0], {"quota": {"limit": 2, "period": "DAY"}}),
     ["ok", "ok", "quota_exceeded"]),
])
def test_a_429_costs_nothing(build, make, expected):
    r, c = cost(make(build))
    assert [x.cause for x in r.records()] == expected
    # Only the two 200s are billed. Both start cold at t=0 except in the quota case, where the
    # second request (t=0) also finds no idle environment: 2 x (0.5 + 0.1) s x 0.125 GB.
    assert quantity(c, "API Gateway", "REST requests") == 2
    assert quantity(c, "Lambda", "Requests") == 2
    assert quantity(c, "Lambda", "Duration (x86_64)") == pytest.approx(0.15)
    expected_total = 2 * REST + 2 * LAMBDA_REQUEST + 0.15 * GB_S + 2 * KB_OUT  # = 1.00716e-5
    assert c.run_total == pytest.approx(expected_total, rel=1e-12)
    assert c.failed == {expected[-1]: 0.0}


# -------------------------------------------------------------------- failures that are billed


def test_a_504_is_billed_at_the_gateway_and_for_the_full_run(build):
    s = build([0.0], duration="60s", functions=fn(duration="40s", timeout="60s", memory_mb=1024))
    r, c = cost(s, bill_init=False)
    rec = r.records()[0]
    assert (rec.status, rec.cause, rec.run_s) == (504, "integration_timeout", 40.0)
    # The gateway gave up at 29 s, the function ran 40 s at 1 GB: 40 GB-s.
    assert item(c, "Lambda", "Duration (x86_64)") == {"quantity": 40.0, "unit": "GB-second", "usd": 0.000667}
    assert quantity(c, "API Gateway", "REST requests") == 1
    assert quantity(c, "Lambda", "Requests") == 1
    # 3.5e-6 + 0.2e-6 + 40 x 0.0000166667 = 0.000670368; no response, so no transfer.
    assert c.run_total == pytest.approx(0.000670368, rel=1e-12)
    assert "Data Transfer" not in c.to_dict()["run"]
    assert c.failed == {"integration_timeout": pytest.approx(0.000670368, rel=1e-12)}
    assert c.to_dict()["failed_attempts"] == {"integration_timeout": 0.00067}
    # With the init billed (the default), the 0.5 s cold start is added: 40.5 GB-s.
    _, default = cost(s)
    assert quantity(default, "Lambda", "Duration (x86_64)") == 40.5
    assert default.failed["integration_timeout"] == pytest.approx(3.7e-6 + 40.5 * GB_S, rel=1e-12)


def test_a_lambda_throttle_is_billed_at_the_gateway_but_not_by_lambda(build):
    r, c = cost(build([0.0, 0.0], functions=fn(reserved_concurrency=1)))
    assert [(x.status, x.cause) for x in r.records()] == [(200, "ok"), (500, "lambda_throttled")]
    assert quantity(c, "API Gateway", "REST requests") == 2
    assert quantity(c, "Lambda", "Requests") == 1
    assert quantity(c, "Lambda", "Duration (x86_64)") == pytest.approx(0.075)  # 0.6 s x 0.125 GB
    assert c.failed == {"lambda_throttled": pytest.approx(REST, rel=1e-12)}


def test_function_errors_and_timeouts_are_billed_everywhere_but_transfer(build):
    s = build([0.0, 1.0], functions=fn(duration="5s", timeout="2s"))
    r, c = cost(s, bill_init=False)
    assert [x.cause for x in r.records()] == ["function_timeout", "function_timeout"]
    # Each run is capped at the 2 s timeout: 2 x 2 s x 0.125 GB = 0.5 GB-s.
    assert quantity(c, "Lambda", "Duration (x86_64)") == 0.5
    assert c.failed == {"function_timeout": pytest.approx(2 * REST + 2 * LAMBDA_REQUEST + 0.5 * GB_S, rel=1e-12)}


# -------------------------------------------------------------------- Lambda duration


def test_cold_start_init_is_billed_by_default_and_not_with_bill_init_false(build):
    s = build([0.0, 1.0])
    _, billed = cost(s)
    _, unbilled = cost(s, bill_init=False)
    # Cold: 500 ms init + 100 ms; warm: 100 ms. 0.7 s x 0.125 GB = 0.0875 GB-s, or 0.2 s -> 0.025.
    assert quantity(billed, "Lambda", "Duration (x86_64)") == pytest.approx(0.0875)
    assert quantity(unbilled, "Lambda", "Duration (x86_64)") == pytest.approx(0.025)
    assert billed.run_total - unbilled.run_total == pytest.approx(0.0625 * GB_S, rel=1e-9)


def test_provisioned_invocations_spillover_and_the_configured_charge(build):
    r, c = cost(build([0.0, 0.0, 1.0], functions=fn(provisioned_concurrency=1)))
    assert [(x.provisioned, x.cold_start) for x in r.records()] == [(True, False), (False, True), (True, False)]
    run = c.to_dict()["run"]["Lambda"]
    # Two provisioned invocations of 100 ms: 0.2 s x 0.125 GB = 0.025 GB-s at $0.0000097222.
    assert run["Provisioned duration (x86_64)"]["quantity"] == 0.025
    assert quantity(c, "Lambda", "Provisioned duration (x86_64)") * PROVISIONED_GB_S == pytest.approx(2.43055e-7)
    # The spillover is a cold on-demand start: 0.6 s x 0.125 GB = 0.075 GB-s at $0.0000166667.
    assert run["Duration (x86_64)"]["quantity"] == 0.075
    # One environment configured for the 10 s run, billed as 5 minutes: 300 x 1 x 0.125 = 37.5 GB-s.
    assert run["Provisioned concurrency (x86_64)"] == {"quantity": 37.5, "unit": "GB-second", "usd": 0.000156}
    assert run["Requests"]["quantity"] == 3
    pc_run = 37.5 * PC_GB_S  # 0.00015625125
    assert c.by_client[UNATTRIBUTED] == pytest.approx(pc_run, rel=1e-12)
    total = 3 * REST + 3 * LAMBDA_REQUEST + 0.025 * PROVISIONED_GB_S + 0.075 * GB_S + pc_run + 3 * KB_OUT
    assert c.run_total == pytest.approx(total, rel=1e-12)
    # A month keeps the environment configured for 730 h: 2,628,000 s x 0.125 GB x $0.0000041667.
    month = c.to_dict()["monthly"]["Lambda"]["Provisioned concurrency (x86_64)"]
    assert month["quantity"] == 328500.0
    assert month["usd"] == pytest.approx(1.368761, abs=1e-6)


def test_ephemeral_storage_above_512_mb_is_billed_on_the_duration(build):
    _, c = cost(build([0.0, 1.0], functions=fn(ephemeral_storage_mb=1536)))
    # 1 GB above the included 512 MB, for 0.7 s of billed duration: 0.7 GB-s.
    assert quantity(c, "Lambda", "Ephemeral storage") == pytest.approx(0.7)
    assert item(c, "Lambda", "Ephemeral storage")["usd"] == round(0.7 * STORAGE_GB_S, 6)


# -------------------------------------------------------------------- API Gateway metering


@pytest.mark.parametrize("request_bytes, metered", [(1024, 1), (512 * 1024, 1), (512 * 1024 + 1, 2), (600 * 1024, 2)])
def test_http_api_requests_are_metered_in_512_kb_increments(build, request_bytes, metered):
    s = build([0.0], api={"type": "HTTP"},
              routes=[{"name": "GET /x", "function": "f", "request_bytes": request_bytes}])
    _, c = cost(s)
    assert item(c, "API Gateway", "HTTP requests") == {"quantity": metered, "unit": "request", "usd": metered * HTTP}


# -------------------------------------------------------------------- month


def test_monthly_scales_constant_traffic_to_730_hours_across_a_tier_boundary(build):
    # 200 requests a second for 10 s; 1 ms handlers with a 1 ms init, so one environment
    # serves everything after a single cold start.
    s = build([i * 0.005 for i in range(2000)], functions=fn(duration="1ms", init="1ms"))
    r, c = cost(s)
    assert r.summary()["lambda"]["f"]["cold_starts"] == 1
    scale = 730 * 3600 / 10  # 262,800
    assert c.month_scale == scale
    assert "730-hour month" in c.monthly_method and "representative" in c.monthly_method
    m = c.to_dict()["monthly"]
    # REST: 2000 x 262,800 = 525.6 million requests, past the 333 million tier:
    # 333 x $3.50 + 192.6 x $2.80 = 1165.50 + 539.28 = $1704.78.
    assert m["API Gateway"]["REST requests"] == {"quantity": 525_600_000.0, "unit": "request", "usd": 1704.78}
    # Lambda: 525.6 million requests x $0.20/million = $105.12.
    assert m["Lambda"]["Requests"]["usd"] == 105.12
    # Duration: (1999 x 1 ms + 2 ms) x 0.125 GB = 0.250125 GB-s a run -> 65,732.85 GB-s.
    assert m["Lambda"]["Duration (x86_64)"]["quantity"] == 65732.85
    duration_usd = 65732.85 * GB_S  # 1.09555...
    # Transfer: 2000 x 1024 B x 262,800 = 501.266479... GB at $0.09.
    gb = 2000 * 1024 * scale / 2**30
    assert m["Data Transfer"]["Out to internet"]["quantity"] == round(gb, 6)
    assert c.monthly_total == pytest.approx(1704.78 + 105.12 + duration_usd + gb * 0.09, rel=1e-12)
    # The run itself is below every boundary: 2000 x $3.50/million = $0.007.
    assert c.to_dict()["run"]["API Gateway"]["REST requests"]["usd"] == 0.007

    # With the free tier, the first 1M requests of each kind, 400,000 GB-s and 100 GB are free.
    _, free = cost(s, free_tier=True)
    fm = free.to_dict()["monthly"]
    # 332 x $3.50 + 192.6 x $2.80 = $1701.28: the free million counts as the first of the month.
    assert fm["API Gateway"]["REST requests"]["usd"] == 1701.28
    assert fm["Lambda"]["Requests"]["usd"] == 104.92
    assert "Duration (x86_64)" not in fm["Lambda"]
    assert fm["Data Transfer"]["Out to internet"]["usd"] == round((gb - 100) * 0.09, 6)


# -------------------------------------------------------------------- attribution and output


def test_cost_is_broken_down_by_client(build):
    clients = [
        {"name": "a", "routes": {"GET /x": 1}, "arrivals": {"process": "replay", "file": build.trace([0.0])}},
        {"name": "b", "routes": {"GET /x": 1}, "arrivals": {"process": "replay", "file": build.trace([1.0, 2.0, 3.0])}},
    ]
    _, c = cost(build(None, clients=clients))
    # a's request is the cold start (0.6 s); b's three are warm (0.1 s each).
    a = REST + LAMBDA_REQUEST + 0.6 * 0.125 * GB_S + KB_OUT
    b = 3 * (REST + LAMBDA_REQUEST + 0.1 * 0.125 * GB_S + KB_OUT)
    assert c.by_client == {"a": pytest.approx(a, rel=1e-12), "b": pytest.approx(b, rel=1e-12)}
    assert c.run_total == pytest.approx(a + b, rel=1e-12)
    gateway = {(line.client, line.function): line.quantity for line in c.run.lines if line.service == "API Gateway"}
    assert gateway == {("a", "f"): 1.0, ("b", "f"): 3.0}
    # Every line of this run belongs to the one function, including the gateway's and transfer's.
    assert c.by_function() == {"f": pytest.approx(a + b, rel=1e-12)}


def test_to_dict_has_a_stable_order_and_is_deterministic(build):
    s = build([0.0, 0.0, 0.0, 0.3, 2.0], functions=fn(reserved_concurrency=1, provisioned_concurrency=1),
              stage={"throttle": {"rate": 1, "burst": 2}})
    first = run_cost(simulator.simulate(s)).to_dict()
    result = simulator.simulate(s)
    again = run_cost(result).to_dict()
    assert json.dumps(first) == json.dumps(again) == json.dumps(run_cost(result).to_dict())
    assert list(first) == ["run_total", "monthly_total", "monthly_method", "run", "monthly", "failed_attempts",
                           "by_client_run", "free_tier", "region"]
    assert (first["free_tier"], first["region"]) == (False, "us-east-1")
    assert sum(first["by_client_run"].values()) == pytest.approx(first["run_total"], abs=1e-5)


def test_a_run_without_billed_traffic_costs_only_its_provisioned_concurrency(build):
    s = build([0.0, 1.0], api={"type": "REST", "api_key_required": True}, functions=fn(provisioned_concurrency=2))
    r, c = cost(s)
    assert [x.cause for x in r.records()] == ["forbidden", "forbidden"]
    # Two environments for 300 s (the 10 s run rounded up) at 0.125 GB: 75 GB-s.
    assert [(line.item, line.quantity) for line in c.run.lines] == [("Provisioned concurrency (x86_64)", 75.0)]
    assert c.failed == {"forbidden": 0.0}
    assert c.by_client == {"c": 0.0, UNATTRIBUTED: pytest.approx(75 * PC_GB_S, rel=1e-12)}


def test_access_logs_are_billed_for_every_request_throttled_ones_included(build):
    # Two requests, the second throttled by the account: 2 x 1 MiB of logs at $0.50/GB.
    s = build([0.0, 0.0], api={"type": "REST", "access_log_bytes": 2**20},
              account={"throttle": {"rate": 1, "burst": 1}})
    from simulator.cost.usage import run_cost

    cost = run_cost(simulator.simulate(s))
    logs = [line for line in cost.run.lines if line.service == "CloudWatch Logs"]
    assert sum(line.quantity for line in logs) == pytest.approx(2 / 1024)
    assert sum(line.usd for line in logs) == pytest.approx(0.5 * 2 / 1024)
    assert cost.failed["throttled_account"] == pytest.approx(0.5 / 1024)


def test_a_typical_day_fills_the_month_and_says_so(build):
    from simulator.cost.usage import run_cost

    s = build(None, duration="1d", cost={"month_from": "day"},
              clients=[{"name": "c", "routes": {"GET /x": 1},
                        "arrivals": {"process": "uniform", "rate": [["0s", 0], ["12h", 0.02], ["1d", 0]]}}])
    cost = run_cost(simulator.simulate(s))
    assert cost.month_scale == pytest.approx(730 / 24)
    assert cost.monthly_method.startswith("The run is a typical day of traffic")


def test_a_typical_week_needs_a_week_long_scenario(build):
    with pytest.raises(simulator.ScenarioError, match="cost.month_from: a typical week needs duration = 7d"):
        build(None, duration="1d", cost={"month_from": "week"})
