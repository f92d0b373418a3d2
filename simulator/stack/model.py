"""What an import reads from a stack, each value with its origin.

A :class:`Stack` is the scenario's settings before they become TOML: the API and its stage,
routes, functions, usage plans and keys. Every setting is a
:class:`~simulator.stack.errors.Sourced` value, so the scenario file can say where each came
from. Readers (:mod:`~simulator.stack.cloudformation`, :mod:`~simulator.stack.openapi`) fill
it; :mod:`~simulator.stack.findings` checks it; :mod:`~simulator.stack.scenario_toml`
writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.stack.errors import Origin, Sourced

__all__ = ["DOCS", "FunctionSpec", "KeySpec", "PlanSpec", "QuotaSpec", "RouteSpec", "Stack", "ThrottleSpec"]

#: AWS pages that document the defaults an import falls back to.
DOCS = {
    "throttle": "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html",
    "rest_timeout": "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
    "http_timeout": "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html",
    "lambda": "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-function.html",
    "concurrency": "https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html",
}


@dataclass
class ThrottleSpec:
    rate: Sourced[float]
    burst: Sourced[int]


@dataclass
class QuotaSpec:
    limit: Sourced[int]
    period: Sourced[str]
    offset: Sourced[int] | None = None


@dataclass
class RouteSpec:
    """A route (``GET /orders``) and the function its integration calls."""

    name: str
    origin: Origin
    function: str | None = None
    #: The alias or version the integration calls (None: the unqualified function).
    qualifier: str | None = None
    throttle: ThrottleSpec | None = None
    timeout_s: Sourced[float] | None = None
    api_key_required: Sourced[bool] | None = None


@dataclass
class FunctionSpec:
    name: str
    origin: Origin
    memory_mb: Sourced[int]
    timeout_s: Sourced[float]
    architecture: Sourced[str]
    reserved: Sourced[int] | None = None
    #: Provisioned concurrency of each alias or version: {qualifier: executions}.
    provisioned: dict[str, Sourced[int]] = field(default_factory=dict)


@dataclass
class KeySpec:
    name: str
    origin: Origin


@dataclass
class PlanSpec:
    name: str
    origin: Origin
    throttle: ThrottleSpec | None = None
    quota: QuotaSpec | None = None
    method_throttles: dict[str, ThrottleSpec] = field(default_factory=dict)
    keys: list[KeySpec] = field(default_factory=list)


@dataclass
class Stack:
    """One API's stage, as far as the sources tell."""

    source: str
    api_name: str
    api_type: Sourced[str]
    stage: Sourced[str]
    stage_throttle: ThrottleSpec | None = None
    routes: list[RouteSpec] = field(default_factory=list)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    plans: list[PlanSpec] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    #: The account's API Gateway throttle and Lambda concurrency, when the source knows them (a live account).
    account_throttle: ThrottleSpec | None = None
    lambda_concurrency: Sourced[int] | None = None

    def route(self, name: str) -> RouteSpec | None:
        return next((r for r in self.routes if r.name == name), None)
