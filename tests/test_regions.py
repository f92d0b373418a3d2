"""Endpoint types, long integration timeouts and the account throttle they lower, the Regions
the simulator knows, and the REST-only features an HTTP API what-if loses."""

import json
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest

import simulator
from simulator.cost.pricing import available_regions, load_prices
from simulator.scenario.defaults import (
    GATEWAY_OVERHEAD_DEFAULTS,
    account_throttle_basis,
    long_timeout_throttle,
)
from simulator.scenario.diff import rest_only_features, without_rest_only
from simulator.scenario.regions import default_account_throttle
from tests.conftest import BASE, merge

ROOT = Path(__file__).resolve().parents[1]
REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1")
LONG = {"type": "REST", "extended_integration_timeout": True, "integration_timeout": "300s"}


def load(**extra):
    return simulator.parse_scenario(merge(BASE, extra), source="s.toml")


def problems(**extra) -> list[str]:
    with pytest.raises(simulator.ScenarioError) as info:
        load(**extra)
    return str(info.value).splitlines()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True, cwd=ROOT)


# --------------------------------------------------------------------------- long integration timeouts


@pytest.mark.parametrize("endpoint", ["REGIONAL", "PRIVATE"])
def test_a_300s_integration_lowers_the_account_throttle_to_967_rps(endpoint):
    s = load(api=dict(LONG, endpoint_type=endpoint))
    # AWS's re:Post answer: about 967 rps at 300 s, i.e. 10,000 x 29 / 300.
    assert s.account.throttle.rate == pytest.approx(10000 * 29 / 300)
    assert round(s.account.throttle.rate) == 967
    assert s.account.throttle.burst == 483  # 5,000 x 29 / 300 = 483.3, rounded down
    assert "x 29/300" in account_throttle_basis(s)


def test_the_longest_route_timeout_sets_the_reduction():
    s = load(api={"type": "REST", "extended_integration_timeout": True},
             routes=[{"name": "GET /x", "function": "f", "integration_timeout": "58s"}])
    assert (s.account.throttle.rate, s.account.throttle.burst) == (5000.0, 2500)


def test_the_lowered_burst_throttles_at_the_account_level():
    """484 requests at one instant against a burst of 483: the last one is refused by the account."""
    data = merge(BASE, {"api": LONG})
    data["clients"][0]["arrivals"] = {"process": "poisson", "rate": 1, "bursts": [{"at": "1s", "count": 484}]}
    data["duration"] = "2s"
    data["seed"] = 3
    r = simulator.simulate(simulator.parse_scenario(data))
    counts = Counter(x.cause for x in r.records() if x.time_s == 1.0)
    assert counts["throttled_account"] == 1
    assert counts["throttled_account"] + counts["ok"] == 484


def test_an_account_throttle_written_in_the_scenario_wins():
    s = load(api=LONG, account={"throttle": {"rate": 10000, "burst": 5000}})
    assert (s.account.throttle.rate, s.account.throttle.burst) == (10000.0, 5000)
    assert account_throttle_basis(s) == "account.throttle as written in the scenario"


def test_timeouts_up_to_29s_and_http_apis_keep_the_default_throttle():
    assert load(api={"type": "REST", "integration_timeout": "29s"}).account.throttle.rate == 10000
    assert load(api={"type": "HTTP", "integration_timeout": "30s"}).account.throttle.rate == 10000


def test_an_edge_optimized_api_refuses_30s():
    assert problems(api={"type": "REST", "endpoint_type": "EDGE", "integration_timeout": "30s"}) == [
        's.toml: api.integration_timeout: must be between 50ms and 29s for an edge-optimized REST API '
        '(api.endpoint_type = "EDGE"), got 30s']


def test_an_http_api_refuses_31s():
    assert problems(api={"type": "HTTP"}, routes=[{"name": "GET /x", "function": "f", "integration_timeout": "31s"}]) \
        == ["s.toml: routes[0].integration_timeout: must be between 50ms and 30s for an HTTP API, got 31s"]


def test_400s_is_refused_even_with_the_raised_quota():
    assert problems(api=dict(LONG, integration_timeout="400s")) == [
        "s.toml: api.integration_timeout: must be between 50ms and 300s for a Regional REST API with "
        "extended_integration_timeout, got 400s"]


def test_above_29s_needs_the_raised_quota():
    [line] = problems(api={"type": "REST", "integration_timeout": "30s"})
    assert "extended_integration_timeout = true (with it, up to 300s), got 30s" in line


