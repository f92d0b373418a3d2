"""`throttlesim cost` and the cost in `throttlesim run --json`, through the real CLI."""

import json
import subprocess
import sys
from pathlib import Path

from simulator.cost.bill import analytic_monthly_cost

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "rest_usage_plans.toml")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True)


def test_run_json_carries_the_cost():
    out = cli("run", SCENARIO, "--json", "--set", "duration=30s")
    assert out.returncode == 0, out.stderr
    cost = json.loads(out.stdout)["cost_usd"]
    assert cost["run_total"] > 0 and cost["monthly_total"] > cost["run_total"]
    assert "730" in cost["monthly_method"]


def test_analytic_mode_matches_the_library():
    out = cli("cost", "--api", "REST", "--monthly-requests", "50M", "--duration-ms", "120", "--memory-mb", "1024",
              "--json")
    assert out.returncode == 0, out.stderr
    expected = analytic_monthly_cost("REST", 50e6, 120, 1024).total_usd
    assert json.loads(out.stdout)["total_usd"] == round(expected, 6)
    # 50M REST requests at $3.50/M + Lambda $0.20/M + 6,000,000 GB-s x $0.0000166667 = 175 + 10 + 100.
    assert round(expected - json.loads(out.stdout)["by_service"].get("Data Transfer", 0), 2) == 285.00


def test_compare_shows_the_variant_beside_the_baseline():
    out = cli("cost", SCENARIO, "--compare", "--set", "functions.orders.memory_mb=1024", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["variant"] == {"functions.orders.memory_mb": "1024"}
    # Twice the memory for the same durations: Lambda duration cost doubles, so the month costs more.
    assert d["delta"]["monthly cost (USD)"] > 0
    assert d["with_overrides"]["429 fraction"] == d["baseline"]["429 fraction"]


def test_cost_without_scenario_or_analytic_inputs_is_one_line():
    out = cli("cost", "--api", "REST")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "analytic" in out.stderr
    assert "Traceback" not in out.stderr


def test_replications_report_percentiles_over_seeds():
    out = cli("cost", SCENARIO, "--set", "duration=30s", "--replications", "3", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    runs = sorted(d["runs"])
    assert len(runs) == 3 and len(set(runs)) == 3  # different seeds, different traffic
    assert runs[0] <= d["monthly_total_usd"]["p5"] <= d["monthly_total_usd"]["p50"] == runs[1]
    assert d["monthly_total_usd"]["p95"] <= runs[2]


def test_explain_lists_unconfirmed_prices():
    out = cli("cost", "--explain", "--json")
    keys = [i["key"] for i in json.loads(out.stdout)]
    assert "cloudwatch_logs.ingestion.standard" in keys or any(k.startswith("cloudwatch") for k in keys)
    assert "lambda.requests" not in keys


def test_explain_lists_the_scenarios_region():
    """A scenario in ap-southeast-1 is priced from that Region's table, so --explain lists its stand-ins
    (REST API requests there carry us-east-1's price), not us-east-1's."""
    home = {i["key"] for i in json.loads(cli("cost", "--explain", "--json").stdout)}
    out = cli("cost", SCENARIO, "--explain", "--set", "account.region=ap-southeast-1", "--json")
    assert out.returncode == 0, out.stderr
    keys = {i["key"] for i in json.loads(out.stdout)}
    assert "apigateway.rest.requests" in keys and "apigateway.rest.requests" not in home


def test_compare_applies_traffic_overrides_to_both_sides_and_lists_what_differs():
    out = cli("cost", SCENARIO, "--compare", "--set", "duration=30s", "--set", "functions.orders.memory_mb=1024",
              "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["both_sides"] == {"duration": "30s"}
    assert d["variant"] == {"functions.orders.memory_mb": "1024"}
    assert d["differs"] == {"functions.orders.memory_mb": {"baseline": 512, "variant": 1024}}
    # The baseline is the 30-second run too, not the file's 10 minutes.
    alone = json.loads(cli("cost", SCENARIO, "--set", "duration=30s", "--json").stdout)
    assert d["baseline_cost_usd"]["run_total"] == alone["run_total"]
    assert d["with_overrides"]["429 fraction"] == d["baseline"]["429 fraction"]


def test_compare_table_starts_with_what_differs():
    out = cli("cost", SCENARIO, "--compare", "--set", "duration=30s", "--set", "functions.orders.memory_mb=1024")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line and line[0] in "┃│|"]
    assert "figure" in lines[0]
    assert "differs: functions.orders.memory_mb" in lines[1] and "512" in lines[1] and "1024" in lines[1]
    assert "both sides" in lines[2] and "duration=30s" in lines[2]


def test_compare_whose_variant_changes_nothing_is_refused_in_one_line():
    for extra in (["--set", "duration=30s"], ["--set", "duration=30s", "--set", "functions.orders.memory_mb=512"]):
        out = cli("cost", SCENARIO, "--compare", *extra)
        assert out.returncode == 2
        assert len(out.stderr.strip().splitlines()) == 1 and "differs from the baseline in nothing" in out.stderr


def test_every_monthly_figure_states_its_basis_in_its_row():
    basis = "× 730 h / 30s of this run"
    run = cli("run", SCENARIO, "--set", "duration=30s")
    assert run.returncode == 0, run.stderr
    assert f"a month ({basis};" in " ".join(run.stdout.split())
    out = cli("cost", SCENARIO, "--set", "duration=30s")
    rows = [line for line in out.stdout.splitlines() if line.startswith("│")]
    monthly = rows[: next(i for i, r in enumerate(rows) if "month total" in r) + 1]
    assert len(monthly) >= 3 and all(basis in r for r in monthly)
    compare = cli("cost", SCENARIO, "--compare", "--set", "duration=30s", "--set", "functions.orders.memory_mb=1024")
    (row,) = [line for line in compare.stdout.splitlines() if "monthly cost" in line]
    assert basis in row


def test_the_basis_of_a_typical_day():
    from simulator.cost.usage import monthly_basis
    from simulator.scenario import load_scenario

    day = load_scenario(SCENARIO, overrides={"duration": "1d", "cost.month_from": "day"})
    assert monthly_basis(day) == "× 730 h / 1d: this typical day, 30.4 times"
    assert monthly_basis(load_scenario(SCENARIO)) == "× 730 h / 10m of this run"


def test_sweep_and_plan_tables_state_the_basis_of_monthly_usd():
    grid = ["--set", "duration=20s", "--vary", "functions.orders.memory_mb=512,1024", "--workers", "1"]
    sweep = cli("sweep", SCENARIO, *grid)
    assert sweep.returncode == 0, sweep.stderr
    assert "× 730 h / 20s of this run" in sweep.stdout
    plan = cli("plan", SCENARIO, *grid, "--slo", "rate_5xx<0.5")
    assert plan.returncode == 0, plan.stderr
    flat = " ".join(plan.stdout.split())
    assert "/month, × 730 h / 20s of this run; binding" in flat and flat.count("× 730 h / 20s of this run") >= 3
    varied = cli("sweep", SCENARIO, "--vary", "duration=10s,20s", "--workers", "1")
    assert "× 730 h / each point's duration" in varied.stdout
