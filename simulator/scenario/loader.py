"""Loading a scenario file: TOML in, a validated :class:`~simulator.scenario.Scenario` out.

Validation happens in two passes, and every problem of both is reported at once:

1. the shape of each key (types, ranges, unknown keys with a did-you-mean), by the
   pydantic models in :mod:`simulator.scenario`;
2. the references between keys (a route's function exists, reserved concurrency fits
   in the account, an HTTP API has no usage plans...), by :mod:`simulator.scenario.checks`.

Then the defaults that depend on other settings (the account throttle from the Region and the
integration timeouts, the gateway overhead from the API type) are worked out by
:mod:`simulator.scenario.defaults`.

Each problem becomes ``file: key.path[0].name: what is wrong``. Before either pass, the file
itself is checked against :mod:`simulator.limits`: its size, that it is UTF-8 (a byte-order
mark is allowed and skipped), and how deeply its tables and arrays nest.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simulator.errors import ScenarioError
from simulator.limits import (
    MAX_DIGITS,
    MAX_NESTING,
    MAX_PRINTED_ERRORS,
    MAX_SCENARIO_BYTES,
    echo,
    read_bounded,
)
from simulator.scenario.checks import check_references, suggest
from simulator.scenario.defaults import resolve
from simulator.scenario.schema import Scenario

__all__ = ["load_scenario", "parse_scenario", "apply_overrides"]


def load_scenario(
    path: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    seed: int | None = None,
    adapt: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
) -> Scenario:
    """Read, override and validate a scenario file.

    *overrides* maps dotted key paths to values, e.g. ``{"functions.orders.memory_mb": 2048}``
    (list entries are addressed by their ``name`` or by index); string values are read as
    TOML values when they parse as one (``"2048"`` is a number, ``"90ms"`` stays a string).
    *seed* replaces the scenario's seed. *adapt*, when given, rewrites the settings once the
    overrides are applied, before validation (e.g.
    :func:`simulator.scenario.diff.without_rest_only`).
    """
    source = str(path)
    try:
        text = read_bounded(source, MAX_SCENARIO_BYTES).decode("utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(source, [("", "no such file")]) from None
    except OSError as exc:
        raise ScenarioError(source, [("", f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        line = text_line(exc.object, exc.start)
        raise ScenarioError(source, [("", f"line {line}: not UTF-8 text (byte {exc.start})")]) from None
    except ValueError as exc:
        raise ScenarioError(source, [("", str(exc))]) from None
    data = _parse_toml(text, source)
    if not data:
        raise ScenarioError(source, [("", "the file holds no settings")])
    return parse_scenario(data, source=source, base_dir=Path(path).parent, overrides=overrides, seed=seed,
                          adapt=adapt)


def text_line(data: bytes, offset: int) -> int:
    """The 1-based line of byte *offset* in *data*."""
    return data.count(b"\n", 0, offset) + 1


def _parse_toml(text: str, source: str, where: str = "") -> dict[str, Any]:
    """TOML in, a dict out; every reader failure is one :class:`ScenarioError` line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [(where, f"invalid TOML: {exc}")]) from None
    except RecursionError:
        raise ScenarioError(source, [(where, f"tables or arrays nest deeper than {MAX_NESTING} levels")]) from None
    except ValueError:  # Python refuses to read an integer of more than 4,300 digits
        digits = re.search(rf"\d{{{MAX_DIGITS + 1},}}", text)
        line = f"line {text.count(chr(10), 0, digits.start()) + 1}: " if digits and not where else ""
        raise ScenarioError(source, [(where, f"{line}a whole number of more than {MAX_DIGITS} digits")]) from None
    path = _too_deep(data)
    if path is not None:
        raise ScenarioError(source, [(where or path, f"tables or arrays nest deeper than {MAX_NESTING} levels")])
    path = _too_long_number(data)
    if path is not None:
        raise ScenarioError(source, [(where or path, f"a whole number of more than {MAX_DIGITS} digits")])
    return data


