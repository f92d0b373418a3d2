"""What differs between two scenarios, and which overrides change the traffic.

A what-if compares a scenario with a variant of itself. The comparison is fair only when
both sides see the same traffic over the same window: a 15-minute baseline against a
6-minute variant differs in cost mostly because it is 2.5 times longer. This module gives
the two things a comparison needs to stay fair and say so:

* :func:`traffic_keys`: which ``--set`` key paths change the traffic window or the traffic
  itself (``duration``, ``start``, ``seed`` and anything under ``clients``), so that a
  comparison applies them to both sides;
* :func:`differences`: every leaf that differs between two loaded scenarios, as
  ``(key path, baseline value, variant value)``, so that a report can list exactly what
  the variant changed (an override that sets a value to what it already was changes
  nothing, and a list entry is named by its ``name``, as ``--set`` addresses it).

A what-if that turns a REST API into an HTTP API (``--set api.type=HTTP``) would not load
if the scenario uses what only REST APIs have (API keys, usage plans, private or
edge-optimized endpoints, integration timeouts above 30 s, the cache). Rather than refuse it
or drop those silently, :func:`without_rest_only` removes them from the variant's settings
and :func:`rest_only_features` lists what the baseline uses and the variant loses, so that
the comparison can say it.

These work on loaded, validated :class:`~simulator.scenario.Scenario` objects, on key paths
or on settings already read; none reads a file.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from simulator.scenario.schema import Scenario
from simulator.units import parse_duration

__all__ = ["HTTP_API_MAX_TIMEOUT_S", "TRAFFIC_ROOTS", "differences", "rest_only_features", "traffic_keys",
           "without_rest_only"]

#: The longest integration timeout an HTTP API allows (not adjustable).
HTTP_API_MAX_TIMEOUT_S = 30.0

#: The top-level keys that define the traffic window or the traffic itself.
TRAFFIC_ROOTS = ("duration", "start", "seed", "clients")


def traffic_keys(keys: Iterable[str]) -> list[str]:
    """The key paths of *keys* that change the traffic window or the traffic itself."""
    return [k for k in keys if k.split(".", 1)[0].strip() in TRAFFIC_ROOTS]


def _label(item: Any, index: int) -> str:
    name = item.get("name") if isinstance(item, Mapping) else None
    return str(name) if isinstance(name, str) else str(index)


def _leaves(node: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _leaves(value, f"{path}.{key}" if path else str(key), out)
    elif isinstance(node, list) and node and all(isinstance(x, Mapping) for x in node):
        for i, item in enumerate(node):
            _leaves(item, f"{path}.{_label(item, i)}", out)
    else:
        out[path] = node


def differences(baseline: Scenario, variant: Scenario) -> list[tuple[str, Any, Any]]:
    """Every leaf key path whose value differs, in the baseline's order then the variant's,
    as ``(path, baseline value, variant value)``; ``None`` where a side has no such key.
    Durations are in seconds, as the loaded scenario holds them."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _leaves(baseline.model_dump(), "", a)
    _leaves(variant.model_dump(), "", b)
    keys = list(a) + [k for k in b if k not in a]
    return [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]


# --------------------------------------------------------------------------- REST-only features


def _cache_keys(s: Scenario) -> list[str]:
    """Key paths under the API, stage and routes that set up a cache: a key whose name mentions a
    cache and holds a value, or a table named so (unless its ``enabled`` is false)."""
    found: dict[str, Any] = {}
    dumped = s.model_dump()
    for root in ("api", "stage", "routes"):
        _leaves(dumped.get(root), root, found)
    tables: dict[str, bool] = {}
    for key, value in found.items():
        parts = key.split(".")
        at = next((i for i, part in enumerate(parts) if "cache" in part), None)
        if at is None:
            continue
        prefix = ".".join(parts[: at + 1])
        on = tables.get(prefix, False) or value not in (None, False, 0, "", [], {})
        tables[prefix] = on and found.get(f"{prefix}.enabled", True) is not False
    return [prefix for prefix, on in tables.items() if on]


def rest_only_features(s: Scenario) -> list[tuple[str, str]]:
    """What a REST API scenario *s* uses that an HTTP API does not have, as (key path, what
    the HTTP variant loses); an empty list for an HTTP API or a REST API that uses none."""
    if s.api.type != "REST":
        return []
    out: list[tuple[str, str]] = []
    if s.api.api_key_required:
        out.append(("api.api_key_required", "API keys: a request without one is no longer refused (403)"))
    if s.usage_plans:
        names = ", ".join(p.name for p in s.usage_plans)
        out.append(("usage_plans", f"usage plans ({names}): their per-client throttles and quotas no longer apply"))
    if s.api.endpoint_type != "REGIONAL":
        out.append(("api.endpoint_type", f"the {s.api.endpoint_type} endpoint: HTTP APIs are Regional only"))
    longest = max([s.api.integration_timeout_s, *(s.integration_timeout_s(r) for r in s.routes)])
    if longest > HTTP_API_MAX_TIMEOUT_S:
        out.append(("api.extended_integration_timeout", f"integration timeouts above {HTTP_API_MAX_TIMEOUT_S:g} s "
                    f"(up to {longest:g} s): cut to {HTTP_API_MAX_TIMEOUT_S:g} s"))
    out += [(key, "the REST API cache") for key in _cache_keys(s)]
    return out


def _cut_timeout(table: dict[str, Any]) -> None:
    value = table.get("integration_timeout")
    try:
        too_long = isinstance(value, str) and parse_duration(value) > HTTP_API_MAX_TIMEOUT_S
    except ValueError:
        return  # the loader reports it
    if too_long:
        table["integration_timeout"] = f"{HTTP_API_MAX_TIMEOUT_S:g}s"


def _drop_cache(table: Any) -> None:
    if isinstance(table, dict):
        for key in [k for k in table if "cache" in k]:
            del table[key]


def without_rest_only(data: Mapping[str, Any]) -> dict[str, Any]:
    """Scenario settings *data* (as read, overrides applied) without what only REST APIs have,
    when they describe an HTTP API; unchanged otherwise. :func:`rest_only_features` says what
    is removed."""
    out = copy.deepcopy(dict(data))
    api = out.get("api")
    if not isinstance(api, dict) or api.get("type") != "HTTP":
        return out
    for key in ("api_key_required", "extended_integration_timeout", "endpoint_type"):
        api.pop(key, None)
    _cut_timeout(api)
    _drop_cache(api)
    _drop_cache(out.get("stage"))
    out.pop("usage_plans", None)
    for route in out.get("routes", []):
        if isinstance(route, dict):
            _cut_timeout(route)
            _drop_cache(route)
    for client in out.get("clients", []):
        if isinstance(client, dict):
            client.pop("usage_plan", None)
            client.pop("api_key", None)
    return out
