"""The plan's objective: costs at full service, errors before dollars, ties within noise,
error intervals and headroom; and the issue's case, where the setting that throttles the
most used to win because throttled requests are not billed."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from simulator.studies.objective import Objective, parse_objective, served_cost, wilson_interval
from simulator.studies.planner import choose
from simulator.studies.sweep import METRICS, SweepResult

KEY = "functions.checkout.reserved_concurrency"


def sweep(rows: list[dict[str, float]], runs: list[list[dict[str, float]]] | None = None) -> SweepResult:
    """A sweep built by hand: point i varies ``x = 10 * (i + 1)``; every metric 0 unless given.
    *runs* gives each point's replications (monthly_usd, success_fraction, requests)."""
    n = len(runs[0]) if runs else 1
    table, run_rows = [], []
    for i, row in enumerate(rows):
        out: dict[str, float] = {"x": 10 * (i + 1)}
        for m in METRICS:
            mean = row.get(m, 0.0)
            out |= {m: mean, f"{m}_lo": row.get(f"{m}_lo", mean), f"{m}_hi": row.get(f"{m}_hi", mean)}
        table.append(out)
        for r, run in enumerate(runs[i] if runs else [row]):
            run_rows.append({"x": 10 * (i + 1), "replication": r, "seed": r, **{m: run.get(m, 0.0) for m in METRICS}})
    return SweepResult("s.toml", {"x": [10 * (i + 1) for i in range(len(rows))]}, n, tuple(range(n)),
                       pd.DataFrame(run_rows), pd.DataFrame(table))


def test_the_wilson_interval_in_closed_form():
    # No errors in 100: the upper bound is z^2 / (n + z^2) with z = 1.959964.
    z = 1.959963984540054
    assert wilson_interval(0, 100) == (0.0, pytest.approx(z * z / (100 + z * z), rel=1e-12))
    lo, hi = wilson_interval(50, 100)
    assert (lo + hi) / 2 == pytest.approx(0.5) and hi - lo == pytest.approx(2 * z / (1 + z * z / 100) *
                                                                           math.sqrt(0.25 / 100 + z * z / 40_000))
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_cost_at_full_service_and_its_standard_error():
    # One run: $90 a month with 90% success is $100 at full service; count noise 100/sqrt(900).
    assert served_cost([90.0], [0.9], [1000.0]) == (pytest.approx(100.0), pytest.approx(100 / 30))
    # Replications: the sample standard deviation of 98, 100, 102 over sqrt(3).
    mean, se = served_cost([98.0, 100.0, 102.0], [1.0, 1.0, 1.0], [10.0] * 3)
    assert mean == 100.0 and se == pytest.approx(2 / math.sqrt(3))


def test_a_throttling_point_never_wins_on_cost_alone():
    # Point 0 fails 20% of its requests, unbilled: $80 raw, $100 at full service. Point 1 serves
    # everything for $105. Both meet the lenient SLO; the reliable one wins although dearer.
    rows = [{"monthly_usd": 80, "success_fraction": 0.8, "requests": 10_000, "rate_5xx": 0.2},
            {"monthly_usd": 105, "success_fraction": 1.0, "requests": 10_000, "rate_5xx": 0.0}]
    result = choose(sweep(rows), ["rate_5xx<0.5"])
    assert [p.passes for p in result.points] == [True, True]
    assert result.best is not None and result.best.index == 1
    assert result.runner_up is not None and result.runner_up.index == 0
    assert result.points[0].error_rate == pytest.approx(0.2)
    lo, hi = result.points[0].error_interval
    assert lo < 0.2 < hi and lo > result.points[1].error_interval[1]


def test_costs_within_noise_are_ties_broken_by_fewer_errors():
    # Three replications each: A costs 100 +- 1.15, B 101 +- 1.15 (2 SE of the difference: 3.27).
    # Their error intervals overlap, so both compete; B has fewer errors and wins the tie.
    def reps(cost: float, success: float) -> list[dict[str, float]]:
        return [{"monthly_usd": (cost + d) * success, "success_fraction": success, "requests": 1000}
                for d in (-2.0, 0.0, 2.0)]
    rows = [{"monthly_usd": 100 * 0.998, "success_fraction": 0.998, "success_fraction_lo": 0.990,
             "success_fraction_hi": 1.0},
            {"monthly_usd": 101 * 0.999, "success_fraction": 0.999, "success_fraction_lo": 0.992,
             "success_fraction_hi": 1.0}]
    result = choose(sweep(rows, [reps(100, 0.998), reps(101, 0.999)]), ["p99<1s"])
    a, b = result.points
    assert a.served_usd == pytest.approx(100) and a.served_se == pytest.approx(2 / math.sqrt(3))
    assert a.error_interval == (0.0, pytest.approx(0.010))
    assert result.best is b
    # Far apart (B at 110): no tie, the cheaper A wins although it has a few more errors.
    far = choose(sweep(rows, [reps(100, 0.998), reps(110, 0.999)]), ["p99<1s"])
    assert far.best is far.points[0]


