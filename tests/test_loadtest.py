"""Load tests against a real (local) HTTP server: the plan, the log, the Locust subprocess.

The plan tests need no Locust. The end-to-end tests run Locust as a subprocess (never
imported here: gevent would monkey-patch the test process) against a stdlib server on
127.0.0.1 that answers ``GET /x`` with 200, and with 429 every third request (``GET /slow``
answers after 400 ms, too late for a client with a 150 ms timeout).
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import simulator
from loadtests.log import AttemptLog, answer_fields, client_error_message, read_log, replay_overrides, to_trace
from loadtests.plan import api_key_variable, drain_bound_s, plan_arrivals, route_request, worker_share
from simulator.rng import stream
from simulator.traffic.arrivals import open_arrival_times

# Looked up, never imported: importing Locust would monkey-patch this process with gevent.
needs_locust = pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="Locust is not installed")

# ---------------------------------------------------------------------- the plan (no Locust)

PLAN_SCENARIO = """
name = "plan"
duration = "20s"
seed = 11
routes = [
  { name = "GET /a", function = "f" },
  { name = "POST /b", function = "f" },
  { name = "GET /c/{id}", function = "f" },
]
functions = [{ name = "f", duration = "5ms" }]
[[clients]]
name = "poisson"
routes = { "GET /a" = 3, "POST /b" = 1, "GET /c/{id}" = 1 }
arrivals = { process = "poisson", rate = [["0s", 5], ["10s", 40]], bursts = [{ at = "3s", count = 20, over = "1s" }] }
[[clients]]
name = "uniform"
routes = { "GET /a" = 1 }
arrivals = { process = "uniform", rate = 20, bursts = [{ at = "5s", count = 7 }] }
[[clients]]
name = "trace"
routes = { "GET /a" = 1, "POST /b" = 1 }
arrivals = { process = "replay", file = "trace.csv" }
[[clients]]
name = "users"
routes = { "GET /a" = 1 }
arrivals = { process = "closed", users = 3, spawn_rate = 1, wait = { kind = "constant", time = "1s" } }
"""


@pytest.fixture
def plan_scenario(tmp_path: Path) -> Path:
    rows = ["time_s,route"] + [f"{0.37 * k:.3f},{'POST /b' if k % 4 == 0 else ''}" for k in range(40)]
    (tmp_path / "trace.csv").write_text("\n".join(rows) + "\n")
    path = tmp_path / "plan.toml"
    path.write_text(PLAN_SCENARIO)
    return path


def test_planned_times_are_the_simulators_arrival_times(plan_scenario: Path) -> None:
    scenario = simulator.load_scenario(plan_scenario, seed=5)
    plan = plan_arrivals(scenario)
    for name in ("poisson", "uniform"):
        spec = next(c for c in scenario.clients if c.name == name).arrivals
        expected = open_arrival_times(spec, scenario.duration, stream(5, "arrivals", name))
        got = np.array([a.time_s for a in plan if a.client == name])
        np.testing.assert_array_equal(got, expected)
    assert [a.time_s for a in plan if a.client == "trace"] == [round(0.37 * k, 3) for k in range(40)]
    assert not [a for a in plan if a.client == "users"]
    assert [a.time_s for a in plan] == sorted(a.time_s for a in plan)


def test_plan_is_what_the_engine_sends_request_for_request(plan_scenario: Path) -> None:
    scenario = simulator.load_scenario(plan_scenario, seed=5)
    plan = plan_arrivals(scenario)
    sent = simulator.simulate(scenario).requests_dataframe()
    sent = sent[sent["client"] != "users"]
    for name in ("poisson", "uniform", "trace"):
        mine = [(a.time_s, a.route) for a in plan if a.client == name]
        engine = sent[sent["client"] == name]
        assert mine == list(zip(engine["time_s"].tolist(), engine["route"].tolist(), strict=True))
    trace_routes = [a.route for a in plan if a.client == "trace"]
    assert trace_routes[0::4] == ["POST /b"] * 10  # named in the trace, not drawn


def test_shorter_duration_keeps_the_prefix(plan_scenario: Path) -> None:
    scenario = simulator.load_scenario(plan_scenario)
    full = plan_arrivals(scenario)
    short = plan_arrivals(scenario, duration_s=6.0)
    assert short == [a for a in full if a.time_s < 6.0]


def test_worker_shares_take_every_nth_arrival(plan_scenario: Path) -> None:
    plan = plan_arrivals(simulator.load_scenario(plan_scenario))
    shares = [worker_share(plan, k, 3) for k in range(3)]
    assert sorted((a.time_s, a.client, a.index) for s in shares for a in s) == sorted(
        (a.time_s, a.client, a.index) for a in plan
    )
    assert shares[1] == [plan[i] for i in range(1, len(plan), 3)]
    with pytest.raises(ValueError):
        worker_share(plan, 3, 3)


def test_route_names_become_requests() -> None:
    assert route_request("GET /orders") == ("GET", "/orders")
    assert route_request("post /orders/{id}/items") == ("POST", "/orders/1/items")
    assert route_request("ANY /{proxy+}") == ("GET", "/1")
    assert route_request("$default") == ("GET", "/")
    assert api_key_variable("free-poller") == "THROTTLESIM_API_KEY_FREE_POLLER"


def test_drain_bound_covers_every_attempt_and_backoff(tmp_path: Path) -> None:
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    scenario = simulator.load_scenario(path)
    assert drain_bound_s(scenario) == 60.0  # "paced" sets no timeout: at most 60 s for the gateway's answer
    quick = simulator.load_scenario(path, overrides={"clients.paced.timeout": "1s"})
    assert drain_bound_s(quick) == 2 * 2.0 + 0.050  # "open": 2 attempts of 2 s, 50 ms between


def test_answer_fields_read_the_body_and_headers() -> None:
    headers = {"x-throttlesim-cause": "quota_exceeded", "x-throttlesim-cold-start": "true"}
    body = b'{"message": "Limit Exceeded"}'
    assert answer_fields(429, headers, body, None) == ("Limit Exceeded", "quota_exceeded", "1")
    assert answer_fields(200, {}, b"[1, 2]", None) == ("", "", "")
    assert answer_fields(502, None, "not json", None) == ("", "", "")

    class Wrapped(Exception):
        original = TimeoutError("timed out")

    assert answer_fields(0, None, None, Wrapped("retries exceeded")) == ("client timeout", "", "")
    assert client_error_message(ConnectionRefusedError(111, "refused")) == "connection refused"


def test_loadtest_modules_never_import_locust() -> None:
    code = "import sys, loadtests.plan, loadtests.log, loadtests.runner; print({'locust', 'gevent'} & set(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "set()"


def test_log_round_trip_and_replay_traces(tmp_path: Path, plan_scenario: Path) -> None:
    log = AttemptLog(tmp_path / "attempts-w0.csv")
    rows = [(0.5, "GET /a", 1, 429, "1"), (0.6, "GET /a", 2, 200, ""), (0.25, "POST /b", 1, 0, "0")]
    for n, (t, route, attempt, status, cold) in enumerate(rows):
        message = "Too Many Requests" if status == 429 else ""
        request_id = f"poisson#{n if attempt == 1 else 0}"
        log.write(intended_start_s=t, actual_start_s=t + 0.001, latency_ms=12.5, status=status, client="poisson",
                  route=route, request_id=request_id, attempt=attempt, message=message, cause="", cold_start=cold,
                  worker=0)  # fmt: skip
    log.close()
    df = read_log(tmp_path / "attempts-w0.csv")
    assert df["status"].tolist() == [429, 200, 0]
    assert df["cold_start"].isna().tolist() == [False, True, False]
    assert df["cold_start"].iloc[0] == 1 and df["cold_start"].iloc[2] == 0
    assert str(df["cold_start"].dtype) == "Int8"
    traces = to_trace(df, tmp_path / "traces")
    assert (tmp_path / "traces" / "trace-poisson.csv").read_text().splitlines() == [
        "time_s,route", "0.250000,POST /b", "0.500000,GET /a"
    ]  # fmt: skip
    replayed = simulator.load_scenario(plan_scenario, overrides=replay_overrides(traces))
    assert [a.time_s for a in plan_arrivals(replayed) if a.client == "poisson"] == [0.25, 0.5]


# ---------------------------------------------------------------------- a local API


class _Api(BaseHTTPRequestHandler):
    lock = threading.Lock()
    count = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/slow":  # answers after the impatient client's timeout; not counted
            time.sleep(0.4)
            return self._answer(200, {"ok": True}, "", "0")
        with _Api.lock:
            _Api.count += 1
            n = _Api.count
        if self.path != "/x":
            code, body = 404, {"message": "Not Found"}
        elif n % 3 == 0:
            code, body = 429, {"message": "Too Many Requests"}
        else:
            code, body = 200, {"ok": True}
        self._answer(code, body, "throttled_stage" if code == 429 else "", "1" if n == 1 else "0")

    def _answer(self, code: int, body: dict[str, Any], cause: str, cold: str) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if cause:
            self.send_header("x-throttlesim-cause", cause)
        self.send_header("x-throttlesim-cold-start", cold)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:  # the client gave up (its timeout)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


SMALL = """
name = "small"
duration = "3s"
seed = 2
routes = [{ name = "GET /x", function = "f" }, { name = "GET /slow", function = "f" }]
functions = [{ name = "f", duration = "10ms" }]
[[clients]]
name = "open"
api_key = "k-open"
routes = { "GET /x" = 1 }
arrivals = { process = "uniform", rate = 20 }
retry = { mode = "fixed", delay = "50ms", max_attempts = 2, on = [429] }
timeout = "2s"
[[clients]]
name = "paced"
routes = { "GET /x" = 1 }
arrivals = { process = "closed", users = 1, spawn_rate = 1, wait = { kind = "constant_pacing", time = "500ms" } }
[[clients]]
name = "impatient"
routes = { "GET /slow" = 1 }
arrivals = { process = "uniform", rate = 2 }
timeout = "150ms"
"""

#: How late an attempt may start after its intended time on a busy 2-core machine.
SLACK_S = 0.1


def _no_locust_left(out_dir: Path) -> list[int]:
    """Locust processes (the master or a forked worker) still running in *out_dir*."""
    psutil = pytest.importorskip("psutil")  # installed with Locust
    left = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "locust" in cmd and p.info["cwd"] == str(out_dir):
            left.append(p.pid)
    return left


@pytest.fixture(scope="module")
def small_run(api: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from loadtests.runner import run_loadtest

    base = tmp_path_factory.mktemp("loadtest")
    scenario = base / "small.toml"
    scenario.write_text(SMALL)
    seen: list[Any] = []
    run = run_loadtest(scenario, api, out_dir=base / "out", progress=seen.append)
    return run, scenario, seen


@pytest.mark.realtime
@needs_locust
def test_log_has_every_planned_attempt_on_time(small_run: Any) -> None:
    run, scenario, seen = small_run
    df = run.dataframe()
    plan = [a for a in plan_arrivals(simulator.load_scenario(scenario)) if a.client == "open"]
    opened = df[(df["client"] == "open") & (df["attempt"] == 1)].sort_values("intended_start_s")
    assert len(opened) == len(plan) == 60 and run.planned == run.sent == 66
    np.testing.assert_allclose(opened["intended_start_s"], [a.time_s for a in plan], atol=1e-6)
    assert opened["request_id"].tolist() == [f"open#{a.index}" for a in plan]
    lag = df["actual_start_s"] - df["intended_start_s"]
    assert lag.min() >= -1e-3 and lag.max() < SLACK_S, f"scheduling lag {lag.min():.4f}..{lag.max():.4f} s"
    assert run.attempts == len(df) and run.requests == int((df["attempt"] == 1).sum())
    assert [p.phase for p in seen][-2:] == ["merging", "done"] and "running" in {p.phase for p in seen}


@pytest.mark.realtime
@needs_locust
def test_statuses_messages_and_headers_are_recorded(small_run: Any) -> None:
    df = small_run[0].dataframe()
    df = df[df["client"] != "impatient"]
    assert set(df["status"]) == {200, 429}
    too_many = df[df["status"] == 429]
    assert set(too_many["message"]) == {"Too Many Requests"} and set(too_many["cause"]) == {"throttled_stage"}
    assert set(df.loc[df["status"] == 200, "cause"]) == {""}
    assert df["cold_start"].sum() == 1  # the server's first answer only
    assert abs(df["status"].eq(429).mean() - 1 / 3) < 0.05


@pytest.mark.realtime
@needs_locust
def test_client_timeout_is_status_0(small_run: Any) -> None:
    df = small_run[0].dataframe()
    slow = df[df["client"] == "impatient"]
    assert len(slow) == 6 and set(slow["status"]) == {0} and set(slow["message"]) == {"client timeout"}
    assert slow["latency_ms"].between(140, 400).all()  # the 150 ms timeout, not the 400 ms answer


@pytest.mark.realtime
@needs_locust
def test_retries_are_logged_as_attempts(small_run: Any) -> None:
    df = small_run[0].dataframe()
    opened = df[df["client"] == "open"]
    retried = opened[opened["attempt"] == 2]
    firsts = opened[opened["attempt"] == 1].set_index("request_id")
    assert len(retried) == (firsts["status"] == 429).sum() > 0
    for _, r in retried.iterrows():
        first = firsts.loc[r["request_id"]]
        assert first["status"] == 429
        due = first["actual_start_s"] + first["latency_ms"] / 1000 + 0.050
        assert abs(r["intended_start_s"] - due) < 0.02
    assert opened["attempt"].max() == 2  # max_attempts


@pytest.mark.realtime
@needs_locust
def test_closed_user_keeps_its_pacing(small_run: Any) -> None:
    df = small_run[0].dataframe()
    paced = df[df["client"] == "paced"].sort_values("actual_start_s")
    starts = paced["actual_start_s"].to_numpy()
    assert len(starts) == 6  # tasks at 0, 0.5, ..., 2.5 s
    assert starts[0] < SLACK_S
    np.testing.assert_allclose(np.diff(starts), 0.5, atol=0.05)


@pytest.mark.realtime
@needs_locust
def test_run_ends_by_itself_and_leaves_no_process(small_run: Any) -> None:
    run, _, _ = small_run
    assert run.exit_code == 0
    # It quit once every answer was in, not at Locust's -t limit (duration + drain bound).
    assert "--run-time limit reached" not in run.locust_output.read_text()
    assert _no_locust_left(run.out_dir) == []


@pytest.mark.realtime
@needs_locust
def test_overrun_stops_every_process(api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loadtests import runner

    monkeypatch.setattr(runner, "_wall_bound_s", lambda run_time_s: 2.5)  # less than the 3 s test
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    with pytest.raises(runner.LoadTestError, match=r"did not end within 2s; stopped"):
        runner.run_loadtest(scenario, api, out_dir=tmp_path / "out", processes=2)
    assert _no_locust_left((tmp_path / "out").resolve()) == []


@pytest.mark.realtime
@needs_locust
def test_distributed_workers_split_the_plan(api: str, tmp_path: Path) -> None:
    from loadtests.runner import run_loadtest

    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL.replace('duration = "3s"', 'duration = "2s"'))
    run = run_loadtest(scenario, api, out_dir=tmp_path / "out", processes=2)
    df = run.dataframe()
    plan = plan_arrivals(simulator.load_scenario(scenario))
    firsts = df[(df["client"] != "paced") & (df["attempt"] == 1)]
    for k in (0, 1):
        mine = firsts[firsts["worker"] == k].sort_values(["intended_start_s", "request_id"])
        share = sorted(worker_share(plan, k, 2), key=lambda a: (a.time_s, f"{a.client}#{a.index}"))
        assert mine["request_id"].tolist() == [f"{a.client}#{a.index}" for a in share]
    assert len(df[df["client"] == "paced"]) == 4
    assert _no_locust_left(run.out_dir) == []


def test_remote_host_is_refused_without_sending(tmp_path: Path) -> None:
    from loadtests.runner import LoadTestError, run_loadtest

    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    for host in ("http://10.1.2.3:8080", "https://example.com", "http://127.0.0.1.example.com/"):
        with pytest.raises(LoadTestError) as err:
            run_loadtest(scenario, host, out_dir=tmp_path / "out")
        assert "not a loopback address" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.realtime
def test_unreachable_port_is_one_clean_line(tmp_path: Path) -> None:
    from loadtests.runner import LoadTestError, run_loadtest

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    with pytest.raises(LoadTestError) as err:
        run_loadtest(scenario, f"http://127.0.0.1:{port}", out_dir=tmp_path / "out")
    assert str(err.value).startswith(f"cannot reach http://127.0.0.1:{port}: ") and "\n" not in str(err.value)
