"""The per-attempt log of a load test: one CSV row per HTTP attempt, exact, never aggregated.

Locust's own CSV statistics round response times to two significant digits and
aggregate them; a model is validated against the raw attempts instead. Every attempt
the load test sends is written by Locust's ``events.request`` hook to one CSV per
worker (``attempts-w<k>.csv``); the runner merges them into ``attempts.csv``, sorted by
intended start. Columns, in order:

``intended_start_s``
    when the attempt was meant to start, in seconds since the test's common start: the
    planned arrival for an open client's first attempt, the moment a closed user began
    its task for a closed client's first attempt, and the moment the retry was due
    (answer + backoff) for a retry. ``actual_start_s - intended_start_s`` is the
    scheduling lag: latency measured from the intended start (no coordinated omission)
    is ``latency_ms + 1000 * lag``.
``actual_start_s``
    when the request was handed to the HTTP client, same clock.
``latency_ms``
    from sending the request to reading the whole answer (or to the client's timeout).
``status``
    the HTTP status; ``0`` when no answer came: the client's ``timeout`` fired, or the
    connection failed.
``client``, ``route``
    the scenario's client and route names (``"GET /orders"``).
``request_id``
    ``client#n`` for an open client's n-th planned arrival (n as in the plan), and
    ``client@w<k>u<j>#n`` for closed user j on worker k's n-th task; all attempts of a
    request (its retries) share it.
``attempt``
    1 for the first attempt, 2 for the first retry, ...
``message``
    the ``message`` field of a JSON answer (API Gateway's ``"Too Many Requests"``,
    ``"Limit Exceeded"``, ``"Forbidden"``, ``"Endpoint request timed out"``, ...); for
    status 0, what went wrong on the client side (``"client timeout"``, ...).
``cause``
    the ``x-throttlesim-cause`` response header when the API sends one (a test double
    of the stack can say which level refused the request), else empty.
``cold_start``
    the ``x-throttlesim-cold-start`` header as ``1``/``0``, empty when absent.
``worker``
    the load-generating worker that sent it.
``server_received_s``, ``server_connection``, ``server_connection_ms``, ``function_received_s``
    the local targets' clocks (:func:`server_fields`), empty elsewhere.
``aws_request_id``
    API Gateway's request id (``x-amzn-RequestId``, HTTP API ``apigw-requestid``), which
    ties the attempt to a server's own logs; empty when absent.
``function_ms``
    the ``x-throttlesim-function-ms`` header of the local targets: how long the function's
    environment was busy (init plus run, in ms), the part of the latency the model draws;
    empty when absent.

:func:`to_trace` turns the first attempts back into replay traces, so the model can be
run on exactly the requests that were sent.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pandas as pd

from loadtests.target.answers import (
    CAUSE_HEADER,
    COLD_START_HEADER,
    FUNCTION_MS_HEADER,
    NGINX_TIME_HEADER,
    RECEIVED_HEADER,
)

__all__ = [
    "COLUMNS",
    "AttemptLog",
    "answer_fields",
    "client_error_message",
    "cold_start_flag",
    "merge_logs",
    "read_log",
    "replay_overrides",
    "request_id",
    "response_message",
    "server_fields",
    "server_received",
    "to_trace",
]

COLUMNS: tuple[str, ...] = (
    "intended_start_s",
    "actual_start_s",
    "latency_ms",
    "status",
    "client",
    "route",
    "request_id",
    "attempt",
    "message",
    "cause",
    "cold_start",
    "worker",
    "server_received_s",
    "server_connection",
    "server_connection_ms",
    "function_received_s",
    "function_ms",
    "aws_request_id",
)

_DTYPES: dict[str, Any] = {
    "intended_start_s": "float64",
    "actual_start_s": "float64",
    "latency_ms": "float64",
    "status": "int64",
    "client": "string",
    "route": "string",
    "request_id": "string",
    "attempt": "int64",
    "message": "string",
    "cause": "string",
    "cold_start": "Int8",
    "worker": "int64",
    "server_received_s": "float64",
    "server_connection": "Int64",
    "server_connection_ms": "Int64",
    "function_received_s": "float64",
    "function_ms": "float64",
    "aws_request_id": "string",
}

_MAX_MESSAGE = 200


def response_message(body: bytes | str | None) -> str:
    """The ``message`` field of a JSON object body, or ``""``."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text.startswith("{"):
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        return ""
    if not isinstance(data, dict) or data.get("message") is None:
        return ""
    return " ".join(str(data["message"]).split())[:_MAX_MESSAGE]


def cold_start_flag(value: str | None) -> str:
    """``x-throttlesim-cold-start`` as ``"1"``, ``"0"`` or ``""`` (absent or unreadable)."""
    if value is None:
        return ""
    v = value.strip().lower()
    if v in ("1", "true", "yes"):
        return "1"
    if v in ("0", "false", "no"):
        return "0"
    return ""


def client_error_message(exception: BaseException | None) -> str:
    """What went wrong when an attempt got no answer (status 0), in a few words."""
    if exception is None:
        return "no response"
    # geventhttpclient wraps the socket's error: RetriesExceeded(original=...).
    original = getattr(exception, "original", None)
    if isinstance(original, BaseException):
        exception = original
    if isinstance(exception, TimeoutError) or type(exception).__name__ == "Timeout":  # gevent.Timeout
        return "client timeout"
    if isinstance(exception, ConnectionRefusedError):
        return "connection refused"
    text = " ".join(str(exception).split())
    return f"{type(exception).__name__}: {text}"[:_MAX_MESSAGE] if text else type(exception).__name__


def answer_fields(
    status: int, headers: Mapping[str, str] | None, body: bytes | str | None, exception: BaseException | None
) -> tuple[str, str, str]:
    """The ``message``, ``cause`` and ``cold_start`` columns of one attempt."""
    if not status:
        return client_error_message(exception), "", ""
    if headers is None:
        return response_message(body), "", ""
    cause = (headers.get(CAUSE_HEADER) or "").strip()
    return response_message(body), cause, cold_start_flag(headers.get(COLD_START_HEADER))


def server_received(headers: Mapping[str, str] | None) -> tuple[str, str, str]:
    """When the server received the request, on its own clocks: ``(received_s, connection,
    connection_ms)``, each ``""`` when the server does not say.

    nginx's ``x-throttlesim-nginx-time`` (``"$msec $connection $connection_time"`` taken
    before ``limit_req``, see :mod:`loadtests.target.nginx`) wins over the function runtime's
    ``x-throttlesim-received-s``: nginx is the gateway whose limits decided. ``received_s``
    is epoch seconds; ``connection_ms`` is whole milliseconds on nginx's monotonic clock
    since it accepted connection number ``connection``.
    """
    if headers is None:
        return "", "", ""
    nginx = (headers.get(NGINX_TIME_HEADER) or "").split()
    if len(nginx) == 3:
        try:
            return f"{float(nginx[0]):.3f}", str(int(nginx[1])), str(round(float(nginx[2]) * 1000))
        except ValueError:
            pass
    return _function_received(headers), "", ""


def _function_received(headers: Mapping[str, str] | None) -> str:
    """The function runtime's ``x-throttlesim-received-s`` (epoch seconds), or ``""``."""
    return _number_header(headers, RECEIVED_HEADER)


def _number_header(headers: Mapping[str, str] | None, name: str) -> str:
    """Header *name* when it holds a finite number, else ``""``."""
    value = ((headers or {}).get(name) or "").strip()
    try:
        number = float(value)
    except ValueError:
        return ""
    return value if math.isfinite(number) else ""


def server_fields(headers: Mapping[str, str] | None) -> dict[str, str]:
    """:func:`server_received` as the log's ``server_*`` columns, and the function runtime's
    own receive time (``function_received_s``, epoch seconds) when the request reached it."""
    received, connection, connection_ms = server_received(headers)
    function = _function_received(headers)
    return {"server_received_s": received, "server_connection": connection, "server_connection_ms": connection_ms,
            "function_received_s": function, "function_ms": _number_header(headers, FUNCTION_MS_HEADER),
            "aws_request_id": request_id(headers)}


def request_id(headers: Mapping[str, str] | None) -> str:
    """API Gateway's request id of an answer: ``x-amzn-RequestId`` (REST), ``apigw-requestid``
    (HTTP), or ``""``."""
    h = headers or {}
    value = h.get("x-amzn-RequestId") or h.get("x-amzn-requestid") or h.get("apigw-requestid") or ""
    return re.sub(r"[^A-Za-z0-9._:-]", "", value)[:100]


class AttemptLog:
    """Appends attempt rows to one worker's CSV (header first)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The writer holds its file open from one write() to the next, until close().
        self._fh: IO[str] = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._w = csv.writer(self._fh)
        self._w.writerow(COLUMNS)
        self.rows = 0

    def write(
        self,
        *,
        intended_start_s: float,
        actual_start_s: float,
        latency_ms: float,
        status: int,
        client: str,
        route: str,
        request_id: str,
        attempt: int,
        message: str,
        cause: str,
        cold_start: str,
        worker: int,
        server_received_s: str = "",
        server_connection: str = "",
        server_connection_ms: str = "",
        function_received_s: str = "",
        function_ms: str = "",
        aws_request_id: str = "",
    ) -> None:
        self._w.writerow(
            (
                f"{intended_start_s:.6f}",
                f"{actual_start_s:.6f}",
                f"{latency_ms:.3f}",
                status,
                client,
                route,
                request_id,
                attempt,
                message,
                cause,
                cold_start,
                worker,
                server_received_s,
                server_connection,
                server_connection_ms,
                function_received_s,
                function_ms,
                aws_request_id,
            )
        )
        self.rows += 1

    def flush(self) -> None:
        if not self._fh.closed:
            self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def _read_raw(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)


def merge_logs(paths: Sequence[str | Path], out: str | Path) -> int:
    """Merge worker logs into *out*, sorted by intended then actual start; the row count."""
    frames = [_read_raw(p) for p in paths if Path(p).exists() and Path(p).stat().st_size > 0]
    merged = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    merged = merged.reindex(columns=list(COLUMNS), fill_value="")
    if len(merged):
        keys = merged[["intended_start_s", "actual_start_s"]].astype(float)
        merged = merged.iloc[keys.sort_values(list(keys.columns), kind="stable").index]
    merged.to_csv(out, index=False)
    return len(merged)


def read_log(path: str | Path) -> pd.DataFrame:
    """An attempt log (a worker's or the merged one) as a typed DataFrame, one row per attempt."""
    raw = _read_raw(path).reindex(columns=list(COLUMNS), fill_value="")
    out = pd.DataFrame(index=raw.index)
    for col, dtype in _DTYPES.items():
        values = raw[col]
        if dtype == "string":
            out[col] = values.astype("string")
        elif dtype in ("Int8", "Int64"):
            out[col] = pd.to_numeric(values.replace("", None)).astype(dtype)
        else:
            out[col] = pd.to_numeric(values).astype(dtype)
    return out


def _safe_name(client: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", client) or "client"


def to_trace(
    log: str | Path | pd.DataFrame,
    out_dir: str | Path,
    *,
    clients: Iterable[str] | None = None,
) -> dict[str, Path]:
    """Write each client's observed arrivals as a replay trace; ``{client: path}``.

    One CSV per client (``trace-<client>.csv``) with a ``time_s,route`` header and one row
    per logical request: the intended start of its first attempt and its route. Retries
    are left out (the model applies the client's retry policy itself). Closed clients'
    rows are what their users sent; replaying them makes the client open.
    """
    df = read_log(log) if not isinstance(log, pd.DataFrame) else log
    first = df[df["attempt"] == 1].sort_values("intended_start_s", kind="stable")
    wanted = set(clients) if clients is not None else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for client, rows in first.groupby("client", sort=False):
        name = str(client)
        if wanted is not None and name not in wanted:
            continue
        path = out / f"trace-{_safe_name(name)}.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(("time_s", "route"))
            for t, route in zip(rows["intended_start_s"], rows["route"], strict=True):
                w.writerow((f"{max(0.0, float(t)):.6f}", route))
        paths[name] = path
    return paths


def replay_overrides(traces: Mapping[str, str | Path]) -> dict[str, Any]:
    """Scenario overrides that replay *traces* (from :func:`to_trace`) in the model.

    ``simulator.load_scenario(path, overrides=replay_overrides(traces))``.
    """
    return {
        f"clients.{client}.arrivals": {"process": "replay", "file": str(Path(p).resolve())}
        for client, p in traces.items()
    }
