"""The second pass of validating a scenario: problems that involve more than one key.

The pydantic models in :mod:`simulator.scenario` check each key on its own (its type, its
range); what they cannot see is how keys relate. A route names a function that must exist;
reserved concurrency must fit in the account; an HTTP API has no API keys and no usage plans;
a trace must end before the run does. :func:`check_references` asks each of these questions in
turn, one function per concern, and returns every problem as a ``(key path, what is wrong)``
pair, so that :mod:`simulator.scenario.loader` reports them all at once.

The order of the problems is the order of the concerns below: names, integration timeouts and
endpoint type, the Region, API keys and usage plans, the REST cache, clients, the typical month,
concurrency, and the size of the run.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from simulator.limits import DATE_RANGE, MAX_REQUESTS, echo
from simulator.redact import redact_key
from simulator.scenario.cache import route_caches
from simulator.scenario.concurrency import value_at
from simulator.scenario.regions import known_regions
from simulator.scenario.schema import Scenario
from simulator.units import format_duration

__all__ = ["check_references", "suggest"]

Problems = list[tuple[str, str]]


def check_references(s: Scenario) -> Problems:
    """Problems that involve more than one key; an empty list when there are none."""
    return [
        *_duplicate_names(s),
        *_integration_timeouts(s),
        *_route_targets(s),
        *_region(s),
        *_api_keys_and_usage_plans(s),
        *_authorizers(s),
        *_cache(s),
        *_clients(s),
        *_typical_month(s),
        *_concurrency(s),
        *_check_size(s),
    ]


def suggest(word: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the option closest to *word*, or nothing."""
    if len(word) > 100:
        return ""
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _unknown(path: str, name: str, options: list[str], what: str) -> Problems:
    """A problem at *path* when *name* is not one of *options* (a *what*)."""
    if name in options:
        return []
    return [(path, f"unknown {what} {echo(name)}{suggest(name, options)}; known: {', '.join(options) or 'none'}")]


# --------------------------------------------------------------------------- the concerns


def _duplicate_names(s: Scenario) -> Problems:
    """Each route, function, usage plan and client has a name of its own."""
    problems: Problems = []
    groups: tuple[tuple[str, Sequence[Any]], ...] = (
        ("routes", s.routes), ("functions", s.functions), ("usage_plans", s.usage_plans),
        ("authorizers", s.authorizers), ("clients", s.clients))
    for group, items in groups:
        seen = Counter(item.name for item in items)
        for i, item in enumerate(items):
            if seen[item.name] > 1:
                problems.append((f"{group}[{i}].name", f"{item.name!r} is used by more than one entry"))
                seen[item.name] = 0
    return problems


#: The longest integration timeout a raised Service Quotas limit allows (REST, Regional or private).
MAX_EXTENDED_TIMEOUT_S = 300.0


def _timeout_limit(s: Scenario) -> tuple[float, str]:
    """The longest integration timeout the API allows, and the words for its kind of API."""
    api = s.api
    if api.type == "HTTP":
        return 30.0, "an HTTP API"
    if api.endpoint_type == "EDGE":
        return 29.0, 'an edge-optimized REST API (api.endpoint_type = "EDGE")'
    kind = "a private" if api.endpoint_type == "PRIVATE" else "a Regional"
    if api.extended_integration_timeout:
        return MAX_EXTENDED_TIMEOUT_S, f"{kind} REST API with extended_integration_timeout"
    return 29.0, (f"{kind} REST API without api.extended_integration_timeout = true "
                  f"(with it, up to {MAX_EXTENDED_TIMEOUT_S:g}s)")


def _integration_timeouts(s: Scenario) -> Problems:
    """The API's and each route's integration timeout fit the API type and endpoint; each
    route's function exists."""
    problems: Problems = []
    high, kind_of_api = _timeout_limit(s)
    if s.api.type == "HTTP" and s.api.endpoint_type != "REGIONAL":
        problems.append(("api.endpoint_type", f"HTTP APIs have Regional endpoints only, got {s.api.endpoint_type!r}"))
    if s.api.extended_integration_timeout and (s.api.type == "HTTP" or s.api.endpoint_type == "EDGE"):
        problems.append(("api.extended_integration_timeout", "only Regional and private REST APIs can raise the "
                         "integration timeout above 29s (HTTP APIs stop at 30s)"))
    limit = s.api.integration_timeout_s
    if not 0.05 <= limit <= high:
        problems.append(("api.integration_timeout", f"must be between 50ms and {high:g}s for {kind_of_api}, "
                         f"got {limit:g}s"))
    for i, r in enumerate(s.routes):
        if r.integration_timeout is not None and not 0.05 <= r.integration_timeout <= high:
            problems.append((f"routes[{i}].integration_timeout",
                             f"must be between 50ms and {high:g}s for {kind_of_api}, got {r.integration_timeout:g}s"))
    return problems


