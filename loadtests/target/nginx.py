"""nginx in front of the function runtime, with ``limit_req`` in place of API Gateway's throttles.

:func:`nginx_config` writes a configuration from the scenario;
:class:`~loadtests.target.nginx_server.NginxServer` runs
Debian's nginx (package ``nginx-light``, binary ``/usr/sbin/nginx``) with it in the
foreground, with its own prefix, pid file, logs and temp directories under a temporary
directory, listening on 127.0.0.1 only, and proxying to the runtime
(:mod:`loadtests.target.runtime`).

How the scenario becomes nginx directives
-----------------------------------------
* Routes: a ``map`` from ``"$request_method $uri"`` to a route id, with the precedence of
  :mod:`loadtests.target.routes` (exact strings first, then regular expressions, then
  ``$default``); another map gives the route's upstream path: its function's
  ``/2015-03-31/functions/NAME/invocations``, or its HTTP backend's ``/backends/NAME``. No route: 403 (HTTP API: 404).
* API keys (REST, ``api_key_required``): a ``map`` from ``$http_x_api_key`` to the key's
  usage plan; no plan: 403 ``{"message":"Forbidden"}``.
* Throttles, one ``limit_req_zone`` each, listed in one location in API Gateway's order:
  each usage plan's per-route throttles and per-key throttle (keyed by
  ``$http_x_api_key``), each route's own throttle, the stage default (one key per route,
  or one for all with ``stage_throttle_scope = "shared"``) and the account (one key for
  everything). A zone's key is empty for the requests it does not apply to, and nginx
  skips it for them. An AWS throttle ``{rate, burst}`` becomes ``rate=``
  :func:`~simulator.gateway.nginx.nginx_rate` (whole ``r/s``, else the nearest whole
  ``r/m``) and ``burst=B-1 nodelay`` (nginx lets burst + 1 through at once); burst 0
  becomes ``return 429``. ``limit_req_status 429``.
* Every answer carries nginx's ``$request_id`` as API Gateway's request-id header
  (``x-amzn-RequestId``, HTTP API ``apigw-requestid``), and nginx passes it to the
  function runtime (``x-throttlesim-request-id``), whose invocation log
  (:mod:`loadtests.target.invocation_log`) then says when each proxied request reached
  it, even one nginx answered 504 itself.
* The integration timeout is ``proxy_read_timeout``: nginx answers 504 (HTTP API 503)
  with ``{"message":"Endpoint request timed out"}`` when the runtime has not answered in
  time; the function runs on in the runtime. Routes with different timeouts get one
  internal location each.
* The REST cache is ``proxy_cache``: one zone, keyed by the route and the request's
  ``x-throttlesim-cache-key``, ``proxy_cache_valid 200`` for the route's TTL (in whole
  seconds, at least 1: nginx counts validity in seconds, so an entry expires up to a second
  before the model's), on the cached routes only (a location per integration timeout and
  TTL). Concurrent misses all reach the runtime, as in the model. A hit carries
  ``x-throttlesim-cache: hit``, the cause ``ok`` and no runtime headers (nginx would replay
  the stored ones).
* Authorizers: ``auth_request`` to the authorizer server beside the runtime (its result
  cache, its Lambda invocation, its policy), in a location per authorizer; its 401, 403
  and 500 become API Gateway's ``unauthorized``, ``access_denied`` and
  ``authorizer_error`` (:mod:`loadtests.target.nginx_authorizers`).

nginx's semantics, not AWS's: a request refused by a later zone charges no zone (the
model's default), the arithmetic is integer milli-requests over a millisecond clock
(:mod:`simulator.gateway.nginx`), and there are no usage-plan *quotas* (the
configuration says so and lets such requests through). nginx does not say which zone
refused a request, so a 429's ``x-throttlesim-cause`` lists the throttles that applied
to it, in order, joined by ``|`` (one name when only one applied).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from loadtests.target import nginx_authorizers as na
from loadtests.target.answers import (
    CACHE_HEADER,
    CACHE_KEY_HEADER,
    CAUSE_HEADER,
    COLD_START_HEADER,
    FUNCTION_MS_HEADER,
    NGINX_TIME_HEADER,
    RECEIVED_HEADER,
    Answers,
)
from loadtests.target.http_backend import BACKEND_PATH
from loadtests.target.invocation_log import INVOCATION_REQUEST_ID_HEADER
from loadtests.target.routes import _PARAM, path_pattern, route_parts
from loadtests.target.runtime import INVOKE_PATH
from simulator import outcomes as oc
from simulator.gateway.nginx import nginx_burst, nginx_rate
from simulator.redact import redact_key
from simulator.scenario import Route, Scenario, Throttle
from simulator.scenario.cache import route_caches

__all__ = ["NginxError", "find_nginx", "key_error", "nginx_config", "unwritable_key"]

#: Where Debian's nginx-light puts the binary.
DEBIAN_NGINX = "/usr/sbin/nginx"


class NginxError(RuntimeError):
    """nginx is missing, refused the configuration or did not start."""


def find_nginx() -> str | None:
    """The nginx binary: ``$THROTTLESIM_NGINX``, ``nginx`` on the PATH, or Debian's."""
    for candidate in (os.environ.get("THROTTLESIM_NGINX"), shutil.which("nginx"), DEBIAN_NGINX):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


