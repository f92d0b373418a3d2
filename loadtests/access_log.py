"""API Gateway access logs in JSON, read for validation.

A stage's access log (``AccessLogSettings`` with a JSON format of ``$context``
variables) is the only record of what the gateway itself saw: when each request
arrived, what it answered, and how long the integration took. Given with
``throttlesim validate --target URL --access-log FILE``, it puts each attempt of the load
test on the gateway's own clock (joined on the request id the client got back), and the
gateway's overhead (``responseLatency - integrationLatency``) is measured rather than
guessed.

The format is the user's choice; these keys are read (dotted names are nested objects,
as AWS's JSON templates write them), every value a number or a string holding one:

=====================  ===========================  ======================================
key                    ``$context`` variable        use
=====================  ===========================  ======================================
``requestId``          ``$context.requestId``       join with the attempt (required)
``requestTimeEpoch``   ``$context.requestTimeEpoch`` arrival, ms since the epoch (required)
``status``             ``$context.status``          the answer
``error.message``      ``$context.error.message``   the gateway's message, for the cause
``responseLatency``    ``$context.responseLatency`` ms, gateway in to gateway out
``integrationLatency`` ``$context.integrationLatency`` ms spent in the integration
=====================  ===========================  ======================================

The lines are read by :func:`simulator.stack.access_logs.read_access_log` (the reader
``throttlesim calibrate`` uses too), which also takes ``requestTime`` for the time and
CloudWatch's export format; a line without ``requestId`` or a time is counted and skipped,
and the first is quoted; a log with no usable line is one error.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from simulator.stack.access_logs import read_access_log as _read_entries

__all__ = ["AccessLog", "read_access_log"]


class AccessLog:
    """The parsed log: ``rows`` (a DataFrame indexed by request id) and the lines skipped."""

    def __init__(self, rows: Any, skipped: int, first_bad: str) -> None:
        self.rows = rows
        self.skipped = skipped
        self.first_bad = first_bad


def _number(value: float | None) -> float:
    return math.nan if value is None else value


def read_access_log(path: str | Path) -> AccessLog:
    """Read an API Gateway JSON access log (one object per line)."""
    import pandas as pd

    log = _read_entries(path, need=("request_id",))
    rows = [{
        "aws_request_id": r.request_id,
        "request_time_s": r.time_s,
        "log_status": _number(r.status),
        "log_message": str(r.message or ""),
        "response_latency_ms": _number(r.response_ms),
        "integration_latency_ms": _number(r.integration_ms),
    } for r in log.requests]
    frame = pd.DataFrame(rows).drop_duplicates("aws_request_id", keep="last").set_index("aws_request_id")
    return AccessLog(frame, log.unreadable, log.first_unreadable)
