"""A scenario's limits as a CloudFormation template (YAML, also valid inside a SAM template).

The template holds what the scenario decides and AWS lets a template set:

* the API (``AWS::ApiGateway::RestApi`` with one ``Resource`` per path segment and one
  ``Method`` per route, or ``AWS::ApiGatewayV2::Api`` with a ``Route`` and an
  ``Integration`` per route), each integration with its ``TimeoutInMillis``;
* the stage's throttles: REST ``MethodSettings`` (``/*`` ``*`` for the stage default,
  ``/~1orders`` ``POST`` for a route), HTTP ``DefaultRouteSettings`` and ``RouteSettings``;
* usage plans with throttle, quota and per-method throttles, an ``ApiKey`` per distinct client
  key *without a value* (AWS generates one; the scenario's key strings are never written) and
  a ``UsagePlanKey`` putting it in its plan;
* one function per scenario function (memory, whole-second timeout, architecture, reserved
  concurrency); provisioned concurrency goes on an alias (``live``) that the integrations call.

The function code is a stub to replace with the real code (or merge the settings into the
existing template). Account limits are returned separately as Service Quotas requests.

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/AWS_ApiGateway.html
"""

from __future__ import annotations

from typing import Any

from simulator.scenario import Scenario, Throttle
from simulator.stack import export_common as common
from simulator.stack.errors import require_extra

__all__ = ["export_cloudformation", "template_dict"]

_STUB = "def handler(event, context):\n    raise NotImplementedError('replace with the function code')\n"


def _sub_uri(target: dict[str, Any]) -> dict[str, Any]:
    uri = "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Target}/invocations"
    return {"Fn::Sub": [uri, {"Target": target}]}


def _functions(scenario: Scenario, res: dict[str, Any], taken: set[str]) -> dict[str, tuple[str, Any]]:
    """Function resources; returns name -> (logical id of what integrations call, its ARN)."""
    res["FunctionRole"] = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                          "AWSLambdaBasicExecutionRole"}]}}
    taken.add("FunctionRole")
    targets: dict[str, tuple[str, Any]] = {}
    for fn in scenario.functions:
        fid = common.logical_id("Function", fn.name, taken)
        props: dict[str, Any] = {
            "FunctionName": fn.name, "Runtime": "python3.12", "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]}, "Code": {"ZipFile": _STUB},
            "MemorySize": fn.memory_mb, "Timeout": common.function_timeout_s(fn.timeout),
            "Architectures": [fn.architecture]}
        if fn.reserved_concurrency is not None:
            props["ReservedConcurrentExecutions"] = fn.reserved_concurrency
        res[fid] = {"Type": "AWS::Lambda::Function", "Properties": props}
        targets[fn.name] = (fid, {"Fn::GetAtt": [fid, "Arn"]})
        if fn.provisioned_concurrency:
            vid, aid = common.logical_id(fid, "Version", taken), common.logical_id(fid, "Alias", taken)
            res[vid] = {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": fid}}}
            res[aid] = {"Type": "AWS::Lambda::Alias", "Properties": {
                "Name": common.ALIAS, "FunctionName": {"Ref": fid},
                "FunctionVersion": {"Fn::GetAtt": [vid, "Version"]},
                "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": fn.provisioned_concurrency}}}
            targets[fn.name] = (aid, {"Ref": aid})
    return targets


def _permissions(res: dict[str, Any], targets: dict[str, tuple[str, Any]], api_id: str, taken: set[str]) -> None:
    for target_id, _ in targets.values():
        pid = common.logical_id(target_id, "Permission", taken)
        res[pid] = {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": {"Ref": target_id},
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:"
                                     f"${{{api_id}}}/*"}}}


def _throttle(t: Throttle, rate: str = "RateLimit", burst: str = "BurstLimit") -> dict[str, Any]:
    return {rate: t.rate, burst: t.burst}


def _rest(scenario: Scenario, res: dict[str, Any], targets: dict[str, tuple[str, Any]], taken: set[str]) -> None:
    api = "RestApi"
    taken.add(api)
    res[api] = {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": scenario.name}}
    path_ids: dict[str, str] = {}
    for path in common.resource_paths(scenario):
        parent, _, part = path.rpartition("/")
        pid = common.logical_id("Resource", path, taken)
        parent_ref = {"Ref": path_ids[parent]} if parent else {"Fn::GetAtt": [api, "RootResourceId"]}
        res[pid] = {"Type": "AWS::ApiGateway::Resource",
                    "Properties": {"RestApiId": {"Ref": api}, "ParentId": parent_ref, "PathPart": part}}
        path_ids[path] = pid
    methods = []
    for route in scenario.routes:
        method, path = common.split_route(route)
        mid = common.logical_id("Method", route.name, taken)
        methods.append(mid)
        resource = {"Ref": path_ids[path]} if path != "/" else {"Fn::GetAtt": [api, "RootResourceId"]}
        res[mid] = {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": {"Ref": api}, "ResourceId": resource, "HttpMethod": method, "AuthorizationType": "NONE",
            "ApiKeyRequired": scenario.api.api_key_required,
            "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST",
                            "Uri": _sub_uri(targets[str(route.function)][1]),
                            "TimeoutInMillis": common.route_timeout_ms(scenario, route)}}}
    res["Deployment"] = {"Type": "AWS::ApiGateway::Deployment", "DependsOn": methods,
                         "Properties": {"RestApiId": {"Ref": api}}}
    settings = []
    if scenario.stage.throttle is not None:
        settings.append({"ResourcePath": "/*", "HttpMethod": "*",
                         **_throttle(scenario.stage.throttle, "ThrottlingRateLimit", "ThrottlingBurstLimit")})
    for route in scenario.routes:
        if route.throttle is not None:
            settings.append({"ResourcePath": common.escaped_path(route), "HttpMethod": common.split_route(route)[0],
                             **_throttle(route.throttle, "ThrottlingRateLimit", "ThrottlingBurstLimit")})
    stage: dict[str, Any] = {"RestApiId": {"Ref": api}, "DeploymentId": {"Ref": "Deployment"},
                             "StageName": scenario.api.stage}
    if settings:
        stage["MethodSettings"] = settings
    res["Stage"] = {"Type": "AWS::ApiGateway::Stage", "Properties": stage}
    taken.update({"Deployment", "Stage"})
    _plans(scenario, res, taken)


