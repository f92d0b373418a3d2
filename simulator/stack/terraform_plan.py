"""The JSON of ``terraform show -json``: resources by address, their values, and their links.

:class:`PlanJson` indexes a plan's ``planned_values`` (or a state's ``values``), child modules
included, and the ``configuration`` section's expressions. It reads attribute values with
their origins (the line, the address and the attribute), numbers (``-1`` is Terraform's
"unset"), and follows a link from one resource to another: by the id, ARN or name in a
state, else through the configuration's ``references``, through module input variables.

https://developer.hashicorp.com/terraform/internals/json-format
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from simulator.stack.errors import Origin, Sourced, StackError, as_number
from simulator.stack.model import DOCS, ThrottleSpec
from simulator.stack.template import key_line, node_line

__all__ = ["PlanJson", "plan_throttle"]


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


class PlanJson:
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


def plan_throttle(p: PlanJson, address: str, path: tuple[Any, ...], rate: str, burst: str) -> ThrottleSpec | None:
    r, b = p.number(address, *path, rate), p.number(address, *path, burst)
    if r is None and b is None:
        return None
    default = Origin.default(DOCS["throttle"])
    r = r or Sourced(10000.0, default)
    b = b or Sourced(5000.0, default)
    return ThrottleSpec(rate=r, burst=Sourced(int(b.value), b.origin))
