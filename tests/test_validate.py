"""Comparing observed logs with the model: replay construction and the checks."""

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.validate import (
    MIN_OVERHEAD_SAMPLES,
    compare,
    measured_overhead,
    paired_overhead,
    replay_scenario,
    status_class,
)


def observed_from(result: simulator.Result) -> pd.DataFrame:
    """A log as the load test writes it, made from a simulated run."""
    df = result.to_dataframe()
    return pd.DataFrame({
        "intended_start_s": df["time_s"], "actual_start_s": df["time_s"], "latency_ms": df["latency_s"] * 1000,
        "status": df["status"], "client": df["client"], "route": df["route"], "attempt": df["attempt"],
        "cause": df["cause"], "cold_start": df["cold_start"].astype(int),
    })


@pytest.fixture
def scenario_file(tmp_path):
    text = """
name = "v"
duration = "20s"
seed = 4
[account]
throttle = { rate = 30, burst = 10 }
[[routes]]
name = "GET /x"
function = "f"
[[functions]]
name = "f"
duration = { kind = "lognormal", median = "40ms", p99 = "200ms" }
reserved_concurrency = 3
[[clients]]
name = "c"
routes = { "GET /x" = 1 }
arrivals = { process = "poisson", rate = 45 }
[behaviour]
gateway_overhead = "1ms"
"""
    path = tmp_path / "v.toml"
    path.write_text(text)
    return path


def test_status_classes():
    assert status_class(np.array([200, 403, 429, 500, 504, 0, 301])).tolist() == [
        "2xx", "403", "429", "5xx", "5xx", "no_response", "other"]


def test_a_replay_of_the_models_own_traffic_agrees_exactly(scenario_file, tmp_path):
    original = simulator.simulate(simulator.load_scenario(scenario_file))
    observed = observed_from(original)
    replay = simulator.simulate(replay_scenario(scenario_file, observed, tmp_path / "replay"))
    # The replayed arrivals are the same times; the function's random durations come from the
    # same streams, so the replay reproduces the run.
    report = compare(observed, replay)
    assert report.agreement == 1.0
    assert report.ok, report.to_dict()["checks"]
    assert report.fractions["observed"]["429"] > 0.05  # the scenario does throttle


def test_a_different_api_is_caught(scenario_file, tmp_path):
    original = simulator.simulate(simulator.load_scenario(scenario_file))
    observed = observed_from(original)
    # The "real" API had no throttle: every 429 became a 200.
    observed.loc[observed["status"] == 429, "status"] = 200
    replay = simulator.simulate(replay_scenario(scenario_file, observed, tmp_path / "replay"))
    report = compare(observed, replay)
    failed = {c.name for c in report.checks if not c.ok}
    assert {"fraction_429", "agreement"} <= failed
    assert report.series["429"]["max_abs_error"] > 0


def test_model_runs_give_intervals(scenario_file, tmp_path):
    s = simulator.load_scenario(scenario_file)
    observed = observed_from(simulator.simulate(s))
    replay = simulator.simulate(replay_scenario(scenario_file, observed, tmp_path / "r"))
    runs = [simulator.simulate(s, seed=k) for k in range(5)]
    check = next(c for c in compare(observed, replay, runs).checks if c.name == "fraction_429")
    lo, hi = check.interval
    assert 0 < lo <= hi < 1


def test_cold_starts_are_compared_where_the_answer_says(scenario_file, tmp_path):
    original = simulator.simulate(simulator.load_scenario(scenario_file))
    observed = observed_from(original)
    replay = simulator.simulate(replay_scenario(scenario_file, observed, tmp_path / "replay"))
    everything = compare(observed, replay).cold_starts
    assert everything["observed"] == everything["predicted"] == original.to_dataframe()["cold_start"].sum() > 0
    assert everything["attempts"] == len(observed)
    # A gateway's own answer (nginx's 504) cannot say: those attempts leave both counts.
    first_cold = int(np.flatnonzero(observed["cold_start"].to_numpy() == 1)[0])
    unknown = observed.assign(cold_start=observed["cold_start"].astype("Float64"))
    unknown.loc[first_cold, "cold_start"] = pd.NA
    some = compare(unknown, replay).cold_starts
    assert some["observed"] == some["predicted"] == everything["observed"] - 1
    assert some["attempts"] == len(observed) - 1


