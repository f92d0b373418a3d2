"""The emulated target serves the REST cache with the model's own cache entries."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

import simulator
from loadtests.plan import plan_arrivals
from loadtests.target.answers import CACHE_HEADER, CACHE_KEY_HEADER, CAUSE_HEADER, FUNCTION_MS_HEADER
from loadtests.target.emulated import emulated_app
from loadtests.target.nginx import find_nginx
from simulator.rng import stream
from simulator.traffic.cache_keys import KeyDraws

ROOT = Path(__file__).resolve().parents[1]
SCENARIO: dict[str, Any] = {
    "name": "cache-target",
    "duration": "10s",
    "stage": {"cache": {"capacity_gb": 0.5, "ttl": "1s"}},
    "routes": [{"name": "GET /item/{id}", "function": "f",
                "cache": {"key_parameters": ["method.request.path.id"], "keys": {"count": 50, "law": "zipf"}}}],
    "functions": [{"name": "f", "duration": "300ms", "init": "0ms", "timeout": "5s", "reserved_concurrency": 1}],
    "clients": [{"name": "c", "routes": {"GET /item/{id}": 1}, "arrivals": {"process": "poisson", "rate": 20}}],
}


async def _get(client: TestClient, key: str) -> tuple[int, str, str]:
    r = await client.get("/item/1", headers={CACHE_KEY_HEADER: key})
    await r.read()
    return r.status, r.headers.get(CACHE_HEADER, ""), r.headers.get(CAUSE_HEADER, "")


@pytest.mark.realtime
def test_emulated_cache_hit_skips_lambda_and_expires_after_the_ttl(tmp_path: Path) -> None:
    scenario = simulator.parse_scenario(SCENARIO, base_dir=tmp_path)

    async def run() -> list[tuple[int, str, str]]:
        async with TestClient(TestServer(emulated_app(scenario))) as client:
            got = [await _get(client, "a")]                       # miss: fills a after 0.3 s
            got.append(await _get(client, "a"))                   # hit
            slow = asyncio.ensure_future(_get(client, "b"))       # miss: the one environment busy 0.3 s
            await asyncio.sleep(0.05)
            got.append(await _get(client, "a"))                   # hit while Lambda is busy
            got.append(await _get(client, "c"))                   # miss: Lambda throttles it
            got.append(await slow)
            await asyncio.sleep(1.1)
            got.append(await _get(client, "a"))                   # expired: a miss
            return got

    assert asyncio.run(run()) == [
        (200, "miss", "ok"), (200, "hit", "ok"), (200, "hit", "ok"), (500, "miss", "lambda_throttled"),
        (200, "miss", "ok"), (200, "miss", "ok"),
    ]


def test_the_load_test_plan_sends_the_keys_the_engine_draws(tmp_path: Path) -> None:
    scenario = simulator.parse_scenario(SCENARIO, base_dir=tmp_path)
    plan = plan_arrivals(scenario)
    draws = KeyDraws(scenario.routes[0].cache.keys, stream(scenario.seed, "cache_keys", "c", "GET /item/{id}"))
    assert [a.cache_key for a in plan] == [str(draws.next()) for _ in plan]
    assert len({a.cache_key for a in plan}) > 5


def _serve(path: Path, gateway: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "loadtests.target.serve", str(path), "--port", "0",
                             "--gateway", gateway, "--duration-limit", "60"],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
    if not line.startswith("listening on http://127.0.0.1:"):
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError(f"target did not start: {line!r}")
    return proc, line.split()[-1]


@pytest.mark.realtime
@pytest.mark.skipif(find_nginx() is None, reason="no nginx binary (apt-get install nginx-light)")
def test_nginx_proxy_cache_hits_skip_the_runtime_and_expire(tmp_path: Path) -> None:
    path = tmp_path / "cache.toml"
    path.write_text(CACHED_TOML.replace("TTL", "2s"))
    proc, url = _serve(path, "nginx")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            def get(key: str) -> tuple[int, str, str, str]:
                r = client.get("/item/7", headers={CACHE_KEY_HEADER: key})
                return r.status_code, r.headers.get(CACHE_HEADER, ""), r.headers.get(CAUSE_HEADER, ""), \
                    r.headers.get(FUNCTION_MS_HEADER, "-")

            got = [get("a"), get("a")]
            with ThreadPoolExecutor(2) as pool:
                slow = pool.submit(get, "b")          # holds the one environment for 0.3 s
                time.sleep(0.1)
                got += [get("a"), get("c"), slow.result()]
            time.sleep(3.2)                           # nginx counts validity in whole seconds
            got.append(get("a"))
            assert client.post("/cart", headers={CACHE_KEY_HEADER: "a"}).headers.get(CACHE_HEADER) is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert [g[:3] for g in got] == [
        (200, "miss", "ok"), (200, "hit", "ok"), (200, "hit", "ok"), (500, "miss", "lambda_throttled"),
        (200, "miss", "ok"), (200, "miss", "ok"),
    ]
    assert got[1][3] == "-" and got[0][3] != "-"   # a hit carries no runtime headers


CACHED_TOML = """
name = "cache-nginx"
duration = "10s"
[stage.cache]
capacity_gb = 0.5
ttl = "TTL"
[[routes]]
name = "GET /item/{id}"
function = "f"
cache = { key_parameters = ["method.request.path.id"], keys = { count = 10 } }
[[routes]]
name = "POST /cart"
function = "f"
[[functions]]
name = "f"
duration = "300ms"
init = "0ms"
timeout = "5s"
reserved_concurrency = 1
[[clients]]
name = "c"
routes = { "GET /item/{id}" = 1 }
arrivals = { process = "uniform", rate = 1 }
"""
