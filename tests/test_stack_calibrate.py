"""throttlesim calibrate with throttlesim as its own oracle.

A known scenario runs with records; its rows are rendered the way AWS logs them (Lambda REPORT
lines in the text and the JSON format, API Gateway JSON access-log lines); calibrating a copy
of the scenario from those logs must recover the distributions it was run with, and replaying
the recovered traffic must reproduce the gateway's decisions.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import simulator
from simulator.cli import main
from simulator.stack.calibrate import calibrate, write
from simulator.stack.lambda_logs import read_reports
from simulator.stack.render_logs import access_log_lines, report_lines

ORACLE = Path(__file__).parent / "data" / "stack" / "oracle.toml"


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("oracle")
    scenario = simulator.load_scenario(ORACLE)
    df = simulator.simulate(scenario, engine="simpy").to_dataframe()
    ran = df[(df.function != "") & (df.run_s > 0)]
    half = len(ran) // 2
    text = list(report_lines(df.loc[ran.index[:half]], scenario, "text"))
    (out / "reports.log").write_text("\n".join(
        text + ["START RequestId: x Version: $LATEST", "REPORT RequestId: broken Duration: ms"]) + "\n")
    (out / "reports.json").write_text("\n".join(report_lines(df.loc[ran.index[half:]], scenario, "json")) + "\n")
    (out / "access.jsonl").write_text("\n".join(access_log_lines(df, scenario)) + "\n")
    (out / "api.toml").write_text(ORACLE.read_text().replace(
        'duration = { kind = "lognormal", median = "80ms", p99 = "400ms" }', 'duration = "100ms"'))
    return out, df


def test_report_lines_of_both_formats_are_read(logs: tuple[Path, pd.DataFrame]) -> None:
    out, df = logs
    text, js = read_reports(out / "reports.log"), read_reports(out / "reports.json")
    ran = df[(df.function != "") & (df.run_s > 0)]
    assert len(text.invocations) + len(js.invocations) == len(ran)
    assert text.unreadable == 1 and "broken" in text.first_unreadable  # the START line is no report, not an error
    assert sum(i.init_ms is not None for i in text.invocations + js.invocations) == int(ran.cold_start.sum())


def test_calibration_recovers_the_distributions(logs: tuple[Path, pd.DataFrame]) -> None:
    out, _ = logs
    cal = calibrate(out / "api.toml", reports={"orders": [str(out / "reports.log"), str(out / "reports.json")]},
                    access_logs=[str(out / "access.jsonl")], out=out / "calibrated.toml")
    duration, init, overhead = cal.fits["orders.duration"], cal.fits["orders.init"], cal.fits["gateway_overhead"]
    # Tolerances: a half of ~4,500 run durations, ~1,700 inits and ~4,800 overheads fixes a median to a few
    # percent and a p99 to about 15%.
    assert duration.median_s == pytest.approx(0.080, rel=0.05) and duration.p99_s == pytest.approx(0.400, rel=0.15)
    assert init.median_s == pytest.approx(0.300, rel=0.06) and init.p99_s == pytest.approx(0.900, rel=0.15)
    assert overhead.median_s == pytest.approx(0.012, rel=0.05) and overhead.p99_s == pytest.approx(0.030, rel=0.15)
    assert duration.ks < 0.03 and abs(duration.quantile_errors["p50"]) < 0.05
    fn = cal.data["functions"][0]
    assert fn["error_rate"] == pytest.approx(0.05, abs=0.012)
    assert fn["duration"]["kind"] == "lognormal"


def test_replaying_the_recovered_traffic_reproduces_the_statuses(logs: tuple[Path, pd.DataFrame]) -> None:
    out, df = logs
    target = out / "replayed.toml"
    assert main(["calibrate", str(out / "api.toml"), "--report-log", f"orders={out / 'reports.log'}",
                 "--report-log", f"orders={out / 'reports.json'}", "--access-log", str(out / "access.jsonl"),
                 "--report", str(out / "report.json"), "--plots", str(out / "plots"), "-o", str(target)]) == 0
    scenario = simulator.load_scenario(target)
    assert scenario.clients[0].arrivals.process == "replay" and len(scenario.clients[0].arrivals.times) == len(df)
    replayed = simulator.simulate(scenario, engine="simpy").to_dataframe()
    assert (replayed.cause == "throttled_stage").sum() == (df.cause == "throttled_stage").sum()
    assert len(replayed) == len(df)
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "qq_gateway_overhead.png", "qq_orders_duration.png", "qq_orders_init.png", "rate_profile.png"]
    report = json.loads((out / "report.json").read_text())
    assert report["status"]["429"] == int((df.gateway_status == 429).sum())


def test_empirical_fit_writes_the_samples(logs: tuple[Path, pd.DataFrame]) -> None:
    out, _ = logs
    cal = calibrate(out / "api.toml", reports={"orders": [str(out / "reports.json")]}, out=out / "emp.toml",
                    fit="empirical")
    write(cal, out / "emp.toml", ["test"])
    s = simulator.load_scenario(out / "emp.toml")
    values = s.function("orders").duration.values
    assert len(values) == len(read_reports(out / "reports.json").invocations) - sum(
        i.status != "success" for i in read_reports(out / "reports.json").invocations)
    assert tomllib.loads((out / "emp.toml").read_text())["functions"][0]["duration"]["kind"] == "empirical"


def test_bad_logs_are_one_line_errors_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.log").write_text("START RequestId: x\n")
    (tmp_path / "api.toml").write_text(ORACLE.read_text())
    assert main(["calibrate", str(tmp_path / "api.toml"), "--report-log", str(tmp_path / "empty.log"),
                 "-o", str(tmp_path / "out.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds no Lambda REPORT lines" in err
    assert main(["calibrate", str(tmp_path / "api.toml"), "--report-log", str(tmp_path / "empty.log"),
                 "-o", str(tmp_path / "api.toml")]) == 2
    assert "that is the input scenario" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.toml", "empty.log"]


def test_a_fixed_overhead_is_fitted_as_fixed_despite_rounding() -> None:
    from simulator.stack.fitting import fit_lognormal

    fit = fit_lognormal([0.010 + 1e-12 * ((-1) ** i) for i in range(100)])
    assert fit.fixed and fit.ks == 0.0 and fit.median_s == pytest.approx(0.010)


def test_log_streams_give_reuse_gaps_lifetimes_and_peak_concurrency() -> None:
    from simulator.stack.environments import environments
    from simulator.stack.lambda_logs import _from_json

    def event(stream: str, end_s: float, duration_ms: float, init_ms: float | None = None) -> str:
        init = f"\tInit Duration: {init_ms} ms" if init_ms else ""
        return json.dumps({"logStreamName": stream, "timestamp": end_s * 1000,
                           "message": f"REPORT RequestId: x\tDuration: {duration_ms} ms\tBilled Duration: 1 ms{init}"})

    # Stream a: cold start 0.0-0.3 (init 200 ms + run 100 ms), then 0.8-1.0 and 5.0-5.5; stream b: 0.9-1.2.
    lines = [event("a", 0.3, 100, 200), event("a", 1.0, 200), event("a", 5.5, 500), event("b", 1.2, 300)]
    invocations = [_from_json(json.loads(line)) for line in lines]
    assert invocations[0].stream == "a" and invocations[0].init_ms == 200
    figures = environments(invocations)
    assert figures["environments"] == 2 and figures["peak_concurrency"] == 2
    assert figures["longest_reuse_gap_s"] == pytest.approx(4.0) and figures["median_reuse_gap_s"] == pytest.approx(2.25)
    assert figures["longest_lifetime_s"] == pytest.approx(5.5)
    assert environments([]) is None


def _stream_reports(path: Path, lives: list[tuple[str, float, float]], every_s: float = 1.0) -> None:
    """JSON REPORT lines of environments (stream, born, retired): one 100 ms invocation per
    *every_s* seconds, the first a cold start with 200 ms of init."""
    lines = []
    for stream, born, retired in lives:
        t = born
        first = True
        while t + 0.3 <= retired:
            init = "\tInit Duration: 200 ms" if first else ""
            end = t + (0.3 if first else 0.1)
            message = f"REPORT RequestId: x\tDuration: 100 ms\tBilled Duration: 100 ms{init}"
            lines.append(json.dumps({"logStreamName": stream, "timestamp": end * 1000, "message": message}))
            t += every_s
            first = False
    path.write_text("\n".join(lines) + "\n")


def test_retired_environments_set_the_maximum_lifetime(tmp_path: Path) -> None:
    # One environment at a time, invoked every second, replaced about every 100 s: each of the
    # first three streams ends 0.4 s before the next is born with a cold start (reuse gaps are
    # up to 0.9 s), so each was retired; its life, first start to last end, is 99.1 s.
    _stream_reports(tmp_path / "r.json", [("a", 0.0, 100.0), ("b", 99.5, 199.5), ("c", 199.0, 299.0),
                                          ("d", 298.5, 350.0)])
    (tmp_path / "api.toml").write_text(ORACLE.read_text())
    cal = calibrate(tmp_path / "api.toml", reports={"orders": [str(tmp_path / "r.json")]}, out=tmp_path / "o.toml")
    env = cal.figures["functions"]["orders"]["environments"]
    assert env["retirements"] == 3 and env["retired_lifetimes_s"] == [99.1, 99.1, 99.1]
    assert cal.data["behaviour"]["max_environment_lifetime"] == "99.100s"
    write(cal, tmp_path / "o.toml", ["calibrated"])
    assert simulator.load_scenario(tmp_path / "o.toml").behaviour.max_environment_lifetime == pytest.approx(99.1)


def test_environments_that_idled_out_are_not_retirements(tmp_path: Path) -> None:
    # The same lives with a 60 s pause between them: a new environment after a pause longer than
    # any reuse gap seen says nothing about lifetimes.
    _stream_reports(tmp_path / "r.json", [("a", 0.0, 100.0), ("b", 160.0, 260.0), ("c", 320.0, 420.0),
                                          ("d", 480.0, 500.0)])
    (tmp_path / "api.toml").write_text(ORACLE.read_text())
    cal = calibrate(tmp_path / "api.toml", reports={"orders": [str(tmp_path / "r.json")]}, out=tmp_path / "o.toml")
    assert cal.figures["functions"]["orders"]["environments"]["retirements"] == 0
    assert "max_environment_lifetime" not in cal.data.get("behaviour", {})
    assert any("retired environments" in w for w in cal.warnings)
