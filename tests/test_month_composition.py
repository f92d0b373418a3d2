"""A month composed of several runs (`throttlesim cost --month`), against hand arithmetic.

Prices (us-east-1 price file): REST $3.50 per million requests for the first 333 million,
$2.80 for the next 667 million, $2.38 for the next 19 billion; Lambda requests $0.20 per
million; x86_64 duration $0.0000166667 per GB-s; data out $0.09 per GB (2**30 bytes).
The test function has 128 MB (0.125 GB) and runs exactly 100 ms; init is not billed
(``bill_init=False``), so every invocation bills 100 ms; each response is 1024 bytes.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import simulator
from simulator.cost.month import compose_month, parse_month

REST = 3.5e-6
LAMBDA_REQUEST = 0.2e-6
GB_S = 0.0000166667
OUT_PER_RESPONSE = 1024 / 2**30 * 0.09
DAY = 86400.0


def per_request() -> float:
    """One billed request: API Gateway + Lambda request + 100 ms at 0.125 GB + 1 KB out."""
    return REST + LAMBDA_REQUEST + 0.1 * 0.125 * GB_S + OUT_PER_RESPONSE


def uniform(build, rate: float, duration: str, name: str) -> simulator.Scenario:
    return build(None, name=name, duration=duration,
                 clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform", "rate": rate}}])


def test_each_part_is_scaled_from_its_own_window_to_its_days(build):
    peak = simulator.simulate(uniform(build, 5, "10s", "peak"))        # 50 requests in 10 s
    normal = simulator.simulate(uniform(build, 1, "20s", "normal"))    # 20 requests in 20 s
    assert (len(peak.attempts["time_s"]), len(normal.attempts["time_s"])) == (50, 20)
    month = compose_month([(peak, 1 * DAY), (normal, 29 * DAY)], bill_init=False)
    # 50 x 86400/10 = 432,000 requests on the peak day, 20 x 29 x 86400/20 = 2,505,600 on the others.
    assert [p.scale for p in month.parts] == [8640.0, 125280.0]
    assert [p.basis for p in month.parts] == ["\u00d7 24 h / 10s of this run", "\u00d7 696 h / 20s of this run"]
    rest = sum(line.quantity for line in month.bill.lines if line.item == "REST requests")
    assert rest == 432_000 + 2_505_600
    assert month.total_usd == pytest.approx(2_937_600 * per_request(), rel=1e-12)
    assert month.by_part[0] == pytest.approx(432_000 * per_request(), rel=1e-12)
    assert month.by_part[1] == pytest.approx(2_505_600 * per_request(), rel=1e-12)
    assert month.days == 30.0 and month.to_dict()["month_total"] == round(month.total_usd, 6)


def test_volume_tiers_apply_to_the_months_sum_not_to_each_part(build):
    busy = simulator.simulate(uniform(build, 500, "2s", "busy"))     # 1,000 requests in 2 s
    assert len(busy.attempts["time_s"]) == 1000
    month = compose_month([(busy, 15 * DAY), (busy, 15 * DAY)], bill_init=False)
    # 2 x 648 million REST requests: 333M at $3.50 + 667M at $2.80 + 296M at $2.38 = $3,737.58,
    # not 2 x (333M at $3.50 + 315M at $2.80) = $4,095.00 as two separately priced halves.
    rest = sum(line.usd for line in month.bill.lines if line.item == "REST requests")
    assert rest == pytest.approx(333 * 3.50 + 667 * 2.80 + 296 * 2.38, rel=1e-12)
    assert month.by_part[0] == pytest.approx(month.by_part[1], rel=1e-12)
    assert sum(month.by_part) == pytest.approx(month.total_usd, rel=1e-12)


def test_one_part_for_the_whole_month_is_a_single_runs_monthly_figure(build):
    result = simulator.simulate(uniform(build, 5, "10s", "only"))
    month = compose_month([(result, 30 * DAY)])
    assert month.total_usd == pytest.approx(simulator.run_cost(result, month_hours=720).monthly_total, rel=1e-12)


def test_provisioned_concurrency_is_billed_for_its_parts_share_only(build):
    warm = build(None, name="warm", functions=[{"name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s",
                                                "provisioned_concurrency": 2}])
    cold = build(None, name="cold")
    month = compose_month([(simulator.simulate(warm), 1 * DAY), (simulator.simulate(cold), 29 * DAY)])
    configured = [line for line in month.bill.lines if line.item.startswith("Provisioned concurrency")]
    # 2 environments x 0.125 GB x 86,400 s, on the warm day only.
    assert [line.quantity for line in configured] == [2 * 0.125 * DAY]


def test_a_part_whose_concurrency_changes_is_refused(build):
    scheduled = build(None, name="scheduled", functions=[{
        "name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s",
        "provisioned_concurrency": [["0s", 0], ["5s", 2]]}])
    with pytest.raises(ValueError, match="scheduled: function 'f' changes its concurrency during the run"):
        compose_month([(simulator.simulate(scheduled), 30 * DAY)])


@pytest.mark.parametrize("text, words", [
    ("a.toml:1d,b.toml:20d", "add up to 21 days; a month is 28 to 31 days"),
    ("a.toml:1d,b.toml:31d", "add up to 32 days"),
    ("a.toml:1x,b.toml:29d", "'a.toml:1x'"),
    ("a.toml:29,b.toml:1d", "'a.toml:29'"),
    ("a.toml:0d,b.toml:30d", "longer than 0s"),
    ("a.toml,b.toml:30d", "expected PATH:DAYS"),
    (":30d", "expected PATH:DAYS"),
    ("", "expected PATH:DAYS,PATH:DAYS"),
])
def test_bad_month_specs_are_one_line_errors(text, words):
    with pytest.raises(ValueError, match="--month") as caught:
        parse_month(text)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_month_lengths_from_28_to_31_days_are_accepted():
    assert parse_month("a.toml:28d")[0][1] == 28 * DAY
    assert [s for _, s in parse_month("a.toml:12h,b.toml:30d12h")] == [0.5 * DAY, 30.5 * DAY]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True)


def scenario_file(tmp_path: Path, name: str, rate: float, duration: str) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""
name = "{name}"
duration = "{duration}"
[api]
type = "REST"
[[routes]]
name = "GET /x"
function = "f"
[[functions]]
name = "f"
duration = "100ms"
init = "500ms"
[[clients]]
name = "c"
routes = {{ "GET /x" = 1 }}
arrivals = {{ process = "uniform", rate = {rate} }}
[behaviour]
gateway_overhead = "0ms"
""")
    return str(path)


