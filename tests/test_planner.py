"""The planner: SLO grammar, the cheapest passing point, the binding constraint, and
judging on confidence bounds."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from simulator.studies.planner import SLO, PlanResult, choose, parse_slo, plan
from simulator.studies.sweep import METRICS, SweepResult

KEY = "functions.checkout.reserved_concurrency"
MEMORY = "functions.checkout.memory_mb"

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


def write_mini(tmp_path: Path) -> str:
    path = tmp_path / "mini.toml"
    path.write_text(MINI)
    return str(path)


# --------------------------------------------------------------------------- --slo


@pytest.mark.parametrize(
    "text, metric, op, threshold",
    [
        ("rate_5xx<0.001", "rate_5xx", "<", 0.001),
        ("p99<800ms", "p99_ms", "<", 800.0),
        ("p99<1.2s", "p99_ms", "<", 1200.0),
        ("p95 <= 250ms", "p95_ms", "<=", 250.0),
        ("p50_ms<40", "p50_ms", "<", 40.0),
        ("success_fraction>0.999", "success_fraction", ">", 0.999),
        ("success_fraction>=99.9%", "success_fraction", ">=", 0.999),
        ("rate_429<0.5%", "rate_429", "<", 0.005),
        ("monthly_usd<$5,000", "monthly_usd", "<", 5000.0),
        ("lambda_throttles<=0", "lambda_throttles", "<=", 0.0),
    ],
)
def test_slo_grammar(text: str, metric: str, op: str, threshold: float) -> None:
    slo = parse_slo(text)
    assert (slo.metric, slo.op) == (metric, op)
    assert slo.threshold == pytest.approx(threshold)
    assert slo.text == text.strip()


@pytest.mark.parametrize(
    "text, words",
    [
        ("p99<800", "give p99 a duration with its unit, e.g. 800ms"),
        ("p99<fast", "not a duration"),
        ("rate_5x<0.1", "did you mean 'rate_5xx'"),
        ("latency<1s", "unknown metric 'latency'"),
        ("rate_5xx=0.1", "expected metric<threshold"),
        ("rate_5xx<", "expected metric<threshold"),
        ("rate_5xx<2", "between 0 and 1"),
        ("rate_5xx<10ms", "must be a fraction"),
        ("monthly_usd<lots", "must be a number"),
    ],
)
def test_slo_errors_are_one_line_naming_the_flag(text: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_slo(text)
    message = str(err.value)
    assert message.startswith(f"--slo {text}: ") and "\n" not in message
    assert words in message


def test_slack_is_relative_to_the_threshold() -> None:
    assert parse_slo("p99<800ms").slack(600.0) == pytest.approx(0.25)
    assert parse_slo("success_fraction>0.99").slack(0.9801) == pytest.approx(-0.01)
    assert parse_slo("rate_5xx<=0").slack(0.02) == pytest.approx(-0.02)
    strict = parse_slo("rate_5xx<0.001")
    assert not strict.met(0.001) and strict.met(0.000999) and not strict.met(float("nan"))


# --------------------------------------------------------------------------- on a real sweep


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> PlanResult:
    # Peak ~60-90 concurrent executions: reserved concurrency 50 throttles (500s), 100 and
    # 200 do not; memory only changes the price. The cheapest passing point is obvious.
    path = write_mini(tmp_path_factory.mktemp("plan"))
    vary = {KEY: [50, 100, 200], MEMORY: [512, 1024]}
    with ThreadPoolExecutor(2) as pool:
        return plan(path, ["rate_5xx<0.001", "p99<2s"], vary, executor=pool)


def test_picks_the_cheapest_point_that_meets_every_slo(planned: PlanResult) -> None:
    assert planned.best is not None
    assert planned.best.overrides == {KEY: 100, MEMORY: 512}
    # 200/512 runs the same traffic at the same price: the tie goes to the earlier grid point.
    assert planned.runner_up is not None and planned.runner_up.overrides == {KEY: 200, MEMORY: 512}
    assert planned.runner_up.monthly_usd == planned.best.monthly_usd
    passing = planned.table[planned.table["meets_slos"]]
    assert planned.best.monthly_usd == passing["monthly_usd"].min()
    assert planned.table["meets_slos"].tolist() == [False, False, True, True, True, True]


def test_reports_the_binding_constraint(planned: PlanResult) -> None:
    best = planned.best
    assert best is not None
    # No 5XX at all (slack 1.0); p99 of a few hundred ms against 2 s has less slack.
    assert best.slack["rate_5xx<0.001"] == 1.0
    assert 0 < best.slack["p99<2s"] < 1
    assert best.binding == "p99<2s" and best.violated == ()
    failing = planned.cheapest_failing
    assert failing is not None and failing.overrides == {KEY: 50, MEMORY: 512}
    assert failing.binding == "rate_5xx<0.001" and failing.violated == ("rate_5xx<0.001",)
    assert failing.monthly_usd < best.monthly_usd
    assert planned.closest is None


def test_no_best_when_the_slo_is_impossible(planned: PlanResult) -> None:
    impossible = choose(planned.sweep, ["p50<1ms", "rate_5xx<0.001"])
    assert impossible.best is None and impossible.runner_up is None
    assert not impossible.table["meets_slos"].any()
    closest = impossible.closest
    # Reserved concurrency 50 misses the 5XX SLO by far more than anything misses p50:
    # the closest point is the cheapest of those that miss only p50.
    assert closest is not None and closest.overrides == {KEY: 100, MEMORY: 512}
    assert closest.violated == ("p50<1ms",) and closest.binding == "p50<1ms"
    only_p50 = choose(planned.sweep, ["p50<1ms"]).closest
    assert only_p50 is not None
    assert only_p50.judged["p50<1ms"] == planned.sweep.table["p50_ms"].min()
    d = impossible.to_dict()
    assert d["best"] is None and d["passing"] == 0 and d["closest"]["binding"] == "p50<1ms"
    json.dumps(d)


def test_to_dict_is_json_ready(planned: PlanResult) -> None:
    d = json.loads(json.dumps(planned.to_dict()))
    assert d["best"]["overrides"] == {KEY: 100, MEMORY: 512}
    assert d["best"]["binding"] == "p99<2s"
    assert d["slos"] == ["rate_5xx<0.001", "p99<2s"]
    assert d["points"] == 6 and d["passing"] == 4
    assert "one run per point" in d["judged_on"]


# --------------------------------------------------------------------------- judging under noise


def fake_sweep(replications: int, rows: list[dict[str, float]]) -> SweepResult:
    """A sweep table built by hand: every metric 0 unless given."""
    full = []
    for i, row in enumerate(rows):
        out: dict[str, float] = {"x": i}
        for m in METRICS:
            mean = row.get(m, 0.0)
            out |= {m: mean, f"{m}_lo": row.get(f"{m}_lo", mean), f"{m}_hi": row.get(f"{m}_hi", mean)}
        full.append(out)
    return SweepResult("s.toml", {"x": list(range(len(rows)))}, replications, tuple(range(replications)),
                       pd.DataFrame(), pd.DataFrame(full))


def test_with_replications_the_upper_bound_must_meet_a_less_than_slo() -> None:
    rows = [
        {"monthly_usd": 100, "success_fraction": 1, "p99_ms": 790, "p99_ms_lo": 760, "p99_ms_hi": 820},
        {"monthly_usd": 150, "success_fraction": 1, "p99_ms": 600, "p99_ms_lo": 580, "p99_ms_hi": 700},
        {"monthly_usd": 90, "success_fraction": 0.9995, "success_fraction_lo": 0.998, "p99_ms": 100},
    ]
    slos = ["p99<800ms", "success_fraction>0.999"]
    # Point 0's mean p99 passes but its interval does not; point 2 is cheapest on the means.
    noisy = choose(fake_sweep(5, rows), slos)
    assert noisy.best is not None and noisy.best.index == 1
    assert noisy.best.judged["p99<800ms"] == 700
    assert noisy.points[0].violated == ("p99<800ms",)
    # The '>' SLO is judged on the lower bound: 0.998 misses 0.999.
    assert noisy.points[2].violated == ("success_fraction>0.999",)
    assert "upper for '<'" in noisy.judged_on and "5 replications" in noisy.judged_on
    single = choose(fake_sweep(1, rows), slos)
    assert single.best is not None and single.best.index == 2


def test_slo_objects_and_an_empty_list(planned: PlanResult) -> None:
    slo = SLO("rate_5xx", "<", 0.001, "rate_5xx<0.001")
    assert choose(planned.sweep, [slo]).best is not None
    with pytest.raises(ValueError, match="at least one SLO"):
        choose(planned.sweep, [])
    with pytest.raises(ValueError, match="--slo"):
        plan(Path("unused.toml"), ["p99<800"], {KEY: [1]})