def _route_targets(s: Scenario) -> Problems:
    """Each route calls exactly one existing function or backend, with an integration type
    its API offers; backend names are unique."""
    problems: Problems = []
    functions = [f.name for f in s.functions]
    backends = [b.name for b in s.backends]
    seen = Counter(backends)
    for i, b in enumerate(s.backends):
        if seen[b.name] > 1:
            problems.append((f"backends[{i}].name", f"{b.name!r} is used by more than one entry"))
            seen[b.name] = 0
    for i, r in enumerate(s.routes):
        if (r.function is None) == (r.backend is None):
            problems.append((f"routes[{i}]", "needs exactly one of function (Lambda) or backend (HTTP), got "
                             + ("both" if r.function is not None else "neither")))
        elif r.function is not None:
            problems += _unknown(f"routes[{i}].function", r.function, functions, "function")
            for key in ("integration_type", "connection_type"):
                if key in r.model_fields_set:
                    problems.append((f"routes[{i}].{key}", "applies to backend routes only (a function route "
                                     "is AWS_PROXY)"))
        else:
            problems += _unknown(f"routes[{i}].backend", str(r.backend), backends, "backend")
            if s.api.type == "HTTP" and r.integration_type == "HTTP":
                problems.append((f"routes[{i}].integration_type", "HTTP APIs offer HTTP_PROXY only; use a REST "
                                 "API for HTTP (custom) integrations"))
    return problems


def _region(s: Scenario) -> Problems:
    """The Region is one the simulator has prices for (a run is priced once it is simulated)."""
    known = list(known_regions())
    if s.account.region in known:
        return []
    return [("account.region", f"unknown Region {echo(s.account.region)}{suggest(s.account.region, known)}; "
             f"known (with a price table in simulator/cost/data): {', '.join(known)}")]


def _api_keys_and_usage_plans(s: Scenario) -> Problems:
    """Usage plans and API keys exist on REST APIs only, and only with keys required."""
    problems: Problems = []
    if s.api.type == "HTTP":
        if s.api.api_key_required:
            problems.append(("api.api_key_required", "HTTP APIs have no API keys; use a REST API"))
        if s.usage_plans:
            problems.append(("usage_plans", "HTTP APIs have no usage plans; use a REST API"))
    if s.usage_plans and s.api.type == "REST" and not s.api.api_key_required:
        problems.append(("api.api_key_required", "usage plans apply only to methods that require an API key; "
                         "set api_key_required = true or remove usage_plans"))
    routes = [r.name for r in s.routes]
    for i, p in enumerate(s.usage_plans):
        for route in p.method_throttles:
            problems += _unknown(f"usage_plans[{i}].method_throttles", route, routes, "route")
    return problems


#: Which authorizer types each API type has (the x-amazon-apigateway-authorizer reference:
#: REST takes token and request, HTTP request and jwt; Cognito user pools are REST's; IAM both).
_AUTHORIZER_TYPES = {"REST": ("TOKEN", "REQUEST", "COGNITO_USER_POOLS", "AWS_IAM"),
                     "HTTP": ("REQUEST", "JWT", "AWS_IAM")}


def _authorizers(s: Scenario) -> Problems:
    """Each authorizer fits the API type and names a function that exists; routes name authorizers that exist."""
    problems: Problems = []
    functions = [f.name for f in s.functions]
    names = [a.name for a in s.authorizers]
    allowed = _AUTHORIZER_TYPES[s.api.type]
    for i, a in enumerate(s.authorizers):
        if a.type not in allowed:
            problems.append((f"authorizers[{i}].type", f"{s.api.type} APIs have no {a.type} authorizers; "
                             f"{'an HTTP' if s.api.type == 'REST' else 'a REST'} API has them (allowed here: "
                             f"{', '.join(allowed)})"))
        if a.function is not None:
            problems += _unknown(f"authorizers[{i}].function", a.function, functions, "function")
    if s.stage.authorizer is not None and s.stage.authorizer != "NONE":
        problems += _unknown("stage.authorizer", s.stage.authorizer, names, "authorizer")
    for i, r in enumerate(s.routes):
        if r.authorizer is not None and r.authorizer != "NONE":
            problems += _unknown(f"routes[{i}].authorizer", r.authorizer, names, "authorizer")
    return problems