#: Characters a double-quoted nginx string cannot hold (a regular expression only the first three).
_UNQUOTABLE = '"\n\r\\$;{}'


def _q(text: str, *, regex: bool = False) -> str:
    """A double-quoted nginx string (a regular expression may hold ``\\ $ { }``)."""
    if any(c in text for c in (_UNQUOTABLE[:3] if regex else _UNQUOTABLE)):
        raise ValueError(f"{text!r} cannot be written in an nginx configuration")
    return f'"{text}"'


def unwritable_key(s: Scenario) -> tuple[int, str, str] | None:
    """The first client whose ``api_key`` nginx's configuration cannot hold: (its index,
    the key, the first character in the way), or None. Keys are checked before the
    configuration is written so that the error can name the key without showing it."""
    written = _plan_of_key(s, _Layout(s).plan_id)
    for i, c in enumerate(s.clients):
        key = c.api_key
        if key is not None and key in written:
            bad = next((ch for ch in key if ch in _UNQUOTABLE), None)
            if bad is not None:
                return i, key, bad
    return None


def key_error(s: Scenario, source: str) -> str | None:
    """A one-line error for :func:`unwritable_key`, naming the key's path in *source*
    and showing the key redacted (:func:`simulator.redact.redact_key`), or None."""
    found = unwritable_key(s)
    if found is None:
        return None
    i, key, bad = found
    return (f"{source}: clients.{i}.api_key: the key {redact_key(key)} holds {bad!r}, which an nginx "
            "configuration cannot hold; use another key, or --target emulated")


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


