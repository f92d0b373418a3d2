"""Usage plans and their API keys from CloudFormation resources (REST APIs only).

An ``AWS::ApiGateway::UsagePlan`` applies to the stages listed in its ``ApiStages``; one
attached to no stage of the chosen API limits nothing there (a finding), and its keys cannot
call the stage. Its ``Throttle`` is per key (``RateLimit``, ``BurstLimit``), its ``Quota``
(``Limit``, ``Period``, ``Offset``) counts per key per calendar period, and
``ApiStages[].Throttle`` holds per-method throttles keyed ``/orders/POST``. Each
``AWS::ApiGateway::UsagePlanKey`` puts an ``AWS::ApiGateway::ApiKey`` in a plan: the import
makes one client per key, identified by the key's name, never by its value.

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-apigateway-usageplan.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.stack.errors import Origin, Sourced
from simulator.stack.intrinsics import linked_ids
from simulator.stack.model import KeySpec, PlanSpec, QuotaSpec, Stack, ThrottleSpec

if TYPE_CHECKING:
    from simulator.stack.cfn_reader import Reader

__all__ = ["add_method_throttle", "method_route", "read_plans"]


def method_route(key: str) -> str:
    """``/orders/POST`` (a usage plan's per-method key) as the route ``POST /orders``."""
    path, _, method = key.rstrip("/").rpartition("/")
    return f"{method.upper()} {path or '/'}"


def add_method_throttle(stack: Stack, plan: PlanSpec, key: str, throttle: ThrottleSpec | None, where: object) -> None:
    """Put a per-method throttle (keyed ``/orders/POST``) in *plan*, or find that it names no method."""
    route = method_route(key)
    if stack.route(route) is None:
        stack.findings.append(f"{where}: usage plan {plan.name} throttles {key}, which names no method of the API; "
                              "it throttles nothing")
    elif throttle is not None:
        plan.method_throttles[route] = throttle


def _stage_name(rd: Reader, value: Any) -> Any:
    for ref in linked_ids(value):
        res = rd.t.resources.get(ref, {})
        if res.get("Type") == "AWS::ApiGateway::Stage":
            return rd.value(ref, ["StageName"])
    return value


def _attachment(rd: Reader, plan_id: str, api_id: str, stage: str) -> int | None:
    stages = rd.value(plan_id, ["ApiStages"]) or []
    for i, item in enumerate(stages if isinstance(stages, list) else []):
        if (isinstance(item, dict) and rd.targets(item.get("ApiId"), api_id)
                and _stage_name(rd, item.get("Stage")) == stage):
            return i
    return None


def _quota(rd: Reader, plan_id: str) -> QuotaSpec | None:
    limit = rd.number(plan_id, ["Quota", "Limit"])
    if limit is None:
        return None
    period = rd.value(plan_id, ["Quota", "Period"])
    offset = rd.number(plan_id, ["Quota", "Offset"])
    return QuotaSpec(limit=Sourced(int(limit.value), limit.origin),
                     period=Sourced(str(period), rd.origin(plan_id, ["Quota", "Period"])),
                     offset=Sourced(int(offset.value), offset.origin) if offset else None)


def read_plans(rd: Reader, stack: Stack, api_id: str, stage_id: str | None) -> None:
    keys = {}
    for kid in rd.of_type("AWS::ApiGateway::ApiKey"):
        keys[kid] = KeySpec(name=rd.text(kid, ["Name"]) or kid, origin=Origin(rd.t.where(kid, [])))
    for plan_id in rd.of_type("AWS::ApiGateway::UsagePlan"):
        name = rd.text(plan_id, ["UsagePlanName"]) or plan_id
        index = _attachment(rd, plan_id, api_id, stack.stage.value)
        if index is None:
            stack.findings.append(f"{rd.t.where(plan_id, ['ApiStages'])}: usage plan {name} is attached to no stage "
                                  f"of {stack.api_name} ({stack.stage.value}); it limits nothing there and its keys "
                                  "get 403")
            continue
        plan = PlanSpec(name=name, origin=Origin(rd.t.where(plan_id, [])),
                        throttle=rd.throttle(plan_id, ["Throttle"], "RateLimit", "BurstLimit"),
                        quota=_quota(rd, plan_id))
        per_method = rd.value(plan_id, ["ApiStages", index, "Throttle"]) or {}
        for key in per_method if isinstance(per_method, dict) else {}:
            throttle = rd.throttle(plan_id, ["ApiStages", index, "Throttle", key], "RateLimit", "BurstLimit")
            add_method_throttle(stack, plan, str(key), throttle, rd.t.where(plan_id, ["ApiStages", index, "Throttle",
                                                                                   key]))
        for pk in rd.of_type("AWS::ApiGateway::UsagePlanKey"):
            if rd.targets(rd.value(pk, ["UsagePlanId"]), plan_id):
                linked = next((k for k in linked_ids(rd.value(pk, ["KeyId"])) if k in keys), None)
                plan.keys.append(keys[linked] if linked else KeySpec(name=pk, origin=Origin(rd.t.where(pk, []))))
        stack.plans.append(plan)
