"""The scenario: one file that describes an API Gateway + Lambda setup and its traffic.

A scenario is the *definition* of a run, nothing more: which API, which limits, which
functions, which clients send what. It is validated completely when it is loaded, and
after that it is a tree of frozen objects that the engines read but never change.

The models here mirror the TOML file key by key (see the README for the reference).
All durations are held in seconds (``*_s`` attributes or :class:`~simulator.dists`
objects); rates are per second.

The ``[[clients]]`` models (arrivals, Locust waits, retry policies) live in
:mod:`simulator.scenario.clients` and the blocks every model is built from (the strict
frozen base model, :data:`Duration`) in :mod:`simulator.scenario.base`; all of them are
importable from :mod:`simulator.scenario`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from simulator.limits import (
    MAX_CONCURRENCY,
    MAX_COUNT,
    MAX_THROTTLE_RATE_PER_S,
)
from simulator.scenario.authorizers import NO_AUTHORIZER, Authorizer
from simulator.scenario.background import Background
from simulator.scenario.base import Duration, _between, _Model, _utc
from simulator.scenario.cache import MethodCache, StageCache
from simulator.scenario.clients import Client
from simulator.scenario.concurrency import (
    Concurrency,
    ProvisionedAutoscaling,
    Schedule,
    as_schedule,
    changes,
    check_schedule,
    peak,
)
from simulator.scenario.distributions import DistSpec, FixedDist, LogNormalDist
from simulator.scenario.web_function import WebFunction

__all__ = [
    "Account", "Api", "Background", "Backend", "Behaviour", "Function", "Quota", "Route", "Scenario", "Stage",
    "Throttle", "UsagePlan", "WebFunction",
]


# --------------------------------------------------------------------------- gateway


class Throttle(_Model):
    """A token bucket: ``rate`` tokens per second refill a bucket of ``burst`` tokens."""

    rate: float = Field(ge=0, le=MAX_THROTTLE_RATE_PER_S)
    burst: int = Field(ge=0, le=MAX_COUNT)


class Quota(_Model):
    """A usage-plan quota: ``limit`` requests per calendar ``period`` (UTC)."""

    limit: int = Field(ge=0, le=MAX_COUNT)
    period: Literal["DAY", "WEEK", "MONTH"]
    offset: int = Field(default=0, ge=0, le=MAX_COUNT)

    @model_validator(mode="after")
    def _offset(self) -> Quota:
        if self.offset > self.limit:
            raise PydanticCustomError(
                "range", "offset must not exceed limit ({limit}), got {got}",
                {"limit": self.limit, "got": self.offset},
            )
        return self


class Api(_Model):
    type: Literal["REST", "HTTP"] = "REST"
    #: Where the API's endpoint lives: "REGIONAL", "PRIVATE" (reached from a VPC) or "EDGE"
    #: (edge-optimized, through CloudFront). HTTP APIs are Regional only.
    endpoint_type: Literal["REGIONAL", "PRIVATE", "EDGE"] = "REGIONAL"
    stage: str = "prod"
    api_key_required: bool = False
    #: Default integration timeout for every route: 29 s (REST) or 30 s (HTTP).
    integration_timeout: Duration | None = None
    #: REST only: the account has raised "Maximum integration timeout in milliseconds" in
    #: Service Quotas, so Regional and private REST APIs may set up to 300 s (since June
    #: 2024); unless account.throttle is given, the account throttle is lowered to match
    #: (simulator.scenario.defaults).
    extended_integration_timeout: bool = False
    #: Bytes of access log written per request (0: access logging off); priced as
    #: CloudWatch Logs ingestion.
    access_log_bytes: int = Field(default=0, ge=0, le=MAX_COUNT)

    @property
    def integration_timeout_s(self) -> float:
        if self.integration_timeout is not None:
            return self.integration_timeout
        return 29.0 if self.type == "REST" else 30.0


class Account(_Model):
    #: The account's API Gateway throttle in the Region. Not given: AWS's default for the
    #: Region, lowered for REST integration timeouts above 29 s (simulator.scenario.defaults).
    throttle: Throttle = Throttle(rate=10000, burst=5000)
    lambda_concurrency: int = Field(default=1000, ge=1, le=MAX_CONCURRENCY)
    unreserved_min: int = Field(default=100, ge=0, le=MAX_CONCURRENCY)
    region: str = "us-east-1"
    #: Load of other APIs and functions sharing the account's limits (``[[account.background]]``).
    background: list[Background] = []


class Stage(_Model):
    #: Default method (route) throttling; None means the stage sets no limit of its own.
    throttle: Throttle | None = None
    #: The authorizer (an ``[[authorizers]]`` name) of every route that names none.
    authorizer: str | None = None
    #: REST only: the stage's cache cluster and default method cache settings.
    cache: StageCache | None = None


class Route(_Model):
    name: str
    #: What the route calls: a Lambda function (``AWS_PROXY``) or a ``[[backends]]`` entry
    #: over HTTP, exactly one of the two (checked in :mod:`simulator.scenario.checks`).
    function: str | None = None
    backend: str | None = None
    #: AWS's words: REST APIs offer ``HTTP`` and ``HTTP_PROXY``, HTTP APIs ``HTTP_PROXY``;
    #: ``connection_type`` ``VPC_LINK`` reaches a private backend. Neither changes the timing.
    integration_type: Literal["HTTP", "HTTP_PROXY"] = "HTTP_PROXY"
    connection_type: Literal["INTERNET", "VPC_LINK"] = "INTERNET"
    throttle: Throttle | None = None
    integration_timeout: Duration | None = None
    request_bytes: int = Field(default=1024, ge=0, le=MAX_COUNT)
    #: An ``[[authorizers]]`` name, or "NONE" for no authorizer; None: the stage's.
    authorizer: str | None = None
    #: REST only: this method's override of the stage's cache settings.
    cache: MethodCache | None = None

    @field_validator("name")
    @classmethod
    def _route_key(cls, v: str) -> str:
        parts = v.split(" ")
        methods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}
        if v == "$default" or (len(parts) == 2 and parts[0] in methods and parts[1].startswith("/")):
            return v
        raise PydanticCustomError(
            "route", "must be 'METHOD /path' (e.g. 'GET /orders') or '$default', got {got}",
            {"got": repr(v)},
        )


# --------------------------------------------------------------------------- Lambda


class Function(_Model):
    name: str
    memory_mb: int = 128
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    timeout: Duration = 3.0
    #: A count, or a schedule [["0s", 50], ["9h", 10]] (simulator.scenario.concurrency).
    reserved_concurrency: Concurrency | None = None
    provisioned_concurrency: Concurrency = 0
    #: Target tracking of provisioned concurrency; provisioned_concurrency is then its minimum.
    provisioned_autoscaling: ProvisionedAutoscaling | None = None
    duration: DistSpec
    init: DistSpec = LogNormalDist.model_validate({"kind": "lognormal", "median": "250ms", "p99": "1s"})
    idle_timeout: DistSpec | None = None
    error_rate: float = 0.0
    response_bytes: int = Field(default=1024, ge=0, le=MAX_COUNT)
    ephemeral_storage_mb: int = 512
    #: A Lambda Web Function (many requests per environment) instead of a classic one.
    web: WebFunction | None = None

    @field_validator("memory_mb")
    @classmethod
    def _memory(cls, v: int) -> int:
        return int(_between(v, 128, 10240))

    @field_validator("ephemeral_storage_mb")
    @classmethod
    def _storage(cls, v: int) -> int:
        return int(_between(v, 512, 10240))

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        return _between(v, 1.0, 900.0, " seconds")

    @field_validator("error_rate")
    @classmethod
    def _error_rate(cls, v: float) -> float:
        return _between(v, 0.0, 1.0)

    @field_validator("reserved_concurrency", "provisioned_concurrency")
    @classmethod
    def _concurrency(cls, v: Any) -> Any:
        return v if v is None else check_schedule(v)

    @property
    def provisioned_schedule(self) -> Schedule:
        """Provisioned concurrency (the minimum, with autoscaling) as ``(time_s, count)`` steps."""
        return as_schedule(self.provisioned_concurrency)

    @property
    def reserved_schedule(self) -> Schedule | None:
        """Reserved concurrency as ``(time_s, count)`` steps, or None when the function has none."""
        return None if self.reserved_concurrency is None else as_schedule(self.reserved_concurrency)

    @property
    def provisioned_peak(self) -> int:
        """The most provisioned concurrency the function can have during the run."""
        return peak(self.provisioned_schedule, self.provisioned_autoscaling)

    @property
    def changes_concurrency(self) -> bool:
        """Whether the function's reserved or provisioned concurrency changes during the run."""
        return changes(self.reserved_schedule, self.provisioned_schedule, self.provisioned_autoscaling)