def _cache(s: Scenario) -> Problems:
    """The cache is a REST API feature; more than one key per route needs key parameters."""
    if s.api.type != "REST":
        where = ["stage.cache"] if s.stage.cache is not None else []
        where += [f"routes[{i}].cache" for i, r in enumerate(s.routes) if r.cache is not None]
        # One line: the stage's cache if there is one, else the first route's.
        return [(w, "an HTTP API has no cache (the API cache is a REST API feature)") for w in where[:1]]
    problems: Problems = []
    caches = route_caches(s)
    for i, (route, rc) in enumerate(zip(s.routes, caches, strict=True)):
        if rc is not None and not rc.key_parameters and rc.keys.count > 1:
            at = f"routes[{i}].cache.keys" if route.cache and route.cache.keys else "stage.cache.keys"
            problems.append((f"{at}.count", f"{rc.keys.count} keys on route {route.name!r} need key_parameters "
                                                "(without them the route has one cache entry)"))
    index = {r.name: i for i, r in enumerate(s.routes)}
    for i, c in enumerate(s.clients):
        if c.cache_keys is None or c.cache_keys.count == 1:
            continue
        for name in c.routes:
            rc = caches[index[name]] if name in index else None
            if rc is not None and not rc.key_parameters:
                problems.append((f"clients[{i}].cache_keys.count",
                                 f"{c.cache_keys.count} keys on route {name!r} need its key_parameters "
                                 "(without them the route has one cache entry)"))
    return problems


def _clients(s: Scenario) -> Problems:
    """Each client's routes, usage plan, API key, timeout and arrivals."""
    problems: Problems = []
    routes = [r.name for r in s.routes]
    plans = [p.name for p in s.usage_plans]
    key_plan: dict[str, str | None] = {}
    for i, c in enumerate(s.clients):
        for route in c.routes:
            problems += _unknown(f"clients[{i}].routes", route, routes, "route")
        if c.usage_plan is not None:
            if s.api.type == "HTTP":
                problems.append((f"clients[{i}].usage_plan", "HTTP APIs have no usage plans"))
            else:
                problems += _unknown(f"clients[{i}].usage_plan", c.usage_plan, plans, "usage plan")
            if c.api_key is None:
                problems.append((f"clients[{i}].api_key", "a client in a usage plan needs an api_key"))
        if c.api_key is not None:
            if c.api_key in key_plan and key_plan[c.api_key] != c.usage_plan:
                problems.append((f"clients[{i}].usage_plan",
                                 f"API key {redact_key(c.api_key)} is already in usage plan "
                                 f"{key_plan[c.api_key]!r}; a key belongs to one usage plan per stage"))
            key_plan.setdefault(c.api_key, c.usage_plan)
        if c.timeout is not None and c.timeout <= 0:
            problems.append((f"clients[{i}].timeout", "must be longer than 0s"))
        problems += _arrivals(s, i, c, routes)
    return problems


def _arrivals(s: Scenario, i: int, c: Any, routes: list[str]) -> Problems:
    """Client *i*'s arrivals: bursts and traces inside the run, closed users that wait or are answered late."""
    problems: Problems = []
    arr = c.arrivals
    if arr.process in ("poisson", "uniform"):
        for j, b in enumerate(arr.bursts):
            if b.at >= s.duration:
                problems.append((f"clients[{i}].arrivals.bursts[{j}].at",
                                 f"must be before the end of the run ({s.duration:g}s)"))
    elif arr.process == "closed":
        w = arr.wait
        zero_wait = (w.kind == "constant" and w.time == 0) or (w.kind == "between" and w.max == 0)
        if zero_wait and _can_be_zero(s.behaviour.gateway_overhead):
            problems.append((f"clients[{i}].arrivals.wait",
                             "a closed user that never waits needs answers that take time, but "
                             "behaviour.gateway_overhead can be 0s: a throttled user would send requests without "
                             "end at one instant; give the wait or the overhead some time"))
    elif arr.process == "replay":
        for route in sorted(set(arr.routes) - {""})[:1]:
            problems += _unknown(f"clients[{i}].arrivals.file", route, routes, f"route in {arr.file}:")
        if arr.times and arr.times[-1] >= s.duration:
            problems.append((f"clients[{i}].arrivals.file",
                             f"trace runs to {arr.times[-1]:g}s, past the scenario duration ({s.duration:g}s)"))
        if not arr.times:
            problems.append((f"clients[{i}].arrivals.file", f"the trace {arr.file} holds no requests"))
    return problems


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


