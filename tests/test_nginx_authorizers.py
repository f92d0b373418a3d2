"""Authorizers on the nginx target: ``auth_request`` to the authorizer server beside the
independent runtime, end to end over 127.0.0.1. Durations are hundreds of milliseconds and
limits small, so the answers do not depend on how busy the machine is."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("aiohttp")

from loadtests.target.nginx import find_nginx  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.realtime,
              pytest.mark.skipif(find_nginx() is None, reason="no nginx binary (apt-get install nginx-light)")]

KEY = "auth-key-00000000000000000000000000"
SCENARIO = f"""
name = "nginx-authorizers"
duration = "10s"
[api]
type = "REST"
api_key_required = true
[[usage_plans]]
name = "open"
[[authorizers]]
name = "token"
type = "TOKEN"
function = "auth"
deny_share = 0.5
[[authorizers]]
name = "busy"
type = "REQUEST"
function = "slow-auth"
result_ttl = "0s"
[[authorizers]]
name = "impatient"
type = "TOKEN"
function = "hang-auth"
timeout = "100ms"
[[authorizers]]
name = "pool"
type = "COGNITO_USER_POOLS"
latency = "1ms"
[[routes]]
name = "GET /x"
function = "f"
authorizer = "token"
[[routes]]
name = "GET /closed"
function = "f"
authorizer = "token"
throttle = {{ rate = 1, burst = 0 }}
[[routes]]
name = "GET /busy"
function = "f"
authorizer = "busy"
[[routes]]
name = "GET /impatient"
function = "f"
authorizer = "impatient"
[[routes]]
name = "GET /pool"
function = "slow"
authorizer = "pool"
[[routes]]
name = "GET /open"
function = "f"
[[functions]]
name = "f"
duration = "1ms"
init = "1ms"
[[functions]]
name = "auth"
duration = "5ms"
init = "1ms"
[[functions]]
name = "slow-auth"
duration = "600ms"
init = "1ms"
reserved_concurrency = 1
[[functions]]
name = "hang-auth"
duration = "1s"
init = "1ms"
[[functions]]
name = "slow"
duration = "600ms"
init = "1ms"
reserved_concurrency = 1
[[clients]]
name = "c"
api_key = "{KEY}"
usage_plan = "open"
routes = {{ "GET /x" = 1 }}
arrivals = {{ process = "uniform", rate = 1 }}
identities = {{ count = 2 }}
"""

DENY = '{"message":"User is not authorized to access this resource with an explicit deny"}'
ERROR = '{"message":"Internal server error"}'


def answer(r: httpx.Response) -> tuple[int, str, str]:
    return r.status_code, r.text, r.headers.get("x-throttlesim-cause", "")


def test_nginx_serves_the_authorizers(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO)
    process = subprocess.Popen(
        [sys.executable, "-m", "loadtests.target.serve", str(scenario), "--port", "0", "--gateway", "nginx",
         "--duration-limit", "60", "--log-dir", str(tmp_path / "log")],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""  # type: ignore[union-attr]
        assert line.startswith("listening on http://127.0.0.1:"), line
        with httpx.Client(base_url=line.split()[-1], timeout=10, headers={"x-api-key": KEY}) as client:

            def get(path: str, token: str | None = None) -> httpx.Response:
                return client.get(path, headers={"authorization": token} if token else {})

            def together(path: str, token: str) -> list[tuple[int, str, str]]:
                with ThreadPoolExecutor(2) as pool:
                    return sorted(answer(r) for r in pool.map(lambda _: get(path, token), range(2)))

            none = get("/x")
            assert answer(none) == (401, '{"message":"Unauthorized"}', "unauthorized")
            assert none.headers["x-amzn-RequestId"] and none.headers["x-throttlesim-received-s"]
            assert answer(get("/x", "c.9")) == answer(none)  # no such identity
            assert answer(get("/x", "c.0")) == (403, DENY, "access_denied")
            assert answer(get("/x", "c.0")) == (403, DENY, "access_denied")  # cached Deny
            allowed = [get("/x", "c.1") for _ in range(3)]
            assert [answer(r)[0] for r in allowed] == [200, 200, 200]
            # The first waited for the authorizer, the others had its cached answer.
            assert float(allowed[0].headers["x-throttlesim-function-ms"]) > float(
                allowed[1].headers["x-throttlesim-function-ms"]) + 4
            assert answer(get("/closed", "c.1"))[0] == 429  # throttled before the authorizer
            assert answer(client.get("/open", headers={"x-api-key": "nobody"})) == (
                403, '{"message":"Forbidden"}', "forbidden")
            assert answer(get("/open"))[0] == 200
            # Lambda throttles the authorizer's function (reserved concurrency 1): 500.
            assert [a[0] for a in together("/busy", "c.1")] == [200, 500]
            assert together("/busy", "c.1")[1] == (500, ERROR, "authorizer_error")
            assert answer(get("/impatient", "c.1")) == (500, ERROR, "authorizer_error")
            # The route's own function throttled behind an authorizer that allowed: its own 500.
            pool = together("/pool", "c.1")
            assert pool[0][0] == 200 and pool[1] == (500, ERROR, "lambda_throttled")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    invoked = [json.loads(line)["function"] for line in (tmp_path / "log" / "runtime.jsonl").read_text().splitlines()
               if '"received_s"' in line]
    assert invoked.count("auth") == 2  # c.0 and c.1 once each: the rest came from the cache