def _walk(data: Any) -> Any:
    """Every (key path, depth, value) in *data*, without recursion."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    while stack:
        loc, node = stack.pop()
        yield loc, node
        if isinstance(node, dict):
            stack.extend(((*loc, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(((*loc, i), v) for i, v in enumerate(node))


def _too_deep(data: Any) -> str | None:
    for loc, _ in _walk(data):
        if len(loc) > MAX_NESTING:
            return format_path(loc[:MAX_NESTING])
    return None


def _too_long_number(data: Any) -> str | None:
    for loc, node in _walk(data):
        if isinstance(node, int) and not isinstance(node, bool) and abs(node) >= 10**MAX_DIGITS:
            return format_path(loc)
    return None


def parse_scenario(
    data: Mapping[str, Any],
    *,
    source: str = "<scenario>",
    base_dir: str | Path = ".",
    overrides: Mapping[str, Any] | None = None,
    seed: int | None = None,
    adapt: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
) -> Scenario:
    """Validate an already-parsed scenario (a dict as ``tomllib`` returns it)."""
    deep = _too_deep(data)
    if deep is not None:
        raise ScenarioError(source, [(deep, f"tables or arrays nest deeper than {MAX_NESTING} levels")])
    data = apply_overrides(data, overrides or {}, source)
    if adapt is not None:
        data = adapt(data)
    if seed is not None:
        if seed < 0:
            raise ScenarioError(source, [("seed", f"must be >= 0, got {seed}")])
        if seed >= 2**63:
            raise ScenarioError(source, [("seed", f"must be < 2**63, got {echo(seed)}")])
        data = {**data, "seed": seed}
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": str(base_dir)})
    except ValidationError as exc:
        errors = _one_union_member(exc.errors())
        shown = [_describe(err, data) for err in errors[:MAX_PRINTED_ERRORS]]
        raise ScenarioError(source, shown, more=len(errors) - len(shown)) from None
    problems = check_references(scenario)
    if problems:
        raise ScenarioError(source, problems)
    return resolve(scenario)


# --------------------------------------------------------------------------- overrides


def _parse_value(value: Any, source: str, key: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        tomllib.loads(f"v = {value}")
    except tomllib.TOMLDecodeError:
        return value
    except (RecursionError, ValueError):
        pass  # reported by _parse_toml, with the key
    return _parse_toml(f"v = {value}", source, f"--set {key}")["v"]


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Return a copy of *data* with each dotted key path set to its value."""
    import copy

    out = copy.deepcopy(dict(data))
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                index = _list_index(node, part)
                if index is None:
                    names = [str(x.get("name")) for x in node if isinstance(x, dict)]
                    raise ScenarioError(source, [(
                        f"--set {dotted}",
                        f"no entry named {echo(part)} at {where}{suggest(part, names)}; "
                        f"known: {', '.join(names) or 'none'}",
                    )])
                if last:
                    node[index] = _parse_value(value, source, dotted)
                else:
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[part] = _parse_value(value, source, dotted)
                else:
                    node = node.setdefault(part, {})
            else:
                raise ScenarioError(source, [(f"--set {dotted}", f"{'.'.join(parts[:i])} is not a table")])
    return out


def _list_index(items: list[Any], part: str) -> int | None:
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == part:
            return i
    if part.isdigit() and int(part) < len(items):
        return int(part)
    return None


# --------------------------------------------------------------------------- error messages


def format_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").isalnum():
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]".replace("'", '"')
    return out


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes (or tagged unions) an annotation can hold, outermost first."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [m for a in typing.get_args(annotation) for m in _unwrap(a)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        return [{"union": models}] if len(models) > 1 else members
    if origin in (list, tuple, dict):
        args = typing.get_args(annotation)
        return _unwrap(args[-1]) if args else []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _tag_of(model: type[BaseModel]) -> str | None:
    for key in ("kind", "process", "mode"):
        field = model.model_fields.get(key)
        if field is not None:
            args = typing.get_args(field.annotation)
            if args:
                return str(args[0])
    return None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], type[BaseModel] | None]:
    """Drop pydantic's union-tag parts from *loc*; also return the model at its end."""
    model: Any = Scenario
    clean: list[Any] = []
    pending_union: list[type[BaseModel]] | None = None
    for part in loc:
        if pending_union is not None:
            pending = {_tag_of(m): m for m in pending_union}
            pending_union = None
            if part in pending:
                model = pending[part]
                continue
        if isinstance(part, int):
            clean.append(part)
            continue
        if isinstance(part, str) and (part.startswith(("function-", "tagged-union", "list[", "tuple["))
                                      or part in _SCALAR_MEMBERS):
            continue
        clean.append(part)
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            model = None
            continue
        inner = _unwrap(field.annotation)
        model = None
        for m in inner:
            if isinstance(m, dict):
                pending_union = m["union"]
                break
            model = m
            break
    return tuple(clean), model if isinstance(model, type) else None


