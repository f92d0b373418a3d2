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

A line that is not a JSON object with ``requestId`` and ``requestTimeEpoch`` is counted
and skipped; the first is quoted in the error if no line can be read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from simulator.errors import ThrottlesimError

__all__ = ["AccessLog", "read_access_log"]


class AccessLog:
    """The parsed log: ``rows`` (a DataFrame indexed by request id) and the lines skipped."""

    def __init__(self, rows: Any, skipped: int, first_bad: str) -> None:
        self.rows = rows
        self.skipped = skipped
        self.first_bad = first_bad


def _get(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def read_access_log(path: str | Path) -> AccessLog:
    """Read an API Gateway JSON access log (one object per line)."""
    import pandas as pd

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ThrottlesimError(f"{p}: cannot read the access log: {getattr(exc, 'strerror', None) or exc}") from None
    rows: list[dict[str, Any]] = []
    skipped, first_bad = 0, ""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        request_id = _get(doc, "requestId") if isinstance(doc, dict) else None
        epoch_ms = _number(_get(doc, "requestTimeEpoch")) if isinstance(doc, dict) else math.nan
        if not request_id or math.isnan(epoch_ms):
            skipped += 1
            first_bad = first_bad or line[:120]
            continue
        assert isinstance(doc, dict)
        rows.append({
            "aws_request_id": str(request_id),
            "request_time_s": epoch_ms / 1000.0,
            "log_status": _number(_get(doc, "status")),
            "log_message": str(_get(doc, "error.message") or ""),
            "response_latency_ms": _number(_get(doc, "responseLatency")),
            "integration_latency_ms": _number(_get(doc, "integrationLatency")),
        })
    if not rows:
        detail = f": the first line is {first_bad!r}" if first_bad else ": it is empty"
        raise ThrottlesimError(f"{p}: no access-log line with requestId and requestTimeEpoch{detail}")
    frame = pd.DataFrame(rows).drop_duplicates("aws_request_id", keep="last").set_index("aws_request_id")
    return AccessLog(frame, skipped, first_bad)
