"""Routes from an OpenAPI 3 or Swagger 2 definition with API Gateway's extensions.

API Gateway reads its routes from the definition's ``paths``. Each operation becomes a route
``METHOD /path``; ``x-amazon-apigateway-any-method`` is ``ANY``, and an HTTP API's
``/$default`` path is the ``$default`` route. ``x-amazon-apigateway-integration`` says what
the route calls: ``uri`` (a Lambda function's invocation ARN), ``type`` and
``timeoutInMillis``. An operation requires an API key when one of its security requirements
(or the document's) names a scheme of type ``apiKey``.

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions.html
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.stack.errors import Origin, Sourced, StackError, as_number
from simulator.stack.template import decode_file, walk_line

__all__ = ["Operation", "load_openapi", "read_operations"]

_METHODS = {"get", "put", "post", "delete", "options", "head", "patch"}
ANY_METHOD = "x-amazon-apigateway-any-method"


@dataclass
class Operation:
    name: str
    origin: Origin
    #: The integration's uri after intrinsic functions, or None.
    uri: Any = None
    integration_type: str | None = None
    timeout_s: Sourced[float] | None = None
    api_key_required: Sourced[bool] | None = None


def _key_schemes(doc: Mapping[str, Any]) -> set[str]:
    schemes = doc.get("securityDefinitions") or (doc.get("components") or {}).get("securitySchemes") or {}
    return {str(name) for name, spec in schemes.items()
            if isinstance(spec, Mapping) and str(spec.get("type", "")).lower() == "apikey"}


def read_operations(
    doc: Mapping[str, Any],
    where: Callable[[Sequence[Any]], Origin],
    resolve: Callable[[Any], Any] = lambda node: node,
) -> list[Operation]:
    """Every operation of *doc*; *where(path)* gives the origin of a key path inside *doc*."""
    if not isinstance(doc, Mapping) or not ("swagger" in doc or "openapi" in doc):
        raise StackError(str(where([])), "is not an OpenAPI 3 or Swagger 2 definition (no 'openapi' or 'swagger' key)")
    key_schemes = _key_schemes(doc)
    default_security = doc.get("security")
    out = []
    for path, methods in (doc.get("paths") or {}).items():
        if not isinstance(methods, Mapping):
            continue
        for method, op in methods.items():
            verb = "ANY" if method == ANY_METHOD else str(method).upper()
            if method != ANY_METHOD and method not in _METHODS or not isinstance(op, Mapping):
                continue
            name = "$default" if path == "/$default" else f"{verb} {path}"
            here = ["paths", path, method]
            operation = Operation(name=name, origin=where(here))
            integration = op.get("x-amazon-apigateway-integration")
            if isinstance(integration, Mapping):
                at = [*here, "x-amazon-apigateway-integration"]
                operation.uri = resolve(integration.get("uri"))
                operation.integration_type = str(resolve(integration.get("type", ""))).lower() or None
                if "timeoutInMillis" in integration:
                    millis = as_number(resolve(integration["timeoutInMillis"]))
                    origin = where([*at, "timeoutInMillis"])
                    if millis is None:
                        raise StackError(str(origin), "timeoutInMillis is not a number")
                    operation.timeout_s = Sourced(millis / 1000.0, origin)
            security = op.get("security", default_security)
            if key_schemes and isinstance(security, list):
                required = any(isinstance(req, Mapping) and key_schemes & {str(k) for k in req} for req in security)
                at = [*here, "security"] if "security" in op else ["security"]
                operation.api_key_required = Sourced(required, where(at))
            out.append(operation)
    return out


def load_openapi(path: str | Path) -> list[Operation]:
    """The operations of an OpenAPI file (YAML or JSON), with the line of every value."""
    source = str(path)
    doc = decode_file(Path(path), source)

    def where(keys: Sequence[Any]) -> Origin:
        return Origin.line(source, walk_line(doc, keys))

    return read_operations(doc, where)
