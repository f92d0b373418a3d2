"""Sweeps: the --vary grammar, one row per grid point, figures equal to direct runs,
confidence intervals, and the same table whatever runs the tasks."""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import simulator
from simulator.errors import ScenarioError, ThrottlesimError
from simulator.studies.sweep import (
    METRICS,
    SweepResult,
    headline,
    parse_vary,
    parse_vary_flags,
    run_point,
    run_sweep,
    student_t_quantile,
)

MINI = """
name = "mini-sale"
duration = "{duration}"
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
duration = {{ kind = "lognormal", median = "90ms", p99 = "300ms" }}
init = "200ms"

[[clients]]
name = "shoppers"
routes = {{ "POST /checkout" = 1 }}
arrivals = {{ process = "poisson", rate = [["0s", 100], ["1s", 600], ["{duration}", 600]] }}
"""

KEY = "functions.checkout.reserved_concurrency"


def write_mini(tmp_path: Path, duration: str = "3s") -> str:
    path = tmp_path / "mini.toml"
    path.write_text(MINI.format(duration=duration))
    return str(path)


# --------------------------------------------------------------------------- --vary


@pytest.mark.parametrize(
    "text, key, values",
    [
        ("functions.checkout.reserved_concurrency=50,100,200", KEY, [50, 100, 200]),
        (f"{KEY}=50:200:50", KEY, [50, 100, 150, 200]),
        (f"{KEY}=50:180:50", KEY, [50, 100, 150]),  # stop off the grid is not included
        (f"{KEY}=100:100:7", KEY, [100]),
        ("account.throttle.rate=0.1:0.3:0.1", "account.throttle.rate", [0.1, 0.2, 0.3]),
        ("functions.f.timeout=1s:3s:1s", "functions.f.timeout", ["1s", "2s", "3s"]),
        ("routes.x.integration_timeout=100ms:300ms:100ms", "routes.x.integration_timeout", ["100ms", "200ms", "300ms"]),
        ("functions.f.duration=90ms,120ms", "functions.f.duration", ["90ms", "120ms"]),
        ("functions.f.architecture = x86_64, arm64", "functions.f.architecture", ["x86_64", "arm64"]),
        ("behaviour.rejected_requests_consume_tokens=true,false", "behaviour.rejected_requests_consume_tokens",
         [True, False]),
        ("functions.f.error_rate=0,1e-3,0.01", "functions.f.error_rate", [0, 0.001, 0.01]),
        ("start=2026-03-02T23:55:00Z", "start", ["2026-03-02T23:55:00Z"]),
    ],
)
def test_vary_values(text: str, key: str, values: list[Any]) -> None:
    got_key, got = parse_vary(text)
    assert got_key == key
    assert got == values
    assert [type(v) for v in got] == [type(v) for v in values]


@pytest.mark.parametrize(
    "text, words",
    [
        ("functions.f.memory_mb", "expected key.path="),
        ("=1,2", "dotted path"),
        ("functions..memory_mb=1", "dotted path"),
        ("functions.f.memory_mb=", "no values"),
        ("functions.f.memory_mb=128,,256", "empty value"),
        ("functions.f.memory_mb=128,256,128", "listed twice"),
        ("functions.f.memory_mb=128:256", "start:stop:step"),
        ("functions.f.memory_mb=512:128:128", "below start"),
        ("functions.f.memory_mb=128:512:0", "step must be greater than 0"),
        ("functions.f.memory_mb=128:512:-128", "step must be greater than 0"),
        ("functions.f.timeout=1s:5:1", "numbers or all durations"),
        ("functions.f.memory_mb=0:1000000:1", "more than"),
        ("seed=1,2", "replications"),
    ],
)
def test_vary_errors_are_one_line_naming_the_flag(text: str, words: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_vary(text)
    message = str(err.value)
    assert message.startswith(f"--vary {text}: ") and "\n" not in message
    assert words in message


def test_vary_flags_combine_and_refuse_a_key_twice() -> None:
    assert parse_vary_flags([f"{KEY}=50,100", "functions.checkout.memory_mb=512"]) == {
        KEY: [50, 100], "functions.checkout.memory_mb": [512]}
    with pytest.raises(ValueError, match="already varied"):
        parse_vary_flags([f"{KEY}=50", f"{KEY}=100"])


# --------------------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    "df, t", [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (9, 2.262), (10, 2.228), (30, 2.042)]
)
def test_student_t_matches_the_printed_table(df: int, t: float) -> None:
    assert student_t_quantile(df) == pytest.approx(t, abs=6e-4)


