"""What can happen to one HTTP attempt: its cause, and the status code the client sees.

Every attempt ends with exactly one cause. The status code a cause maps to depends on
the API type (REST or HTTP) and on the behaviour switches for what AWS leaves open.

========================  ==========  ==========  ==========================================
cause                     REST        HTTP API    meaning
========================  ==========  ==========  ==========================================
ok                        200         200         the function answered in time
forbidden                 403         --          API key missing, unknown or in no plan
unauthorized              401         401         no token / identity sources for the authorizer
access_denied             403         403         the authorizer's policy denies the caller
authorizer_error          500         500         the Lambda authorizer was throttled, failed or timed out
throttled_usage_plan      429         --          the key's usage-plan throttle (route or key)
quota_exceeded            429         --          the key's usage-plan quota for the period
throttled_method          429         429         the route's own throttle
throttled_stage           429         429         the stage's default throttle
throttled_account         429         429         the account/Region throttle
lambda_throttled          500 (502)   500         Lambda had no concurrency or scaling room
lambda_rate_throttled     500 (502)   500         Lambda's request-rate limit (10 x concurrency per s)
function_error            502         500         the function raised an error
function_timeout          502         500         the function ran past its own timeout
backend_queue_full        503 (502)   503 (502)   an HTTP backend refused: queue or connections full
backend_error             500         500         an HTTP backend answered with an error
integration_timeout       504         503 (504)   the gateway stopped waiting
web_rate_limited          429         429         a web function's endpoint rateLimit refused it
client_timeout            0           0           the client stopped waiting (no response)
========================  ==========  ==========  ==========================================

An attempt that reached Lambda also says how its invocation started: on a warm
environment, after a cold start (:data:`COLD`), or on a provisioned environment
(:data:`PROVISIONED`); an attempt on a cached REST route says whether the cache answered
it (:data:`CACHE_HIT`) or it went on to the integration (:data:`CACHE_MISS`). The
records keep these as bit flags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = ["CACHE_HIT", "CACHE_MISS", "CAUSES", "COLD", "GATEWAY_REJECTIONS", "LAMBDA_REFUSALS", "LAMBDA_REFUSAL_CODES",
           "PROVISIONED", "answer_groups", "messages", "status_codes"]

CAUSES: tuple[str, ...] = (
    "ok",
    "forbidden",
    "unauthorized",
    "access_denied",
    "authorizer_error",
    "throttled_usage_plan",
    "quota_exceeded",
    "throttled_method",
    "throttled_stage",
    "throttled_account",
    "lambda_throttled",
    "lambda_rate_throttled",
    "function_error",
    "function_timeout",
    "backend_queue_full",
    "backend_error",
    "integration_timeout",
    "web_rate_limited",
    "client_timeout",
)
(
    OK,
    FORBIDDEN,
    UNAUTHORIZED,
    ACCESS_DENIED,
    AUTHORIZER_ERROR,
    THROTTLED_USAGE_PLAN,
    QUOTA_EXCEEDED,
    THROTTLED_METHOD,
    THROTTLED_STAGE,
    THROTTLED_ACCOUNT,
    LAMBDA_THROTTLED,
    LAMBDA_RATE_THROTTLED,
    FUNCTION_ERROR,
    FUNCTION_TIMEOUT,
    BACKEND_QUEUE_FULL,
    BACKEND_ERROR,
    INTEGRATION_TIMEOUT,
    WEB_RATE_LIMITED,
    CLIENT_TIMEOUT,
) = range(len(CAUSES))

#: Bit flags of an attempt's invocation (the records' ``flags`` column): a cold start ran
#: init first; the environment was a provisioned one.
COLD = 1
PROVISIONED = 2
#: The REST cache answered the attempt (no integration call); the cache was looked up and
#: the attempt went on to the integration.
CACHE_HIT = 4
CACHE_MISS = 8

#: What became of a request an HTTP backend accepted (the backend records' ``state``):
#: answered before the gateway gave up; served although the gateway had given up;
#: dropped from the queue when the gateway gave up (``abandoned_in_queue = "skipped"``).
ANSWERED, SERVED_AFTER_TIMEOUT, SKIPPED = 0, 1, 2

#: Causes decided by the gateway before any integration is called (the authorizer's
#: 401, 403 and 500 among them: the request never reaches the integration).
GATEWAY_REJECTIONS = frozenset(range(FORBIDDEN, THROTTLED_ACCOUNT + 1))

#: Causes with which Lambda refused an invocation (TooManyRequestsException): the function
#: did not run, Lambda counts a throttle and bills nothing, API Gateway bills the request.
LAMBDA_REFUSALS = frozenset((LAMBDA_THROTTLED, LAMBDA_RATE_THROTTLED))
#: The same causes in order, for ``numpy.isin`` over a cause column.
LAMBDA_REFUSAL_CODES: tuple[int, ...] = tuple(sorted(LAMBDA_REFUSALS))


def status_codes(scenario: Scenario) -> tuple[int, ...]:
    """The status code of each cause (indexed like :data:`CAUSES`) for this scenario."""
    b = scenario.behaviour
    rest = scenario.api.type == "REST"
    return (
        200,
        403,
        401,
        403,
        500,
        429,
        429,
        429,
        429,
        429,
        b.lambda_throttle_status if rest else 500,
        b.lambda_throttle_status if rest else 500,
        502 if rest else 500,
        502 if rest else 500,
        b.backend_queue_full_status,
        500,
        504 if rest else b.http_api_timeout_status,
        429,
        0,
    )


def messages(scenario: Scenario) -> tuple[str, ...]:
    """The ``message`` of each cause's answer body (``{"message": ...}``, API Gateway's
    default gateway responses; indexed like :data:`CAUSES`), ``""`` where there is none
    (``ok`` carries the function's own body, ``client_timeout`` no answer at all; an HTTP
    backend's refusal and error carry what its proxy or server typically answers)."""
    rest = scenario.api.type == "REST"
    lambda_failed = "Internal server error" if rest else "Internal Server Error"
    timeout_503 = status_codes(scenario)[INTEGRATION_TIMEOUT] == 503
    timeout = "Service Unavailable" if timeout_503 else "Endpoint request timed out"
    denied = "User is not authorized to access this resource with an explicit deny" if rest else "Forbidden"
    queue_full = "Service Unavailable" if scenario.behaviour.backend_queue_full_status == 503 else "Bad Gateway"
    return ("", "Forbidden", "Unauthorized", denied, lambda_failed, "Too Many Requests", "Limit Exceeded",
            "Too Many Requests", "Too Many Requests", "Too Many Requests", lambda_failed, lambda_failed, lambda_failed,
            lambda_failed, queue_full, "Internal Server Error", timeout, "Too Many Requests", "")


def answer_groups(scenario: Scenario) -> dict[tuple[int, str], tuple[str, ...]]:
    """Causes by the answer a client sees, ``(status, message) -> causes``: the causes in
    one group cannot be told apart from the answer alone (for example the four throttles
    behind ``429 Too Many Requests``, or a function error and a function timeout behind
    a REST API's ``502``). Causes the scenario cannot produce are left out: API keys and
    usage plans for HTTP APIs, the authorizer's causes without authorizers, the request-rate
    limit when it is off, a web function's rate limit without web functions, the backend causes without
    HTTP backends."""
    status, message = status_codes(scenario), messages(scenario)
    impossible = _impossible(scenario)
    out: dict[tuple[int, str], tuple[str, ...]] = {}
    for i, cause in enumerate(CAUSES):
        if i in impossible:
            continue
        if not scenario.authorizers and i in (UNAUTHORIZED, ACCESS_DENIED, AUTHORIZER_ERROR):
            continue
        key = (status[i], message[i])
        out[key] = (*out.get(key, ()), cause)
    return out


def _impossible(scenario: Scenario) -> frozenset[int]:
    """The causes no attempt of *scenario* can end with."""
    out = set()
    if scenario.api.type != "REST":
        out |= {FORBIDDEN, THROTTLED_USAGE_PLAN, QUOTA_EXCEEDED}
    if not scenario.behaviour.lambda_request_rate_limit:
        out.add(LAMBDA_RATE_THROTTLED)
    if not any(f.web is not None for f in scenario.functions):
        out.add(WEB_RATE_LIMITED)
    if not scenario.authorizers:
        out |= {UNAUTHORIZED, ACCESS_DENIED, AUTHORIZER_ERROR}
    if not scenario.backends:
        out |= {BACKEND_QUEUE_FULL, BACKEND_ERROR}
    return frozenset(out)
