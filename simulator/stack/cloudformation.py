"""An API's stage, routes, usage plans and functions from plain CloudFormation.

After the SAM transform (:mod:`~simulator.stack.template`) a template describes an API with
these resources, which :func:`read_stack` follows from the API outwards:

* the API: ``AWS::ApiGateway::RestApi`` (REST) or ``AWS::ApiGatewayV2::Api`` with
  ``ProtocolType: HTTP``; its routes come from its OpenAPI ``Body``
  (:mod:`~simulator.stack.openapi`), from ``AWS::ApiGateway::Method`` /
  ``AWS::ApiGateway::Resource`` (REST) or from ``AWS::ApiGatewayV2::Route`` /
  ``AWS::ApiGatewayV2::Integration`` (HTTP);
* the stage: ``AWS::ApiGateway::Stage`` ``MethodSettings`` (``*/*`` is the stage default,
  ``/~1orders`` + ``POST`` the route ``POST /orders``), or ``AWS::ApiGatewayV2::Stage``
  ``DefaultRouteSettings`` and ``RouteSettings``;
* usage plans attached to that stage (``AWS::ApiGateway::UsagePlan``: throttle, quota,
  per-method throttles keyed ``/orders/POST``) and their keys (``AWS::ApiGateway::UsagePlanKey``);
* the functions the integrations call (``AWS::Lambda::Function``), followed through
  ``AWS::Lambda::Alias`` and ``AWS::Lambda::Version`` to find provisioned concurrency.

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/AWS_ApiGateway.html
"""

from __future__ import annotations

from collections.abc import Mapping

from simulator.stack import cfn_plans, cfn_routes
from simulator.stack.cfn_reader import Reader
from simulator.stack.errors import Origin, Sourced, StackError
from simulator.stack.intrinsics import Resolver, linked_ids
from simulator.stack.model import DOCS, FunctionSpec, Stack
from simulator.stack.template import Template

__all__ = ["read_stack"]


def _choose_api(rd: Reader, api: str | None) -> tuple[str, str]:
    apis = {k: "REST" for k in rd.of_type("AWS::ApiGateway::RestApi")}
    for k in rd.of_type("AWS::ApiGatewayV2::Api"):
        protocol = rd.value(k, ["ProtocolType"])
        if protocol is None and isinstance(rd.raw(k, ["Body"]), Mapping):
            protocol = "HTTP"  # an OpenAPI Body defines an HTTP API (WebSocket APIs cannot be imported)
        if protocol == "HTTP":
            apis[k] = "HTTP"
        elif api is not None and api in (k, rd.text(k, ["Name"])):
            raise StackError(rd.t.where(k, ["ProtocolType"]), f"{k} is a {protocol} API; only REST and HTTP APIs "
                                                              "are simulated")
    if not apis:
        raise StackError(rd.t.file, "the template has no REST or HTTP API (AWS::ApiGateway::RestApi, "
                                    "AWS::ApiGatewayV2::Api, AWS::Serverless::Api or AWS::Serverless::HttpApi)")
    if api is not None:
        chosen = [k for k in apis if api in (k, rd.text(k, ["Name"]))]
        if not chosen:
            raise StackError(rd.t.file, f"--api {api}: no such API; the template has {', '.join(sorted(apis))}")
        return chosen[0], apis[chosen[0]]
    if len(apis) > 1:
        first = sorted(apis)[0]
        raise StackError(rd.t.where(first, []), f"the template has {len(apis)} APIs ({', '.join(sorted(apis))}); "
                                                "choose one with --api NAME")
    (only, kind), = apis.items()
    return only, kind