# --------------------------------------------------------------------------- HTTP backends


class Backend(_Model):
    """A service of finite capacity behind an HTTP integration (see
    :mod:`simulator.integrations.http_backend`): ``workers`` serve requests in parallel,
    the rest wait first come, first served."""

    name: str
    workers: int = Field(ge=1, le=MAX_CONCURRENCY)
    #: Most requests waiting for a worker; a request beyond it is refused. None: no limit.
    queue_limit: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    #: Most requests held at once, in service plus waiting (a server's connection cap).
    connection_limit: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    service_time: DistSpec
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    response_bytes: int = Field(default=1024, ge=0, le=MAX_COUNT)
    #: A request still waiting when the gateway gives up: "served" (the backend cannot tell
    #: the client left) or "skipped" (dropped from the queue, as nginx's upstream queue does).
    abandoned_in_queue: Literal["served", "skipped"] = "served"


# --------------------------------------------------------------------------- usage plans


class UsagePlan(_Model):
    name: str
    throttle: Throttle | None = None
    quota: Quota | None = None
    #: Per-route throttles inside the plan, keyed by route name ("GET /orders").
    method_throttles: dict[str, Throttle] = {}


# --------------------------------------------------------------------------- behaviour


class Behaviour(_Model):
    """Named switches for what AWS does not document. Defaults are stated in the README."""

    #: A request rejected at a later gateway level keeps the tokens (and quota) it took at
    #: earlier levels. Default false: buckets are charged only when every level admits it.
    rejected_requests_consume_tokens: bool = False
    #: Requests rejected by the usage-plan throttle still count toward the key's quota.
    throttled_requests_count_toward_quota: bool = False
    #: How the stage's default throttle applies: "per_route" (each route without its own
    #: throttle gets its own bucket with the stage limits) or "shared" (one stage-wide bucket).
    stage_throttle_scope: Literal["per_route", "shared"] = "per_route"
    #: Status a REST client sees when Lambda throttles the invocation (500 per AWS docs).
    lambda_throttle_status: Literal[500, 502] = 500
    #: Status an HTTP API client sees on an integration timeout (503 observed).
    http_api_timeout_status: Literal[503, 504] = 503
    #: Status of a request an HTTP backend refuses with its queue full (503: ELB's surge
    #: queue, HAProxy, Passenger; 502: nginx's upstream queue).
    backend_queue_full_status: Literal[502, 503] = 503
    #: Lambda's request-rate limit on synchronous invocations, 10 per second per unit of
    #: concurrency: account-wide and per function with reserved concurrency (AWS's Lambda
    #: quotas page; see simulator.functions.request_rate).
    lambda_request_rate_limit: bool = True
    #: Seconds of its rate the request-rate bucket holds (AWS documents no burst).
    lambda_request_rate_burst_s: float = Field(default=1.0, gt=0, le=3600)
    #: Also limit a function with provisioned concurrency P to 10 x P invocations per
    #: second, spillover included ("Invocation requests per function version or alias").
    provisioned_request_rate_limit: bool = False
    @field_validator("max_environment_lifetime", mode="before")
    @classmethod
    def _lifetime_off(cls, v: Any) -> Any:
        return None if v == "off" else v

    #: Which idle environment serves the next request: most or least recently used.
    environment_reuse: Literal["mru", "lru"] = "mru"
    #: How long an idle on-demand environment is kept (functions may override).
    idle_timeout: DistSpec = FixedDist.model_validate({"kind": "fixed", "value": "10m"})
    #: An environment is retired once it has lived this long (checked when it goes idle).
    #: Off (None, or "off" in a file) by default: AWS says only "every few hours", and the
    #: one published observation ("every two hours") gives no numbers; see the README.
    max_environment_lifetime: Duration | None = None
    #: "per_function" (since Nov 2023: 1,000 new environments per 10 s per function,
    #: refilled continuously) or "account_burst" (before: an account-wide burst, then
    #: 500 more per minute).
    scaling_model: Literal["per_function", "account_burst"] = "per_function"
    scaling_burst: int = Field(default=1000, ge=1, le=MAX_CONCURRENCY)
    scaling_refill_per_s: float = Field(default=100.0, gt=0, le=MAX_THROTTLE_RATE_PER_S)
    account_burst: int = Field(default=3000, ge=1, le=MAX_CONCURRENCY)
    account_burst_refill_per_s: float = Field(default=500.0 / 60.0, gt=0, le=MAX_THROTTLE_RATE_PER_S)
    #: Time API Gateway adds to every response. Not given: the default for the API type
    #: (simulator.scenario.defaults.GATEWAY_OVERHEAD_DEFAULTS).
    gateway_overhead: DistSpec = FixedDist.model_validate({"kind": "fixed", "value": "0ms"})
    #: The throttle arithmetic: AWS's continuously refilled token bucket, or nginx's
    #: limit_req (milliseconds, integer milli-requests; burst B as ``burst=B-1 nodelay``),
    #: to predict the nginx gateway used for validation.
    throttle_algorithm: Literal["aws_token_bucket", "nginx_limit_req"] = "aws_token_bucket"
    #: Whether a route's authorizer runs before the gateway's throttles and quota (the usage
    #: plan's, the route's or stage's, the account's) instead of after them. AWS documents
    #: the order of the throttles, not where authorization falls among them: UNCONFIRMED, so
    #: off (after). An API whose usage-plan key comes from its authorizer (apiKeySource
    #: AUTHORIZER) authorizes before the plan's checks: turn it on for one.
    authorizer_before_throttles: bool = False
    #: First day of a WEEK quota period (UTC).
    quota_week_start: Literal["MONDAY", "SUNDAY"] = "SUNDAY"
    #: How long provisioned environments added during a run take to become ready. AWS reports
    #: an allocation as IN_PROGRESS until READY and documents no duration: 0 s (neutral).
    provisioned_allocation_delay: Duration = 0.0
    #: Each provisioned environment is re-initialised this often ("AWS Lambda periodically
    #: recycles the execution environments", no interval documented): off by default.
    provisioned_recycle_interval: Duration | None = None