def _plans(scenario: Scenario, res: dict[str, Any], taken: set[str]) -> None:
    plan_ids = {}
    for plan in scenario.usage_plans:
        uid = common.logical_id("UsagePlan", plan.name, taken)
        plan_ids[plan.name] = uid
        attach: dict[str, Any] = {"ApiId": {"Ref": "RestApi"}, "Stage": {"Ref": "Stage"}}
        if plan.method_throttles:
            attach["Throttle"] = {common.method_path(scenario.route(r)): _throttle(t)
                                  for r, t in plan.method_throttles.items()}
        props: dict[str, Any] = {"UsagePlanName": plan.name, "ApiStages": [attach]}
        if plan.throttle is not None:
            props["Throttle"] = _throttle(plan.throttle)
        if plan.quota is not None:
            props["Quota"] = {"Limit": plan.quota.limit, "Period": plan.quota.period}
            if plan.quota.offset:
                props["Quota"]["Offset"] = plan.quota.offset
        res[uid] = {"Type": "AWS::ApiGateway::UsagePlan", "Properties": props}
    seen = set()
    for client in scenario.clients:
        if client.api_key is None or client.usage_plan is None or client.api_key in seen:
            continue
        seen.add(client.api_key)
        kid = common.logical_id("ApiKey", client.name, taken)
        res[kid] = {"Type": "AWS::ApiGateway::ApiKey", "DependsOn": "Stage",
                    "Properties": {"Name": client.name, "Enabled": True}}
        res[common.logical_id(kid, "InPlan", taken)] = {"Type": "AWS::ApiGateway::UsagePlanKey", "Properties": {
            "KeyId": {"Ref": kid}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan_ids[client.usage_plan]}}}


def _http(scenario: Scenario, res: dict[str, Any], targets: dict[str, tuple[str, Any]], taken: set[str]) -> None:
    api = "HttpApi"
    taken.add(api)
    res[api] = {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": scenario.name, "ProtocolType": "HTTP"}}
    routes, route_settings = [], {}
    for route in scenario.routes:
        iid = common.logical_id("Integration", route.name, taken)
        rid = common.logical_id("Route", route.name, taken)
        routes.append(rid)
        res[iid] = {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "ApiId": {"Ref": api}, "IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0",
            "IntegrationUri": targets[str(route.function)][1],
            "TimeoutInMillis": common.route_timeout_ms(scenario, route)}}
        res[rid] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "ApiId": {"Ref": api}, "RouteKey": route.name, "Target": {"Fn::Join": ["/", ["integrations",
                                                                                            {"Ref": iid}]]}}}
        if route.throttle is not None:
            route_settings[route.name] = _throttle(route.throttle, "ThrottlingRateLimit", "ThrottlingBurstLimit")
    stage: dict[str, Any] = {"ApiId": {"Ref": api}, "StageName": scenario.api.stage, "AutoDeploy": True}
    if scenario.stage.throttle is not None:
        stage["DefaultRouteSettings"] = _throttle(scenario.stage.throttle, "ThrottlingRateLimit",
                                                  "ThrottlingBurstLimit")
    if route_settings:
        stage["RouteSettings"] = route_settings
    res["Stage"] = {"Type": "AWS::ApiGatewayV2::Stage", "DependsOn": routes, "Properties": stage}


def template_dict(scenario: Scenario) -> dict[str, Any]:
    """The template as a dict (long-form intrinsic functions)."""
    common.check_exportable(scenario)
    res: dict[str, Any] = {}
    taken: set[str] = set()
    targets = _functions(scenario, res, taken)
    api = "RestApi" if scenario.api.type == "REST" else "HttpApi"
    (_rest if scenario.api.type == "REST" else _http)(scenario, res, targets, taken)
    _permissions(res, targets, api, taken)
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"Limits of scenario {scenario.name}, exported by throttlesim export",
            "Resources": res}


def export_cloudformation(scenario: Scenario) -> tuple[str, list[str]]:
    """The template as YAML text, and the Service Quotas requests for the account limits."""
    require_extra("yaml")
    import yaml

    text = yaml.safe_dump(template_dict(scenario), sort_keys=False, default_flow_style=False, width=120)
    return text, common.quota_requests(scenario)