class _Layout:
    """The zones of one scenario, and which of them apply to each (plan, route)."""

    def __init__(self, s: Scenario) -> None:
        self.s = s
        self.route_id = {r.name: f"r{j}" for j, r in enumerate(s.routes)}
        keyed = s.api.type == "REST" and s.api.api_key_required
        self.plan_id = {p.name: f"p{i}" for i, p in enumerate(s.usage_plans)} if keyed else {}
        #: zone name -> (throttle, key variable); maps that define the key variables.
        self.zones: dict[str, tuple[Throttle, str]] = {}
        self.maps: list[str] = []
        #: (plan id or "", route id) -> [(zone name, cause)] in API Gateway's order.
        self.applies: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self._build()

    def _zone(self, name: str, throttle: Throttle, source: str, entries: dict[str, str]) -> None:
        var = f"$throttlesim_key_{name}"
        self.zones[name] = (throttle, var)
        self.maps.append(_map(source, var, {_q(k): v for k, v in entries.items()}))

    def _build(self) -> None:
        s = self.s
        plans = [p for p in s.usage_plans if p.name in self.plan_id]
        for p in plans:
            pid = self.plan_id[p.name]
            for route, t in p.method_throttles.items():
                if route in self.route_id:
                    rid = self.route_id[route]
                    self._zone(f"{pid}_{rid}", t, '"$throttlesim_plan $throttlesim_route"',
                               {f"{pid} {rid}": "$http_x_api_key"})
            if p.throttle is not None:
                self._zone(pid, p.throttle, "$throttlesim_plan", {pid: "$http_x_api_key"})
        stage_keys: dict[str, str] = {}
        for r in s.routes:
            rid = self.route_id[r.name]
            if r.throttle is not None:
                self._zone(rid, r.throttle, "$throttlesim_route", {rid: "1"})
            elif s.stage.throttle is not None:
                stage_keys[rid] = "stage" if s.behaviour.stage_throttle_scope == "shared" else rid
        if stage_keys:
            self._zone("stage", s.stage.throttle, "$throttlesim_route", stage_keys)  # type: ignore[arg-type]
        self.zones["account"] = (s.account.throttle, '"account"')
        for pname in [None, *(p.name for p in plans)]:
            pid = self.plan_id.get(pname, "") if pname else ""
            for r in s.routes:
                rid = self.route_id[r.name]
                levels: list[tuple[str, int]] = []
                if pname is not None:
                    if f"{pid}_{rid}" in self.zones:
                        levels.append((f"{pid}_{rid}", oc.THROTTLED_USAGE_PLAN))
                    if pid in self.zones:
                        levels.append((pid, oc.THROTTLED_USAGE_PLAN))
                if rid in self.zones:
                    levels.append((rid, oc.THROTTLED_METHOD))
                elif rid in stage_keys:
                    levels.append(("stage", oc.THROTTLED_STAGE))
                levels.append(("account", oc.THROTTLED_ACCOUNT))
                self.applies[(pid, rid)] = levels

    def route_map(self, uri: str = "$uri") -> str:
        """``"$request_method <uri>"`` -> route id: exact strings, then regexes, then ``$default``."""
        ranked = []
        for r in self.s.routes:
            method, path = route_parts(r)
            if method:
                ranked.append(((method == "ANY", bool(_PARAM.search(path))), method, path, self.route_id[r.name]))
        exact, regex = [], []
        for (any_method, params), method, path, rid in sorted(ranked, key=lambda e: e[0]):
            if not any_method and not params:
                exact.append(f"        {_q(method + ' ' + path)} {rid};\n")
            else:
                pattern = "~^" + ("[A-Z]+" if any_method else method) + " " + path_pattern(path, escape="pcre") + "$"
                regex.append(f"        {_q(pattern, regex=True)} {rid};\n")
        default = next((self.route_id[r.name] for r in self.s.routes if r.name == "$default"), '""')
        return (f'    map "$request_method {uri}" $throttlesim_route {{\n' + "".join(exact + regex)
                + f"        default {default};\n    }}\n")


def nginx_config(scenario: Scenario, *, port: int, upstream_port: int, prefix: Path,
                 worker_connections: int = 4096, stage: str | None = None, access_log: Path | None = None) -> str:
    """The nginx configuration for *scenario*: listen on 127.0.0.1:*port*, proxy to the
    runtime on 127.0.0.1:*upstream_port*, keep every file under *prefix*.

    With *stage*, nginx speaks only API Gateway's wire format, as a deployed stage would:
    routes live under ``/STAGE/``, and no answer carries the ``x-throttlesim-*`` headers
    (nginx's own answers leave them out; the runtime's are hidden), so a client learns
    only what it would learn from AWS: status, body and the request id. With
    *access_log*, nginx writes one JSON line per request there in the shape of an API
    Gateway access log (:func:`_access_log_format`). A key the configuration cannot hold
    is a :class:`ValueError` that shows it redacted.
    """
    s = scenario
    problem = key_error(s, f"scenario {s.name!r}")
    if problem is not None:
        raise ValueError(problem)
    layout = _Layout(s)
    timeouts = _groups(s)
    head = [
        f"# throttlesim: scenario {s.name!r} on nginx limit_req\n",
        "daemon off;\nmaster_process off;\n",
        f"pid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} notice;\n",
        f"worker_rlimit_nofile {2 * worker_connections + 64};\n",
        f"events {{\n    worker_connections {worker_connections};\n}}\n\n",
    ]
    throttles, closed = _throttle_maps(layout)
    http = _http_block(s, layout, prefix, upstream_port, stage, access_log, timeouts, throttles, closed)
    server = _server_block(s, layout, port, stage, timeouts, closed)
    return "".join(head) + "http {\n" + "".join(http) + "".join(server) + "}\n"