# --------------------------------------------------------------------------- cost


class CostSettings(_Model):
    """How a run becomes a month of cost."""

    #: "run": the run is representative and is scaled to a 730-hour month. "day" / "week":
    #: the scenario is a typical day / week of traffic (its duration must be 1d / 7d, its
    #: rate profile the day's or week's shape) and the month repeats it.
    month_from: Literal["run", "day", "week"] = "run"


# --------------------------------------------------------------------------- the scenario


class Scenario(_Model):
    """A validated scenario. Build one with :func:`simulator.load_scenario`."""

    name: str
    description: str = ""
    duration: Duration
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    start: Annotated[datetime, BeforeValidator(_utc)] = datetime(2026, 1, 1, tzinfo=UTC)
    api: Api = Api()
    account: Account = Account()
    stage: Stage = Stage()
    routes: list[Route] = Field(min_length=1)
    functions: list[Function] = []
    backends: list[Backend] = []
    usage_plans: list[UsagePlan] = []
    authorizers: list[Authorizer] = []
    clients: list[Client] = Field(min_length=1)
    behaviour: Behaviour = Behaviour()
    cost: CostSettings = CostSettings()

    @field_validator("duration")
    @classmethod
    def _duration_positive(cls, v: float) -> float:
        if v <= 0:
            raise PydanticCustomError("range", "must be longer than 0s")
        return v

    # Convenience look-ups used by the engines.
    def function(self, name: str) -> Function:
        return next(f for f in self.functions if f.name == name)

    def backend(self, name: str) -> Backend:
        return next(b for b in self.backends if b.name == name)

    def route(self, name: str) -> Route:
        return next(r for r in self.routes if r.name == name)

    def usage_plan(self, name: str) -> UsagePlan:
        return next(p for p in self.usage_plans if p.name == name)

    def route_authorizer(self, route: Route) -> Authorizer | None:
        """The authorizer that checks *route*'s requests (its own or the stage's), or None."""
        name = route.authorizer if route.authorizer is not None else self.stage.authorizer
        if name is None or name == NO_AUTHORIZER:
            return None
        return next(a for a in self.authorizers if a.name == name)

    def integration_timeout_s(self, route: Route) -> float:
        if route.integration_timeout is not None:
            return route.integration_timeout
        return self.api.integration_timeout_s