def _choose_stage(rd: Reader, api_id: str, kind: str, stage: str | None) -> tuple[str | None, Sourced[str]]:
    stage_type = "AWS::ApiGateway::Stage" if kind == "REST" else "AWS::ApiGatewayV2::Stage"
    api_key = "RestApiId" if kind == "REST" else "ApiId"
    stages = {k: rd.text(k, ["StageName"], k) or k for k in rd.of_type(stage_type)
              if rd.targets(rd.value(k, [api_key]), api_id)}
    if stage is not None:
        chosen = [k for k, name in stages.items() if stage in (k, name)]
        if not chosen:
            raise StackError(rd.t.file, f"--stage {stage}: no such stage of {api_id}; it has "
                                        f"{', '.join(sorted(stages.values())) or 'none'}")
        stages = {chosen[0]: stages[chosen[0]]}
    if len(stages) > 1:
        names = ", ".join(sorted(stages.values()))
        raise StackError(rd.t.where(sorted(stages)[0], []),
                         f"{api_id} has {len(stages)} stages ({names}); choose one with --stage NAME")
    if stages:
        (stage_id, name), = stages.items()
        return stage_id, Sourced(name, rd.origin(stage_id, ["StageName"]))
    if kind == "HTTP" and rd.raw(api_id, ["Target"]) is not None:
        return None, Sourced("$default", Origin(f"{rd.t.where(api_id, ['Target'])} (quick create makes $default)"))
    for dep in rd.of_type("AWS::ApiGateway::Deployment"):
        if rd.targets(rd.value(dep, ["RestApiId"]), api_id) and rd.text(dep, ["StageName"]):
            return dep, Sourced(rd.text(dep, ["StageName"]) or "prod", rd.origin(dep, ["StageName"]))
    return None, Sourced("prod", Origin("PLACEHOLDER: the template deploys no stage of this API"))


def _functions(rd: Reader) -> tuple[dict[str, FunctionSpec], dict[str, tuple[str, str | None]]]:
    """Functions by name, and every Lambda logical id -> (function name, qualifier)."""
    functions: dict[str, FunctionSpec] = {}
    by_id: dict[str, tuple[str, str | None]] = {}
    for fid in rd.of_type("AWS::Lambda::Function"):
        name = rd.text(fid, ["FunctionName"]) or fid
        memory = rd.number(fid, ["MemorySize"]) or Sourced(128.0, Origin.default(DOCS["lambda"]))
        timeout = rd.number(fid, ["Timeout"]) or Sourced(3.0, Origin.default(DOCS["lambda"]))
        archs = rd.value(fid, ["Architectures"])
        arch = (Sourced(str(archs[0]), rd.origin(fid, ["Architectures"])) if isinstance(archs, list) and archs
                else Sourced("x86_64", Origin.default(DOCS["lambda"])))
        reserved = rd.number(fid, ["ReservedConcurrentExecutions"])
        functions[name] = FunctionSpec(
            name=name, origin=Origin(rd.t.where(fid, [])),
            memory_mb=Sourced(int(memory.value), memory.origin), timeout_s=timeout, architecture=arch,
            reserved=Sourced(int(reserved.value), reserved.origin) if reserved else None)
        by_id[fid] = (name, None)
    for kind in ("AWS::Lambda::Version", "AWS::Lambda::Alias"):
        for qid in rd.of_type(kind):
            owner = next((fid for fid in linked_ids(rd.value(qid, ["FunctionName"])) if fid in by_id), None)
            if owner is None:
                continue
            name = by_id[owner][0]
            qualifier = rd.text(qid, ["Name"]) or qid if kind.endswith("Alias") else qid
            by_id[qid] = (name, qualifier)
            pc = rd.number(qid, ["ProvisionedConcurrencyConfig", "ProvisionedConcurrentExecutions"])
            if pc is not None:
                functions[name].provisioned[qualifier] = Sourced(int(pc.value), pc.origin)
    return functions, by_id


def read_stack(
    template: Template, resolver: Resolver, *, api: str | None = None, stage: str | None = None
) -> Stack:
    """Read the chosen API's stage (both chosen automatically when the template has one)."""
    rd = Reader(template, resolver)
    api_id, kind = _choose_api(rd, api)
    stage_id, stage_name = _choose_stage(rd, api_id, kind, stage)
    stack = Stack(source=template.file, api_name=rd.text(api_id, ["Name"]) or api_id,
                  api_type=Sourced(kind, Origin(f"{template.where(api_id, [])} "
                                                f"({template.resources[api_id]['Type']})")),
                  stage=stage_name)
    stack.functions, by_id = _functions(rd)
    cfn_routes.read_routes(rd, stack, api_id, kind, by_id)
    if stage_id is not None:
        cfn_routes.read_stage_throttles(rd, stack, stage_id, kind)
    if kind == "REST":
        cfn_plans.read_plans(rd, stack, api_id, stage_id)
    return stack
