"""The emulated target serves the REST cache with the model's own cache entries."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import simulator
from loadtests.plan import plan_arrivals
from loadtests.target.answers import CACHE_HEADER, CACHE_KEY_HEADER, CAUSE_HEADER
from loadtests.target.emulated import emulated_app
from simulator.rng import stream
from simulator.traffic.cache_keys import KeyDraws

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


def test_the_nginx_target_refuses_a_cached_scenario_in_one_line(tmp_path: Path) -> None:
    path = Path(__file__).resolve().parents[1] / "scenarios" / "cached_catalog.toml"
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", "--target", "nginx", str(path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr == (f"{path}: stage.cache: the nginx target has no REST API cache; validate the cache "
                           "against --target emulated or your API\n")