def test_http_apis_are_regional_only():
    [line] = problems(api={"type": "HTTP", "endpoint_type": "PRIVATE"})
    assert line == "s.toml: api.endpoint_type: HTTP APIs have Regional endpoints only, got 'PRIVATE'"


def test_the_rule_scales_rate_and_burst_alike():
    assert long_timeout_throttle(10000.0, 5000, 29.0) == (10000.0, 5000)
    assert long_timeout_throttle(10000.0, 5000, 58.0) == (5000.0, 2500)
    assert long_timeout_throttle(2500.0, 1250, 290.0) == (250.0, 125)
    assert long_timeout_throttle(1.0, 1, 300.0) == (pytest.approx(29 / 300), 1)  # never a burst of 0


# --------------------------------------------------------------------------- Regions


def test_newer_regions_have_the_lower_default_throttle():
    assert default_account_throttle("eu-south-1") == (2500.0, 1250)
    assert default_account_throttle("mx-central-1") == (2500.0, 1250)
    assert default_account_throttle("eu-west-1") == (10000.0, 5000)


def test_every_listed_region_has_a_valid_price_table():
    assert set(REGIONS) <= set(available_regions())
    for region in REGIONS:
        table = load_prices(region)
        assert table.region == region
        raw = tomllib.loads((ROOT / "simulator" / "cost" / "data" / f"{region}.toml").read_text())
        assert raw["effective_date"].isoformat() == ("2026-11-25" if region == "us-east-1" else "2026-12-06")
        for key in table:
            item = table[key]
            assert item.source.startswith("https://")
            if "Stand-in" in (item.note or ""):
                assert not item.confirmed, key


def test_region_prices_differ_where_found():
    assert load_prices("eu-west-1")["apigateway.http.requests"].tiers[0].price == 1.11
    assert load_prices("eu-central-1")["apigateway.rest.requests"].tiers[0].price == 3.70
    assert load_prices("ap-northeast-1")["apigateway.http.requests"].tiers[0].price == 1.29
    assert load_prices("ap-southeast-1")["data_transfer.out.internet"].tiers[0].price == 0.12
    assert load_prices("eu-central-1")["cloudwatch_logs.ingestion.standard"].value == 0.63


# AWS's per-Region Lambda figures (pricing-calculator price file, with AWS's rate codes).
LAMBDA_X86 = {  # Region: (provisioned concurrency, provisioned duration, ephemeral storage) per GB-second
    "us-east-2": (0.0000041667, 0.0000097222, 0.0000000309),
    "us-west-2": (0.0000041667, 0.0000097222, 0.0000000309),
    "eu-west-1": (0.0000046460, 0.0000108407, 0.0000000340),
    "eu-central-1": (0.0000050147, 0.0000117011, 0.0000000367),
    "ap-southeast-1": (0.0000051991, 0.0000121313, 0.0000000370),
    "ap-northeast-1": (0.0000053835, 0.0000125615, 0.0000000370),
}


@pytest.mark.parametrize("region", sorted(LAMBDA_X86))
def test_lambda_prices_are_the_regions_own_and_confirmed_ones_name_a_rate_code(region):
    table = load_prices(region)
    keys = ("lambda.provisioned_concurrency.x86_64", "lambda.provisioned_duration.x86_64", "lambda.ephemeral_storage")
    assert tuple(table[k].value for k in keys) == LAMBDA_X86[region]
    for key in (*keys, "lambda.requests"):
        item = table[key]
        assert item.confirmed and re.search(r"\b[0-9A-Z]{16}\b", item.note or ""), key
    pc = table["lambda.provisioned_concurrency.arm64"]
    assert not pc.confirmed and "Derived" in (pc.note or "")
    assert pc.value == pytest.approx(0.8 * LAMBDA_X86[region][0], abs=1e-10)


@pytest.mark.parametrize("region", REGIONS)
def test_run_works_in_every_region(region):
    out = cli("run", "scenarios/http_api_routes.toml", "--json", "--set", f"account.region={region}",
              "--set", "duration=20s")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["cost_usd"]["region"] == region


