"""The independent Lambda runtime's decisions, driven over HTTP on 127.0.0.1.

Each test starts the runtime in this process (its workers are real processes), sends a
few invocations and checks what the runtime decided: who was served, who was throttled
and why, cold or warm, which environment. Durations are seconds long and limits small,
so the decisions do not depend on how busy the machine is; no test asserts a speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

aiohttp = pytest.importorskip("aiohttp")
from aiohttp import web  # noqa: E402

from loadtests.target.answers import INVOKE_PATH  # noqa: E402
from loadtests.target.lambda_runtime import LambdaRuntime, lambda_app  # noqa: E402
from simulator.dists import Draws  # noqa: E402
from simulator.rng import stream  # noqa: E402

pytestmark = pytest.mark.realtime
ROOT = Path(__file__).resolve().parents[1]

Answer = tuple[int, dict[str, str]]


class Client:
    def __init__(self, session: Any, port: int, runtime: LambdaRuntime) -> None:
        self.session = session
        self.port = port
        self.runtime = runtime

    async def invoke(self, name: str) -> Answer:
        url = f"http://127.0.0.1:{self.port}" + INVOKE_PATH.replace("{name}", name)
        async with self.session.post(url) as r:
            await r.read()
            return r.status, {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("x-throttlesim")}

    async def burst(self, *names: str) -> list[Answer]:
        """Invoke every name at once (each in its own connection)."""
        return list(await asyncio.gather(*(self.invoke(n) for n in names)))


def serve(scenario: Any, body: Callable[[Client], Awaitable[Any]], log: Path | None = None) -> Any:
    """Run the runtime for *scenario* on a free port, await ``body(client)``, stop it; with
    *log* (a ``runtime.jsonl`` path), its logs go to that folder."""

    async def main() -> Any:
        runtime = LambdaRuntime(scenario, log_dir=None if log is None else log.parent)
        runner = web.AppRunner(lambda_app(runtime), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as s:
                return await body(Client(s, runner.addresses[0][1], runtime))
        finally:
            await runner.cleanup()

    return asyncio.run(main())


def function(name: str, **keys: Any) -> dict[str, Any]:
    return {"name": name, "duration": "2s", "init": "10ms", "timeout": "10s", **keys}


def scenario(build: Any, *functions: dict[str, Any], **extra: Any) -> Any:
    routes = [{"name": f"GET /{f['name']}", "function": f["name"]} for f in functions]
    return build(routes=routes, functions=list(functions),
                 clients=[{"name": "c", "routes": {routes[0]["name"]: 1},
                           "arrivals": {"process": "uniform", "rate": 1}}],
                 **extra)


def statuses(answers: list[Answer]) -> Counter[tuple[int, str]]:
    return Counter((status, h.get("x-throttlesim-throttle-reason", h["x-throttlesim-cold-start"]))
                   for status, h in answers)


def gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_reserved_concurrency_caps_the_function_and_a_free_environment_is_reused(build):
    s = scenario(build, function("f", reserved_concurrency=2))

    async def body(c: Client) -> tuple[list[Answer], Answer]:
        first = await c.burst("f", "f", "f", "f")
        return first, await c.invoke("f")

    first, after = serve(s, body)
    assert statuses(first) == {(200, "1"): 2, (500, "reserved_concurrency"): 2}
    served = {h["x-throttlesim-environment"] for status, h in first if status == 200}
    assert len(served) == 2
    assert after[0] == 200 and after[1]["x-throttlesim-cold-start"] == "0"
    assert after[1]["x-throttlesim-environment"] in served
    assert all(h["x-throttlesim-cause"] == "lambda_throttled" for status, h in first if status == 500)


def test_the_unreserved_pool_is_shared_by_the_functions_without_reservations(build):
    # 4 in the account, 2 reserved by r: u and v share the other 2.
    s = scenario(build, function("r", reserved_concurrency=2), function("u"), function("v"),
                 account={"lambda_concurrency": 4, "unreserved_min": 1})

    answers = serve(s, lambda c: c.burst("u", "u", "v", "r", "r"))
    pooled = statuses(answers[:3])
    assert pooled == {(200, "1"): 2, (500, "unreserved_pool"): 1}
    assert statuses(answers[3:]) == {(200, "1"): 2}


def test_the_scaling_rate_limits_how_fast_new_environments_start(build):
    # Two new environments at once, then one more every 20 s: far beyond this test.
    s = scenario(build, function("f"), behaviour={"scaling_burst": 2, "scaling_refill_per_s": 0.05})

    async def body(c: Client) -> tuple[list[Answer], list[Answer]]:
        return await c.burst("f", "f", "f", "f"), await c.burst("f", "f", "f")

    first, second = serve(s, body)
    assert statuses(first) == {(200, "1"): 2, (500, "scaling_rate"): 2}
    # Once they are free, the two environments serve warm; a third would need a new one.
    assert statuses(second) == {(200, "0"): 2, (500, "scaling_rate"): 1}


def test_idle_environments_are_kept_for_the_idle_timeout_then_stopped(build, tmp_path):
    s = scenario(build, function("f", duration="50ms", idle_timeout="1500ms"))
    log = tmp_path / "runtime.jsonl"

    async def body(c: Client) -> list[tuple[Answer, int]]:
        out = []
        for pause_s in (0.0, 0.0, 3.5):
            await asyncio.sleep(pause_s)
            answer = await c.invoke("f")
            env = int(answer[1]["x-throttlesim-environment"].split("#")[1])
            out.append((answer, c.runtime.environments[env].pid))
        return out

    (a, pid_a), (b, pid_b), (later, pid_c) = serve(s, body, log)
    assert [x[1]["x-throttlesim-cold-start"] for x in (a, b, later)] == ["1", "0", "1"]
    envs = [x[1]["x-throttlesim-environment"] for x in (a, b, later)]
    assert envs[0] == envs[1] != envs[2]
    assert pid_a == pid_b != pid_c
    records = [json.loads(line) for line in log.read_text().splitlines()]
    stopped = [r for r in records if "stopped_s" in r]
    assert stopped[0]["environment"] == a[1]["x-throttlesim-environment"] and stopped[0]["reason"] == "idle_timeout"
    assert stopped[0]["stopped_s"] < float(later[1]["x-throttlesim-received-s"])  # by its timer, not lazily
    assert gone(pid_a)


def test_provisioned_environments_start_ahead_and_invocations_spill_over(build):
    s = scenario(build, function("f", reserved_concurrency=3, provisioned_concurrency=2, init="300ms"))

    async def body(c: Client) -> tuple[list[int], list[Answer]]:
        ready = [env.pid for env in c.runtime.environments.values()]
        return ready, await c.burst("f", "f", "f", "f")

    ready, answers = serve(s, body)
    assert len(ready) == 2 and all(ready)  # running before the first request
    kinds = Counter((status, h.get("x-throttlesim-provisioned", "-"), h["x-throttlesim-cold-start"],
                     h.get("x-throttlesim-throttle-reason", "")) for status, h in answers)
    # Two on provisioned environments (warm), one spills over to a new on-demand one,
    # and the fourth finds reserved concurrency 3 in use.
    assert kinds == {(200, "1", "0", ""): 2, (200, "0", "1", ""): 1, (500, "-", "0", "reserved_concurrency"): 1}
    assert all(float(h["x-throttlesim-init-ms"]) == 0 for _, h in answers if h.get("x-throttlesim-provisioned") == "1")


def test_the_function_timeout_cuts_the_handler_and_errors_are_502(build):
    s = scenario(build, function("slow", duration="4s", timeout="1s"), function("bad", duration="10ms", error_rate=1.0))
    slow, bad = serve(s, lambda c: c.burst("slow", "bad"))
    assert (slow[0], slow[1]["x-throttlesim-cause"]) == (502, "function_timeout")
    assert 1000 <= float(slow[1]["x-throttlesim-run-ms"]) < 4000
    assert (bad[0], bad[1]["x-throttlesim-cause"]) == (502, "function_error")


def test_the_nth_invocation_gets_the_numbers_the_model_draws_for_it(build, tmp_path):
    spec = {"kind": "lognormal", "median": "40ms", "p99": "120ms"}
    s = scenario(build, function("f", duration=spec, init={"kind": "uniform", "low": "20ms", "high": "60ms"}))
    log = tmp_path / "runtime.jsonl"

    async def body(c: Client) -> list[Answer]:
        return [await c.invoke("f") for _ in range(6)]

    answers = serve(s, body, log)
    records = [json.loads(line) for line in log.read_text().splitlines() if "received_s" in line]
    f = s.functions[0]
    durations = Draws(f.duration.build(), stream(s.seed, "duration", "f"))
    inits = Draws(f.init.build(), stream(s.seed, "init", "f"))
    assert [r["drawn_duration_ms"] for r in records] == [round(durations.next() * 1000, 3) for _ in records]
    assert records[0]["drawn_init_ms"] == round(inits.next() * 1000, 3) and records[0]["cold_start"]
    # Sleeps end at their deadline or later, never earlier.
    assert all(r["run_ms"] >= r["drawn_duration_ms"] - 1e-3 for r in records)
    assert all(r["init_ms"] >= r["drawn_init_ms"] for r in records if r["cold_start"])
    assert [a[0] for a in answers] == [200] * 6


_ORPHAN = """
import asyncio, json, sys
import simulator
from loadtests.target.lambda_runtime import LambdaRuntime
s = simulator.load_scenario(sys.argv[1])
async def main():
    rt = LambdaRuntime(s)
    await rt.start()
    print(json.dumps([rt.workers.zygote.pid] + [e.pid for e in rt.environments.values()]), flush=True)
    await asyncio.sleep(60)
