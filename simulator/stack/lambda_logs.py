"""Lambda's REPORT lines: what every invocation took, in the text and the JSON log formats.

At the end of every invocation Lambda logs one report. In the text format::

    REPORT RequestId: 8f5... Duration: 45.12 ms  Billed Duration: 46 ms  Memory Size: 512 MB
    Max Memory Used: 88 MB  Init Duration: 312.40 ms  Status: timeout

(tab-separated; ``Init Duration`` only after a cold start, ``Restore Duration`` after a SnapStart
restore, ``Status`` for errors and timeouts in newer runtimes, X-Ray ids when tracing is on). In
the JSON format the same facts are a ``platform.report`` event: ``record.metrics.durationMs``,
``initDurationMs``, ``restoreDurationMs``, ``memorySizeMB``, ``maxMemoryUsedMB`` and
``record.status`` (``success``, ``error``, ``timeout``). Lines of either kind may carry a
prefix (a timestamp) or arrive wrapped in a CloudWatch Logs event (``message``, with its
``logStreamName`` and ``timestamp``, as ``aws logs filter-log-events`` prints them). Each log stream
is one execution environment, which :mod:`~simulator.stack.environments` reads.

https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html
https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.stack.errors import StackError
from simulator.stack.logfile import LogFile, log_lines

__all__ = ["Invocation", "ReportLog", "read_reports"]

_FIELD = re.compile(r"(Init Duration|Restore Duration|Billed Duration|(?<!Billed )(?<!Init )(?<!Restore )Duration|"
                    r"Memory Size|Max Memory Used|Status):\s*([0-9.]+|[A-Za-z.]+)")


@dataclass(frozen=True)
class Invocation:
    duration_ms: float
    init_ms: float | None = None
    status: str = "success"
    memory_mb: float | None = None
    max_memory_used_mb: float | None = None
    #: The log stream (one execution environment) and when the report was logged (Unix seconds), if known.
    stream: str | None = None
    logged_s: float | None = None


def _iso_seconds(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class ReportLog(LogFile):
    """The invocations of one function's logs, and what could not be read."""

    invocations: list[Invocation] = field(default_factory=list)


def _from_text(line: str) -> Invocation | None:
    at = line.find("REPORT RequestId:")
    if at < 0:
        return None
    fields = {k: v.strip() for k, v in _FIELD.findall(line[at:])}
    if "Duration" not in fields:
        raise ValueError("no Duration")
    number = {k: float(v) for k, v in fields.items() if k != "Status"}
    prefix = line[:at].split()
    return Invocation(duration_ms=number["Duration"], init_ms=number.get("Init Duration"),
                      status=fields.get("Status", "success").lower(), memory_mb=number.get("Memory Size"),
                      max_memory_used_mb=number.get("Max Memory Used"),
                      logged_s=_iso_seconds(prefix[0]) if prefix else None)


def _from_json(event: Any) -> Invocation | None:
    if isinstance(event, dict) and isinstance(event.get("message"), str):
        message = event["message"].strip()
        inner = _from_json(json.loads(message)) if message.startswith("{") else _from_text(message)
        if inner is None:
            return None
        logged = float(event["timestamp"]) / 1000 if "timestamp" in event else inner.logged_s
        return replace(inner, stream=event.get("logStreamName"), logged_s=logged)
    if not (isinstance(event, dict) and event.get("type") == "platform.report"):
        return None
    record = event.get("record") or {}
    metrics = record.get("metrics") or {}
    init = metrics.get("initDurationMs")
    return Invocation(duration_ms=float(metrics["durationMs"]), init_ms=float(init) if init is not None else None,
                      status=str(record.get("status", "success")).lower(),
                      memory_mb=metrics.get("memorySizeMB"), max_memory_used_mb=metrics.get("maxMemoryUsedMB"),
                      logged_s=_iso_seconds(event.get("time")))


def read_reports(path: str | Path) -> ReportLog:
    """Every REPORT of a log file; lines that are neither reports nor other log lines are counted."""
    source = str(path)
    log = ReportLog(source=source)
    for number, stripped in log_lines(path):
        try:
            invocation = _from_json(json.loads(stripped)) if stripped.startswith("{") else _from_text(stripped)
        except (ValueError, KeyError, TypeError):
            log.skip(number, stripped[:120])
            continue
        if invocation is not None:
            log.invocations.append(invocation)
    if not log.invocations:
        raise StackError(source, "holds no Lambda REPORT lines (text or JSON platform.report)")
    return log
