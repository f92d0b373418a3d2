"""Loading a scenario file: TOML in, a validated :class:`~simulator.scenario.Scenario` out.

Validation happens in two passes, and every problem of both is reported at once:

1. the shape of each key (types, ranges, unknown keys with a did-you-mean), by the
   pydantic models in :mod:`simulator.scenario`;
2. the references between keys (a route's function exists, reserved concurrency fits
   in the account, an HTTP API has no usage plans...), here.

Each problem becomes ``file: key.path[0].name: what is wrong``. Before either pass, the file
itself is checked against :mod:`simulator.limits`: its size, that it is UTF-8 (a byte-order
mark is allowed and skipped), and how deeply its tables and arrays nest.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simulator.errors import ScenarioError
from simulator.limits import (
    DATE_RANGE,
    MAX_DIGITS,
    MAX_NESTING,
    MAX_PRINTED_ERRORS,
    MAX_REQUESTS,
    MAX_SCENARIO_BYTES,
    echo,
    read_bounded,
)
from simulator.redact import redact_key
from simulator.scenario.schema import Scenario

__all__ = ["load_scenario", "parse_scenario", "apply_overrides"]


def load_scenario(
    path: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> Scenario:
    """Read, override and validate a scenario file.

    *overrides* maps dotted key paths to values, e.g. ``{"functions.orders.memory_mb": 2048}``
    (list entries are addressed by their ``name`` or by index); string values are read as
    TOML values when they parse as one (``"2048"`` is a number, ``"90ms"`` stays a string).
    *seed* replaces the scenario's seed.
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
    return parse_scenario(data, source=source, base_dir=Path(path).parent, overrides=overrides, seed=seed)


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
) -> Scenario:
    """Validate an already-parsed scenario (a dict as ``tomllib`` returns it)."""
    deep = _too_deep(data)
    if deep is not None:
        raise ScenarioError(source, [(deep, f"tables or arrays nest deeper than {MAX_NESTING} levels")])
    data = apply_overrides(data, overrides or {}, source)
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
    return scenario


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
                        f"no entry named {echo(part)} at {where}{_suggest(part, names)}; "
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


