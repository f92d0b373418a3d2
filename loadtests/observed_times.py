"""The init and run times the Lambda runtime observed, replayed through the model.

The independent runtime (:mod:`loadtests.target.lambda_runtime`) draws each invocation's
init time and duration from the model's random streams, but its environments stay busy
a little longer than drawn: a cold start also takes the real start of a worker process
(about a millisecond on an idle machine, ten or more on a busy one), and every
invocation ends when its worker has woken up and reported, a fraction of a millisecond
after the drawn instant. A request that arrives in between is throttled (or cold
started) by the runtime where the model, with the drawn numbers, would have found the
environment free. So validation replays what the runtime measured instead: the model's
n-th invocation of a function is busy exactly as long as the runtime's n-th was, and the
comparison then checks the model's *decisions* (throttles, cold starts, timeouts)
against the runtime's.

The runtime's log (``runtime.jsonl`` in the target's ``--log-dir``, one JSON line per invocation) holds, per
invocation, when it was received, whether it was a cold start, the init time (request
to end of Init) and when its worker reported the end. :func:`observed_time_overrides`
writes, per function, the busy time after Init of each invocation and the init time of
each cold start, in the order the runtime received them, and returns scenario overrides
that make the model hand them out in that order (``kind = "sequence"``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simulator.errors import ThrottlesimError
from simulator.scenario import Scenario

__all__ = ["observed_backend_overrides", "observed_time_overrides", "read_runtime_log"]


def read_runtime_log(path: str | Path) -> list[dict[str, Any]]:
    """The invocation records of a runtime log (not the environment-stopped ones), in the
    order the runtime received them."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            try:
                record = json.loads(line)
            except ValueError:
                raise ThrottlesimError(f"{path}: line {number} is not JSON") from None
            if "received_s" in record:
                records.append(record)
    return sorted(records, key=lambda r: r["received_s"])


def observed_time_overrides(log: str | Path, scenario: Scenario, out_dir: str | Path) -> dict[str, Any]:
    """Overrides ``functions.<i>.duration`` and ``functions.<i>.init`` that replay the busy
    times in the runtime log *log*; the value files are written to *out_dir*.

    A function the runtime never ran keeps its distributions (and one with no cold start
    keeps its init distribution). A run that ended normally is capped at the function's
    timeout, so that a handler that woke a fraction of a millisecond late is not taken for
    a timeout.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    invocations = [r for r in read_runtime_log(log) if r["cause"] not in ("lambda_throttled", "lambda_rate_throttled")]
    overrides: dict[str, Any] = {}
    for i, f in enumerate(scenario.functions):
        mine = [r for r in invocations if r["function"] == f.name]
        runs, inits = [], []
        for r in mine:
            init_s = r["init_ms"] / 1000 if r["cold_start"] else 0.0
            run_s = max(0.0, r["ended_s"] - r["received_s"] - init_s)
            if r["cause"] != "function_timeout":
                run_s = min(run_s, f.timeout)
            runs.append(run_s)
            if r["cold_start"]:
                inits.append(init_s)
        for key, values in (("duration", runs), ("init", inits)):
            if values:
                path = out / f"observed-{i}-{key}.txt"
                path.write_text("".join(f"{v!r}\n" for v in values), encoding="utf-8")
                overrides[f"functions.{i}.{key}"] = {"kind": "sequence", "file": str(path.resolve()), "unit": "s"}
    return overrides



def observed_backend_overrides(log: str | Path, scenario: Scenario, out_dir: str | Path) -> dict[str, Any]:
    """Overrides ``backends.<i>.service_time`` that replay, in the order they were served,
    how long the HTTP backend server (:mod:`loadtests.target.http_backend`) kept each
    request's slot: from the instant it got the slot to the end of its service, the
    hand-over of the slot and the event loop's lateness included. The model then checks
    the server's decisions (who waited, who was refused, who timed out) with its timers."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = read_runtime_log(log)
    overrides: dict[str, Any] = {}
    for i, b in enumerate(scenario.backends):
        served = [r for r in sorted(records, key=lambda r: (r["received_s"], r.get("slot_s", 0.0)))
                  if r.get("backend") == b.name and r["cause"] != "backend_queue_full"
                  and not (r["cause"] == "integration_timeout" and r["ended_s"] == r["slot_s"])]
        if served:
            path = out / f"observed-backend-{i}-service.txt"
            path.write_text("".join(f"{max(0.0, r['ended_s'] - r['slot_s'])!r}\n" for r in served), encoding="utf-8")
            overrides[f"backends.{i}.service_time"] = {"kind": "sequence", "file": str(path.resolve()), "unit": "s"}
    return overrides