asyncio.run(main())
"""


def test_workers_die_with_the_runtime(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('name = "t"\nduration = "1s"\n[[routes]]\nname = "GET /x"\nfunction = "f"\n'
                    '[[functions]]\nname = "f"\nduration = "1ms"\nprovisioned_concurrency = 2\n'
                    '[[clients]]\nname = "c"\nroutes = { "GET /x" = 1 }\n'
                    'arrivals = { process = "uniform", rate = 1 }\n')
    proc = subprocess.Popen([sys.executable, "-c", _ORPHAN, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        pids = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(pids) == 3 and all(pids)
    assert all(gone(pid) for pid in pids)


@pytest.mark.parametrize("args, message", [
    (["--gateway", "emulated", "--runtime", "independent"], "--runtime independent needs --gateway nginx"),
    (["--gateway", "nginx", "--max-environments", "0"], "--max-environments must be at least 1"),
    (["--gateway", "nginx", "--log-dir", "/dev/null/logs"], "--log-dir /dev/null/logs"),
])
def test_bad_runtime_options_are_one_line_and_exit_2(args, message):
    scenario_path = ROOT / "scenarios" / "validation" / "lambda_concurrency.toml"
    r = subprocess.run([sys.executable, "-m", "loadtests.target.serve", str(scenario_path), "--port", "0", *args],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
