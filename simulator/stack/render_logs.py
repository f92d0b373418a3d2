"""A run's records written the way AWS logs them: REPORT lines and API Gateway access logs.

This is how the calibration is checked against a known truth (and how to try
``throttlesim calibrate`` without an AWS account): run a scenario with records, render them
as the logs AWS would have written, and calibrate from those.

* :func:`report_lines`: one Lambda REPORT line per invocation that ran, in the text format
  (tab-separated, ``Init Duration`` after a cold start, ``Status: error``/``timeout``) or the
  JSON format (a ``platform.report`` event);
* :func:`access_log_lines`: one JSON access-log line per attempt: ``requestTimeEpoch`` (ms,
  from the scenario's ``start``), ``httpMethod``, ``resourcePath``, ``status`` (what the
  gateway returned), ``responseType``, ``integrationLatency``, ``responseLatency`` and
  ``apiKeyId`` (the client's key, or ``-``).

https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

    from simulator.scenario import Scenario

__all__ = ["access_log_lines", "report_lines"]

#: ``$context.error.responseType`` of the refusals the model names.
RESPONSE_TYPES = {"throttled_stage": "THROTTLED", "throttled_method": "THROTTLED", "throttled_account": "THROTTLED",
                  "throttled_usage_plan": "THROTTLED", "quota_exceeded": "QUOTA_EXCEEDED",
                  "integration_timeout": "INTEGRATION_TIMEOUT", "forbidden": "INVALID_API_KEY"}


def report_lines(records: pd.DataFrame, scenario: Scenario, fmt: Literal["text", "json"] = "text",
                 function: str | None = None) -> Iterator[str]:
    """REPORT lines of the invocations in *records* (``Result.to_dataframe()``), optionally of one function."""
    ran = records[(records.function != "") & (records.run_s > 0)]
    if function is not None:
        ran = ran[ran.function == function]
    memory = {f.name: f.memory_mb for f in scenario.functions}
    for i, row in enumerate(ran.itertuples()):
        run_ms, size = row.run_s * 1000, memory[row.function]
        status = {"function_error": "error", "function_timeout": "timeout"}.get(row.cause, "success")
        if fmt == "json":
            metrics = {"durationMs": round(run_ms, 3), "billedDurationMs": math.ceil(run_ms), "memorySizeMB": size,
                       "maxMemoryUsedMB": min(size, 90)}
            if row.cold_start:
                metrics["initDurationMs"] = round(row.init_s * 1000, 3)
            yield json.dumps({"type": "platform.report", "record": {
                "requestId": f"{i:08d}-0000-4000-8000-000000000000", "metrics": metrics, "status": status}})
            continue
        parts = [f"REPORT RequestId: {i:08d}-0000-4000-8000-000000000000", f"Duration: {run_ms:.2f} ms",
                 f"Billed Duration: {math.ceil(run_ms)} ms", f"Memory Size: {size} MB",
                 f"Max Memory Used: {min(size, 90)} MB"]
        if row.cold_start:
            parts.append(f"Init Duration: {row.init_s * 1000:.2f} ms")
        if status != "success":
            parts.append(f"Status: {status}")
        yield "\t".join(parts)


def access_log_lines(records: pd.DataFrame, scenario: Scenario) -> Iterator[str]:
    """One JSON access-log line per attempt in *records*."""
    start_ms = scenario.start.timestamp() * 1000
    keys = {c.name: c.api_key or "-" for c in scenario.clients}
    for row in records.itertuples():
        method, _, path = row.route.partition(" ")
        integration = round(row.integration_latency_s * 1000, 3) if row.integration_latency_s > 0 else "-"
        yield json.dumps({"requestTimeEpoch": start_ms + row.time_s * 1000, "httpMethod": method,
                          "resourcePath": path or row.route, "status": str(row.gateway_status),
                          "responseType": RESPONSE_TYPES.get(row.cause, "-"), "integrationLatency": integration,
                          "responseLatency": round(row.gateway_latency_s * 1000, 3), "apiKeyId": keys[row.client]})
