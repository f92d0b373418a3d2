"""The API side of a Terraform plan: stage, routes, throttles, usage plans and keys.

REST: ``aws_api_gateway_method`` + ``aws_api_gateway_integration`` (matched by resource and
HTTP method; ``uri``, ``timeout_milliseconds``), paths from ``aws_api_gateway_resource``
``path_part`` s, throttles from ``aws_api_gateway_method_settings`` (``method_path`` ``*/*``
or ``orders/POST``), ``aws_api_gateway_usage_plan`` and ``aws_api_gateway_usage_plan_key``.
HTTP: ``aws_apigatewayv2_route`` (``target`` ``integrations/ID``), ``aws_apigatewayv2_integration``
and the ``aws_apigatewayv2_stage`` 's ``default_route_settings`` and ``route_settings``.

https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/api_gateway_usage_plan
"""

from __future__ import annotations

from collections.abc import Mapping

from simulator.stack.cfn_plans import add_method_throttle
from simulator.stack.cfn_routes import route_matches
from simulator.stack.errors import Origin, Sourced, StackError
from simulator.stack.model import KeySpec, PlanSpec, QuotaSpec, RouteSpec, Stack
from simulator.stack.terraform_plan import PlanJson, plan_throttle

__all__ = ["read_http", "read_rest"]

_FUNCTIONS = ("aws_lambda_alias", "aws_lambda_function")
_RATE, _BURST = "throttling_rate_limit", "throttling_burst_limit"


def _stage(p: PlanJson, stack: Stack, kind: str, key: str, name_key: str, api: str, wanted: str | None) -> str | None:
    stages = {a: str(p.get(a, name_key)) for a in p.of_type(kind)
              if p.link(a, key, kinds=(p.resources[api]["type"],)) == api}
    if wanted is not None:
        stages = {a: n for a, n in stages.items() if wanted in (a, n)}
    if len(stages) > 1:
        names = ", ".join(sorted(stages.values()))
        raise StackError(str(p.origin(sorted(stages)[0])),
                         f"{api} has {len(stages)} stages ({names}); choose one with --stage NAME")
    if not stages:
        stack.stage = Sourced(wanted or "prod", Origin("PLACEHOLDER: the plan has no stage of this API"))
        return None
    (address, name), = stages.items()
    stack.stage = Sourced(name, p.origin(address, name_key))
    return address


def _path(p: PlanJson, resource: str | None) -> str:
    parts: list[str] = []
    while resource is not None and len(parts) < 64:
        parts.append(str(p.get(resource, "path_part")))
        resource = p.link(resource, "parent_id", kinds=("aws_api_gateway_resource",))
    return "/" + "/".join(reversed(parts))


def _function(p: PlanJson, address: str, attr: str, by_address: Mapping[str, tuple[str, str | None]]
              ) -> tuple[str | None, str | None]:
    target = p.link(address, attr, kinds=_FUNCTIONS)
    return by_address.get(target or "", (None, None))


def read_rest(p: PlanJson, stack: Stack, api: str, by_address: Mapping[str, tuple[str, str | None]],
              wanted: str | None) -> None:
    stage = _stage(p, stack, "aws_api_gateway_stage", "rest_api_id", "stage_name", api, wanted)
    integrations = {}
    for a in p.of_type("aws_api_gateway_integration"):
        where = (p.link(a, "resource_id", kinds=("aws_api_gateway_resource",)), str(p.get(a, "http_method")).upper())
        integrations[where] = a
    for m in p.of_type("aws_api_gateway_method"):
        if p.link(m, "rest_api_id", kinds=("aws_api_gateway_rest_api",)) != api:
            continue
        resource = p.link(m, "resource_id", kinds=("aws_api_gateway_resource",))
        method = str(p.get(m, "http_method")).upper()
        route = RouteSpec(name=f"{method} {_path(p, resource)}", origin=p.origin(m))
        if p.get(m, "api_key_required") is not None:
            route.api_key_required = Sourced(bool(p.get(m, "api_key_required")), p.origin(m, "api_key_required"))
        integration = integrations.get((resource, method))
        if integration is not None:
            route.function, route.qualifier = _function(p, integration, "uri", by_address)
            timeout = p.number(integration, "timeout_milliseconds")
            route.timeout_s = Sourced(timeout.value / 1000, timeout.origin) if timeout else None
        stack.routes.append(route)
    for s in p.of_type("aws_api_gateway_method_settings"):
        if stage is None or p.link(s, "stage_name", kinds=("aws_api_gateway_stage",)) != stage:
            continue
        throttle = plan_throttle(p, s, ("settings", 0), _RATE, _BURST)
        path, _, method = str(p.get(s, "method_path")).rpartition("/")
        path = "/*" if path == "*" else "/" + path.strip("/")
        if (path, method) == ("/*", "*"):
            stack.stage_throttle = throttle
            continue
        matched = [r for r in stack.routes if route_matches(r.name, path, method.upper())]
        if not matched:
            stack.findings.append(f"{p.origin(s, 'method_path')}: method settings {p.get(s, 'method_path')} name no "
                                  "method of the API; they throttle nothing")
        for route in matched if throttle is not None else []:
            route.throttle = throttle
    _plans(p, stack, api, stage)


