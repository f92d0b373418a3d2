"""An API's stage, routes, usage plans and functions read from a live AWS account.

Read-only calls through boto3, paginated, each value's origin naming the call it came from:
API Gateway ``get_account`` (the account throttle), ``get_rest_apis``,
``get_resources(embed=["methods"])`` (routes, API-key requirement, integration ``uri`` and
``timeoutInMillis``), ``get_stage`` (``methodSettings``: ``*/*`` and ``~1orders/POST``),
``get_usage_plans`` and ``get_usage_plan_keys``; API Gateway v2 ``get_apis``, ``get_stages``,
``get_routes``, ``get_integrations``; Lambda ``get_function``, ``get_function_concurrency``,
``list_provisioned_concurrency_configs`` and ``get_account_settings``. API key *values* are
never read into the scenario: a key is named by its name (or id), its value is a placeholder.

https://docs.aws.amazon.com/apigateway/latest/api/API_GetStage.html
https://docs.aws.amazon.com/lambda/latest/api/API_GetAccountSettings.html
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from simulator.stack.cfn_plans import add_method_throttle
from simulator.stack.cfn_routes import route_matches
from simulator.stack.errors import Origin, Sourced, StackError, require_extra
from simulator.stack.model import FunctionSpec, KeySpec, PlanSpec, QuotaSpec, RouteSpec, Stack, ThrottleSpec

__all__ = ["read_account"]

_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[^:]+:\d+:function:([A-Za-z0-9_-]+)(?::([A-Za-z0-9_$-]+))?")


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
        return
    token: str | None = None
    while True:
        page = getattr(client, operation)(**kwargs, **({"NextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def _throttle(settings: dict[str, Any] | None, rate: str, burst: str, origin: Origin) -> ThrottleSpec | None:
    if not settings or (settings.get(rate) is None and settings.get(burst) is None):
        return None
    return ThrottleSpec(rate=Sourced(float(settings.get(rate, 10000.0)), origin),
                        burst=Sourced(int(settings.get(burst, 5000)), origin))


def _choose(items: list[tuple[str, str, str]], api: str | None, where: str) -> tuple[str, str, str]:
    """(id, name, kind) of the API named or id'd *api*, or the only one."""
    chosen = [i for i in items if api in (i[0], i[1])] if api is not None else items
    if not chosen:
        raise StackError(where, f"no REST or HTTP API {'named ' + api if api else ''} in the account's region")
    if len(chosen) > 1:
        names = ", ".join(sorted(f"{n} ({i})" for i, n, _ in chosen))
        raise StackError(where, f"the region has {len(chosen)} APIs ({names}); choose one with --api NAME")
    return chosen[0]


def _function(lam: Any, stack: Stack, name: str) -> None:
    if name in stack.functions:
        return
    config = lam.get_function(FunctionName=name)["Configuration"]
    at = Origin(f"lambda get_function ({name})")
    reserved = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    spec = FunctionSpec(name=name, origin=at, memory_mb=Sourced(int(config.get("MemorySize", 128)), at),
                        timeout_s=Sourced(float(config.get("Timeout", 3)), at),
                        architecture=Sourced(str((config.get("Architectures") or ["x86_64"])[0]), at),
                        reserved=Sourced(int(reserved), Origin(f"lambda get_function_concurrency ({name})"))
                        if reserved is not None else None)
    for pc in _pages(lam, "list_provisioned_concurrency_configs", "ProvisionedConcurrencyConfigs", FunctionName=name):
        match = _ARN.search(pc.get("FunctionArn", ""))
        if match and match.group(2):
            spec.provisioned[match.group(2)] = Sourced(int(pc["RequestedProvisionedConcurrentExecutions"]), Origin(
                f"lambda list_provisioned_concurrency_configs ({name}:{match.group(2)})"))
    stack.functions[name] = spec


def _route(lam: Any, stack: Stack, name: str, uri: Any, origin: Origin, timeout_ms: Any) -> RouteSpec:
    match = _ARN.search(uri) if isinstance(uri, str) else None
    route = RouteSpec(name=name, origin=origin, function=match.group(1) if match else None,
                      qualifier=match.group(2) if match else None,
                      timeout_s=Sourced(float(timeout_ms) / 1000, origin) if timeout_ms is not None else None)
    if route.function:
        _function(lam, stack, route.function)
    return route


def _rest(ag: Any, lam: Any, api_id: str, name: str, stage: str | None) -> Stack:
    stages = ag.get_stages(restApiId=api_id).get("item", [])
    if stage is not None:
        stages = [s for s in stages if s["stageName"] == stage]
    if len(stages) != 1:
        names = ", ".join(sorted(s["stageName"] for s in ag.get_stages(restApiId=api_id).get("item", [])))
        raise StackError(f"apigateway get_stages ({name})",
                         f"choose one stage with --stage NAME; it has {names or 'none'}")
    stage_name = stages[0]["stageName"]
    at = Origin(f"apigateway get_stage ({name}, {stage_name})")
    stack = Stack(source=f"account ({name})", api_name=name,
                  api_type=Sourced("REST", Origin("apigateway get_rest_apis")), stage=Sourced(stage_name, at))
    for res in _pages(ag, "get_resources", "items", restApiId=api_id, embed=["methods"]):
        for method, spec in (res.get("resourceMethods") or {}).items():
            integration = spec.get("methodIntegration") or {}
            where = Origin(f"apigateway get_resources ({name} {method} {res['path']})")
            route = _route(lam, stack, f"{method} {res['path']}", integration.get("uri"), where,
                           integration.get("timeoutInMillis"))
            route.api_key_required = Sourced(bool(spec.get("apiKeyRequired")), where)
            stack.routes.append(route)
    for key, settings in (stages[0].get("methodSettings") or {}).items():
        path, _, method = key.rpartition("/")
        throttle = _throttle(settings, "throttlingRateLimit", "throttlingBurstLimit", at)
        if key == "*/*":
            stack.stage_throttle = throttle
            continue
        path = "/" + path.lstrip("/").replace("~1", "/").lstrip("/")
        matched = [r for r in stack.routes if route_matches(r.name, path, method)]
        if not matched:
            stack.findings.append(f"{at}: method setting {key} names no method of the API; it throttles nothing")
        for route in matched if throttle is not None else []:
            route.throttle = throttle
    _plans(ag, stack, api_id)
    return stack


