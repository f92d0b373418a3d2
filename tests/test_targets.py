"""The real HTTP targets: each is started as a subprocess on a free 127.0.0.1 port from a
tiny scenario, and answers a handful of requests with AWS's statuses and bodies."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("aiohttp")

from loadtests.target.nginx import find_nginx

ROOT = Path(__file__).resolve().parent.parent
NGINX = find_nginx()
needs_nginx = pytest.mark.skipif(NGINX is None, reason="no nginx binary (apt-get install nginx-light)")

SCENARIO = """
name = "targets"
duration = "10s"
[api]
type = "REST"
api_key_required = true
[[routes]]
name = "GET /fast"
function = "fast"
[[routes]]
name = "GET /limited"
function = "fast"
throttle = { rate = 1, burst = 1 }
[[routes]]
name = "GET /slow"
function = "slow"
[[routes]]
name = "GET /hang"
function = "hang"
integration_timeout = "300ms"
[[functions]]
name = "fast"
duration = "1ms"
init = "1ms"
[[functions]]
name = "slow"
duration = "600ms"
init = "1ms"
reserved_concurrency = 1
[[functions]]
name = "hang"
duration = "1500ms"
init = "1ms"
timeout = "5s"
reserved_concurrency = 1
[[usage_plans]]
name = "open"
[[usage_plans]]
name = "throttled"
throttle = { rate = 1, burst = 1 }
[[usage_plans]]
name = "metered"
quota = { limit = 2, period = "DAY" }
"""

CLIENTS = [("open", "open-key-000000000000000000000000"), ("throttled", "throttled-key-0000000000000000000"),
           ("metered", "metered-key-000000000000000000000")]
KEY = {plan: key for plan, key in CLIENTS}


def write_scenario(directory: Path) -> Path:
    text = SCENARIO + "".join(
        f'[[clients]]\nname = "{plan}"\napi_key = "{key}"\nusage_plan = "{plan}"\n'
        'routes = { "GET /fast" = 1 }\narrivals = { process = "uniform", rate = 1 }\n'
        for plan, key in CLIENTS
    )
    path = directory / "targets.toml"
    path.write_text(text)
    return path


class Target:
    """A running ``python -m loadtests.target.serve``."""

    def __init__(self, scenario: Path, gateway: str, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "loadtests.target.serve", str(scenario), "--port", "0",
             "--gateway", gateway, *extra],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline() if ready else ""  # type: ignore[union-attr]
        if not line.startswith("listening on http://127.0.0.1:"):
            self.kill()
            raise AssertionError(f"target did not start: {line!r} {self.process.stderr.read()!r}")  # type: ignore[union-attr]
        self.url = line.split()[-1]
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def get(self, path: str, plan: str | None = "open") -> httpx.Response:
        headers = {"x-api-key": KEY[plan]} if plan else {}
        return self.client.get(path, headers=headers)

    def stop(self) -> int:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("targets"))


def _started(scenario: Path, gateway: str) -> Iterator[Target]:
    target = Target(scenario, gateway, "--duration-limit", "120")
    children = target.children()
    try:
        yield target
    finally:
        status = target.stop()
        target.kill()
        assert status == 0, "the target did not stop cleanly on SIGTERM"
        time.sleep(0.1)
        assert not [pid for pid in children if alive(pid)], "nginx outlived the target"


@pytest.fixture(scope="module")
def emulated(scenario: Path) -> Iterator[Target]:
    yield from _started(scenario, "emulated")


@pytest.fixture(scope="module")
def nginx(scenario: Path) -> Iterator[Target]:
    if NGINX is None:
        pytest.skip("no nginx binary (apt-get install nginx-light)")
    yield from _started(scenario, "nginx")


def answer(r: httpx.Response) -> tuple[int, str, str]:
    return r.status_code, r.text, r.headers.get("x-throttlesim-cause", "")


def concurrently(target: Target, path: str, n: int = 2) -> list[httpx.Response]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: target.get(path), range(n)))


# --------------------------------------------------------------------------- emulated API Gateway


@pytest.mark.realtime
def test_emulated_a_request_without_a_key_is_forbidden(emulated):
    assert answer(emulated.get("/fast", plan=None)) == (403, '{"message":"Forbidden"}', "forbidden")
    r = emulated.client.get("/fast", headers={"x-api-key": "nobody-000000000000000000000000"})
    assert answer(r) == (403, '{"message":"Forbidden"}', "forbidden")


@pytest.mark.realtime
def test_emulated_ok_carries_the_cause_and_cold_start_headers(emulated):
    first, second = emulated.get("/fast"), emulated.get("/fast")
    assert (first.status_code, first.headers["x-throttlesim-cause"]) == (200, "ok")
    assert first.json()["function"] == "fast"
    assert [first.headers["x-throttlesim-cold-start"], second.headers["x-throttlesim-cold-start"]] == ["1", "0"]


@pytest.mark.realtime
def test_emulated_usage_plan_throttle_is_429_too_many_requests(emulated):
    # rate 1, burst 1: the bucket holds one token; the second request a moment later finds none.
    got = [answer(emulated.get("/fast", plan="throttled")) for _ in range(2)]
    assert got[0][0] == 200
    assert got[1] == (429, '{"message":"Too Many Requests"}', "throttled_usage_plan")


@pytest.mark.realtime
def test_emulated_quota_is_429_limit_exceeded(emulated):
    got = [answer(emulated.get("/fast", plan="metered")) for _ in range(3)]
    assert [g[0] for g in got[:2]] == [200, 200]
    assert got[2] == (429, '{"message":"Limit Exceeded"}', "quota_exceeded")


@pytest.mark.realtime
def test_emulated_route_throttle_is_429_throttled_method(emulated):
    got = [answer(emulated.get("/limited")) for _ in range(2)]
    assert got[1] == (429, '{"message":"Too Many Requests"}', "throttled_method")


@pytest.mark.realtime
def test_emulated_lambda_throttle_is_500_with_reserved_concurrency_1(emulated):
    got = sorted(answer(r) for r in concurrently(emulated, "/slow"))
    assert got[0][:1] == (200,) and got[0][2] == "ok"
    assert got[1] == (500, '{"message":"Internal server error"}', "lambda_throttled")


@pytest.mark.realtime
def test_emulated_integration_timeout_is_504_at_the_timeout_while_the_function_runs_on(emulated):
    start = time.monotonic()
    first = emulated.get("/hang")
    elapsed = time.monotonic() - start
    assert answer(first) == (504, '{"message":"Endpoint request timed out"}', "integration_timeout")
    assert 0.3 <= elapsed < 1.4  # at the 300 ms timeout, not at the function's 1.5 s
    # The function still holds its only slot: the next invocation is throttled.
    assert answer(emulated.get("/hang")) == (500, '{"message":"Internal server error"}', "lambda_throttled")


# --------------------------------------------------------------------------- nginx


@pytest.mark.realtime
@needs_nginx
def test_nginx_a_request_without_a_key_is_forbidden(nginx):
    assert answer(nginx.get("/fast", plan=None)) == (403, '{"message":"Forbidden"}', "forbidden")


@pytest.mark.realtime
@needs_nginx
def test_nginx_route_limit_is_429_and_names_the_throttles_that_applied(nginx):
    # rate=1r/s burst=0 (AWS burst 1): a second request within the second is refused.
    got = [answer(nginx.get("/limited")) for _ in range(2)]
    assert got[0][0] == 200
    assert got[1] == (429, '{"message":"Too Many Requests"}', "throttled_method|throttled_account")


@pytest.mark.realtime
@needs_nginx
def test_nginx_usage_plan_throttle_is_429(nginx):
    got = [answer(nginx.get("/fast", plan="throttled")) for _ in range(2)]
    assert got[1] == (429, '{"message":"Too Many Requests"}', "throttled_usage_plan|throttled_account")


@pytest.mark.realtime
@needs_nginx
def test_nginx_lambda_throttle_from_the_runtime_passes_through(nginx):
    got = sorted(answer(r) for r in concurrently(nginx, "/slow"))
    assert got[0][0] == 200
    assert got[1] == (500, '{"message":"Internal server error"}', "lambda_throttled")


@pytest.mark.realtime
@needs_nginx
def test_nginx_proxy_read_timeout_is_504_while_the_function_runs_on(nginx):
    start = time.monotonic()
    first = nginx.get("/hang")
    elapsed = time.monotonic() - start
    assert answer(first) == (504, '{"message":"Endpoint request timed out"}', "integration_timeout")
    assert 0.3 <= elapsed < 1.4
    assert answer(nginx.get("/hang")) == (500, '{"message":"Internal server error"}', "lambda_throttled")


# --------------------------------------------------------------------------- the launcher


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadtests.target.serve", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.realtime
def test_an_unknown_scenario_file_is_one_line_and_exit_2(tmp_path):
    done = run_serve(str(tmp_path / "missing.toml"), "--port", "0")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"{tmp_path / 'missing.toml'}: no such file\n"


@pytest.mark.realtime
def test_a_port_in_use_is_one_line_and_exit_2(emulated, scenario):
    port = emulated.url.rsplit(":", 1)[1]
    done = run_serve(str(scenario), "--port", port)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert done.stderr.count("\n") == 1


@pytest.mark.realtime
@needs_nginx
def test_the_target_stops_by_itself_after_the_duration_limit_with_no_nginx_left(scenario):
    target = Target(scenario, "nginx", "--duration-limit", "0.5")
    children = target.children()
    try:
        assert children, "nginx runs as a child of the target"
        assert target.process.wait(15) == 0
        time.sleep(0.1)
        assert not [pid for pid in children if alive(pid)]
    finally:
        target.kill()


# --------------------------------------------------------------------------- pieces


def test_http_api_answers_its_own_statuses_and_bodies(build):
    from loadtests.target.answers import Answers
    from simulator import outcomes as oc

    answers = Answers(build(api={"type": "HTTP"}))
    assert answers.error(oc.THROTTLED_METHOD) == (429, b'{"message":"Too Many Requests"}')
    assert answers.error(oc.LAMBDA_THROTTLED) == (500, b'{"message":"Internal Server Error"}')
    assert answers.error(oc.FUNCTION_ERROR) == (500, b'{"message":"Internal Server Error"}')
    assert answers.error(oc.INTEGRATION_TIMEOUT) == (503, b'{"message":"Service Unavailable"}')
    assert answers.no_route() == (404, b'{"message":"Not Found"}')
    rest = Answers(build(behaviour={"lambda_throttle_status": 502}))
    assert rest.error(oc.LAMBDA_THROTTLED) == (502, b'{"message":"Internal server error"}')
    assert rest.error(oc.QUOTA_EXCEEDED) == (429, b'{"message":"Limit Exceeded"}')


def test_routes_prefer_the_method_then_literal_paths_then_default(build):
    from loadtests.target.routes import RouteTable

    names = ["ANY /items/{id}", "GET /items/{id}", "GET /items/new", "GET /files/{proxy+}", "$default"]
    s = build(routes=[{"name": n, "function": "f"} for n in names],
              clients=[{"name": "c", "routes": {"$default": 1}, "arrivals": {"process": "uniform", "rate": 1}}])
    table = RouteTable(s.routes)
    got = [table.match(m, p).name for m, p in [  # type: ignore[union-attr]
        ("GET", "/items/new"), ("GET", "/items/7"), ("POST", "/items/7"), ("GET", "/files/a/b.txt"),
        ("GET", "/items/7/x"), ("DELETE", "/"),
    ]]
    assert got == ["GET /items/new", "GET /items/{id}", "ANY /items/{id}", "GET /files/{proxy+}", "$default",
                   "$default"]


@needs_nginx
@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.toml")), ids=lambda p: p.stem)
def test_nginx_accepts_the_configuration_of_every_shipped_scenario(path, tmp_path):
    import simulator
    from loadtests.target.nginx import nginx_config

    for what in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "temp" / what).mkdir(parents=True)
    conf = tmp_path / "nginx.conf"
    s = simulator.load_scenario(path)
    conf.write_text(nginx_config(s, port=1, upstream_port=2, prefix=tmp_path))
    done = subprocess.run([NGINX, "-t", "-q", "-p", f"{tmp_path}/", "-c", str(conf), "-e", str(tmp_path / "e.log")],
                          capture_output=True, text=True, timeout=10, check=False)
    assert done.returncode == 0, done.stderr


def test_nginx_configuration_maps_aws_throttles_to_limit_req(scenario, tmp_path):
    import simulator
    from loadtests.target.nginx import nginx_config

    text = nginx_config(simulator.load_scenario(scenario), port=8080, upstream_port=8081, prefix=tmp_path)
    assert "limit_req_zone $throttlesim_key_p1 zone=p1:10m rate=1r/s;" in text
    assert "limit_req_zone \"account\" zone=account:10m rate=10000r/s;" in text
    assert "limit_req zone=account burst=4999 nodelay;" in text
    assert "limit_req zone=r1 nodelay;" in text  # AWS burst 1 is nginx burst 0
    assert "proxy_read_timeout 300ms;" in text and "proxy_read_timeout 29000ms;" in text
    assert "usage-plan quotas (metered) have no nginx equivalent" in text


@pytest.mark.realtime
@needs_nginx
def test_nginx_504_is_completed_by_the_runtimes_invocation_log(scenario, tmp_path):
    """nginx answers the 504 itself; the runtime still logs when it received the request,
    how long the function ran and whether it was a cold start, under the request id the
    client got as ``x-amzn-RequestId``."""
    import pandas as pd

    from loadtests.log import request_id, server_fields
    from loadtests.target.invocation_log import read_invocations
    from loadtests.validation import with_invocations

    # The model's runtime behind nginx knows the function's time exactly when it starts it.
    target = Target(scenario, "nginx", "--runtime", "model", "--duration-limit", "60", "--log-dir", str(tmp_path))
    try:
        limited = [target.get("/limited") for _ in range(2)]
        hang = target.get("/hang")
    finally:
        assert target.stop() == 0
        target.kill()
    ids = [request_id(r.headers) for r in (*limited, hang)]
    assert all(len(i) == 32 for i in ids) and len(set(ids)) == 3  # nginx's $request_id on every answer
    assert answer(hang)[0] == 504 and server_fields(hang.headers)["function_ms"] == ""
    logged = read_invocations(tmp_path / "invocations.csv")
    assert ids[1] not in logged.index  # refused by nginx: never reached the runtime
    assert logged.loc[ids[2], "function_ms"] == pytest.approx(1501.0)  # init 1 ms + run 1,500 ms
    assert logged.loc[ids[2], "cold_start"] == 1
    observed = pd.DataFrame({"aws_request_id": pd.array(ids, dtype="string"), "status": [200, 429, 504],
                             "function_received_s": [1.0, float("nan"), float("nan")],
                             "function_ms": [float("nan")] * 3, "cold_start": pd.array([1, 0, None], dtype="Int8")})
    filled = with_invocations(observed, tmp_path / "invocations.csv")
    assert filled["function_received_s"].iloc[0] == 1.0  # what the client saw is kept
    assert filled["function_received_s"].iloc[2] == logged.loc[ids[2], "function_received_s"]
    assert pd.isna(filled["function_received_s"].iloc[1])
    assert filled["cold_start"].iloc[2] == 1


@needs_nginx
@pytest.mark.realtime
def test_nginx_504_is_completed_by_the_independent_runtimes_log(scenario, tmp_path):
    """Behind nginx by default, the independent runtime logs an invocation as it starts it
    and again when its worker reports the end: a 504 that nginx gave alone gets the
    runtime's receive time, cold start and (once the function is done) its busy time."""
    from loadtests.log import request_id
    from loadtests.target.invocation_log import read_invocations

    target = Target(scenario, "nginx", "--duration-limit", "60", "--log-dir", str(tmp_path))
    try:
        hang = target.get("/hang")
        time.sleep(2.5)  # the function (init 1 ms + run 1,500 ms) ends meanwhile
    finally:
        assert target.stop() == 0
        target.kill()
    rid = request_id(hang.headers)
    assert answer(hang)[0] == 504
    logged = read_invocations(tmp_path / "invocations.csv")
    assert logged.loc[rid, "cold_start"] == 1 and logged.loc[rid, "cause"] == "ok"
    assert logged.loc[rid, "function_ms"] >= 1501.0  # real start-up and wake-up add to the drawn time
    runtime = [json.loads(line) for line in (tmp_path / "runtime.jsonl").read_text().splitlines()]
    assert [r["request_id"] for r in runtime if "received_s" in r] == [rid]