def _throttle_maps(layout: _Layout) -> tuple[dict[str, str], dict[str, str]]:
    """For each usage plan and route: the causes its throttles give, and whether one of them
    has a burst of 0 (closed: every request is refused)."""
    throttles, closed = {}, {}
    for (pid, rid), levels in layout.applies.items():
        throttles[_q(f"{pid} {rid}")] = _q("|".join(dict.fromkeys(oc.CAUSES[c] for _, c in levels)))
        if any(layout.zones[z][0].burst == 0 for z, _ in levels):
            closed[_q(f"{pid} {rid}")] = "1"
    return throttles, closed


def _groups(s: Scenario) -> list[tuple[float, int, int]]:
    """The distinct (integration timeout, cache TTL in whole seconds or 0 for none,
    authorizer index or -1 for none) of the routes: each gets a location of its own."""
    return sorted(set(_route_groups(s)))


def _route_groups(s: Scenario) -> list[tuple[float, int, int]]:
    return [(s.integration_timeout_s(r), 0 if rc is None else max(1, round(rc.ttl_s)), auth)
            for r, rc, auth in zip(s.routes, route_caches(s), na.authorizer_index(s), strict=True)]


def _http_block(s: Scenario, layout: _Layout, prefix: Path, upstream_port: int, stage: str | None,
                access_log: Path | None, timeouts: list[tuple[float, int, int]], throttles: dict[str, str],
                closed: dict[str, str]) -> list[str]:
    """The ``http`` block up to the server: logs, temp paths, the maps from request to route,
    function, usage plan and throttles, the ``limit_req`` zones and the upstream runtime."""
    http = [_access_log_format(s, access_log) if access_log is not None else "    access_log off;\n"]
    http += [f"    {what}_temp_path {prefix / 'temp' / what};\n" for what in TEMP_DIRS]
    http += [
        "    default_type application/json;\n    server_tokens off;\n    keepalive_requests 1000000;\n",
        "    limit_req_status 429;\n    limit_req_log_level info;\n\n",
        *([_map("$uri", "$throttlesim_path", {_q(f"~^/{stage}(/.*)$", regex=True): "$1"})] if stage else []),
        layout.route_map("$throttlesim_path" if stage else "$uri"),
        _map("$throttlesim_route", "$throttlesim_upstream_path",
             {layout.route_id[r.name]: _q(_upstream_path(r)) for r in s.routes}),
        _map("$http_x_api_key", "$throttlesim_plan",
             {_q(key): pid for key, pid in _plan_of_key(s, layout.plan_id).items()}),
        *layout.maps,
    ]
    http.append(_map('"$throttlesim_plan $throttlesim_route"', "$throttlesim_throttles", throttles))
    if closed:
        http.append(_map('"$throttlesim_plan $throttlesim_route"', "$throttlesim_closed", closed))
    if len(timeouts) > 1:
        http.append(_map("$throttlesim_route", "$throttlesim_group",
                         {layout.route_id[r.name]: f"g{timeouts.index(g)}"
                          for r, g in zip(s.routes, _route_groups(s), strict=True)}))
    if any(ttl for _, ttl, _ in timeouts):
        http.append(f"    proxy_cache_path {prefix / 'cache'} levels=1:2 keys_zone=throttlesim_cache:10m "
                    "inactive=2h use_temp_path=off;\n")
        http += [f"    map $upstream_cache_status {var} {{\n        HIT {hit};\n        default {miss};\n    }}\n"
                 for var, hit, miss in _CACHE_MAPS]
    quotas = [p.name for p in s.usage_plans if p.quota is not None and p.name in layout.plan_id]
    if quotas:
        http.append(f"    # usage-plan quotas ({', '.join(quotas)}) have no nginx equivalent: not enforced\n")
    http.append("\n")
    http += [f"    limit_req_zone {key} zone={name}:10m rate={nginx_rate(t.rate)};\n"
             for name, (t, key) in layout.zones.items()]
    http.append(f"\n    upstream throttlesim_lambda {{\n        server 127.0.0.1:{upstream_port};\n"
                "        keepalive 512;\n    }\n\n")
    return http


