"""The real HTTP backend server (loadtests/target/http_backend.py) and `validate` against
it behind nginx. The realtime tests send traffic to 127.0.0.1 only, bounded in count and
time; service times are hundreds of milliseconds, so the server's decisions do not hinge
on how busy the machine is."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import simulator
from loadtests.busy import busy_cores
from loadtests.target.clock import Clock
from loadtests.target.http_backend import BACKEND_PATH, add_backend_routes
from loadtests.target.nginx import find_nginx, nginx_config
from loadtests.target.serve import ServeError, serve
from loadtests.validation import run_validation
from simulator.dists import Draws
from simulator.errors import ThrottlesimError
from simulator.rng import stream

aiohttp = pytest.importorskip("aiohttp")
from aiohttp import web  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "validation" / "http_backend.toml"


def backend_scenario(build: Any, **backend: Any) -> simulator.Scenario:
    return build(None, routes=[{"name": "GET /x", "backend": "svc"}], functions=[],
                 backends=[{"name": "svc", **backend}])


def burst(scenario: simulator.Scenario, n: int, log: Path) -> list[tuple[int, str, float]]:
    """Send *n* requests at once to the backend server; (status, cause, backend ms) each."""

    async def main() -> list[tuple[int, str, float]]:
        app = web.Application()
        with open(log, "w", encoding="utf-8") as fh:
            add_backend_routes(app, scenario, scenario.seed, Clock(), fh)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            url = f"http://127.0.0.1:{port}" + BACKEND_PATH.replace("{name}", "svc")
            try:
                async with aiohttp.ClientSession() as session:

                    async def one(k: int) -> tuple[int, str, float]:
                        await asyncio.sleep(0.02 * k)  # arrive in this order
                        async with session.get(url) as r:
                            await r.read()
                            return (r.status, r.headers["x-throttlesim-cause"],
                                    float(r.headers.get("x-throttlesim-function-ms", "nan")))

                    return list(await asyncio.gather(*(one(k) for k in range(n))))
            finally:
                await runner.cleanup()

    return asyncio.run(main())


@pytest.mark.realtime
def test_the_server_queues_first_come_first_served_and_refuses_a_full_line(build, tmp_path):
    s = backend_scenario(build, workers=2, queue_limit=1, service_time="500ms")
    answers = burst(s, 4, tmp_path / "backends.jsonl")
    assert [(a[0], a[1]) for a in answers] == [(200, "ok"), (200, "ok"), (200, "ok"), (503, "backend_queue_full")]
    # The third, sent 40 ms after the first, waited for it: about 460 ms, then 500 ms of service.
    assert 500 <= answers[0][2] < 700 and 700 <= answers[2][2] < 1300
    records = [json.loads(line) for line in (tmp_path / "backends.jsonl").read_text().splitlines()]
    third = next(r for r in records if r["slot_s"] > r["received_s"])
    first = min(records, key=lambda r: r["received_s"])
    assert third["slot_s"] == pytest.approx(first["ended_s"], abs=0.005)
    assert third["ended_s"] - third["slot_s"] >= 0.5


@pytest.mark.realtime
def test_the_nth_request_served_gets_the_models_nth_service_time(build, tmp_path):
    spec = {"kind": "uniform", "low": "100ms", "high": "300ms"}
    s = backend_scenario(build, workers=1, service_time=spec)
    burst(s, 3, tmp_path / "backends.jsonl")
    records = sorted((json.loads(line) for line in (tmp_path / "backends.jsonl").read_text().splitlines()),
                     key=lambda r: r["slot_s"])
    drawn = Draws(s.backends[0].service_time.build(), stream(s.seed, "backend", "svc", "service"))
    for r in records:
        # Sleeps end at their deadline or later, never earlier.
        assert r["ended_s"] - r["slot_s"] >= drawn.next() - 1e-6


def test_nginx_proxies_a_backend_route_to_the_backend_path(tmp_path):
    config = nginx_config(simulator.load_scenario(SCENARIO), port=1, upstream_port=2, prefix=tmp_path)
    assert '"/backends/svc"' in config
    assert "proxy_pass http://throttlesim_lambda$throttlesim_upstream_path;" in config


def test_the_emulated_target_refuses_backends(tmp_path):
    with pytest.raises(ServeError, match=r"backends: HTTP backends are served by the independent runtime only"):
        serve(str(SCENARIO), gateway="emulated", port=0)
    with pytest.raises(ThrottlesimError, match=r"backends: the emulated target has no HTTP backends"):
        run_validation(SCENARIO, target="emulated", duration_s=1.0, out_dir=tmp_path / "out")


@pytest.mark.realtime
@pytest.mark.skipif(find_nginx() is None, reason="Debian's nginx is not installed (.ci/run installs it)")
def test_validate_agrees_with_the_backend_server_with_every_core_busy(tmp_path):
    """12 s of ~13 rps against 4 workers and a line of 10: waits, 503s and 504s. The replay
    runs each request at the instant the server received it and hands it the time the
    server kept its slot, so the default tolerances apply (5XX within 1 point, per-request
    agreement at least 98%, p50/p95 within 10%)."""
    with busy_cores():
        run = run_validation(SCENARIO, target="nginx", duration_s=12.0, out_dir=tmp_path, seeds=2, plots=False)
    failed = [(c.name, c.predicted, c.observed) for c in run.report.checks if not c.ok]
    assert run.ok, failed
    assert run.report.agreement >= 0.98
    assert run.report.n_observed > 120
    observed = run.report.causes["observed"]
    assert observed.get("backend_queue_full", 0) > 0 and observed.get("integration_timeout", 0) > 0