@pytest.mark.parametrize("command", ["run", "check"])
def test_an_unknown_region_is_one_line_exit_2_before_any_simulation(command, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text((ROOT / "scenarios" / "flash_sale.toml").read_text().replace("[account]", "[account]\n"
                    'region = "eu-west-9"', 1))
    out = cli(command, str(path))
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert line.startswith(f"{path}: account.region: unknown Region 'eu-west-9' (did you mean 'eu-west-1'?)")
    assert "Traceback" not in out.stderr and out.stdout == ""


# --------------------------------------------------------------------------- overhead and the HTTP what-if


def test_the_gateway_overhead_is_off_unless_the_scenario_gives_it():
    """AWS gives no overhead figure for either API type, so neither gets one by default."""
    data = {k: v for k, v in BASE.items() if k != "behaviour"}
    assert dict(GATEWAY_OVERHEAD_DEFAULTS) == {"REST": "0ms", "HTTP": "0ms"}
    for kind in ("REST", "HTTP"):
        s = simulator.parse_scenario(merge(data, {"api": {"type": kind}}))
        assert s.behaviour.gateway_overhead.build().mean == 0.0
        given = simulator.parse_scenario(merge(data, {"api": {"type": kind}, "behaviour": {"gateway_overhead": "7ms"}}))
        assert given.behaviour.gateway_overhead.build().mean == pytest.approx(0.007)


def test_an_overhead_given_to_one_api_type_shifts_every_answer_by_it():
    """Same traffic, same functions: an HTTP API given 4 ms answers 6 ms sooner than a REST API given 10 ms,
    and with neither given both answer at the same instants."""
    data = {k: v for k, v in BASE.items() if k != "behaviour"}

    def records(kind: str, overhead: str | None) -> list:
        extra = {} if overhead is None else {"behaviour": {"gateway_overhead": overhead}}
        return simulator.simulate(simulator.parse_scenario(merge(data, {"api": {"type": kind}, **extra}))).records()

    pairs = list(zip(records("REST", "10ms"), records("HTTP", "4ms"), strict=True))
    assert pairs and all(round(a.latency_s - b.latency_s, 9) == 0.006 for a, b in pairs)
    pairs = list(zip(records("REST", None), records("HTTP", None), strict=True))
    assert pairs and all(a.latency_s == b.latency_s for a, b in pairs)


def test_an_http_what_if_drops_and_lists_the_rest_only_features():
    data = merge(BASE, {"api": dict(LONG, api_key_required=True, endpoint_type="PRIVATE"),
                        "usage_plans": [{"name": "p", "throttle": {"rate": 1, "burst": 1}}]})
    data["clients"][0].update(api_key="k" * 30, usage_plan="p")
    rest = simulator.parse_scenario(data)
    assert [k for k, _ in rest_only_features(rest)] == [
        "api.api_key_required", "usage_plans", "api.endpoint_type", "api.extended_integration_timeout"]
    http = simulator.parse_scenario(without_rest_only(merge(data, {"api": {"type": "HTTP"}})))
    assert http.api.integration_timeout_s == 30.0 and not http.usage_plans and http.clients[0].api_key is None
    assert without_rest_only(data) == data  # a REST API is left as it is


def test_compare_with_an_http_variant_lists_what_it_loses():
    out = cli("cost", "scenarios/rest_usage_plans.toml", "--compare", "--set", "api.type=HTTP", "--set",
              "duration=30s", "--json")
    assert out.returncode == 0, out.stderr
    lost = json.loads(out.stdout)["rest_only_lost"]
    assert list(lost) == ["api.api_key_required", "usage_plans"]
    assert "quotas no longer apply" in lost["usage_plans"]


def test_an_export_asks_for_the_timeout_quota_but_not_for_the_lowered_throttle():
    from simulator.stack.export_common import quota_requests

    [request] = quota_requests(load(api=LONG))
    assert "'Maximum integration timeout in milliseconds' 300000" in request
    written = quota_requests(load(api=LONG, account={"throttle": {"rate": 20000, "burst": 5000}}))
    assert written[0].startswith("apigateway us-east-1: 'Throttle rate' 20000 requests per second")


def test_cache_settings_are_found_whatever_their_key_names():
    from simulator.scenario.diff import _cache_keys

    class Dumped:
        def __init__(self, data):
            self.data = data

        def model_dump(self):
            return self.data

    on = {"api": {}, "stage": {"cache": {"enabled": True, "ttl_s": 300}}, "routes": [{"name": "GET /x"}]}
    off = {"api": {}, "stage": {"cache": {"enabled": False, "ttl_s": 300}},
           "routes": [{"name": "GET /x", "cache_ttl_s": 60}, {"name": "GET /y", "cache_ttl_s": 0}]}
    assert _cache_keys(Dumped(on)) == ["stage.cache"]
    assert _cache_keys(Dumped(off)) == ["routes.GET /x.cache_ttl_s"]
