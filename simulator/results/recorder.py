"""The columns an engine writes during a run: one row per HTTP attempt, one per logical
request (which may span several attempts when the client retries), and the changes of
each function's concurrency. :class:`~simulator.results.records.Result` reads them."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Recorder", "attempt_columns"]

_ATTEMPT_INT = (
    "request", "attempt", "client", "route", "function", "status", "cause", "gateway_status", "gateway_cause", "flags",
    "authorizer_function", "authorizer_cause", "authorizer_flags",
)
_ATTEMPT_FLOAT = ("time_s", "latency_s", "gateway_latency_s", "integration_latency_s", "init_s", "run_s",
                  "authorizer_latency_s", "authorizer_init_s", "authorizer_run_s")
#: The authorizer's columns and their value when no authorizer was passed (a scenario without
#: authorizers records none: :class:`Result` fills them).
_AUTHORIZER_COLUMNS = {"authorizer_function": -1, "authorizer_cause": -1, "authorizer_flags": 0,
                       "authorizer_latency_s": 0.0, "authorizer_init_s": 0.0, "authorizer_run_s": 0.0}
#: The status columns and the cause each follows from (``outcomes.status_codes``): a
#: recorder without *statuses* leaves them to :func:`attempt_columns`.
_STATUS_OF = {"status": "cause", "gateway_status": "gateway_cause"}
_REQUEST_INT = ("client", "route", "attempts", "status", "cause")
_REQUEST_FLOAT = ("time_s", "end_s")


class Recorder:
    """Append-only columns an engine fills during a run (without *authorizers*, none of theirs;
    without *statuses*, no attempt status codes)."""

    def __init__(self, authorizers: bool = True, statuses: bool = True) -> None:
        self.a_int = {k: array("q") for k in _ATTEMPT_INT
                      if (authorizers or k not in _AUTHORIZER_COLUMNS) and (statuses or k not in _STATUS_OF)}
        self.a_float = {k: array("d") for k in _ATTEMPT_FLOAT if authorizers or k not in _AUTHORIZER_COLUMNS}
        self.r_int = {k: array("q") for k in _REQUEST_INT}
        self.r_float = {k: array("d") for k in _REQUEST_FLOAT}
        self._request_row: tuple[Callable[[Any], None], ...] = (
            *(c.append for c in self.r_int.values()), *(c.append for c in self.r_float.values()))
        #: (time, function, concurrency after the change) at every change.
        self.conc_t = array("d")
        self.conc_f = array("q")
        self.conc_n = array("q")
        self._conc_row = (self.conc_t.append, self.conc_f.append, self.conc_n.append)
        #: (time, function, configured provisioned concurrency) at every change during the run.
        self.prov_t = array("d")
        self.prov_f = array("q")
        self.prov_n = array("q")
        #: Every request an HTTP backend accepted: arrival, backend, start and end of its
        #: service, and its state (answered, served after the gateway gave up, or skipped;
        #: :mod:`simulator.integrations.http_backend`).
        self.back_t = array("d")
        self.back_b = array("q")
        self.back_start = array("d")
        self.back_end = array("d")
        self.back_state = array("q")

    def appenders(self, *columns: str) -> tuple[Callable[[Any], None], ...]:
        """The ``append`` of each named attempt column (for an engine to bind once)."""
        return tuple((self.a_int[k] if k in self.a_int else self.a_float[k]).append for k in columns)

    def new_request(self, client: int, route: int, t: float) -> int:
        rid = len(self.r_float["time_s"])
        put_client, put_route, put_attempts, put_status, put_cause, put_time, put_end = self._request_row
        put_client(client)
        put_route(route)
        put_attempts(0)
        put_status(-1)
        put_cause(-1)
        put_time(t)
        put_end(math.nan)
        return rid

    def finish_request(self, rid: int, end: float, attempts: int, status: int, cause: int) -> None:
        self.r_int["attempts"][rid] = attempts
        self.r_int["status"][rid] = status
        self.r_int["cause"][rid] = cause
        self.r_float["end_s"][rid] = end

    def concurrency(self, now: float, function: int, busy: int) -> None:
        put_time, put_function, put_busy = self._conc_row
        put_time(now)
        put_function(function)
        put_busy(busy)

    def provisioned(self, t: float, function: int, configured: int) -> None:
        self.prov_t.append(t)
        self.prov_f.append(function)
        self.prov_n.append(configured)

    def backend_request(self, t: float, backend: int, start: float, end: float, state: int) -> None:
        self.back_t.append(t)
        self.back_b.append(backend)
        self.back_start.append(start)
        self.back_end.append(end)
        self.back_state.append(state)


def attempt_columns(recorder: Recorder, statuses: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The recorder's attempt columns as arrays, in their order; an authorizer column it left
    out holds its constant, a status column the status of its cause (*statuses*, by cause)."""
    n, out = len(recorder.a_float["time_s"]), {}
    for names, cols, dt in ((_ATTEMPT_INT, recorder.a_int, np.int64), (_ATTEMPT_FLOAT, recorder.a_float, np.float64)):
        for k in (*names, *(k for k in cols if k not in names)):
            if k in cols:
                out[k] = np.frombuffer(cols[k], dt)
            elif k in _STATUS_OF:
                out[k] = np.asarray(statuses, dtype=np.int64)[np.frombuffer(cols[_STATUS_OF[k]], dt)]
            else:
                out[k] = np.full(n, _AUTHORIZER_COLUMNS[k], dt)
    return out
