"""A scenario's limits as Terraform JSON (``.tf.json``) for the AWS provider.

The same settings as :mod:`~simulator.stack.export_cfn`, as Terraform resources:
``aws_api_gateway_method_settings`` (``method_path`` ``*/*`` for the stage default,
``orders/POST`` for a route), ``aws_api_gateway_usage_plan`` (``throttle_settings``,
``quota_settings``, per-method ``throttle`` blocks keyed ``/orders/POST``),
``aws_api_gateway_api_key`` without a ``value`` (AWS generates it) and
``aws_api_gateway_usage_plan_key``; for HTTP APIs ``aws_apigatewayv2_stage``
``default_route_settings`` and ``route_settings``; integrations' ``timeout_milliseconds``;
``aws_lambda_function`` (memory, whole-second timeout, architecture,
``reserved_concurrent_executions``) and ``aws_lambda_provisioned_concurrency_config`` on the
alias the integrations call. The functions' ``filename`` is a placeholder for the real package.
Nested blocks are written as lists of objects, the form ``terraform show -json`` prints them in.

https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/api_gateway_method_settings
"""

from __future__ import annotations

import json
from typing import Any

from simulator.scenario import Scenario, Throttle
from simulator.stack import export_common as common

__all__ = ["export_terraform", "terraform_dict"]


def _ref(kind: str, name: str, attr: str) -> str:
    return "${" + f"{kind}.{name}.{attr}" + "}"


def _id(name: str, taken: set[str]) -> str:
    return common.logical_id("", name, taken).lower() or "x"