def _typical_month(s: Scenario) -> Problems:
    """A month priced from a typical day or week needs a run of exactly that long."""
    period = {"day": 86400.0, "week": 604800.0}.get(s.cost.month_from)
    if period is not None and abs(s.duration - period) > 1e-9:
        return [("cost.month_from", f"a typical {s.cost.month_from} needs duration = "
                 f"{'1d' if period == 86400 else '7d'}, got {s.duration:g}s")]
    return []


def _concurrency(s: Scenario) -> Problems:
    """Reserved and provisioned concurrency fit each function and the account, at every
    instant a schedule changes them (with target tracking, at its maximum capacity)."""
    problems = _autoscaling(s)
    account = s.account
    if account.unreserved_min > account.lambda_concurrency:  # the sums below would mislead
        return [*problems, ("account.unreserved_min", f"must not exceed lambda_concurrency "
                            f"({account.lambda_concurrency}), got {account.unreserved_min}")]
    times = sorted({t for f in s.functions for sched in (f.provisioned_schedule, f.reserved_schedule or ())
                    for t, _ in sched})
    for t in times:
        found = _concurrency_at(s, t, "" if len(times) == 1 else f" at {format_duration(t) if t else '0s'}")
        if found:
            return problems + found
    return problems


def _concurrency_at(s: Scenario, t: float, when: str) -> Problems:
    problems: Problems = []
    reserved_total = 0
    unreserved_provisioned = 0
    for i, f in enumerate(s.functions):
        if f.web is not None:
            # Web Functions have no reserved or provisioned environments: an endpoint scales
            # from zero, bounded by max_environments and the account's vCPU quota.
            for key in ("reserved_concurrency", "provisioned_concurrency"):
                if getattr(f, key):
                    problems.append((f"functions[{i}].{key}", "a web function has none (its endpoint scales "
                                     "from zero up to web.max_environments); remove it"))
            continue
        scaling = f.provisioned_autoscaling
        provisioned = scaling.max_capacity if scaling is not None else value_at(f.provisioned_schedule, t)
        if f.reserved_schedule is not None:
            reserved = value_at(f.reserved_schedule, t)
            reserved_total += reserved
            if provisioned > reserved:
                key = "provisioned_autoscaling.max_capacity" if scaling is not None else "provisioned_concurrency"
                problems.append((f"functions[{i}].{key}", f"must not exceed reserved_concurrency ({reserved}){when}, "
                                 f"got {provisioned}"))
        else:
            unreserved_provisioned += provisioned
    account = s.account
    pool = account.lambda_concurrency - account.unreserved_min
    unreserved = account.lambda_concurrency - reserved_total
    if reserved_total > pool:
        problems.append(("functions", f"reserved concurrency adds up to {reserved_total}{when}, more than the "
                         f"{pool} the account can reserve (lambda_concurrency {account.lambda_concurrency} "
                         f"minus unreserved_min {account.unreserved_min})"))
    elif unreserved_provisioned > unreserved:
        problems.append(("functions", f"provisioned concurrency of functions without reserved concurrency "
                         f"adds up to {unreserved_provisioned}{when}, more than the unreserved pool ({unreserved})"))
    return problems


def _autoscaling(s: Scenario) -> Problems:
    """Target tracking's maximum is at least its minimum; the recycle interval is positive."""
    problems: Problems = []
    for i, f in enumerate(s.functions):
        scaling = f.provisioned_autoscaling
        top = max(n for _, n in f.provisioned_schedule)
        if scaling is not None and scaling.max_capacity < top:
            problems.append((f"functions[{i}].provisioned_autoscaling.max_capacity",
                             f"must be at least provisioned_concurrency, its minimum ({top}), "
                             f"got {scaling.max_capacity}"))
    interval = s.behaviour.provisioned_recycle_interval
    if interval is not None and interval <= 0:
        problems.append(("behaviour.provisioned_recycle_interval", "must be longer than 0s (or left out: off)"))
    return problems


# --------------------------------------------------------------------------- the size of the run


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


def _check_size(s: Scenario) -> Problems:
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
