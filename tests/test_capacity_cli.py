"""`throttlesim sweep`, `plan` and `quota` through the real CLI."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAMBDA = str(ROOT / "scenarios" / "validation" / "lambda_concurrency.toml")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True)


def test_sweep_json_has_a_row_per_point(tmp_path):
    out = cli("sweep", LAMBDA, "--vary", "functions.render.reserved_concurrency=4,16", "--workers", "1", "--json",
              "--out", str(tmp_path / "t.csv"), "--plots", str(tmp_path / "plots"))
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["functions.render.reserved_concurrency"] for r in rows] == [4, 16]
    assert rows[0]["rate_5xx"] > rows[1]["rate_5xx"]
    assert (tmp_path / "t.csv").read_text().startswith("functions.render.reserved_concurrency,")
    assert (tmp_path / "plots" / "sweep.png").stat().st_size > 0


def test_plan_exits_1_when_no_point_meets_the_slo():
    out = cli("plan", LAMBDA, "--vary", "functions.render.reserved_concurrency=4,8", "--slo", "rate_5xx<0.0001",
              "--workers", "1", "--json")
    assert out.returncode == 1, out.stderr
    assert json.loads(out.stdout)["best"] is None


def test_bad_vary_is_one_line():
    out = cli("sweep", LAMBDA, "--vary", "functions.render.reserved_concurrency")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "--vary" in out.stderr


def test_quota_prints_keys_redacted_unless_asked():
    scenario = str(ROOT / "scenarios" / "rest_usage_plans.toml")
    full = "free-key-poller-0000000000000000"
    for args in (("--json",), ()):
        out = cli("quota", scenario, *args)
        assert out.returncode == 0, out.stderr
        assert full not in out.stdout and "free" in out.stdout  # the first characters and a hash
    out = cli("quota", scenario, "--json", "--show-keys")
    assert full in {f["api_key"] for f in json.loads(out.stdout)}
    from simulator.redact import redact_key

    assert redact_key(full) in {f["api_key"] for f in json.loads(cli("quota", scenario, "--json").stdout)}


def test_sweep_set_fixes_a_key_at_every_point():
    vary = ("--vary", "functions.render.reserved_concurrency=4,16", "--workers", "1", "--json")
    base = cli("sweep", LAMBDA, *vary)
    calm = cli("sweep", LAMBDA, *vary, "--set", "clients.renderer.arrivals.rate=5")
    assert base.returncode == 0 and calm.returncode == 0, calm.stderr
    base_rows, calm_rows = json.loads(base.stdout), json.loads(calm.stdout)
    assert [r["functions.render.reserved_concurrency"] for r in calm_rows] == [4, 16]
    # 60 rps needs ~12 environments: 4 throttles hard. At 5 rps, 4 is (nearly) always enough.
    assert base_rows[0]["rate_5xx"] > 0.3 and calm_rows[0]["rate_5xx"] < 0.05


def test_sweep_set_errors_are_one_line():
    bad = cli("sweep", LAMBDA, "--vary", "functions.render.reserved_concurrency=4",
              "--set", "functions.render.memory_mb=64")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "functions[0].memory_mb" in bad.stderr and "64" in bad.stderr
    both = cli("sweep", LAMBDA, "--vary", "functions.render.reserved_concurrency=4", "--set",
               "functions.render.reserved_concurrency=8")
    assert both.returncode == 2 and len(both.stderr.strip().splitlines()) == 1 and "--vary" in both.stderr


def test_errors_leave_no_empty_line_from_the_progress_bar():
    # Off a terminal the progress bars stay silent: the error is the only line on stderr.
    sweep = cli("sweep", LAMBDA, "--vary", "functions.render.memory_mb=64")
    remote = cli("loadtest", LAMBDA, "--host", "http://10.1.2.3:9")
    for out in (sweep, remote):
        assert out.returncode == 2
        assert out.stderr.count("\n") == 1 and out.stderr.strip(), repr(out.stderr)