def _server_block(s: Scenario, layout: _Layout, port: int, stage: str | None, timeouts: list[tuple[float, int, int]],
                  closed: dict[str, str]) -> list[str]:
    """The ``server`` block: the route and key checks, one location per integration timeout
    that applies the ``limit_req`` zones and proxies to the runtime, and the answers nginx
    gives itself (429 throttled, 504 integration timeout)."""
    answers = Answers(s)
    limits = [f"limit_req zone={name}{f' burst={nginx_burst(t.burst)}' if t.burst > 1 else ''} nodelay;"
              for name, (t, _) in layout.zones.items() if t.burst > 0]
    proxy = [
        "proxy_http_version 1.1;", 'proxy_set_header Connection "";', "proxy_next_upstream off;",
        "proxy_connect_timeout 5s;",
        "proxy_pass http://throttlesim_lambda$throttlesim_upstream_path;",
    ]
    rid = f"add_header {request_id_header(s)} $request_id always;"
    time_line = "" if stage else _TIME

    def marks(cause: str, indent: str = "", cold_start: bool = True) -> list[str]:
        return [] if stage else _cause_headers(cause, indent, cold_start)

    # With authorizers, when the request reached the runtime's process (their server).
    received = [na.received_line()] if na.error_pages(s) and not stage else []

    status, body = answers.no_route()
    first = ['if ($throttlesim_route = "") {', f"    {rid}", f"    return {status} '{body.decode()}';", "}"]
    if layout.plan_id:
        status, body = answers.error(oc.FORBIDDEN)
        first += ['if ($throttlesim_plan = "") {', *marks(oc.CAUSES[oc.FORBIDDEN], "    "), f"    {rid}",
                  f"    return {status} '{body.decode()}';", "}"]
    if closed:
        first += ["if ($throttlesim_closed) {", "    return 429;", "}"]
    server = [f"    server {{\n        listen 127.0.0.1:{port} backlog=4096;\n",
              "        error_page 429 = @throttled;\n        error_page 504 = @timeout;\n",
              *(f"        {line}\n" for line in na.error_pages(s)),
              *(f"        {line}\n" for line in _CLOCK), "\n"]

    def location(match: str, lines: list[str]) -> str:
        return f"        location {match} {{\n" + "".join(f"            {line}\n" for line in lines) + "        }\n"

    def proxied(group: tuple[float, int, int]) -> list[str]:
        timeout_s, ttl_s, authorizer = group
        hide = [f"proxy_hide_header {h};" for h in _RUNTIME_HEADERS] if stage or ttl_s else []
        checked = authorizer >= 0
        auth = [*na.checked_lines(authorizer, bool(hide)), *received] if checked else []
        return [*limits, f"proxy_read_timeout {_ms(timeout_s)};", f"proxy_send_timeout {_ms(timeout_s)};",
                *([time_line] if time_line else []), rid,
                f"proxy_set_header {INVOCATION_REQUEST_ID_HEADER} $request_id;", *hide, *auth,
                *(_cache_lines(ttl_s, stage, received=not checked) if ttl_s else []), *proxy]

    if len(timeouts) == 1:
        server.append(location("/", first + proxied(timeouts[0])))
    else:
        server.append(location("/", [*first, "rewrite ^ /__throttlesim/$throttlesim_group last;"]))
        server += [location(f"= /__throttlesim/g{g}", ["internal;", *proxied(t)]) for g, t in enumerate(timeouts)]
    server += [location(match, lines) for match, lines in na.subrequest_locations(s)]
    for cause, _, name in na.REFUSALS if na.error_pages(s) else ():
        status, body = answers.error(cause)
        server.append(location(name, [*marks(oc.CAUSES[cause]), *received, rid,
                                      f"return {status} '{body.decode()}';"]))
    status, body = answers.error(oc.THROTTLED_ACCOUNT)
    server.append(location("@throttled", [*marks("$throttlesim_throttles"), rid,
                                          f"return 429 '{body.decode()}';"]))
    status, body = answers.error(oc.INTEGRATION_TIMEOUT)
    server.append(location("@timeout", [*marks(oc.CAUSES[oc.INTEGRATION_TIMEOUT], cold_start=False), *received, rid,
                                        f"return {status} '{body.decode()}';"]))
    server.append("    }\n")
    return server


