"""Every shipped scenario loads, runs, and runs the same twice."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import simulator

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").rglob("*.toml"))


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 4


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_runs_deterministically(path):
    s = simulator.load_scenario(path)
    # A shorter run keeps the suite quick; the behaviour under test is the same.
    last_burst = max((b.at for c in s.clients for b in getattr(c.arrivals, "bursts", [])), default=0.0)
    keep = max(60.0, last_burst + 30.0)
    # (A typical day's cost basis needs the whole day; a shortened run is priced as a run.)
    shorter = {"duration": f"{keep}s", "cost.month_from": "run"}
    short = simulator.load_scenario(path, overrides=shorter) if s.duration > keep else s
    first = simulator.simulate(short)
    second = simulator.simulate(short)
    assert first.to_json() == second.to_json()
    d = first.summary()
    assert d["requests"]["offered"] > 0
    assert sum(d["attempts"]["causes"].values()) == d["attempts"]["total"]
    assert simulator.simulate(short, seed=short.seed + 1).to_json() != first.to_json()


def test_cli_json_is_byte_identical_across_processes(tmp_path):
    path = ROOT / "scenarios" / "rest_usage_plans.toml"
    cmd = [sys.executable, "-m", "simulator.cli", "run", str(path), "--json", "--set", "duration=60s"]
    one = subprocess.run(cmd, capture_output=True, check=True).stdout
    two = subprocess.run(cmd, capture_output=True, check=True).stdout
    assert one == two
    d = json.loads(one)
    for key in ("requests", "attempts", "rates", "latency_ms", "lambda", "clients"):
        assert key in d
    assert set(d["latency_ms"]) >= {"p50", "p90", "p95", "p99", "max"}


def test_cli_writes_records_and_timeseries(tmp_path):
    path = ROOT / "scenarios" / "rest_usage_plans.toml"
    rec, ts = tmp_path / "rec.csv", tmp_path / "ts.csv"
    out = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", str(path), "--set", "duration=30s", "--records", str(rec),
         "--timeseries", str(ts), "--interval", "10s"], capture_output=True, text=True, check=True)
    assert "Outcomes" in out.stdout
    header = rec.read_text().splitlines()[0].split(",")
    assert header[:4] == ["request", "attempt", "client", "route"]
    rows = ts.read_text().splitlines()
    assert rows[0].startswith("time_s,Count,4XXError,5XXError,Latency,IntegrationLatency")
    assert len(rows) == 1 + 3 + 1 or len(rows) == 1 + 3  # 30 s in 10 s steps, plus drain


def test_the_readme_quick_start_scenario_exists():
    readme = (ROOT / "README.md").read_text()
    assert "scenarios/rest_usage_plans.toml" in readme