def _plans(p: PlanJson, stack: Stack, api: str, stage: str | None) -> None:
    for u in p.of_type("aws_api_gateway_usage_plan"):
        name = str(p.get(u, "name") or u)
        stages = p.get(u, "api_stages") or []
        index = next((i for i in range(len(stages))
                      if p.link(u, "api_stages", i, "api_id", kinds=("aws_api_gateway_rest_api",)) == api and (
                          stages[i].get("stage") == stack.stage.value or (stage is not None and p.link(
                              u, "api_stages", i, "stage", kinds=("aws_api_gateway_stage",)) == stage))), None)
        if index is None:
            stack.findings.append(f"{p.origin(u, 'api_stages')}: usage plan {name} is attached to no stage of "
                                  f"{stack.api_name} ({stack.stage.value}); it limits nothing there and its keys "
                                  "get 403")
            continue
        plan = PlanSpec(name=name, origin=p.origin(u), throttle=plan_throttle(p, u, ("throttle_settings", 0),
                                                                         "rate_limit", "burst_limit"))
        limit = p.number(u, "quota_settings", 0, "limit")
        if limit is not None:
            offset = p.number(u, "quota_settings", 0, "offset")
            plan.quota = QuotaSpec(limit=Sourced(int(limit.value), limit.origin),
                                   period=Sourced(str(p.get(u, "quota_settings", 0, "period")),
                                                  p.origin(u, "quota_settings", 0, "period")),
                                   offset=Sourced(int(offset.value), offset.origin) if offset else None)
        for j, item in enumerate(stages[index].get("throttle") or []):
            throttle = plan_throttle(p, u, ("api_stages", index, "throttle", j), "rate_limit", "burst_limit")
            add_method_throttle(stack, plan, str(item.get("path")), throttle,
                                p.origin(u, "api_stages", index, "throttle", j, "path"))
        for k in p.of_type("aws_api_gateway_usage_plan_key"):
            if p.link(k, "usage_plan_id", kinds=("aws_api_gateway_usage_plan",)) == u:
                key = p.link(k, "key_id", kinds=("aws_api_gateway_api_key",))
                plan.keys.append(KeySpec(name=str(p.get(key, "name") or key) if key else k,
                                         origin=p.origin(key or k)))
        stack.plans.append(plan)


def read_http(p: PlanJson, stack: Stack, api: str, by_address: Mapping[str, tuple[str, str | None]],
              wanted: str | None) -> None:
    stage = _stage(p, stack, "aws_apigatewayv2_stage", "api_id", "name", api, wanted)
    for r in p.of_type("aws_apigatewayv2_route"):
        if p.link(r, "api_id", kinds=("aws_apigatewayv2_api",)) != api:
            continue
        route = RouteSpec(name=str(p.get(r, "route_key")), origin=p.origin(r))
        integration = p.link(r, "target", kinds=("aws_apigatewayv2_integration",))
        if integration is not None:
            route.function, route.qualifier = _function(p, integration, "integration_uri", by_address)
            timeout = p.number(integration, "timeout_milliseconds")
            route.timeout_s = Sourced(timeout.value / 1000, timeout.origin) if timeout else None
        stack.routes.append(route)
    if stage is None:
        return
    stack.stage_throttle = plan_throttle(p, stage, ("default_route_settings", 0), _RATE, _BURST)
    for i, item in enumerate(p.get(stage, "route_settings") or []):
        found = stack.route(str(item.get("route_key")))
        throttle = plan_throttle(p, stage, ("route_settings", i), _RATE, _BURST)
        if found is None:
            stack.findings.append(f"{p.origin(stage, 'route_settings', i, 'route_key')}: route settings name route "
                                  f"{item.get('route_key')!r}, which the API does not have")
        elif throttle is not None:
            found.throttle = throttle
