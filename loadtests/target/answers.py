"""What API Gateway answers for each cause: status code, JSON body and the two headers.

The statuses come from :func:`simulator.outcomes.status_codes` (so the behaviour switches
apply); the bodies are API Gateway's default gateway responses, ``{"message": ...}`` (for
an HTTP backend's refusal and errors, the answer the backend's own proxy typically gives,
which a proxy integration passes through):

================================  ====================  ===============================
cause                             REST API              HTTP API
================================  ====================  ===============================
forbidden                         403 Forbidden         --
unauthorized                      401 Unauthorized      401 Unauthorized
access_denied                     403 User is not       403 Forbidden
                                  authorized to access
                                  this resource with an
                                  explicit deny
authorizer_error                  500 Internal server   500 Internal Server Error
                                  error
throttled_* (any throttle)        429 Too Many Requests 429 Too Many Requests
quota_exceeded                    429 Limit Exceeded    --
lambda_throttled,                 500 (502) Internal    500 Internal Server Error
lambda_rate_throttled             server error
function_error, function_timeout  502 Internal server   500 Internal Server Error
                                  error
backend_queue_full                503 Service           503 Service Unavailable
                                  Unavailable (502 Bad  (502 Bad Gateway)
                                  Gateway)
backend_error                     500 Internal Server   500 Internal Server Error
                                  Error
integration_timeout               504 Endpoint request  503 Service Unavailable
                                  timed out             (504 Endpoint request timed out)
web_rate_limited                  429 Too Many Requests 429 Too Many Requests
no route matches                  403 Missing           404 Not Found
                                  Authentication Token
================================  ====================  ===============================

Every answer carries ``x-throttlesim-cause`` (the cause's name in
:data:`simulator.outcomes.CAUSES`; absent when no route matches, which the model does not
know) and ``x-throttlesim-cold-start`` (``1`` when a new execution environment was
initialised for the request, else ``0``). A load test reads them from the response
headers; they are the only additions to what AWS would send.
"""

from __future__ import annotations

import json

from simulator import outcomes as oc
from simulator.scenario import Scenario

__all__ = [
    "CAUSE_HEADER",
    "COLD_START_HEADER",
    "ENVIRONMENT_HEADER",
    "FUNCTION_MS_HEADER",
    "INIT_MS_HEADER",
    "INVOKE_PATH",
    "NGINX_TIME_HEADER",
    "PROVISIONED_HEADER",
    "RECEIVED_HEADER",
    "RUN_MS_HEADER",
    "THROTTLE_REASON_HEADER",
    "Answers",
    "CACHE_HEADER",
    "CACHE_KEY_HEADER",
    "AUTHORIZER_MS_HEADER",
    "AUTHORIZER_PATH",
]

#: The Lambda Invoke API path that nginx proxies to; ``{name}`` is the function's name.
INVOKE_PATH = "/2015-03-31/functions/{name}/invocations"

#: Where the independent runtime's process answers for the scenario's authorizer number
#: ``{index}`` (:mod:`loadtests.target.lambda_authorizers`); nginx's ``auth_request`` asks it.
AUTHORIZER_PATH = "/authorizers/{index}"

CAUSE_HEADER = "x-throttlesim-cause"
COLD_START_HEADER = "x-throttlesim-cold-start"
#: When the server received the request, in seconds on its own clock (from server start):
#: lets validation replay requests at the instants the server saw them.
RECEIVED_HEADER = "x-throttlesim-received-s"
#: What the independent Lambda runtime (:mod:`loadtests.target.lambda_runtime`) saw: the
#: execution environment that served the request (``function#n``), its init time (request
#: to end of Init, cold starts only) and the handler's run time, in milliseconds, whether
#: the environment was provisioned, and for a throttle which rule refused it.
ENVIRONMENT_HEADER = "x-throttlesim-environment"
INIT_MS_HEADER = "x-throttlesim-init-ms"
RUN_MS_HEADER = "x-throttlesim-run-ms"
PROVISIONED_HEADER = "x-throttlesim-provisioned"
THROTTLE_REASON_HEADER = "x-throttlesim-throttle-reason"
#: How long the invocation kept its environment busy (init, on a cold start, plus the run),
#: in milliseconds: the part of the answer's latency the model draws itself. The rest of
#: what a client waits is the target's own overhead, which validation measures.
FUNCTION_MS_HEADER = "x-throttlesim-function-ms"
#: What the route's authorizer took before the integration was called (its invocation, or
#: its fixed latency), in milliseconds: nginx passes it to the runtime with the invocation,
#: and the runtime adds it to the answer's ``x-throttlesim-function-ms``, so that the
#: target's own overhead is measured beyond both, as the model counts them.
AUTHORIZER_MS_HEADER = "x-throttlesim-authorizer-ms"
#: The REST cache: the key a load test's request asks for (the model's cache key; in AWS
#: the values of the method's cache key parameters), and whether the emulated target's
#: cache answered (``hit``) or the request went on to the function (``miss``).
CACHE_KEY_HEADER = "x-throttlesim-cache-key"
CACHE_HEADER = "x-throttlesim-cache"
#: nginx's clocks at a request's first turn of its event loop (see loadtests.target.nginx).
NGINX_TIME_HEADER = "x-throttlesim-nginx-time"


class Answers:
    """Status codes and bodies of one scenario's API (REST or HTTP)."""

    def __init__(self, scenario: Scenario) -> None:
        self.rest = scenario.api.type == "REST"
        self.status = oc.status_codes(scenario)
        self.messages = oc.messages(scenario)

    def message(self, cause: int) -> str:
        """The ``message`` of the default gateway response for *cause* (not ``ok``)."""
        text = self.messages[cause]
        if not text:
            raise ValueError(f"no gateway response for cause {oc.CAUSES[cause]!r}")
        return text

    def error(self, cause: int) -> tuple[int, bytes]:
        """``(status, body)`` of the gateway's answer for *cause*."""
        return self.status[cause], body(self.message(cause))

    def no_route(self) -> tuple[int, bytes]:
        """What API Gateway answers when no route matches the method and path."""
        return (403, body("Missing Authentication Token")) if self.rest else (404, body("Not Found"))


def body(message: str) -> bytes:
    """``{"message":"..."}`` as API Gateway writes it (no spaces)."""
    return json.dumps({"message": message}, separators=(",", ":")).encode()


def headers(cause: int, cold_start: bool = False, received_s: float | None = None,
            function_s: float | None = None) -> dict[str, str]:
    out = {CAUSE_HEADER: oc.CAUSES[cause], COLD_START_HEADER: "1" if cold_start else "0"}
    if received_s is not None:
        out[RECEIVED_HEADER] = f"{received_s:.6f}"
    if function_s is not None:
        out[FUNCTION_MS_HEADER] = f"{function_s * 1000:.3f}"
    return out
