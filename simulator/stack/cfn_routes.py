"""Routes and their throttles from CloudFormation resources.

REST: each ``AWS::ApiGateway::Method`` is a route; its path is the chain of
``AWS::ApiGateway::Resource`` ``PathPart`` s up to the API's root. The stage's
``MethodSettings`` address a route by ``ResourcePath`` (slashes escaped as ``~1``) and
``HttpMethod``; ``/*`` and ``*`` are wildcards, and ``/*`` + ``*`` is the stage default.

HTTP: each ``AWS::ApiGatewayV2::Route`` is a route, its ``Target`` ``integrations/ID``
names an ``AWS::ApiGatewayV2::Integration``; the stage's ``DefaultRouteSettings`` and
``RouteSettings`` (keyed by route key) throttle them.

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigateway-stage-methodsetting.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigatewayv2-stage-routesettings.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator.stack.cfn_reader import Reader, link_target, read_body_routes
from simulator.stack.errors import Origin, Sourced, StackError
from simulator.stack.intrinsics import linked_ids
from simulator.stack.model import RouteSpec, Stack

__all__ = ["read_routes", "read_stage_throttles", "route_matches"]


def _resource_path(rd: Reader, resource_id: Any, api_id: str) -> str | None:
    parts: list[str] = []
    seen = set()
    while True:
        if isinstance(resource_id, str) and resource_id.startswith("{root:"):
            return "/" + "/".join(reversed(parts))
        ids = [i for i in linked_ids(resource_id)
               if rd.t.resources.get(i, {}).get("Type") == "AWS::ApiGateway::Resource"]
        if not ids or ids[0] in seen:
            return None
        seen.add(ids[0])
        parts.append(str(rd.value(ids[0], ["PathPart"])))
        resource_id = rd.value(ids[0], ["ParentId"])


def _add(stack: Stack, route: RouteSpec) -> None:
    if stack.route(route.name) is None:
        stack.routes.append(route)


def read_routes(rd: Reader, stack: Stack, api_id: str, kind: str, by_id: Mapping[str, tuple[str, str | None]]) -> None:
    for route in read_body_routes(rd, api_id, by_id):
        _add(stack, route)
    if kind == "REST":
        for mid in rd.of_type("AWS::ApiGateway::Method"):
            if not rd.targets(rd.value(mid, ["RestApiId"]), api_id):
                continue
            path = _resource_path(rd, rd.value(mid, ["ResourceId"]), api_id)
            method = str(rd.value(mid, ["HttpMethod"])).upper()
            if path is None:
                raise StackError(rd.t.where(mid, ["ResourceId"]), f"{mid}: cannot follow ResourceId to the API's root")
            if method == "OPTIONS" and rd.value(mid, ["Integration", "Type"]) == "MOCK":
                continue
            timeout = rd.number(mid, ["Integration", "TimeoutInMillis"])
            key = rd.value(mid, ["ApiKeyRequired"])
            function, qualifier = link_target(rd.value(mid, ["Integration", "Uri"]), by_id)
            _add(stack, RouteSpec(
                name=f"{method} {path}", origin=Origin(rd.t.where(mid, [])), function=function, qualifier=qualifier,
                timeout_s=Sourced(timeout.value / 1000, timeout.origin) if timeout else None,
                api_key_required=Sourced(str(key).lower() == "true", rd.origin(mid, ["ApiKeyRequired"]))
                if key is not None else None))
        return
    integrations = {}
    for iid in rd.of_type("AWS::ApiGatewayV2::Integration"):
        timeout = rd.number(iid, ["TimeoutInMillis"])
        integrations[iid] = (link_target(rd.value(iid, ["IntegrationUri"]), by_id),
                             Sourced(timeout.value / 1000, timeout.origin) if timeout else None)
    for rid in rd.of_type("AWS::ApiGatewayV2::Route"):
        if not rd.targets(rd.value(rid, ["ApiId"]), api_id):
            continue
        target = next((i for i in linked_ids(rd.value(rid, ["Target"])) if i in integrations), None)
        none: tuple[tuple[str | None, str | None], Sourced[float] | None] = ((None, None), None)
        (function, qualifier), timeout = integrations.get(target, none) if target else none
        _add(stack, RouteSpec(name=str(rd.value(rid, ["RouteKey"])), origin=Origin(rd.t.where(rid, [])),
                              function=function, qualifier=qualifier, timeout_s=timeout))
    quick = rd.value(api_id, ["Target"])
    if quick is not None:
        function, qualifier = link_target(quick, by_id)
        key = rd.text(api_id, ["RouteKey"]) or "$default"
        _add(stack, RouteSpec(name=key, origin=Origin(rd.t.where(api_id, ["Target"])), function=function,
                              qualifier=qualifier))


def route_matches(route: str, path: str, method: str) -> bool:
    """Whether a method setting (``ResourcePath``, ``HttpMethod``) applies to *route*."""
    verb, _, route_path = route.partition(" ")
    return (method in ("*", verb)) and (path in ("/*", route_path))


def _unescape(resource_path: str) -> str:
    """A method setting's ``ResourcePath`` (``/~1orders~1{id}``) as a route path (``/orders/{id}``)."""
    if resource_path == "/*" or not resource_path.startswith("/~1"):
        return resource_path
    return resource_path[1:].replace("~1", "/")


def read_stage_throttles(rd: Reader, stack: Stack, stage_id: str, kind: str) -> None:
    if kind == "HTTP":
        stack.stage_throttle = rd.throttle(stage_id, ["DefaultRouteSettings"], "ThrottlingRateLimit",
                                           "ThrottlingBurstLimit")
        settings = rd.value(stage_id, ["RouteSettings"]) or {}
        for key in settings if isinstance(settings, Mapping) else {}:
            throttle = rd.throttle(stage_id, ["RouteSettings", key], "ThrottlingRateLimit", "ThrottlingBurstLimit")
            route = stack.route(key)
            if route is None:
                stack.findings.append(f"{rd.t.where(stage_id, ['RouteSettings', key])}: RouteSettings name route "
                                      f"{key!r}, which the API does not have; it throttles nothing")
            elif throttle is not None:
                route.throttle = throttle
        return
    is_stage = rd.t.resources[stage_id]["Type"] == "AWS::ApiGateway::Stage"
    base = [] if is_stage else ["StageDescription"]
    if not is_stage:
        stack.stage_throttle = rd.throttle(stage_id, base, "ThrottlingRateLimit", "ThrottlingBurstLimit")
    settings = rd.value(stage_id, [*base, "MethodSettings"]) or []
    for i, setting in enumerate(settings if isinstance(settings, list) else []):
        at = [*base, "MethodSettings", i]
        throttle = rd.throttle(stage_id, at, "ThrottlingRateLimit", "ThrottlingBurstLimit")
        path = _unescape(str(setting.get("ResourcePath", "/*")))
        method = str(setting.get("HttpMethod", "*")).upper()
        if path == "/*" and method == "*":
            if throttle is not None:
                stack.stage_throttle = throttle
            continue
        matched = [r for r in stack.routes if route_matches(r.name, path, method)]
        if not matched:
            stack.findings.append(f"{rd.t.where(stage_id, at)}: method setting {method} {path} names no method of "
                                  f"the API; it throttles nothing")
        for route in matched if throttle is not None else []:
            route.throttle = throttle