def _suggest(word: str, options: list[str]) -> str:
    if len(word) > 100:
        return ""
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


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
        return format_path(loc), f"unknown key{_suggest(key, options)}"
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
            f"must be one of {tags}, got {echo(tag)}{_suggest(tag, options)}"
        )
    if kind == "union_tag_not_found":
        return path, f"needs a {ctx.get('discriminator', '')} key"
    if kind == "literal_error":
        options = [o.strip().strip("'") for o in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
        hint = _suggest(got, options) if isinstance(got, str) else ""
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


# --------------------------------------------------------------------------- cross references


def _can_be_zero(dist: Any) -> bool:
    """Whether a duration distribution can draw exactly 0 s."""
    kind = dist.kind
    if kind == "fixed":
        return dist.value == 0
    if kind == "uniform":
        return dist.low == 0
    if kind in ("empirical", "sequence"):
        return min(dist.values) == 0
    return False


def check_references(s: Scenario) -> list[tuple[str, str]]:
    """Problems that involve more than one key; an empty list when there are none."""
    problems: list[tuple[str, str]] = []
    add = problems.append

    for group, items in (("routes", s.routes), ("functions", s.functions), ("usage_plans", s.usage_plans),
                         ("clients", s.clients)):
        seen = Counter(item.name for item in items)
        for i, item in enumerate(items):
            if seen[item.name] > 1:
                add((f"{group}[{i}].name", f"{item.name!r} is used by more than one entry"))
                seen[item.name] = 0

    functions = [f.name for f in s.functions]
    routes = [r.name for r in s.routes]
    plans = [p.name for p in s.usage_plans]

    def ref(path: str, name: str, options: list[str], what: str) -> None:
        if name not in options:
            add((path, f"unknown {what} {echo(name)}{_suggest(name, options)}; known: {', '.join(options) or 'none'}"))

    limit = s.api.integration_timeout_s
    kind_of_api = "an HTTP" if s.api.type == "HTTP" else "a REST"
    high = 30.0 if s.api.type == "HTTP" else (900.0 if s.api.extended_integration_timeout else 29.0)
    if not 0.05 <= limit <= high:
        add(("api.integration_timeout", f"must be between 50ms and {high:g}s for {kind_of_api} API, got {limit:g}s"))
    for i, r in enumerate(s.routes):
        ref(f"routes[{i}].function", r.function, functions, "function")
        if r.integration_timeout is not None and not 0.05 <= r.integration_timeout <= high:
            add((f"routes[{i}].integration_timeout",
                 f"must be between 50ms and {high:g}s for {kind_of_api} API, got {r.integration_timeout:g}s"))

    if s.api.type == "HTTP":
        if s.api.api_key_required:
            add(("api.api_key_required", "HTTP APIs have no API keys; use a REST API"))
        if s.usage_plans:
            add(("usage_plans", "HTTP APIs have no usage plans; use a REST API"))

    if s.usage_plans and s.api.type == "REST" and not s.api.api_key_required:
        add(("api.api_key_required", "usage plans apply only to methods that require an API key; "
             "set api_key_required = true or remove usage_plans"))
    for i, p in enumerate(s.usage_plans):
        for route in p.method_throttles:
            ref(f"usage_plans[{i}].method_throttles", route, routes, "route")

    key_plan: dict[str, str | None] = {}
    for i, c in enumerate(s.clients):
        for route in c.routes:
            ref(f"clients[{i}].routes", route, routes, "route")
        if c.usage_plan is not None:
            if s.api.type == "HTTP":
                add((f"clients[{i}].usage_plan", "HTTP APIs have no usage plans"))
            else:
                ref(f"clients[{i}].usage_plan", c.usage_plan, plans, "usage plan")
            if c.api_key is None:
                add((f"clients[{i}].api_key", "a client in a usage plan needs an api_key"))
        if c.api_key is not None:
            if c.api_key in key_plan and key_plan[c.api_key] != c.usage_plan:
                add((f"clients[{i}].usage_plan",
                     f"API key {redact_key(c.api_key)} is already in usage plan {key_plan[c.api_key]!r}; "
                     "a key belongs to one usage plan per stage"))
            key_plan.setdefault(c.api_key, c.usage_plan)
        if c.timeout is not None and c.timeout <= 0:
            add((f"clients[{i}].timeout", "must be longer than 0s"))
        arr = c.arrivals
        if arr.process in ("poisson", "uniform"):
            for j, b in enumerate(arr.bursts):
                if b.at >= s.duration:
                    add((f"clients[{i}].arrivals.bursts[{j}].at",
                         f"must be before the end of the run ({s.duration:g}s)"))
        elif arr.process == "closed":
            w = arr.wait
            zero_wait = (w.kind == "constant" and w.time == 0) or (w.kind == "between" and w.max == 0)
            if zero_wait and _can_be_zero(s.behaviour.gateway_overhead):
                add((f"clients[{i}].arrivals.wait",
                     "a closed user that never waits needs answers that take time, but behaviour.gateway_overhead "
                     "can be 0s: a throttled user would send requests without end at one instant; give the wait "
                     "or the overhead some time"))
        elif arr.process == "replay":
            for route in sorted(set(arr.routes) - {""})[:1]:
                ref(f"clients[{i}].arrivals.file", route, routes, f"route in {arr.file}:")
            if arr.times and arr.times[-1] >= s.duration:
                add((f"clients[{i}].arrivals.file",
                     f"trace runs to {arr.times[-1]:g}s, past the scenario duration ({s.duration:g}s)"))
            if not arr.times:
                add((f"clients[{i}].arrivals.file", f"the trace {arr.file} holds no requests"))

    period = {"day": 86400.0, "week": 604800.0}.get(s.cost.month_from)
    if period is not None and abs(s.duration - period) > 1e-9:
        add(("cost.month_from", f"a typical {s.cost.month_from} needs duration = "
             f"{'1d' if period == 86400 else '7d'}, got {s.duration:g}s"))

    reserved_total = 0
    unreserved_provisioned = 0
    for i, f in enumerate(s.functions):
        if f.reserved_concurrency is not None:
            reserved_total += f.reserved_concurrency
            if f.provisioned_concurrency > f.reserved_concurrency:
                add((f"functions[{i}].provisioned_concurrency",
                     f"must not exceed reserved_concurrency ({f.reserved_concurrency}), "
                     f"got {f.provisioned_concurrency}"))
        else:
            unreserved_provisioned += f.provisioned_concurrency
    pool = s.account.lambda_concurrency - s.account.unreserved_min
    unreserved = s.account.lambda_concurrency - reserved_total
    if s.account.unreserved_min > s.account.lambda_concurrency:  # the sums below would mislead
        add(("account.unreserved_min", f"must not exceed lambda_concurrency ({s.account.lambda_concurrency}), "
             f"got {s.account.unreserved_min}"))
    elif reserved_total > pool:
        add(("functions", f"reserved concurrency adds up to {reserved_total}, more than the "
             f"{pool} the account can reserve (lambda_concurrency {s.account.lambda_concurrency} "
             f"minus unreserved_min {s.account.unreserved_min})"))
    elif unreserved_provisioned > unreserved:
        add(("functions", f"provisioned concurrency of functions without reserved concurrency adds up to "
             f"{unreserved_provisioned}, more than the unreserved pool ({unreserved})"))
    problems.extend(_check_size(s))
    return problems


def _expected_attempts(s: Scenario) -> float:
    """At most about how many attempts the open and replay clients make in the run: their
    requests, each retried to ``max_attempts`` (closed users are bounded by their count)."""
    total = 0.0
    for c in s.clients:
        total += _expected_requests(c, s.duration) * getattr(c.retry, "max_attempts", 1)
    return total


def _expected_requests(c: Any, duration: float) -> float:
    arr = c.arrivals
    total = 0.0
    if arr.process in ("poisson", "uniform"):
        total += sum(b.count for b in arr.bursts)
        if isinstance(arr.rate, (int, float)):
            return total + arr.rate * duration
        for (t0, r0), (t1, r1) in zip(arr.rate, arr.rate[1:]):  # an upper bound is enough
            if t0 < duration:
                total += max(r0, r1) * (min(t1, duration) - t0)
        t_last, r_last = arr.rate[-1]
        total += r_last * max(0.0, duration - t_last)
    elif arr.process == "replay":
        total += len(arr.times)
    return total


def _check_size(s: Scenario) -> list[tuple[str, str]]:
    """Limits on the size of the run (:mod:`simulator.limits`), checked before anything is built."""
    problems = []
    end = s.start + timedelta(seconds=s.duration) if s.duration < 1e11 else None
    if end is None or end > DATE_RANGE[1]:
        problems.append(("duration", f"the run must end before {DATE_RANGE[1]:%Y-%m-%d} (start {s.start:%Y-%m-%d} + "
                         f"duration {s.duration:g}s)"))
    expected = _expected_attempts(s)
    if expected > MAX_REQUESTS:
        problems.append(("clients", f"the clients could make about {expected:.3g} attempts in the run (requests "
                         f"times retry.max_attempts), more than the limit of {MAX_REQUESTS:g} (see "
                         "simulator/limits.py); shorten the duration, lower the rates or max_attempts"))
    return problems
