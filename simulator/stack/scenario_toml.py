"""Writing an imported :class:`~simulator.stack.model.Stack` as a scenario file.

Every value gets a TOML comment naming where it came from: the template file and line, the
parameter it came through, or "documented default" with the AWS page. What no template holds
is written as a value the scenario can run with, marked ``PLACEHOLDER``: how long to
simulate, the traffic (one client per usage-plan key, else one client, at 1 request per
second over every route), the functions' durations and cold starts. ``throttlesim
calibrate`` or an editor replaces them; :func:`placeholders` lists them for the summary.
"""

from __future__ import annotations

import json

from simulator.stack.errors import Origin, Sourced
from simulator.stack.model import DOCS, FunctionSpec, Stack, ThrottleSpec

__all__ = ["PLACEHOLDER", "fmt_duration", "render"]

PLACEHOLDER = "PLACEHOLDER"
_UNKNOWN_FUNCTION = "unknown-integration"


def fmt_duration(seconds: float) -> str:
    """A duration string the scenario format reads back exactly: whole seconds, else milliseconds."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000, 6):g}ms"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _throttle(spec: ThrottleSpec) -> tuple[str, str]:
    value = f"{{ rate = {_num(spec.rate.value)}, burst = {spec.burst.value} }}"
    if spec.rate.origin == spec.burst.origin:
        return value, str(spec.rate.origin)
    return value, f"rate {spec.rate.origin}; burst {spec.burst.origin}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def kv(self, key: str, value: str, comment: Origin | str | None = None) -> None:
        self.lines.append(f"{key} = {value}" + (f"  # {comment}" if comment else ""))

    def table(self, header: str, comment: Origin | str | None = None) -> None:
        self.lines.append("")
        self.lines.append(header + (f"  # {comment}" if comment else ""))


def _provisioned(stack: Stack, fn: FunctionSpec) -> tuple[Sourced[int] | None, list[str]]:
    called = {r.qualifier for r in stack.routes if r.function == fn.name}
    chosen = [fn.provisioned[q] for q in called if q is not None and q in fn.provisioned]
    notes = []
    unused = sorted(q for q in fn.provisioned if q not in called)
    for q in unused:
        notes.append(f"{fn.provisioned[q].origin}: function {fn.name} has provisioned concurrency on {q}, which no "
                     "route of the API calls: those environments serve none of its requests")
    if not chosen:
        return None, notes
    best = max(chosen, key=lambda s: s.value)
    return best, notes


def _functions(w: _Writer, stack: Stack, names: list[str]) -> list[str]:
    notes: list[str] = []
    for name in names:
        fn = stack.functions.get(name)
        w.table("[[functions]]", fn.origin if fn else f"{PLACEHOLDER}: called by the API, not defined in the source")
        w.kv("name", _s(name))
        if fn is not None:
            w.kv("memory_mb", str(fn.memory_mb.value), fn.memory_mb.origin)
            w.kv("architecture", _s(fn.architecture.value), fn.architecture.origin)
            w.kv("timeout", _s(fmt_duration(fn.timeout_s.value)), fn.timeout_s.origin)
            if fn.reserved is not None:
                w.kv("reserved_concurrency", str(fn.reserved.value), fn.reserved.origin)
            pc, pc_notes = _provisioned(stack, fn)
            notes += pc_notes
            if pc is not None:
                w.kv("provisioned_concurrency", str(pc.value), f"{pc.origin} (on the alias the integration calls)")
        else:
            w.kv("memory_mb", "128", f"{PLACEHOLDER}: documented default ({DOCS['lambda']})")
        w.kv("duration", _s("100ms"), f"{PLACEHOLDER}: no template holds run durations; calibrate from REPORT lines")
        w.kv("init", '{ kind = "lognormal", median = "250ms", p99 = "1s" }',
             f"{PLACEHOLDER}: cold-start init time; calibrate from REPORT lines")
    return notes


def _clients(w: _Writer, stack: Stack, key_required: bool) -> None:
    routes = "{ " + ", ".join(f"{_s(r.name)} = 1" for r in stack.routes) + " }"
    clients: list[tuple[str, Origin | None, str | None]] = (
        [(k.name, k.origin, p.name) for p in stack.plans for k in p.keys] if key_required else [])
    if not clients:
        clients = [("traffic", None, None)]
    seen: set[str] = set()
    for name, origin, plan in clients:
        unique = name if name not in seen else f"{name}-{plan}"
        seen.add(unique)
        w.table("[[clients]]", f"API key {origin}; its value is never read" if origin else
                f"{PLACEHOLDER}: no template holds traffic")
        w.kv("name", _s(unique))
        if plan is not None:
            w.kv("api_key", _s(f"{PLACEHOLDER}-{unique}"), "stands for the key's value, which is never read")
            w.kv("usage_plan", _s(plan))
        w.kv("routes", routes, f"{PLACEHOLDER}: the mix of routes")
        w.kv("arrivals", '{ process = "poisson", rate = 1 }', f"{PLACEHOLDER}: traffic; calibrate from access logs")


def _account(w: _Writer, stack: Stack) -> None:
    reserved = sum(f.reserved.value for f in stack.functions.values() if f.reserved is not None)
    w.table("[account]", None if stack.account_throttle else
            f"documented defaults ({DOCS['throttle']}, {DOCS['concurrency']})")
    if stack.account_throttle is not None:
        w.kv("throttle", *_throttle(stack.account_throttle))
    else:
        w.kv("throttle", "{ rate = 10000, burst = 5000 }", "documented default")
    if stack.lambda_concurrency is not None:
        w.kv("lambda_concurrency", str(stack.lambda_concurrency.value), stack.lambda_concurrency.origin)
    else:
        concurrency = max(1000, reserved + 100)
        w.kv("lambda_concurrency", str(concurrency), "documented default" if concurrency == 1000 else
             "raised above the documented 1000 to fit the template's reserved concurrency: a Service Quotas request")


def render(stack: Stack, findings: list[str]) -> str:
    """The scenario file's text."""
    w = _Writer()
    kind = stack.api_type.value
    keyed = [r for r in stack.routes if r.api_key_required is not None and r.api_key_required.value]
    key_required = kind == "REST" and bool(keyed)
    if key_required and len(keyed) < len(stack.routes):
        open_routes = ", ".join(r.name for r in stack.routes if r not in keyed)
        findings.append(f"{keyed[0].origin}: some methods require an API key and {open_routes} do not; the scenario "
                        "requires one on every route")
    if stack.plans and not key_required:
        findings.append(f"{stack.plans[0].origin}: usage plans apply only to methods that require an API key, and no "
                        "method does: the plans limit nothing")
    w.kv("name", _s(f"{stack.api_name}-{stack.stage.value}"))
    w.kv("description", _s(f"API {stack.api_name}, stage {stack.stage.value}, imported from {stack.source}"))
    w.kv("duration", _s("10m"), f"{PLACEHOLDER}: how long traffic arrives")
    w.table("[api]")
    w.kv("type", _s(kind), stack.api_type.origin)
    w.kv("stage", _s(stack.stage.value), stack.stage.origin)
    if kind == "REST":
        w.kv("api_key_required", "true" if key_required else "false",
             keyed[0].api_key_required.origin if keyed else "no method requires an API key")  # type: ignore[union-attr]
    timeouts = [r.timeout_s.value for r in stack.routes if r.timeout_s is not None]
    if kind == "REST" and any(t > 29.0 for t in timeouts):
        w.kv("extended_integration_timeout", "true", "a route's integration timeout is above 29 s")
    default = 29.0 if kind == "REST" else 30.0
    w.kv("integration_timeout", _s(fmt_duration(default)),
         Origin.default(DOCS["rest_timeout" if kind == "REST" else "http_timeout"]))
    _account(w, stack)
    if stack.stage_throttle is not None:
        value, origin = _throttle(stack.stage_throttle)
        w.table("[stage]")
        w.kv("throttle", value, origin)
    names: list[str] = []
    for route in stack.routes:
        function = route.function or _UNKNOWN_FUNCTION
        names += [function] if function not in names else []
        w.table("[[routes]]", route.origin)
        w.kv("name", _s(route.name))
        w.kv("function", _s(function), None if route.function else f"{PLACEHOLDER}: the integration calls no Lambda "
                                                                 "function of the source")
        if route.throttle is not None:
            w.kv("throttle", *_throttle(route.throttle))
        if route.timeout_s is not None:
            high = 30.0 if kind == "HTTP" else 900.0
            w.kv("integration_timeout", _s(fmt_duration(min(max(route.timeout_s.value, 0.05), high))),
                 route.timeout_s.origin)
    notes = _functions(w, stack, names)
    for plan in stack.plans if key_required else []:
        w.table("[[usage_plans]]", plan.origin)
        w.kv("name", _s(plan.name))
        if plan.throttle is not None:
            w.kv("throttle", *_throttle(plan.throttle))
        if plan.quota is not None:
            q = plan.quota
            offset = f", offset = {q.offset.value}" if q.offset is not None else ""
            w.kv("quota", f"{{ limit = {q.limit.value}, period = {_s(q.period.value)}{offset} }}", q.limit.origin)
        if plan.method_throttles:
            parts = [f"{_s(route)} = {_throttle(spec)[0]}" for route, spec in plan.method_throttles.items()]
            origins = "; ".join(f"{route}: {_throttle(spec)[1]}" for route, spec in plan.method_throttles.items())
            w.kv("method_throttles", "{ " + ", ".join(parts) + " }", origins)
    _clients(w, stack, key_required)
    findings.extend(notes)
    header = [f"# Imported from {stack.source} by throttlesim import.",
              f"# Every value says where it came from; {PLACEHOLDER} marks what no template holds (traffic,",
              "# durations, cold starts): a guess to replace, e.g. with throttlesim calibrate."]
    header += [f"# finding: {f}" for f in findings]
    return "\n".join(header + w.lines) + "\n"
