"""Writing a scenario dict (as ``tomllib`` reads it) back as TOML.

Top-level values first, then tables (``[api]``), then arrays of tables (``[[routes]]``);
anything nested deeper is written inline (``throttle = { rate = 5, burst = 10 }``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["dumps"]

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE.match(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else json.dumps(str(value))
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
            f".{value.microsecond:06d}" if value.microsecond else "") + "Z"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def dumps(data: Mapping[str, Any], header: list[str] | None = None) -> str:
    lines = [f"# {h}" if h else "#" for h in header or []]
    for key, value in data.items():
        if not isinstance(value, Mapping) and not _is_table_array(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in data.items():
        if isinstance(value, Mapping):
            lines += ["", f"[{_key(key)}]"] + [f"{_key(str(k))} = {_value(v)}" for k, v in value.items()]
    for key, value in data.items():
        if _is_table_array(value):
            for item in value:
                lines += ["", f"[[{_key(key)}]]"] + [f"{_key(str(k))} = {_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"