def test_the_cli_prints_each_parts_basis_and_the_total(tmp_path):
    peak = scenario_file(tmp_path, "peak", 5, "10s")
    normal = scenario_file(tmp_path, "normal", 1, "20s")
    spec = f"{peak}:1d,{normal}:29d"
    out = cli("cost", "--month", spec, "--no-init-billing", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert [p["basis"] for p in d["parts"]] == ["\u00d7 24 h / 10s of this run", "\u00d7 696 h / 20s of this run"]
    assert d["month_days"] == 30 and d["month_total"] == pytest.approx(2_937_600 * per_request(), abs=2e-6)
    table = cli("cost", "--month", spec, "--no-init-billing")
    assert table.returncode == 0, table.stderr
    assert "24 h / 10s of this run" in table.stdout and "696 h / 20s of this run" in table.stdout
    assert "month total" in table.stdout and f"{d['month_total']:,.2f}" in table.stdout


@pytest.mark.parametrize("extra, words", [
    (["--month", "missing.toml:1d,missing.toml:29d"], "missing.toml"),
    (["--month", "PEAK:1d,PEAK:2d"], "add up to 3 days"),
    (["--month", "PEAK:30d", "--compare", "--set", "duration=1s"], "cannot be combined with --compare"),
    (["PEAK", "--month", "PEAK:30d"], "cannot be combined with a SCENARIO"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, extra, words):
    peak = scenario_file(tmp_path, "peak", 5, "10s")
    out = cli("cost", *[a.replace("PEAK", peak) for a in extra])
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and words in out.stderr and "Traceback" not in out.stderr