def test_the_targets_overhead_is_what_a_success_waited_beyond_the_functions_time():
    observed = pd.DataFrame({
        "latency_ms": [35.0, 12.0, 0.5, 50.0, 9.0],
        "status": [200, 200, 429, 502, 200],
        "function_ms": [30.0, 9.5, np.nan, 48.0, 9.25],
    })
    assert measured_overhead(observed) is None  # fewer than MIN_OVERHEAD_SAMPLES successes
    many = pd.concat([observed] * MIN_OVERHEAD_SAMPLES, ignore_index=True)
    m = measured_overhead(many)
    assert m is not None and m.n == 3 * MIN_OVERHEAD_SAMPLES  # 429s and 5XXs say nothing
    assert sorted(set(m.samples_ms)) == [0.0, 2.5, 5.0]  # a server clock ahead of the client's: 0, not -0.25
    assert measured_overhead(many.drop(columns=["function_ms"])) is None


def test_a_measured_overhead_is_what_the_model_then_adds(scenario_file, tmp_path):
    base = simulator.load_scenario(scenario_file)
    original = simulator.simulate(base)
    observed = observed_from(original).assign(function_ms=original.to_dataframe()["integration_latency_s"] * 1000)
    observed["latency_ms"] = observed["function_ms"] + 4.0  # this target adds 4 ms to every answer
    m = measured_overhead(observed)
    assert m is not None and set(m.samples_ms) == {4.0}
    override = m.override(tmp_path / "overhead_ms.txt")
    replay = simulator.simulate(replay_scenario(scenario_file, observed, tmp_path / "replay",
                                                overrides={"behaviour.gateway_overhead": override}))
    pred = replay.to_dataframe()
    np.testing.assert_allclose(pred["gateway_latency_s"] - pred["integration_latency_s"], 0.004)
    report = compare(observed, replay)
    assert report.latency_ms["predicted_2xx"]["p50"] == pytest.approx(report.latency_ms["observed_2xx"]["p50"])


def test_each_replayed_attempt_gets_the_overhead_its_observed_attempt_had(scenario_file, tmp_path):
    scenario = simulator.load_scenario(scenario_file)
    limit_ms = 1000 * scenario.integration_timeout_s(scenario.routes[0])
    observed = pd.DataFrame({
        "intended_start_s": [0.3, 0.1, 0.2, 0.4, 0.5],  # the replay's order: 0.1, 0.2, 0.3, 0.4, 0.5
        "route": ["GET /x"] * 5, "client": ["c"] * 5, "attempt": [1] * 5,
        "status": [200, 429, 504, 500, 0],
        "cause": ["ok", "throttled_account", "integration_timeout", "lambda_throttled", "client_timeout"],
        "latency_ms": [42.5, 0.75, limit_ms + 3.0, 1.25, 9.0],
        "function_ms": [40.0, np.nan, limit_ms + 900.0, np.nan, np.nan],
    })
    override = paired_overhead(observed, scenario, tmp_path / "o.txt")
    assert override is not None and override["kind"] == "sequence"
    values = [float(v) for v in (tmp_path / "o.txt").read_text().split()]
    # throttle: all of it; 504: beyond the timeout; success: beyond the function; 500: all; no answer: the median
    assert values == [0.75, 3.0, 2.5, 1.25, 1.875]
    replay = simulator.simulate(replay_scenario(scenario_file, observed, tmp_path / "replay",
                                                overrides={"behaviour.gateway_overhead": override}))
    assert replay.n_attempts == 5
    assert paired_overhead(observed.drop(columns=["function_ms"]), scenario, tmp_path / "p.txt") is None
