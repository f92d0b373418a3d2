"""API Gateway access logs in JSON: when each request came, with which key, and what it got.

An access log line is a JSON object whose keys the stage's format chooses; these are read
under their usual names (the ``$context`` variable without ``$context.``, or its last part):

* time: ``requestTimeEpoch`` (milliseconds) or ``requestTime`` (``06/Dec/2026:04:18:27 +0000``);
* route: ``routeKey`` (HTTP APIs), else ``httpMethod`` + ``resourcePath``;
* ``status``, ``error.responseType`` (or ``responseType``), ``integrationLatency`` and
  ``responseLatency`` (REST; HTTP APIs: ``integration.latency`` / ``responseLatency``), in ms;
* the key: ``identity.apiKeyId`` (or ``apiKeyId``, ``apiKey``); ``-`` means none;
* ``requestId`` (the id the client got back as ``x-amzn-RequestId``) and ``error.message``.

Which keys a line must have depends on the reader: calibration needs the route and the
status (``need=("route", "status")``, the default), validation joins on the request id
(``need=("request_id",)``); every line needs its time. A line without them is counted and
skipped, and reading goes on. This is the one reader of access logs: ``throttlesim calibrate``
and ``throttlesim validate --access-log`` both use it.

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.stack.errors import StackError
from simulator.stack.logfile import LogFile, log_lines

__all__ = ["AccessLog", "Request", "read_access_log"]


@dataclass(frozen=True)
class Request:
    """One access-log line; a field the line does not hold is None."""

    time_s: float
    route: str | None
    status: int | None
    response_type: str | None
    api_key: str | None
    integration_ms: float | None
    response_ms: float | None
    request_id: str | None = None
    message: str | None = None


#: What each ``need`` name means in a message.
_NEEDS = {"route": "routeKey, or httpMethod and resourcePath", "status": "status", "request_id": "requestId"}


@dataclass
class AccessLog(LogFile):
    requests: list[Request] = field(default_factory=list)


def _get(entry: dict[str, Any], *names: str) -> Any:
    for name in names:
        node: Any = entry
        if name in entry:
            node = entry[name]
        else:
            for part in name.split("."):
                node = node.get(part) if isinstance(node, dict) else None
        if node not in (None, "-", ""):
            return node
    return None


def _time(entry: dict[str, Any]) -> float:
    epoch = _get(entry, "requestTimeEpoch", "requestTimeEpochMs")
    if epoch is not None:
        value = float(epoch)
        return value / 1000.0 if value > 1e11 else value
    text = _get(entry, "requestTime")
    if text is None:
        raise ValueError("no requestTime or requestTimeEpoch")
    return datetime.strptime(str(text), "%d/%b/%Y:%H:%M:%S %z").timestamp()


def _ms(value: Any) -> float | None:
    return None if value is None else float(value)


def _request(entry: dict[str, Any], need: tuple[str, ...]) -> Request:
    route = _get(entry, "routeKey")
    if route is None:
        method, path = _get(entry, "httpMethod"), _get(entry, "resourcePath")
        route = f"{method} {path}" if method is not None and path is not None else None
    status = _get(entry, "status")
    request_id = _get(entry, "requestId")
    request = Request(time_s=_time(entry), route=None if route is None else str(route),
                      status=None if status is None else int(status),
                      response_type=_get(entry, "error.responseType", "responseType", "errorResponseType"),
                      api_key=_get(entry, "identity.apiKeyId", "apiKeyId", "apiKey"),
                      integration_ms=_ms(_get(entry, "integrationLatency", "integration.latency")),
                      response_ms=_ms(_get(entry, "responseLatency")),
                      request_id=None if request_id is None else str(request_id),
                      message=_get(entry, "error.message"))
    for name in need:
        if getattr(request, name) is None:
            raise ValueError(f"no {_NEEDS[name]}")
    return request


def read_access_log(path: str | Path, need: tuple[str, ...] = ("route", "status")) -> AccessLog:
    """The requests of a JSON access log (one object per line, or CloudWatch's export with the
    object in ``message``), in time order; every request has the fields named in *need*."""
    source = str(path)
    log = AccessLog(source=source)
    for number, line in log_lines(path):
        try:
            entry = json.loads(line)
            if isinstance(entry, dict) and isinstance(entry.get("message"), str):
                entry = json.loads(entry["message"])
            log.requests.append(_request(entry, need))
        except (ValueError, TypeError, AttributeError) as exc:
            log.skip(number, str(exc))
    if not log.requests:
        fields = ", ".join(["requestTime or requestTimeEpoch", *(_NEEDS[n] for n in need)])
        first = f"; the first: {log.first_unreadable}" if log.first_unreadable else ": it is empty"
        raise StackError(source, f"holds no readable access-log line (JSON with {fields}){first}")
    log.requests.sort(key=lambda r: r.time_s)
    return log