def _access_log_format(s: Scenario, path: Path) -> str:
    """An API Gateway-style JSON access log: the fields ``$context`` gives a stage's log
    (requestId, requestTimeEpoch and responseLatency in ms, httpMethod, path, status,
    error.message, integrationLatency in ms), as strings, the way AWS writes them."""
    messages = oc.messages(s)
    status = oc.status_codes(s)
    by_status: dict[str, str] = {}
    for cause in range(len(oc.CAUSES)):
        if messages[cause] and cause != oc.QUOTA_EXCEEDED:  # nginx has no quotas
            by_status.setdefault(f"~^{status[cause]} .", messages[cause])
    no_route = Answers(s).no_route()
    error = {f'"~^{no_route[0]} $"': _q(no_route[1].decode().split('"')[3]),
             **{_q(k, regex=True): _q(v) for k, v in by_status.items()}}
    ms = {'"~^(\\d+)\\.(\\d+)"': "$1$2"}
    fields = ('"requestId":"$request_id","requestTimeEpoch":"$throttlesim_epoch_ms","httpMethod":"$request_method",'
              '"path":"$request_uri","status":"$status","error":{"message":"$throttlesim_error_message"},'
              '"responseLatency":"$throttlesim_response_ms","integrationLatency":"$throttlesim_integration_ms"')
    return (_map('"$status $throttlesim_route"', "$throttlesim_error_message", error)
            + _map("$throttlesim_msec", "$throttlesim_epoch_ms", ms)
            + _map("$request_time", "$throttlesim_response_ms", ms)
            + _map("$upstream_response_time", "$throttlesim_integration_ms", ms)
            + f"    log_format apigw escape=json '{{{fields}}}';\n    access_log {path} apigw;\n")


#: nginx's temporary directories, each under the prefix's ``temp/``.
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
#: The function runtime's own headers, hidden from clients of an AWS-shaped stage.
_RUNTIME_HEADERS = (CAUSE_HEADER, COLD_START_HEADER, RECEIVED_HEADER, FUNCTION_MS_HEADER)


def _upstream_path(route: Route) -> str:
    """Where the runtime serves *route*'s integration: the function's Invoke path, or the
    HTTP backend's (:data:`~loadtests.target.http_backend.BACKEND_PATH`)."""
    if route.function is not None:
        return INVOKE_PATH.replace("{name}", route.function)
    return BACKEND_PATH.replace("{name}", str(route.backend))


