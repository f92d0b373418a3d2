"""nginx's part of the scenario's authorizers: ``auth_request`` to the authorizer server.

A route with an authorizer gets a location of its own (:mod:`loadtests.target.nginx` groups
routes by integration timeout, cache TTL and authorizer) whose ``auth_request`` asks an
internal location, one per authorizer, which proxies the request's headers (not its body)
to :data:`~loadtests.target.answers.AUTHORIZER_PATH` on the independent runtime's server
(:mod:`loadtests.target.lambda_authorizers`: the result cache, the Lambda invocation, the
policy). ``auth_request`` runs in nginx's access phase, after the ``limit_req`` zones of the
preaccess phase, so a throttled request invokes no authorizer, as in the model; and before
the content phase, so the REST cache (``proxy_cache``) sits behind the authorizer, as in
the model.

nginx answers what the authorizer server says: a 2xx goes on to the integration, with
the authorizer's time in ``x-throttlesim-authorizer-ms``; a 401 or 403 is passed on by
``auth_request`` and any other status becomes 500; ``error_page`` sends the three to named
locations that answer as API Gateway does (401 ``unauthorized``, 403 ``access_denied``,
500 ``authorizer_error``). The ``error_page`` lines are the server's, since a location that
had its own would lose the server's 429 and 504 pages. An ``error_page`` does not touch a
``return`` with a body (the 403 of a missing API key), nor an upstream's own 500 (a
Lambda throttle), which nginx passes through unchanged.
"""

from __future__ import annotations

from loadtests.target.answers import AUTHORIZER_MS_HEADER, AUTHORIZER_PATH, FUNCTION_MS_HEADER, RECEIVED_HEADER
from simulator import outcomes as oc
from simulator.scenario import Scenario

__all__ = ["REFUSALS", "authorizer_index", "checked_lines", "error_pages", "received_line", "subrequest_locations"]

#: What nginx answers for an authorizer's refusal: (cause, the status ``auth_request``
#: ends with, the named location that answers it).
REFUSALS = ((oc.UNAUTHORIZED, 401, "@unauthorized"), (oc.ACCESS_DENIED, 403, "@access_denied"),
            (oc.AUTHORIZER_ERROR, 500, "@authorizer_error"))

#: How long nginx waits for the authorizer server beyond what the server itself waits.
_MARGIN_S = 60.0


def authorizer_index(s: Scenario) -> list[int]:
    """Each route's authorizer, as its index in ``s.authorizers`` (-1 for none)."""
    names = [a.name for a in s.authorizers]
    return [-1 if (a := s.route_authorizer(r)) is None else names.index(a.name) for r in s.routes]


def _uri(index: int) -> str:
    return f"/__throttlesim/auth{index}"


def error_pages(s: Scenario) -> list[str]:
    """The server's ``error_page`` lines for the authorizers' refusals (none without authorizers)."""
    if not any(i >= 0 for i in authorizer_index(s)):
        return []
    return [f"error_page {status} = {name};" for _, status, name in REFUSALS]


#: What nginx keeps of the authorizer server's answer: the time the check took, and when
#: the request reached the runtime's process.
_TOOK = "$throttlesim_authorizer_ms"
_RECEIVED = "$throttlesim_authorizer_received"


def _upstream(header: str) -> str:
    return "$upstream_http_" + header.replace("-", "_")


def checked_lines(index: int, hidden: bool) -> list[str]:
    """The lines of a location whose routes authorizer *index* checks. Unless the stage
    hides the target's headers, the answer's ``x-throttlesim-received-s`` becomes the
    authorizer server's (*hidden*: the runtime's own one is hidden already)."""
    return [f"auth_request {_uri(index)};", f"auth_request_set {_TOOK} {_upstream(FUNCTION_MS_HEADER)};",
            f"auth_request_set {_RECEIVED} {_upstream(RECEIVED_HEADER)};",
            f"proxy_set_header {AUTHORIZER_MS_HEADER} {_TOOK};",
            *([] if hidden else [f"proxy_hide_header {RECEIVED_HEADER};"])]


def received_line() -> str:
    """The header of an answer on a route with an authorizer that says when the request
    reached the runtime's process (nginx leaves it out when the variable is empty)."""
    return f"add_header {RECEIVED_HEADER} {_RECEIVED} always;"


def subrequest_locations(s: Scenario) -> list[tuple[str, list[str]]]:
    """``(match, lines)`` of each used authorizer's internal location: its subrequest goes
    to the authorizer server with the client's headers and no body."""
    out = []
    for index in sorted({i for i in authorizer_index(s) if i >= 0}):
        a = s.authorizers[index]
        waits_s = a.timeout if a.timeout is not None else s.function(a.function).timeout if a.function else a.latency
        out.append((f"= {_uri(index)}", [
            "internal;", "proxy_http_version 1.1;", 'proxy_set_header Connection "";',
            "proxy_pass_request_body off;", 'proxy_set_header Content-Length "";', "proxy_next_upstream off;",
            "proxy_connect_timeout 5s;", f"proxy_read_timeout {round(waits_s + _MARGIN_S)}s;",
            f"proxy_pass http://throttlesim_lambda{AUTHORIZER_PATH.replace('{index}', str(index))};",
        ]))
    return out
