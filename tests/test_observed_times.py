"""Replaying the runtime's observed init and run times through the model: the
``sequence`` distribution hands out a file's values in order, and the runtime's log
becomes overrides that give the model's n-th invocation the runtime's n-th busy time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import simulator
from loadtests.observed_times import observed_time_overrides
from simulator.engine import fast_engine_unavailable
from simulator.errors import ScenarioError


def test_a_sequence_hands_out_its_values_in_order_and_starts_again_after_the_last(build, tmp_path):
    (tmp_path / "runs.txt").write_text("100\n250\n40\n")
    s = build(times=[0.0, 1.0, 2.0, 3.0, 4.0], functions=[
        {"name": "f", "duration": {"kind": "sequence", "file": "runs.txt"}, "init": "500ms", "timeout": "10s"}])
    result = simulator.simulate(s, engine="simpy")
    assert [round(r.run_s, 6) for r in result.records()] == [0.1, 0.25, 0.04, 0.1, 0.25]
    assert fast_engine_unavailable(s) is not None and "sequence" in fast_engine_unavailable(s)
    assert [round(r.run_s, 6) for r in simulator.simulate(s).records()] == [0.1, 0.25, 0.04, 0.1, 0.25]


def test_a_sequence_file_with_a_negative_value_is_refused(build, tmp_path):
    (tmp_path / "runs.txt").write_text("100\n-5\n")
    with pytest.raises(ScenarioError, match="sample 2 is negative"):
        build(functions=[{"name": "f", "duration": {"kind": "sequence", "file": "runs.txt"}}])


def test_the_runtime_log_becomes_the_models_busy_times_in_the_order_received(build, tmp_path):
    s = build(functions=[{"name": "f", "duration": "100ms", "timeout": "1s"}, {"name": "g", "duration": "1ms"}])
    records = [
        {"received_s": 2.0, "function": "f", "cause": "ok", "cold_start": False, "init_ms": 0.0, "ended_s": 2.3},
        {"received_s": 1.0, "function": "f", "cause": "ok", "cold_start": True, "init_ms": 250.0, "ended_s": 1.45},
        {"received_s": 2.5, "function": "f", "cause": "lambda_throttled", "cold_start": False, "init_ms": 0.0,
         "ended_s": 0.0},
        {"received_s": 3.0, "function": "f", "cause": "ok", "cold_start": False, "init_ms": 0.0, "ended_s": 4.0002},
        {"received_s": 5.0, "function": "f", "cause": "function_timeout", "cold_start": False, "init_ms": 0.0,
         "ended_s": 6.0004},
        {"stopped_s": 9.0, "environment": "f#1", "reason": "idle_timeout", "invocations": 4},
    ]
    log = tmp_path / "runtime.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    overrides = observed_time_overrides(log, s, tmp_path / "replay")
    assert set(overrides) == {"functions.0.duration", "functions.0.init"}  # g never ran
    runs = [float(x) for x in Path(overrides["functions.0.duration"]["file"]).read_text().split()]
    assert runs == pytest.approx([0.2, 0.3, 1.0, 1.0004])  # a late normal end is capped at the timeout
    assert [float(x) for x in Path(overrides["functions.0.init"]["file"]).read_text().split()] == [0.25]