#: On a cached route, the runtime's headers as the client gets them: a hit says ``ok``, no
#: cold start, and nothing of the stored answer's runtime headers (``map`` of
#: ``$upstream_cache_status``: variable, value on a hit, value otherwise).
_CACHE_MAPS = (
    ("$throttlesim_cache_state", "hit", "miss"),
    ("$throttlesim_cache_cause", "ok", "$upstream_http_x_throttlesim_cause"),
    ("$throttlesim_cache_cold", "0", "$upstream_http_x_throttlesim_cold_start"),
    ("$throttlesim_cache_received", '""', "$upstream_http_x_throttlesim_received_s"),
    ("$throttlesim_cache_function_ms", '""', "$upstream_http_x_throttlesim_function_ms"),
)


def _cache_lines(ttl_s: int, stage: str | None, *, received: bool = True) -> list[str]:
    """A cached location's ``proxy_cache`` directives and, outside an AWS-shaped stage, the
    runtime's headers put back from :data:`_CACHE_MAPS` (the receive time only with
    *received*: behind an authorizer its server says it)."""
    lines = ["proxy_cache throttlesim_cache;",
             f'proxy_cache_key "$throttlesim_route $http_{CACHE_KEY_HEADER.replace("-", "_")}";',
             f"proxy_cache_valid 200 {ttl_s}s;", "proxy_cache_methods GET HEAD POST;"]
    if stage:
        return lines
    headers = (CACHE_HEADER, CAUSE_HEADER, COLD_START_HEADER, RECEIVED_HEADER, FUNCTION_MS_HEADER)
    return lines + [f"add_header {h} {var} always;" for h, (var, _, _) in zip(headers, _CACHE_MAPS, strict=True)
                    if received or h != RECEIVED_HEADER]


def _map(source: str, var: str, entries: dict[str, str]) -> str:
    body = "".join(f"        {k} {v};\n" for k, v in entries.items())
    return f"    map {source} {var} {{\n{body}        default \"\";\n    }}\n"


#: nginx's clocks at the request's first turn of the event loop, taken in the server's
#: rewrite phase (before ``limit_req``, in the same turn, so at the same cached time):
#: ``$msec`` (wall clock, epoch seconds to the millisecond), ``$connection`` (the
#: connection's serial number) and ``$connection_time`` (seconds, to the millisecond, since
#: nginx accepted the connection). ``limit_req`` counts on ``ngx_current_msec``, a
#: *monotonic* millisecond clock whose ticks are not the wall clock's (the two differ by a
#: fraction of a millisecond), so the wall millisecond alone can be one off; the
#: connection's elapsed time is on the monotonic clock, and validation rebuilds each
#: request's monotonic millisecond from the three (:func:`loadtests.server_clock.on_server_clock`).
#: They go in the NGINX_TIME_HEADER answer header.
_CLOCK = ("set $throttlesim_msec $msec;", "set $throttlesim_connection_time $connection_time;")
_TIME = (f'add_header {NGINX_TIME_HEADER} "$throttlesim_msec $connection $throttlesim_connection_time" '
         "always;")


def request_id_header(s: Scenario) -> str:
    """The response header that carries API Gateway's request id: ``x-amzn-RequestId``
    (REST APIs) or ``apigw-requestid`` (HTTP APIs)."""
    return "x-amzn-RequestId" if s.api.type == "REST" else "apigw-requestid"


def _cause_headers(cause: str, indent: str = "", cold_start: bool = True) -> list[str]:
    """The headers of an answer nginx gives itself. A refusal started no function (cold start
    0); a 504 says nothing about one, because the function's answer never reached nginx."""
    cold = [f"{indent}add_header {COLD_START_HEADER} 0 always;"] if cold_start else []
    return [f"{indent}add_header {CAUSE_HEADER} {cause} always;", *cold, f"{indent}{_TIME}"]


def _plan_of_key(s: Scenario, plan_id: dict[str, str]) -> dict[str, str]:
    """API key -> plan id, from the clients (the first client naming a key decides)."""
    out: dict[str, str] = {}
    for c in s.clients:
        if c.api_key is not None and c.api_key not in out and c.usage_plan in plan_id:
            out[c.api_key] = plan_id[c.usage_plan]  # type: ignore[index]
    return out