def _functions(scenario: Scenario, res: dict[str, dict[str, Any]], taken: set[str]) -> dict[str, tuple[str, str]]:
    res["aws_iam_role"] = {"function": {"name_prefix": "throttlesim-", "assume_role_policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]})}}
    targets = {}
    for fn in scenario.functions:
        fid = _id(fn.name, taken)
        props: dict[str, Any] = {
            "//": "filename is a placeholder for the function's package",
            "function_name": fn.name, "role": _ref("aws_iam_role", "function", "arn"), "runtime": "python3.12",
            "handler": "index.handler", "filename": "function.zip", "memory_size": fn.memory_mb,
            "timeout": common.function_timeout_s(fn.timeout), "architectures": [fn.architecture],
            "publish": fn.provisioned_peak > 0}
        if fn.reserved_concurrency is not None:
            props["reserved_concurrent_executions"] = fn.reserved_concurrency
        res.setdefault("aws_lambda_function", {})[fid] = props
        targets[fn.name] = (_ref("aws_lambda_function", fid, "invoke_arn"), _ref("aws_lambda_function", fid, "arn"))
        if fn.provisioned_concurrency:
            res.setdefault("aws_lambda_alias", {})[fid] = {
                "name": common.ALIAS, "function_name": _ref("aws_lambda_function", fid, "function_name"),
                "function_version": _ref("aws_lambda_function", fid, "version")}
            res.setdefault("aws_lambda_provisioned_concurrency_config", {})[fid] = {
                "function_name": _ref("aws_lambda_alias", fid, "function_name"),
                "qualifier": _ref("aws_lambda_alias", fid, "name"),
                "provisioned_concurrent_executions": fn.provisioned_concurrency}
            targets[fn.name] = (_ref("aws_lambda_alias", fid, "invoke_arn"), _ref("aws_lambda_alias", fid, "arn"))
        res.setdefault("aws_lambda_permission", {})[fid] = {
            "action": "lambda:InvokeFunction", "function_name": fn.name, "principal": "apigateway.amazonaws.com",
            **({"qualifier": common.ALIAS} if fn.provisioned_concurrency else {})}
    return targets


def _limits(t: Throttle, rate: str, burst: str) -> dict[str, Any]:
    return {rate: t.rate, burst: t.burst}


def _rest(scenario: Scenario, res: dict[str, dict[str, Any]], targets: dict[str, tuple[str, str]]) -> None:
    api = _ref("aws_api_gateway_rest_api", "api", "id")
    res["aws_api_gateway_rest_api"] = {"api": {"name": scenario.name}}
    taken: set[str] = set()
    paths: dict[str, str] = {}
    for path in common.resource_paths(scenario):
        parent, _, part = path.rpartition("/")
        rid = _id(path, taken)
        res.setdefault("aws_api_gateway_resource", {})[rid] = {
            "rest_api_id": api, "path_part": part,
            "parent_id": _ref("aws_api_gateway_resource", paths[parent], "id") if parent else
            _ref("aws_api_gateway_rest_api", "api", "root_resource_id")}
        paths[path] = rid
    methods = []
    for route in scenario.routes:
        method, path = common.split_route(route)
        mid = _id(route.name, taken)
        resource = (_ref("aws_api_gateway_resource", paths[path], "id") if path != "/" else
                    _ref("aws_api_gateway_rest_api", "api", "root_resource_id"))
        res.setdefault("aws_api_gateway_method", {})[mid] = {
            "rest_api_id": api, "resource_id": resource, "http_method": method, "authorization": "NONE",
            "api_key_required": scenario.api.api_key_required}
        res.setdefault("aws_api_gateway_integration", {})[mid] = {
            "rest_api_id": api, "resource_id": resource, "http_method": method, "type": "AWS_PROXY",
            "integration_http_method": "POST", "uri": targets[str(route.function)][0],
            "timeout_milliseconds": common.route_timeout_ms(scenario, route)}
        methods.append(f"aws_api_gateway_integration.{mid}")
    res["aws_api_gateway_deployment"] = {"api": {"rest_api_id": api, "depends_on": methods}}
    res["aws_api_gateway_stage"] = {"stage": {"rest_api_id": api, "stage_name": scenario.api.stage,
                                              "deployment_id": _ref("aws_api_gateway_deployment", "api", "id")}}
    stage = _ref("aws_api_gateway_stage", "stage", "stage_name")
    settings: dict[str, Any] = {}
    rate, burst = "throttling_rate_limit", "throttling_burst_limit"
    if scenario.stage.throttle is not None:
        settings["stage_default"] = {"rest_api_id": api, "stage_name": stage, "method_path": "*/*",
                                     "settings": [_limits(scenario.stage.throttle, rate, burst)]}
    for route in scenario.routes:
        if route.throttle is not None:
            method, path = common.split_route(route)
            settings[_id("route " + route.name, taken)] = {
                "rest_api_id": api, "stage_name": stage, "method_path": f"{path.strip('/')}/{method}",
                "settings": [_limits(route.throttle, rate, burst)]}
    if settings:
        res["aws_api_gateway_method_settings"] = settings
    _plans(scenario, res, api, stage, taken)


def _plans(scenario: Scenario, res: dict[str, dict[str, Any]], api: str, stage: str, taken: set[str]) -> None:
    plan_ids = {}
    for plan in scenario.usage_plans:
        pid = _id("plan " + plan.name, taken)
        plan_ids[plan.name] = pid
        attach: dict[str, Any] = {"api_id": api, "stage": stage}
        if plan.method_throttles:
            attach["throttle"] = [{"path": common.method_path(scenario.route(r)), "rate_limit": t.rate,
                                   "burst_limit": t.burst} for r, t in plan.method_throttles.items()]
        props: dict[str, Any] = {"name": plan.name, "api_stages": [attach]}
        if plan.throttle is not None:
            props["throttle_settings"] = [_limits(plan.throttle, "rate_limit", "burst_limit")]
        if plan.quota is not None:
            props["quota_settings"] = [{"limit": plan.quota.limit, "period": plan.quota.period,
                                        "offset": plan.quota.offset}]
        res.setdefault("aws_api_gateway_usage_plan", {})[pid] = props
    seen: set[str] = set()
    for client in scenario.clients:
        if client.api_key is None or client.usage_plan is None or client.api_key in seen:
            continue
        seen.add(client.api_key)
        kid = _id("key " + client.name, taken)
        res.setdefault("aws_api_gateway_api_key", {})[kid] = {"name": client.name, "enabled": True}
        res.setdefault("aws_api_gateway_usage_plan_key", {})[kid] = {
            "key_id": _ref("aws_api_gateway_api_key", kid, "id"), "key_type": "API_KEY",
            "usage_plan_id": _ref("aws_api_gateway_usage_plan", plan_ids[client.usage_plan], "id")}


def _http(scenario: Scenario, res: dict[str, dict[str, Any]], targets: dict[str, tuple[str, str]]) -> None:
    api = _ref("aws_apigatewayv2_api", "api", "id")
    res["aws_apigatewayv2_api"] = {"api": {"name": scenario.name, "protocol_type": "HTTP"}}
    taken: set[str] = set()
    rate, burst = "throttling_rate_limit", "throttling_burst_limit"
    route_settings = []
    for route in scenario.routes:
        rid = _id(route.name, taken)
        res.setdefault("aws_apigatewayv2_integration", {})[rid] = {
            "api_id": api, "integration_type": "AWS_PROXY", "integration_uri": targets[str(route.function)][1],
            "payload_format_version": "2.0", "timeout_milliseconds": common.route_timeout_ms(scenario, route)}
        res.setdefault("aws_apigatewayv2_route", {})[rid] = {
            "api_id": api, "route_key": route.name,
            "target": "integrations/" + _ref("aws_apigatewayv2_integration", rid, "id")}
        if route.throttle is not None:
            route_settings.append({"route_key": route.name, **_limits(route.throttle, rate, burst)})
    stage: dict[str, Any] = {"api_id": api, "name": scenario.api.stage, "auto_deploy": True}
    if scenario.stage.throttle is not None:
        stage["default_route_settings"] = [_limits(scenario.stage.throttle, rate, burst)]
    if route_settings:
        stage["route_settings"] = route_settings
        stage["depends_on"] = [f"aws_apigatewayv2_route.{r}" for r in res["aws_apigatewayv2_route"]]
    res["aws_apigatewayv2_stage"] = {"stage": stage}


def terraform_dict(scenario: Scenario) -> dict[str, Any]:
    common.check_exportable(scenario)
    res: dict[str, dict[str, Any]] = {}
    targets = _functions(scenario, res, set())
    (_rest if scenario.api.type == "REST" else _http)(scenario, res, targets)
    return {"//": f"Limits of scenario {scenario.name}, exported by throttlesim export", "resource": res}


def export_terraform(scenario: Scenario) -> tuple[str, list[str]]:
    """The configuration as JSON text, and the Service Quotas requests for the account limits."""
    return json.dumps(terraform_dict(scenario), indent=2) + "\n", common.quota_requests(scenario)
