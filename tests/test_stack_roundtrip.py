"""scenario -> export -> import gives back every throttle, quota, timeout and concurrency setting.

Exported CloudFormation must also be clean for cfn-lint (no finding of any level).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("cfnlint")

import simulator
from simulator.scenario import Scenario
from simulator.stack.export_cfn import export_cloudformation
from simulator.stack.export_tf import terraform_dict
from simulator.stack.importer import import_stack

ROOT = Path(__file__).parent.parent
PATHS = ["/", "/orders", "/orders/{id}", "/items", "/items/{id}/reviews"]
METHODS = ["GET", "POST", "PUT", "DELETE"]


def _throttle() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"rate": st.integers(0, 4000).map(lambda r: r / 2), "burst": st.integers(0, 5000)})


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["REST", "HTTP"]))
    names = draw(st.lists(st.tuples(st.sampled_from(METHODS), st.sampled_from(PATHS)), min_size=1, max_size=3,
                          unique=True))
    functions = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True), min_size=1, max_size=2,
                              unique=True))
    high = 29000 if kind == "REST" else 30000
    routes = []
    for method, path in names:
        route: dict[str, Any] = {"name": f"{method} {path}", "function": draw(st.sampled_from(functions))}
        if draw(st.booleans()):
            route["throttle"] = draw(_throttle())
        if draw(st.booleans()):
            route["integration_timeout"] = f"{draw(st.integers(50, high))}ms"
        routes.append(route)
    fns = []
    for name in functions:
        fn: dict[str, Any] = {"name": name, "duration": "20ms", "memory_mb": draw(st.integers(128, 10240)),
                              "timeout": f"{draw(st.integers(1, 900))}s",
                              "architecture": draw(st.sampled_from(["x86_64", "arm64"]))}
        if draw(st.booleans()):
            fn["reserved_concurrency"] = draw(st.integers(0, 400))
        fn["provisioned_concurrency"] = draw(st.integers(0, fn.get("reserved_concurrency", 50)))
        fns.append(fn)
    data: dict[str, Any] = {"name": "gen", "duration": "1m", "api": {"type": kind, "stage": draw(st.sampled_from(
        ["prod", "live"]))}, "routes": routes, "functions": fns}
    if draw(st.booleans()):
        data["api"]["integration_timeout"] = f"{draw(st.integers(1, high // 1000))}s"
    if draw(st.booleans()):
        data["stage"] = {"throttle": draw(_throttle())}
    clients: list[dict[str, Any]] = [{"name": "anyone", "routes": {routes[0]["name"]: 1},
                                      "arrivals": {"process": "poisson", "rate": 1}}]
    if kind == "REST" and draw(st.booleans()):
        data["api"]["api_key_required"] = True
        plans = []
        for i in range(draw(st.integers(1, 2))):
            plan: dict[str, Any] = {"name": f"plan-{i}"}
            if draw(st.booleans()):
                plan["throttle"] = draw(_throttle())
            if draw(st.booleans()):
                limit = draw(st.integers(1, 10**6))
                plan["quota"] = {"limit": limit, "period": draw(st.sampled_from(["DAY", "WEEK", "MONTH"])),
                                 "offset": draw(st.integers(0, limit - 1))}
            chosen = draw(st.lists(st.sampled_from([r["name"] for r in routes]), unique=True, max_size=2))
            plan["method_throttles"] = {r: draw(_throttle()) for r in chosen}
            plans.append(plan)
            clients.append({"name": f"key-{i}", "api_key": f"k{i}", "usage_plan": plan["name"],
                            "routes": {routes[0]["name"]: 1}, "arrivals": {"process": "poisson", "rate": 1}})
        data["usage_plans"] = plans
    data["clients"] = clients
    return data


def _settings(s: Scenario) -> dict[str, Any]:
    """Every throttle, quota, timeout and concurrency setting of *s*, by name."""
    return {
        "api": (s.api.type, s.api.stage, s.api.api_key_required),
        "stage": s.stage.throttle,
        "routes": {r.name: (r.function, r.throttle, s.integration_timeout_s(r)) for r in s.routes},
        "functions": {f.name: (f.memory_mb, f.timeout, f.architecture, f.reserved_concurrency,
                               f.provisioned_concurrency) for f in s.functions if any(
                                   r.function == f.name for r in s.routes)},
        "plans": {p.name: (p.throttle, p.quota, p.method_throttles) for p in s.usage_plans},
    }


def _round_trip(original: Scenario, tmp: Path) -> Scenario:
    text, _ = export_cloudformation(original)
    (tmp / "exported.yaml").write_text(text, encoding="utf-8")
    back = import_stack(str(tmp / "exported.yaml"))
    return simulator.parse_scenario(tomllib.loads(back.text))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=scenarios())
def test_export_then_import_gives_every_setting_back(tmp_path: Path, data: dict[str, Any]) -> None:
    original = simulator.parse_scenario(data)
    assert _settings(_round_trip(original, tmp_path)) == _settings(original)


@pytest.mark.parametrize("name", ["rest_usage_plans", "http_api_routes", "flash_sale",
                                  "slow_integration_retry_storm"])
def test_shipped_scenarios_round_trip_and_lint_clean(tmp_path: Path, name: str) -> None:
    from cfnlint.api import lint_all

    original = simulator.load_scenario(ROOT / "scenarios" / f"{name}.toml")
    assert _settings(_round_trip(original, tmp_path)) == _settings(original)
    assert lint_all((tmp_path / "exported.yaml").read_text(encoding="utf-8")) == []


def test_terraform_holds_the_same_limits() -> None:
    s = simulator.load_scenario(ROOT / "scenarios" / "rest_usage_plans.toml")
    res = json.loads(json.dumps(terraform_dict(s)))["resource"]
    settings_ = {v["method_path"]: v["settings"][0] for v in res["aws_api_gateway_method_settings"].values()}
    assert settings_ == {"*/*": {"throttling_rate_limit": 500, "throttling_burst_limit": 250},
                         "orders/POST": {"throttling_rate_limit": 50, "throttling_burst_limit": 20}}
    plans = {p["name"]: p for p in res["aws_api_gateway_usage_plan"].values()}
    assert plans["paid"]["quota_settings"] == [{"limit": 1000000, "period": "MONTH", "offset": 0}]
    assert plans["paid"]["api_stages"][0]["throttle"] == [{"path": "/orders/POST", "rate_limit": 10,
                                                           "burst_limit": 10}]
    keys = res["aws_api_gateway_api_key"].values()
    assert all("value" not in k for k in keys) and len(keys) == 3  # one per distinct key; no-key gets none
    assert {i["timeout_milliseconds"] for i in res["aws_api_gateway_integration"].values()} == {29000}


def test_key_values_are_never_exported() -> None:
    s = simulator.load_scenario(ROOT / "scenarios" / "rest_usage_plans.toml")
    text, _ = export_cloudformation(s)
    assert all(c.api_key not in text for c in s.clients if c.api_key)
    assert all(c.api_key not in json.dumps(terraform_dict(s)) for c in s.clients if c.api_key)


def test_account_limits_become_service_quotas_requests() -> None:
    s = simulator.load_scenario(ROOT / "scenarios" / "flash_sale.toml",
                                overrides={"account.lambda_concurrency": 3000})
    _, requests = export_cloudformation(s)
    assert any("'Concurrent executions' 3000" in r for r in requests)


_UNKNOWN = object()


def _split(node: Any) -> tuple[Any, Any]:
    """Terraform configuration -> (planned values, configuration expressions), as terraform show -json
    prints a plan: interpolated attributes are unknown until applied, and their references are listed."""
    if isinstance(node, dict):
        values, expressions = {}, {}
        for key, value in node.items():
            if key in ("//", "depends_on"):
                continue
            v, e = _split(value)
            if v is not _UNKNOWN:
                values[key] = v
            if e:
                expressions[key] = e
        return values, expressions
    if isinstance(node, list) and node and isinstance(node[0], dict):
        pairs = [_split(item) for item in node]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if isinstance(node, str) and "${" in node:
        refs = re.findall(r"\$\{([^}]+)\}", node)
        return _UNKNOWN, {"references": [r for ref in refs for r in (ref, ref.rsplit(".", 1)[0])]}
    return node, None


def _plan_json(config: dict[str, Any]) -> dict[str, Any]:
    planned, configured = [], []
    for kind, named in config["resource"].items():
        for name, body in named.items():
            values, expressions = _split(body)
            address = f"{kind}.{name}"
            planned.append({"address": address, "mode": "managed", "type": kind, "name": name, "values": values})
            configured.append({"address": address, "type": kind, "name": name, "expressions": expressions})
    return {"format_version": "1.2", "planned_values": {"root_module": {"resources": planned}},
            "configuration": {"root_module": {"resources": configured}}}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=scenarios())
def test_terraform_export_then_plan_import_gives_every_setting_back(tmp_path: Path, data: dict[str, Any]) -> None:
    original = simulator.parse_scenario(data)
    (tmp_path / "plan.json").write_text(json.dumps(_plan_json(terraform_dict(original)), indent=1))
    back = simulator.parse_scenario(tomllib.loads(import_stack(str(tmp_path / "plan.json")).text))
    assert _settings(back) == _settings(original)