def _plans(ag: Any, stack: Stack, api_id: str) -> None:
    for item in _pages(ag, "get_usage_plans", "items"):
        at = Origin(f"apigateway get_usage_plans ({item['name']})")
        attached = [s for s in item.get("apiStages") or [] if s.get("apiId") == api_id
                    and s.get("stage") == stack.stage.value]
        if not attached:
            stack.findings.append(f"{at}: usage plan {item['name']} is attached to no stage of {stack.api_name} "
                                  f"({stack.stage.value}); it limits nothing there and its keys get 403")
            continue
        quota = item.get("quota")
        plan = PlanSpec(name=item["name"], origin=at, throttle=_throttle(item.get("throttle"), "rateLimit",
                                                                         "burstLimit", at),
                        quota=QuotaSpec(limit=Sourced(int(quota["limit"]), at), period=Sourced(quota["period"], at),
                                        offset=Sourced(int(quota.get("offset", 0)), at)) if quota else None)
        for key, settings in (attached[0].get("throttle") or {}).items():
            add_method_throttle(stack, plan, key, _throttle(settings, "rateLimit", "burstLimit", at), at)
        for key in _pages(ag, "get_usage_plan_keys", "items", usagePlanId=item["id"]):
            # The key's value is in this answer too; only its name (or id) is kept.
            plan.keys.append(KeySpec(name=str(key.get("name") or key["id"]),
                                     origin=Origin(f"apigateway get_usage_plan_keys ({item['name']})")))
        stack.plans.append(plan)


def _http(v2: Any, lam: Any, api_id: str, name: str, stage: str | None) -> Stack:
    stages = [s for s in _pages(v2, "get_stages", "Items", ApiId=api_id) if stage in (None, s["StageName"])]
    if len(stages) != 1:
        raise StackError(f"apigatewayv2 get_stages ({name})", "choose one stage with --stage NAME; it has "
                                                               f"{len(stages)}")
    at = Origin(f"apigatewayv2 get_stages ({name}, {stages[0]['StageName']})")
    stack = Stack(source=f"account ({name})", api_name=name, api_type=Sourced("HTTP", Origin("apigatewayv2 get_apis")),
                  stage=Sourced(stages[0]["StageName"], at))
    integrations = {i["IntegrationId"]: i for i in _pages(v2, "get_integrations", "Items", ApiId=api_id)}
    for r in _pages(v2, "get_routes", "Items", ApiId=api_id):
        target = integrations.get(str(r.get("Target", "")).removeprefix("integrations/"), {})
        stack.routes.append(_route(lam, stack, r["RouteKey"], target.get("IntegrationUri"),
                                   Origin(f"apigatewayv2 get_routes ({name} {r['RouteKey']})"),
                                   target.get("TimeoutInMillis")))
    stack.stage_throttle = _throttle(stages[0].get("DefaultRouteSettings"), "ThrottlingRateLimit",
                                     "ThrottlingBurstLimit", at)
    for key, settings in (stages[0].get("RouteSettings") or {}).items():
        route = stack.route(key)
        throttle = _throttle(settings, "ThrottlingRateLimit", "ThrottlingBurstLimit", at)
        if route is None:
            stack.findings.append(f"{at}: RouteSettings name route {key!r}, which the API does not have")
        elif throttle is not None:
            route.throttle = throttle
    return stack


def read_account(*, api: str | None = None, stage: str | None = None, region: str = "us-east-1",
                 session: Any = None) -> Stack:
    """Read one API's stage from the account (credentials as boto3 finds them)."""
    require_extra("boto3")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = session or boto3.session.Session(region_name=region)
    try:
        return _read(session, api, stage, region)
    except (BotoCoreError, ClientError) as exc:
        raise StackError(f"account {region}", str(exc).splitlines()[0]) from None


def _read(session: Any, api: str | None, stage: str | None, region: str) -> Stack:
    ag, v2, lam = (session.client(s, region_name=region) for s in ("apigateway", "apigatewayv2", "lambda"))
    apis = [(a["id"], a["name"], "REST") for a in _pages(ag, "get_rest_apis", "items")]
    apis += [(a["ApiId"], a["Name"], "HTTP") for a in _pages(v2, "get_apis", "Items")
             if a.get("ProtocolType") == "HTTP"]
    api_id, name, kind = _choose(apis, api, f"account {region}")
    stack = _rest(ag, lam, api_id, name, stage) if kind == "REST" else _http(v2, lam, api_id, name, stage)
    account = ag.get_account().get("throttleSettings")
    stack.account_throttle = _throttle(account, "rateLimit", "burstLimit", Origin("apigateway get_account"))
    limit = lam.get_account_settings().get("AccountLimit", {}).get("ConcurrentExecutions")
    if limit is not None:
        stack.lambda_concurrency = Sourced(int(limit), Origin("lambda get_account_settings"))
    return stack
