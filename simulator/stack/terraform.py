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
from typing import Any, Iterator, Mapping

from simulator.stack.errors import Origin, Sourced, StackError, as_number
from simulator.stack.model import DOCS, FunctionSpec, Stack, ThrottleSpec
from simulator.stack.template import _decode, key_line, node_line

__all__ = ["read_terraform"]


def _modules(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield module
    for child in module.get("child_modules") or []:
        yield from _modules(child)


def _config_resources(module: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(address, resource) of every configured resource, and ("module.x.", call) of every module call."""
    for res in module.get("resources") or []:
        yield prefix + str(res.get("address")), res
    for name, call in (module.get("module_calls") or {}).items():
        yield f"{prefix}module.{name}.", call
        yield from _config_resources(call.get("module") or {}, f"{prefix}module.{name}.")


class _Plan:
    def __init__(self, source: str, doc: Mapping[str, Any]) -> None:
        self.source = source
        values = doc.get("planned_values") or doc.get("values")
        if not isinstance(values, Mapping) or "root_module" not in values:
            raise StackError(source, "is not the JSON of terraform show -json (no planned_values or values)")
        self.resources = {str(r["address"]): r for m in _modules(values["root_module"])
                          for r in m.get("resources") or [] if r.get("mode", "managed") == "managed"}
        config = (doc.get("configuration") or {}).get("root_module") or {}
        self.config = dict(_config_resources(config))

    def of_type(self, kind: str) -> list[str]:
        return [a for a, r in self.resources.items() if r.get("type") == kind]

    def values(self, address: str) -> Mapping[str, Any]:
        return self.resources[address].get("values") or {}

    def get(self, address: str, *path: Any) -> Any:
        node: Any = self.values(address)
        for part in path:
            if isinstance(node, Mapping):
                node = node.get(part)
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return None
        return node

    def origin(self, address: str, *path: Any) -> Origin:
        parent: Any = self.values(address)
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, Mapping) else (
                parent[part] if isinstance(parent, list) and isinstance(part, int) and part < len(parent) else None)
        line = key_line(parent, path[-1]) if path else node_line(self.resources[address])
        dotted = ".".join(str(p) for p in path)
        return Origin.line(self.source, line, f"({address}{'.' + dotted if dotted else ''})")

    def number(self, address: str, *path: Any) -> Sourced[float] | None:
        """A numeric attribute; None when absent or -1 (Terraform's 'unset')."""
        value = self.get(address, *path)
        if value is None:
            return None
        number = as_number(value)
        if number is None:
            raise StackError(str(self.origin(address, *path)), f"{address}: {value!r} is not a number")
        return None if number == -1 else Sourced(number, self.origin(address, *path))

    def link(self, address: str, *path: Any, kinds: tuple[str, ...]) -> str | None:
        """The resource of one of *kinds* that an attribute points at (by id, name or ARN, else by reference)."""
        value = self.get(address, *path)
        if value not in (None, ""):
            for other in (a for k in kinds for a in self.of_type(k)):
                vals = self.values(other)
                if value in (vals.get("id"), vals.get("arn"), vals.get("invoke_arn"), vals.get("function_name"),
                             vals.get("stage_name"), vals.get("name")) or (isinstance(value, str) and any(
                                 isinstance(vals.get(k), str) and vals[k] and vals[k] in value
                                 for k in ("invoke_arn", "arn", "id"))):
                    return other
        expr: Any = (self.config.get(self._config_address(address)) or {}).get("expressions") or {}
        for part in path:
            expr = expr.get(part) if isinstance(expr, Mapping) else (
                expr[part] if isinstance(expr, list) and isinstance(part, int) and part < len(expr) else None)
        prefix = address.rsplit(".", 2)[0] + "." if address.startswith("module.") else ""
        refs = (expr or {}).get("references") or [] if isinstance(expr, Mapping) else []
        return self._follow(prefix, refs, kinds, 0)

    def _follow(self, prefix: str, refs: list[str], kinds: tuple[str, ...], depth: int) -> str | None:
        """The first reference to one of *kinds*, through module input variables (``var.x``)."""
        for ref in refs:
            if ref.startswith("var.") and prefix and depth < 16:
                call = self.config.get(prefix) or {}
                variable = ((call.get("expressions") or {}).get(ref.split(".")[1]) or {})
                parent = prefix[: prefix.rstrip(".").rfind("module.")]
                found = self._follow(parent, variable.get("references") or [], kinds, depth + 1)
                if found:
                    return found
            for kind in kinds:
                if ref.startswith(f"{kind}.") or f".{kind}." in ref:
                    name = ref.split(f"{kind}.", 1)[1].split(".")[0]
                    return f"{prefix}{kind}.{name}"
        return None

    def _config_address(self, address: str) -> str:
        return address.split("[", 1)[0]


def _throttle(p: _Plan, address: str, path: tuple[Any, ...], rate: str, burst: str) -> ThrottleSpec | None:
    r, b = p.number(address, *path, rate), p.number(address, *path, burst)
    if r is None and b is None:
        return None
    default = Origin.default(DOCS["throttle"])
    r = r or Sourced(10000.0, default)
    b = b or Sourced(5000.0, default)
    return ThrottleSpec(rate=r, burst=Sourced(int(b.value), b.origin))


def _functions(p: _Plan, stack: Stack) -> dict[str, tuple[str, str | None]]:
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


def _choose(p: _Plan, api: str | None) -> tuple[str, str]:
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
    from simulator.stack import terraform_api

    source = str(path)
    p = _Plan(source, _decode(Path(path), source))
    api_address, kind = _choose(p, api)
    stack = Stack(source=source, api_name=str(p.get(api_address, "name") or api_address),
                  api_type=Sourced(kind, p.origin(api_address)), stage=Sourced("prod", Origin("PLACEHOLDER")))
    by_address = _functions(p, stack)
    if kind == "REST":
        terraform_api.read_rest(p, stack, api_address, by_address, stage)
    else:
        terraform_api.read_http(p, stack, api_address, by_address, stage)
    return stack

