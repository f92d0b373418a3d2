"""What the CloudFormation and Terraform exports share: names, paths, limits and quota requests.

Both exports describe the same resources. :func:`logical_id` turns scenario names into the
alphanumeric ids CloudFormation needs (and Terraform accepts); :func:`resource_paths` lists
the REST resource tree a set of routes needs; :func:`quota_requests` says which account
limits differ from AWS's defaults: no template sets those, they are Service Quotas requests.

Lambda's ``Timeout`` is whole seconds: a scenario timeout of 2.5 s is exported as 3 s.

https://docs.aws.amazon.com/servicequotas/latest/userguide/request-quota-increase.html
"""

from __future__ import annotations

import math
import re

from simulator.scenario import Route, Scenario
from simulator.scenario.regions import default_account_throttle
from simulator.stack.errors import StackError

__all__ = ["ALIAS", "check_exportable", "escaped_path", "function_timeout_s", "logical_id", "method_path",
           "quota_requests", "resource_paths", "route_timeout_ms", "split_route"]

#: The alias that carries provisioned concurrency and that integrations call.
ALIAS = "live"


def logical_id(prefix: str, name: str, taken: set[str]) -> str:
    """An alphanumeric id starting with *prefix*, unique in *taken* (which it joins)."""
    base = prefix + "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)
    out, n = base[:200], 2
    while out in taken:
        out, n = f"{base[:196]}{n}", n + 1
    taken.add(out)
    return out


def split_route(route: Route) -> tuple[str, str]:
    method, _, path = route.name.partition(" ")
    return method, path


def resource_paths(scenario: Scenario) -> list[str]:
    """Every REST resource path the routes need, parents first (``/orders``, ``/orders/{id}``)."""
    paths: set[str] = set()
    for route in scenario.routes:
        parts = [p for p in split_route(route)[1].split("/") if p]
        for i in range(1, len(parts) + 1):
            paths.add("/" + "/".join(parts[:i]))
    return sorted(paths, key=lambda p: (p.count("/"), p))


def method_path(route: Route) -> str:
    """A route's key in a usage plan's per-method throttles: ``/orders/POST``."""
    method, path = split_route(route)
    return f"{path.rstrip('/')}/{method}" if path != "/" else f"//{method}"


def escaped_path(route: Route) -> str:
    """A route's ``ResourcePath`` in stage method settings: ``/~1orders``."""
    return "/" + split_route(route)[1].replace("/", "~1")


def route_timeout_ms(scenario: Scenario, route: Route) -> int:
    return int(round(scenario.integration_timeout_s(route) * 1000))


def function_timeout_s(timeout_s: float) -> int:
    return int(math.ceil(timeout_s - 1e-9))


def check_exportable(scenario: Scenario) -> None:
    for i, route in enumerate(scenario.routes):
        if route.backend is not None:
            raise StackError(f"routes[{i}].backend", "export writes Lambda integrations only; an HTTP backend's "
                             "integration (its URI, VPC link) is not in the scenario")
    if scenario.api.type == "REST":
        for route in scenario.routes:
            if route.name == "$default":
                raise StackError("routes", "REST APIs have no $default route; name the method and path")
    for f in scenario.functions:
        if f.changes_concurrency:
            raise StackError(f"functions.{f.name}", "concurrency that changes during the run (a schedule or "
                             "provisioned_autoscaling) is not exported (Application Auto Scaling resources); "
                             "export with fixed values, e.g. --set functions.NAME.provisioned_concurrency=10")


def quota_requests(scenario: Scenario) -> list[str]:
    """The account limits that differ from AWS's defaults, as Service Quotas requests."""
    region, out = scenario.account.region, []
    throttle = scenario.account.throttle
    rate, burst = default_account_throttle(region)
    # Only a throttle the scenario writes is a request; an unset one is AWS's default for the Region
    # (lowered by AWS itself when the integration timeout is raised).
    if "throttle" in scenario.account.model_fields_set and (throttle.rate != rate or throttle.burst != burst):
        out.append(f"apigateway {region}: 'Throttle rate' {throttle.rate:g} requests per second and 'Throttle burst "
                   f"rate' {throttle.burst} (defaults {rate:g} and {burst}; AWS may grant less)")
    if scenario.account.lambda_concurrency != 1000:
        out.append(f"lambda {region}: 'Concurrent executions' {scenario.account.lambda_concurrency} (default 1000)")
    if scenario.api.type == "REST" and any(scenario.integration_timeout_s(r) > 29 for r in scenario.routes):
        longest = max(scenario.integration_timeout_s(r) for r in scenario.routes)
        out.append(f"apigateway {region}: 'Maximum integration timeout in milliseconds' {longest * 1000:.0f} "
                   "(default 29000; Regional and private REST APIs only, and it may lower the account throttle)")
    return out
