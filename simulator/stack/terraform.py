"""An API's stage, routes, usage plans and functions from ``terraform show -json``.

``terraform show -json`` prints a plan (``planned_values``) or a state (``values``): modules of
resources, each with its ``address`` (``module.api.aws_api_gateway_stage.prod``), ``type`` and
attribute ``values``; nested blocks are lists of objects. In a plan, ids AWS has not assigned
yet are absent, so links (``rest_api_id``, ``usage_plan_id``...) are followed through the
``configuration`` section's ``references`` (``aws_api_gateway_rest_api.api.id``) instead; in a
state, by the ids themselves.

Terraform writes ``-1`` for a throttle or a reserved concurrency that is unset. An HTTP API
stage whose route settings are 0/0 throttles everything (a finding).

The file is decoded with cfn-lint's JSON decoder, so origins name the line of each value as
well as the resource address and attribute.

https://developer.hashicorp.com/terraform/internals/json-format
"""

from __future__ import annotations

from pathlib import Path

from simulator.stack import terraform_api
from simulator.stack.errors import Origin, Sourced, StackError
from simulator.stack.model import DOCS, FunctionSpec, Stack
from simulator.stack.template import decode_file
from simulator.stack.terraform_plan import PlanJson

__all__ = ["read_terraform"]


def _functions(p: PlanJson, stack: Stack) -> dict[str, tuple[str, str | None]]:
    by_address: dict[str, tuple[str, str | None]] = {}
    for a in p.of_type("aws_lambda_function"):
        name = str(p.get(a, "function_name") or a)
        memory = p.number(a, "memory_size") or Sourced(128.0, Origin.default(DOCS["lambda"]))
        timeout = p.number(a, "timeout") or Sourced(3.0, Origin.default(DOCS["lambda"]))
        archs = p.get(a, "architectures")
        reserved = p.number(a, "reserved_concurrent_executions")
        stack.functions[name] = FunctionSpec(
            name=name, origin=p.origin(a), memory_mb=Sourced(int(memory.value), memory.origin), timeout_s=timeout,
            architecture=Sourced(str(archs[0]), p.origin(a, "architectures")) if archs else
            Sourced("x86_64", Origin.default(DOCS["lambda"])),
            reserved=Sourced(int(reserved.value), reserved.origin) if reserved else None)
        by_address[a] = (name, None)
    for a in p.of_type("aws_lambda_alias"):
        owner = p.link(a, "function_name", kinds=("aws_lambda_function",))
        if owner in by_address:
            by_address[a] = (by_address[owner][0], str(p.get(a, "name") or a))
    for a in p.of_type("aws_lambda_provisioned_concurrency_config"):
        owner = p.link(a, "function_name", kinds=("aws_lambda_function", "aws_lambda_alias"))
        pc = p.number(a, "provisioned_concurrent_executions")
        qualifier = p.get(a, "qualifier") or (by_address.get(owner or "", (None, None))[1])
        if owner in by_address and pc is not None and qualifier:
            stack.functions[by_address[owner][0]].provisioned[str(qualifier)] = Sourced(int(pc.value), pc.origin)
    return by_address


def _choose(p: PlanJson, api: str | None) -> tuple[str, str]:
    apis = {a: "REST" for a in p.of_type("aws_api_gateway_rest_api")}
    apis.update({a: "HTTP" for a in p.of_type("aws_apigatewayv2_api") if p.get(a, "protocol_type") == "HTTP"})
    if api is not None:
        apis = {a: k for a, k in apis.items() if api in (a, p.get(a, "name"))}
        if not apis:
            raise StackError(p.source, f"--api {api}: no such REST or HTTP API in the plan")
    if not apis:
        raise StackError(p.source, "the plan has no REST or HTTP API (aws_api_gateway_rest_api, aws_apigatewayv2_api)")
    if len(apis) > 1:
        raise StackError(str(p.origin(sorted(apis)[0])), f"the plan has {len(apis)} APIs ({', '.join(sorted(apis))});"
                                                         " choose one with --api NAME")
    (address, kind), = apis.items()
    return address, kind


def read_terraform(path: str | Path, *, api: str | None = None, stage: str | None = None) -> Stack:
    """Read the chosen API's stage from a ``terraform show -json`` file."""
    source = str(path)
    p = PlanJson(source, decode_file(Path(path), source))
    api_address, kind = _choose(p, api)
    stack = Stack(source=source, api_name=str(p.get(api_address, "name") or api_address),
                  api_type=Sourced(kind, p.origin(api_address)), stage=Sourced("prod", Origin("PLACEHOLDER")))
    by_address = _functions(p, stack)
    if kind == "REST":
        terraform_api.read_rest(p, stack, api_address, by_address, stage)
    else:
        terraform_api.read_http(p, stack, api_address, by_address, stage)
    return stack