def test_student_t_tends_to_the_normal() -> None:
    assert student_t_quantile(100_000) == pytest.approx(1.959964, abs=1e-4)
    # Both sides of the switch from the exact series to the expansion agree.
    assert student_t_quantile(200) == pytest.approx(student_t_quantile(201), abs=1e-4)
    assert student_t_quantile(200) == pytest.approx(1.971896, abs=1e-5)
    assert student_t_quantile(7, 0.99) == pytest.approx(3.499, abs=1e-3)


# --------------------------------------------------------------------------- the table


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_mini(tmp_path_factory.mktemp("sweep"))


@pytest.fixture(scope="module")
def three_by_two(mini: str) -> SweepResult:
    vary = {KEY: [50, 100, 200], "functions.checkout.memory_mb": [512, 1024]}
    with ThreadPoolExecutor(2) as pool:
        return run_sweep(mini, vary, replications=2, seed=11, executor=pool)


def test_one_row_per_grid_point_with_the_documented_columns(three_by_two: SweepResult) -> None:
    table = three_by_two.table
    keys = [KEY, "functions.checkout.memory_mb"]
    assert list(table.columns) == keys + [c for m in METRICS for c in (m, f"{m}_lo", f"{m}_hi")]
    assert table[keys].values.tolist() == [[50, 512], [50, 1024], [100, 512], [100, 1024], [200, 512], [200, 1024]]
    assert len(three_by_two.runs) == 12
    assert three_by_two.runs["seed"].tolist() == [11, 12] * 6
    assert three_by_two.points()[3] == {KEY: 100, "functions.checkout.memory_mb": 1024}


def test_figures_equal_direct_runs_at_the_same_overrides_and_seeds(three_by_two: SweepResult, mini: str) -> None:
    runs = three_by_two.runs
    for row in runs.itertuples(index=False):
        overrides = {KEY: row[0], "functions.checkout.memory_mb": row[1]}
        scenario = simulator.load_scenario(mini, overrides=overrides)
        direct = headline(simulator.simulate(scenario, seed=row.seed).summary())
        assert {m: getattr(row, m) for m in METRICS} == direct
    # Reserved concurrency 50 is too little for ~60-90 concurrent executions: Lambda throttles.
    table = three_by_two.table.set_index([KEY, "functions.checkout.memory_mb"])
    assert table.loc[(50, 512), "lambda_throttles"] > 0 and table.loc[(50, 512), "rate_5xx"] > 0.01
    assert table.loc[(200, 512), "lambda_throttles"] == 0
    # Memory changes the price, not the traffic.
    assert table.loc[(200, 1024), "monthly_usd"] > table.loc[(200, 512), "monthly_usd"]
    assert table.loc[(200, 1024), "p99_ms"] == table.loc[(200, 512), "p99_ms"]


def test_table_mean_and_interval_follow_from_the_runs(three_by_two: SweepResult) -> None:
    runs = three_by_two.runs
    row = three_by_two.table.iloc[2]
    values = runs[(runs[KEY] == 100) & (runs["functions.checkout.memory_mb"] == 512)]["p99_ms"].tolist()
    mean = sum(values) / 2
    half = student_t_quantile(1) * math.sqrt(sum((v - mean) ** 2 for v in values) / 1 / 2)
    assert row["p99_ms"] == pytest.approx(mean)
    assert row["p99_ms_lo"] == pytest.approx(mean - half)
    assert row["p99_ms_hi"] == pytest.approx(mean + half)


def test_intervals_contain_the_mean_and_shrink_with_replications(mini: str) -> None:
    vary = {KEY: [200]}
    with ThreadPoolExecutor(2) as pool:
        one = run_sweep(mini, vary, replications=1, executor=pool).table.iloc[0]
        few = run_sweep(mini, vary, replications=2, executor=pool).table.iloc[0]
        many = run_sweep(mini, vary, replications=8, executor=pool).table.iloc[0]
    for m in METRICS:
        assert one[f"{m}_lo"] == one[m] == one[f"{m}_hi"]
        for row in (few, many):
            assert row[f"{m}_lo"] <= row[m] <= row[f"{m}_hi"]
    for m in ("p50_ms", "p99_ms", "monthly_usd", "cold_starts"):
        assert many[f"{m}_hi"] - many[f"{m}_lo"] < few[f"{m}_hi"] - few[f"{m}_lo"]


def test_default_seed_is_the_scenarios(mini: str) -> None:
    with ThreadPoolExecutor(1) as pool:
        result = run_sweep(mini, {KEY: [200]}, replications=3, executor=pool)
    assert result.seeds == (3, 4, 5)


# --------------------------------------------------------------------------- executors


