"""Reading one CloudFormation template's resources: values with their origins, and links.

:class:`Reader` gives a resource property's value after intrinsic functions
(:mod:`~simulator.stack.intrinsics`), its origin (the template line, or the parameter it came
through), numbers (an unresolved or non-numeric one is an error naming the line) and throttles.
:func:`link_target` follows an integration's URI to the Lambda function (and alias or version)
it calls; :func:`read_body_routes` reads the routes of an API's OpenAPI ``Body``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from simulator.stack.errors import Origin, Sourced, StackError, as_number
from simulator.stack.intrinsics import Resolver, Unresolved, linked_ids
from simulator.stack.model import DOCS, RouteSpec, ThrottleSpec
from simulator.stack.openapi import read_operations
from simulator.stack.template import Template

__all__ = ["FUNCTION_ARN", "Reader", "link_target", "read_body_routes"]

FUNCTION_ARN = re.compile(r":function:([A-Za-z0-9_-]+)(?::([A-Za-z0-9_$-]+))?")


class Reader:
    """Reads one template's values with their origins."""

    def __init__(self, template: Template, resolver: Resolver) -> None:
        self.t = template
        self.r = resolver

    def of_type(self, *types: str) -> dict[str, Mapping[str, Any]]:
        return {k: v for k, v in self.t.resources.items() if v.get("Type") in types}

    def props(self, logical_id: str) -> Mapping[str, Any]:
        props = self.t.resources[logical_id].get("Properties") or {}
        return props if isinstance(props, Mapping) else {}

    def raw(self, logical_id: str, path: Sequence[Any]) -> Any:
        node: Any = self.props(logical_id)
        for part in path:
            in_mapping = isinstance(node, Mapping) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
            if in_mapping or in_list:
                node = node[part]
            else:
                return None
        return node

    def value(self, logical_id: str, path: Sequence[Any]) -> Any:
        return self.r.resolve(self.raw(logical_id, path))

    def origin(self, logical_id: str, path: Sequence[Any]) -> Origin:
        return self.r.param_origin(self.raw(logical_id, path)) or Origin(self.t.where(logical_id, path))

    def number(self, logical_id: str, path: Sequence[Any]) -> Sourced[float] | None:
        """A numeric property, or None when absent; unresolved or non-numeric is an error."""
        raw = self.raw(logical_id, path)
        if raw is None:
            return None
        value = self.r.resolve(raw)
        number = as_number(value)
        if number is None:
            why = value.why if isinstance(value, Unresolved) else f"{value!r} is not a number"
            raise StackError(self.t.where(logical_id, path), f"{logical_id}.{'.'.join(map(str, path))}: {why}")
        return Sourced(number, self.origin(logical_id, path))

    def text(self, logical_id: str, path: Sequence[Any], default: str | None = None) -> str | None:
        value = self.value(logical_id, path)
        return value if isinstance(value, str) and not linked_ids(value) else default

    def targets(self, value: Any, logical_id: str) -> bool:
        """Whether a resolved reference (``{ref:X}``) points at *logical_id*."""
        return logical_id in linked_ids(value) or value == logical_id

    def throttle(self, logical_id: str, path: Sequence[Any], rate_key: str, burst_key: str) -> ThrottleSpec | None:
        rate = self.number(logical_id, [*path, rate_key])
        burst = self.number(logical_id, [*path, burst_key])
        if rate is None and burst is None:
            return None
        if rate is None:
            rate = Sourced(10000.0, Origin.default(DOCS["throttle"]))
        if burst is None:
            burst = Sourced(5000.0, Origin.default(DOCS["throttle"]))
        return ThrottleSpec(rate=rate, burst=Sourced(int(burst.value), burst.origin))



def link_target(uri: Any, by_id: Mapping[str, tuple[str, str | None]]) -> tuple[str | None, str | None]:
    for ref in linked_ids(uri):
        if ref in by_id:
            return by_id[ref]
    match = FUNCTION_ARN.search(uri) if isinstance(uri, str) else None
    if match:
        return match.group(1), match.group(2)
    return None, None


def read_body_routes(rd: Reader, api_id: str, by_id: Mapping[str, tuple[str, str | None]]) -> list[RouteSpec]:
    body = rd.raw(api_id, ["Body"])
    if not isinstance(body, Mapping):
        return []
    operations = read_operations(body, lambda path: Origin(rd.t.where(api_id, ["Body", *path])), rd.r.resolve)
    routes = []
    for op in operations:
        function, qualifier = link_target(op.uri, by_id)
        routes.append(RouteSpec(name=op.name, origin=op.origin, function=function, qualifier=qualifier,
                                timeout_s=op.timeout_s, api_key_required=op.api_key_required))
    return routes
