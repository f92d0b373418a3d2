"""The emulated target's authorizers, in real time: 401, 403, 500 and the result cache."""

from __future__ import annotations

import asyncio

import pytest

import simulator

pytest.importorskip("aiohttp")

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from loadtests.plan import IdentityTokens  # noqa: E402
from loadtests.target.clock import Clock  # noqa: E402
from loadtests.target.emulated import EmulatedGateway  # noqa: E402
from loadtests.target.nginx import key_error  # noqa: E402
from loadtests.target.runtime import FunctionRuntime  # noqa: E402

SCENARIO = {
    "name": "authorizer-target",
    "duration": "10s",
    "api": {"type": "REST"},
    "authorizers": [
        {"name": "token", "type": "TOKEN", "function": "auth", "deny_share": 0.5},
        {"name": "busy", "type": "REQUEST", "function": "slow-auth", "result_ttl": "0s"},
    ],
    "routes": [
        {"name": "GET /x", "function": "f", "authorizer": "token"},
        {"name": "GET /y", "function": "f", "authorizer": "busy"},
        {"name": "GET /open", "function": "f"},
    ],
    "functions": [
        {"name": "f", "duration": "1ms", "init": "1ms"},
        {"name": "auth", "duration": "20ms", "init": "1ms"},
        {"name": "slow-auth", "duration": "600ms", "init": "1ms", "reserved_concurrency": 1},
    ],
    "clients": [{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform", "rate": 1},
                 "identities": {"count": 2}}],
}


def answer(r: object, text: str) -> tuple[int, str, str]:
    return r.status, text, r.headers.get("x-throttlesim-cause", "")  # type: ignore[attr-defined]


@pytest.mark.realtime
def test_emulated_authorizer_answers_and_caches() -> None:
    s = simulator.parse_scenario(SCENARIO)
    got: dict[str, object] = {}

    async def main() -> None:
        clock = Clock()
        runtime = FunctionRuntime(s, seed=1, clock=clock)
        gateway = EmulatedGateway(s, runtime, clock)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", gateway.handle)
        async with TestClient(TestServer(app)) as client:

            async def get(path: str, token: str | None = None) -> tuple[int, str, str]:
                r = await client.get(path, headers={"authorization": token} if token else {})
                return answer(r, await r.text())

            got["none"] = await get("/x")
            got["bogus"] = await get("/x", "someone.7")
            got["denied"] = await get("/x", "c.0")
            got["allowed"] = [await get("/x", "c.1") for _ in range(3)]
            got["open"] = await get("/open")
            got["busy"] = sorted(await asyncio.gather(get("/y", "c.1"), get("/y", "c.1")))
            got["fills"] = {k: len(v) for k, v in gateway.authorizers.states["token"].cache.items()}
        runtime.close()

    asyncio.run(main())
    assert got["none"] == (401, '{"message":"Unauthorized"}', "unauthorized")
    assert got["bogus"] == got["none"]
    assert got["denied"] == (403, '{"message":"User is not authorized to access this resource with an explicit '
                             'deny"}', "access_denied")
    assert [a[0] for a in got["allowed"]] == [200, 200, 200]  # type: ignore[index]
    assert got["fills"] == {(0, 0): 1, (0, 1): 1}  # one invocation per identity, then the cache
    assert got["open"][0] == 200  # type: ignore[index]
    busy = got["busy"]
    assert busy[0][0] == 200 and busy[1] == (500, '{"message":"Internal server error"}', "authorizer_error")  # type: ignore[index]


def test_load_test_tokens_follow_the_client_identities() -> None:
    data = dict(SCENARIO, clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform",
                                                                                    "rate": 1},
                                    "identities": {"count": 4, "without_token": 0.5}}])
    tokens = IdentityTokens(simulator.parse_scenario(data), 7)
    sent = [tokens.headers("c", "GET /x", {"x-api-key": "k"}) for _ in range(4000)]
    assert tokens.headers("c", "GET /open", {"x-api-key": "k"}) == {"x-api-key": "k"}
    without = sum("authorization" not in h for h in sent)
    assert 1800 < without < 2200
    assert {h["authorization"] for h in sent if "authorization" in h} == {"c.0", "c.1", "c.2", "c.3"}


def test_nginx_target_serves_authorizers() -> None:
    assert key_error(simulator.parse_scenario(SCENARIO), "a.toml") is None
