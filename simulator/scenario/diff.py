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

Both work on loaded, validated :class:`~simulator.scenario.Scenario` objects or key
paths only; neither reads a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from simulator.scenario.schema import Scenario

__all__ = ["TRAFFIC_ROOTS", "differences", "traffic_keys"]

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