_SCALAR_MEMBERS = ("float", "int", "str", "bool")


def _one_union_member(errors: list[Any]) -> list[Any]:
    """The errors of the union member the input looks like, where a plain union (a number
    or a list, say) reported every member: a list given for ``rate`` is a profile with a
    bad entry, not a bad number. Other errors pass unchanged."""
    def member(err: Any) -> tuple[tuple[Any, ...], str] | None:
        for i, part in enumerate(err["loc"]):
            if isinstance(part, str) and (part in _SCALAR_MEMBERS or part.startswith(("list[", "tuple["))):
                return tuple(err["loc"][:i]), part
        return None

    inputs: dict[tuple[Any, ...], Any] = {}
    tags: dict[tuple[Any, ...], set[str]] = {}
    for err in errors:
        m = member(err)
        if m is not None:
            tags.setdefault(m[0], set()).add(m[1])
            if m[1] in _SCALAR_MEMBERS:
                inputs[m[0]] = err.get("input")
    out = []
    for err in errors:
        m = member(err)
        if m is not None and len(tags[m[0]]) > 1 and m[0] in inputs:
            wants_list = isinstance(inputs[m[0]], (list, tuple))
            if wants_list != (m[1] not in _SCALAR_MEMBERS):
                continue
        out.append(err)
    return out


def _describe(err: Any, data: Mapping[str, Any]) -> tuple[str, str]:
    loc, model = _clean_loc(tuple(err["loc"]))
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent_loc, parent = _clean_loc(tuple(err["loc"])[:-1])
        options = list(parent.model_fields) if parent else []
        options = [o for o in options if o not in ("values", "times", "routes") or parent is Scenario]
        return format_path(loc), f"unknown key{suggest(key, options)}"
    if ctx.get("key"):
        loc = loc + (ctx["key"],)
    path = format_path(loc)
    if kind == "missing":
        return path, "required key is missing"
    if kind == "union_tag_invalid":
        tags = ctx.get("expected_tags", "")
        tag = str(ctx.get("tag", ""))
        options = [t.strip().strip("'") for t in tags.split(",")]
        return path + f".{ctx.get('discriminator', '').strip(chr(39))}", (
            f"must be one of {tags}, got {echo(tag)}{suggest(tag, options)}"
        )
    if kind == "union_tag_not_found":
        return path, f"needs a {ctx.get('discriminator', '')} key"
    if kind == "literal_error":
        options = [o.strip().strip("'") for o in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
        hint = suggest(got, options) if isinstance(got, str) else ""
        return path, f"must be {ctx.get('expected')}, got {echo(got)}{hint}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return path, f"must be {op} {bound}, got {echo(got)}"
    if kind == "finite_number":
        return path, f"must be a finite number, got {echo(got)}"
    if kind in ("float_type", "float_parsing"):
        return path, f"must be a number, got {echo(got)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return path, f"must be a whole number, got {echo(got)}"
    if kind == "bool_type":
        return path, f"must be true or false, got {echo(got)}"
    if kind == "string_type":
        return path, f"must be a string, got {echo(got)}"
    if kind == "string_too_short":
        return path, "must not be empty"
    if kind in ("list_type", "tuple_type"):
        return path, f"must be a list, got {echo(got)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return path, f"must be a table, got {echo(got)}"
    if kind == "too_short":
        n = ctx.get("min_length")
        return path, "needs at least one entry" if n == 1 else f"needs at least {n} entries"
    if kind == "datetime_type":
        return path, f"must be a UTC timestamp such as 2026-03-01T00:00:00Z, got {echo(got)}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return path, msg
