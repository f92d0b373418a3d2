"""A run's figures per part of the stack: per function (Lambda), per cached route (the REST
cache), per authorizer; computed from the attempt columns of a
:class:`~simulator.results.Result`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simulator import outcomes as oc
from simulator.outcomes import CACHE_HIT, CACHE_MISS, COLD, PROVISIONED
from simulator.scenario.cache import route_caches

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = ["authorizer_summary", "cache_summary", "lambda_summary"]


def cache_summary(scenario: Scenario, a: Any) -> dict[str, dict[str, float]]:
    """The REST cache's hits, misses and hit ratio (hits / (hits + misses)) by cached
    route, as CloudWatch's ``CacheHitCount`` and ``CacheMissCount`` count them: attempts
    the gateway let through to a cached route. Empty without a cache."""
    out: dict[str, dict[str, float]] = {}
    for i, rc in enumerate(route_caches(scenario)):
        if rc is None:
            continue
        flags = a["flags"][a["route"] == i]
        hits = int(np.sum((flags & CACHE_HIT) != 0))
        misses = int(np.sum((flags & CACHE_MISS) != 0))
        ratio = round(hits / (hits + misses), 6) if hits + misses else 0.0
        out[scenario.routes[i].name] = {"hits": hits, "misses": misses, "hit_ratio": ratio}
    return out

def lambda_summary(scenario: Scenario, a: Any, conc: Any) -> dict[str, dict[str, Any]]:
    """Per function: its invocations by routes and by authorizers together."""
    refusals = oc.LAMBDA_REFUSAL_CODES
    t_c, f_c, n_c = conc
    out: dict[str, dict[str, Any]] = {}
    parts = [(a["function"], a["flags"], a["gateway_cause"])]
    if np.any(a["authorizer_function"] >= 0):
        parts.append((a["authorizer_function"], a["authorizer_flags"], a["authorizer_cause"]))
    for i, f in enumerate(scenario.functions):
        peak = int(n_c[f_c == i].max()) if np.any(f_c == i) else 0
        row = dict.fromkeys(("invocations", "cold_starts", "throttles", "errors", "function_timeouts"), 0)
        prov = spill = 0
        for fn, flags, cause in parts:
            mine = fn == i
            refused = np.isin(cause, refusals)
            ran = mine & ~refused
            row["invocations"] += int(np.sum(ran))
            row["cold_starts"] += int(np.sum(ran & ((flags & COLD) != 0)))
            row["throttles"] += int(np.sum(mine & refused))
            row["errors"] += int(np.sum(ran & np.isin(cause, (oc.FUNCTION_ERROR, oc.FUNCTION_TIMEOUT))))
            row["function_timeouts"] += int(np.sum(ran & (cause == oc.FUNCTION_TIMEOUT)))
            prov += int(np.sum(ran & ((flags & PROVISIONED) != 0)))
            spill += int(np.sum(ran & ((flags & PROVISIONED) == 0)))
        out[f.name] = {
            **row,
            "peak_concurrency": peak,
            "provisioned_concurrency": f.provisioned_concurrency,
            "provisioned_invocations": prov,
            "provisioned_spillover": spill if f.provisioned_peak else 0,
        }
    return out

def authorizer_summary(scenario: Scenario, a: Any) -> dict[str, dict[str, int]]:
    """Per authorizer: the attempts it checked, its invocations, cache hits and answers."""
    s = scenario
    out: dict[str, dict[str, int]] = {}
    refusals = oc.LAMBDA_REFUSAL_CODES
    gcause = a["gateway_cause"]
    throttled = np.isin(gcause, np.arange(oc.THROTTLED_USAGE_PLAN, oc.THROTTLED_ACCOUNT + 1))
    checked_any = ~throttled & (gcause != oc.FORBIDDEN)
    for spec in s.authorizers:
        routes = [i for i, r in enumerate(s.routes) if getattr(s.route_authorizer(r), "name", None) == spec.name]
        checked = np.isin(a["route"], routes) & checked_any
        invoked = checked & (a["authorizer_function"] >= 0)
        token = checked & (gcause != oc.UNAUTHORIZED)
        out[spec.name] = {
            "checked": int(np.sum(checked)),
            "invocations": int(np.sum(invoked & ~np.isin(a["authorizer_cause"], refusals))),
            "cache_hits": int(np.sum(token & ~invoked)) if spec.invokes_lambda else 0,
            "unauthorized": int(np.sum(checked & (gcause == oc.UNAUTHORIZED))),
            "access_denied": int(np.sum(checked & (gcause == oc.ACCESS_DENIED))),
            "authorizer_errors": int(np.sum(checked & (gcause == oc.AUTHORIZER_ERROR))),
        }
    return out