class ReversingExecutor:
    """Runs each task when submitted but completes the futures in reverse order once all
    *n* are in, so results arrive last-first."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pending: list[tuple[Future[Any], Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.pending.append((future, fn(*args)))
        if len(self.pending) == self.n:
            for f, value in reversed(self.pending):
                f.set_result(value)
        return future


def test_same_table_whatever_the_executor_or_completion_order(tmp_path: Path) -> None:
    path = write_mini(tmp_path, "2s")
    vary = {KEY: [50, 200], "functions.checkout.memory_mb": [512]}
    with ThreadPoolExecutor(2) as pool:
        threads = run_sweep(path, vary, replications=2, executor=pool)
    with ProcessPoolExecutor(2) as pool:
        processes = run_sweep(path, vary, replications=2, executor=pool)
    reversed_ = run_sweep(path, vary, replications=2, executor=ReversingExecutor(4))
    default = run_sweep(path, vary, replications=2)
    for other in (processes, reversed_, default):
        pd.testing.assert_frame_equal(threads.table, other.table)
        pd.testing.assert_frame_equal(threads.runs, other.runs)


def test_dask_local_cluster_gives_the_same_table(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    path = write_mini(tmp_path, "2s")
    vary = {KEY: [50, 200]}
    with ThreadPoolExecutor(1) as pool:
        local = run_sweep(path, vary, executor=pool)
    dask = pytest.importorskip("dask")
    with dask.config.set({"temporary-directory": str(tmp_path)}):  # dask's scratch space, not /tmp's
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        via_client = run_sweep(path, vary, executor=client)
        via_executor = run_sweep(path, vary, executor=client.get_executor())
    pd.testing.assert_frame_equal(local.table, via_client.table)
    pd.testing.assert_frame_equal(local.table, via_executor.table)


class RefusingExecutor:
    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        raise AssertionError("nothing should run")


def test_a_bad_point_fails_before_anything_runs(mini: str) -> None:
    with pytest.raises(ScenarioError, match="memory_mb"):
        run_sweep(mini, {"functions.checkout.memory_mb": [512, 64]}, executor=RefusingExecutor())
    with pytest.raises(ScenarioError, match="no entry named 'checkuot'"):
        run_sweep(mini, {"functions.checkuot.memory_mb": [512]}, executor=RefusingExecutor())
    with pytest.raises(ValueError, match="replications"):
        run_sweep(mini, {KEY: [50]}, replications=0, executor=RefusingExecutor())
    with pytest.raises(ValueError, match="non-empty list"):
        run_sweep(mini, {KEY: []}, executor=RefusingExecutor())


def test_progress_counts_every_run(mini: str) -> None:
    seen: list[tuple[int, int]] = []
    with ThreadPoolExecutor(2) as pool:
        run_sweep(mini, {KEY: [100, 200]}, replications=2, executor=pool, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_the_task_is_plain_data_in_small_dict_out(mini: str) -> None:
    figures = run_point(mini, {KEY: 200}, 5)
    assert set(figures) == set(METRICS) and all(isinstance(v, float) for v in figures.values())


# --------------------------------------------------------------------------- files


def test_csv_round_trip_and_parquet_needs_pyarrow(three_by_two: SweepResult, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    three_by_two.to_csv(tmp_path / "sweep.csv")
    back = pd.read_csv(tmp_path / "sweep.csv")
    assert back.shape == three_by_two.table.shape
    assert back["rate_5xx"].tolist() == pytest.approx(three_by_two.table["rate_5xx"].tolist())
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    with pytest.raises(ThrottlesimError) as err:
        three_by_two.to_parquet(tmp_path / "sweep.parquet")
    assert "pyarrow" in str(err.value) and "\n" not in str(err.value)


def test_fixed_overrides_apply_at_every_point(mini: str) -> None:
    fixed = {"functions.checkout.memory_mb": 2048}
    with ThreadPoolExecutor(2) as pool:
        result = run_sweep(mini, {KEY: [50, 200]}, executor=pool, overrides=fixed)
    for row in result.runs.itertuples(index=False):
        scenario = simulator.load_scenario(mini, overrides={KEY: row[0], **fixed})
        assert {m: getattr(row, m) for m in METRICS} == headline(simulator.simulate(scenario, seed=row.seed).summary())
    with pytest.raises(ValueError, match="both varied and fixed"):
        run_sweep(mini, {KEY: [50]}, overrides={KEY: 100}, executor=RefusingExecutor())
    with pytest.raises(ScenarioError, match="memory_mb"):
        run_sweep(mini, {KEY: [50]}, overrides={"functions.checkout.memory_mb": 64}, executor=RefusingExecutor())