def test_minimize_value_and_maximize_headroom():
    rows = [{"monthly_usd": 50, "success_fraction": 1, "p99_ms": 1500},   # x=10: misses p99<1s
            {"monthly_usd": 60, "success_fraction": 1, "p99_ms": 900},    # x=20: least that passes
            {"monthly_usd": 70, "success_fraction": 1, "p99_ms": 400}]    # x=30: most headroom
    s = sweep(rows)
    assert choose(s, ["p99<1s"], Objective("value", "x")).best.overrides == {"x": 20}
    roomy = choose(s, ["p99<1s"], Objective("headroom"))
    assert roomy.best.overrides == {"x": 30} and roomy.best.headroom == pytest.approx(0.6)
    assert choose(s, ["p99<1s"]).best.overrides == {"x": 20}


def test_objective_flags():
    assert parse_objective(None, None, ["a"]) == Objective("cost")
    assert parse_objective("value", None, ["a"]) == Objective("value", "a")
    assert parse_objective("b", None, ["a", "b"]) == Objective("value", "b")
    assert parse_objective(None, "headroom", ["a"]) == Objective("headroom")
    for minimize, maximize, varied, words in [("value", None, ["a", "b"], "2 keys vary"),
                                              ("speed", None, ["a"], "expected cost, value or a varied key"),
                                              (None, "cost", ["a"], "only thing to maximize is headroom")]:
        with pytest.raises(ValueError, match=words):
            parse_objective(minimize, maximize, varied)


def test_the_report_shows_errors_headroom_and_the_rule():
    rows = [{"monthly_usd": 80, "success_fraction": 0.8, "requests": 10_000, "rate_5xx": 0.2},
            {"monthly_usd": 105, "success_fraction": 1.0, "requests": 10_000, "rate_5xx": 0.0}]
    result = choose(sweep(rows), ["rate_5xx<0.5"])
    d = json.loads(json.dumps(result.to_dict()))
    assert d["objective"] == "minimize cost" and "2 standard errors" in d["rule"]
    first = d["candidates"][0]
    assert first["served_monthly_usd"] == 100.0 and first["error_rate"] == pytest.approx(0.2)
    assert first["slack"] == {"rate_5xx<0.5": 0.6} and first["headroom"] == 0.6
    assert d["best"]["overrides"] == {"x": 20}


# --------------------------------------------------------------------------- the case, simulated

MINI = """
name = "mini-sale"
duration = "3s"
seed = 3
[api]
type = "REST"
[[routes]]
name = "POST /checkout"
function = "checkout"
[[functions]]
name = "checkout"
memory_mb = 1024
timeout = "5s"
reserved_concurrency = 200
duration = { kind = "lognormal", median = "90ms", p99 = "300ms" }
init = "200ms"
[[clients]]
name = "shoppers"
routes = { "POST /checkout" = 1 }
arrivals = { process = "poisson", rate = [["0s", 100], ["1s", 600], ["3s", 600]] }
"""


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True)


def test_reserved_concurrency_that_throttles_is_not_chosen_for_being_unbilled(tmp_path: Path):
    path = tmp_path / "mini.toml"
    path.write_text(MINI)
    # Peak ~60-90 concurrent executions: 30 throttles a large share of requests, which are not
    # billed, so it is the cheapest on the raw monthly cost; a lenient SLO lets it pass.
    out = cli("plan", str(path), "--vary", f"{KEY}=30,100,200", "--slo", "rate_5xx<0.9", "--workers", "1", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    throttling, enough, more = d["candidates"]
    assert throttling["passes"] and throttling["error_rate"] > 0.05
    assert throttling["monthly_usd"] < enough["monthly_usd"]
    assert throttling["error_interval"][0] > enough["error_interval"][1]
    assert d["best"]["overrides"] == {KEY: 100} and d["runner_up"]["overrides"] == {KEY: 200}
    table = cli("plan", str(path), "--vary", f"{KEY}=30,100,200", "--slo", "rate_5xx<0.9", "--workers", "1")
    assert table.returncode == 0, table.stderr
    assert "best (minimize cost)" in table.stdout and "errors [95%]" in table.stdout and "(headroom)" in table.stdout
    least = cli("plan", str(path), "--vary", f"{KEY}=30,100,200", "--slo", "rate_5xx<0.9", "--workers", "1",
                "--minimize", "value", "--json")
    assert json.loads(least.stdout)["best"]["overrides"] == {KEY: 30}


@pytest.mark.parametrize("extra, words", [
    (["--minimize", "speed"], "expected cost, value or a varied key"),
    (["--minimize", "value", "--vary", "functions.checkout.memory_mb=512,1024"], "2 keys vary"),
    (["--maximize", "cost"], "invalid choice"),
    (["--minimize", "cost", "--maximize", "headroom"], "not allowed with argument"),
])
def test_bad_objectives_are_one_line_and_exit_2(tmp_path: Path, extra: list[str], words: str):
    path = tmp_path / "mini.toml"
    path.write_text(MINI)
    out = cli("plan", str(path), "--vary", f"{KEY}=30,100", "--slo", "rate_5xx<0.9", *extra)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and words in out.stderr
