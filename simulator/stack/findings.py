"""Settings that do not do what their authors meant, found in an imported stack.

These are the mistakes users hit in real life, each reported with where it was written:

* a throttle of rate 0 or burst 0 refuses every request it applies to (an HTTP API stage
  whose route settings are 0/0 throttles everything);
* a stage or route throttle at or above the account throttle (10,000 rps, burst 5,000 by
  default) never refuses a request the account would not;
* a usage plan with neither throttle nor quota limits nothing, and per-method throttles on a
  plan without a quota are throttles only;
* reserved concurrency 0 makes every invocation of the function a throttle;
* an integration timeout above 29 s needs a Regional or private REST API and a quota
  increase (and lowers the account throttle); HTTP APIs stop at 30 s.

(Method settings and usage-plan throttles that name no method, and plans attached to no
stage, are found while reading, where the names are at hand.)

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
"""

from __future__ import annotations

from simulator.stack.model import Stack, ThrottleSpec

__all__ = ["ACCOUNT_RATE", "check"]

ACCOUNT_RATE = 10000.0
ACCOUNT_BURST = 5000


def _throttle(what: str, spec: ThrottleSpec | None) -> list[str]:
    if spec is None:
        return []
    if spec.rate.value == 0 or spec.burst.value == 0:
        return [f"{spec.rate.origin}: {what} has rate {spec.rate.value:g}, burst {spec.burst.value}: it throttles "
                "every request (429)"]
    if spec.rate.value >= ACCOUNT_RATE and spec.burst.value >= ACCOUNT_BURST:
        return [f"{spec.rate.origin}: {what} ({spec.rate.value:g} rps, burst {spec.burst.value}) is at or above the "
                "default account throttle: it throttles no request the account would not"]
    return []


def check(stack: Stack) -> list[str]:
    """Findings about *stack*, in a stable order (those found while reading come first)."""
    out = list(stack.findings)
    out += _throttle(f"the stage {stack.stage.value} default throttle", stack.stage_throttle)
    for route in stack.routes:
        out += _throttle(f"route {route.name}'s throttle", route.throttle)
        high = 30.0 if stack.api_type.value == "HTTP" else 29.0
        if route.timeout_s is not None and route.timeout_s.value > high:
            out.append(f"{route.timeout_s.origin}: route {route.name}'s integration timeout is "
                       f"{route.timeout_s.value:g} s, above {high:g} s: "
                       + ("it needs a Regional or private REST API and a Service Quotas increase, which lowers "
                          "the account throttle" if high == 29.0 else "HTTP APIs stop at 30 s"))
    for plan in stack.plans:
        if plan.throttle is None and plan.quota is None and not plan.method_throttles:
            out.append(f"{plan.origin}: usage plan {plan.name} has no throttle and no quota: it limits nothing")
        elif plan.method_throttles and plan.quota is None:
            out.append(f"{plan.origin}: usage plan {plan.name} has per-method throttles but no quota: its keys "
                       "are never cut off, only slowed")
        out += _throttle(f"usage plan {plan.name}'s throttle", plan.throttle)
        for route_name, spec in plan.method_throttles.items():
            out += _throttle(f"usage plan {plan.name}'s throttle of {route_name}", spec)
    for function in stack.functions.values():
        if function.reserved is not None and function.reserved.value == 0:
            out.append(f"{function.reserved.origin}: function {function.name} has reserved concurrency 0: every "
                       "invocation is throttled")
    return out
