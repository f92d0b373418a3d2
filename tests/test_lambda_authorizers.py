"""The authorizer server beside the independent runtime (what nginx's ``auth_request`` asks):
its token check, policy, result cache and the outcomes of its function's invocation.

The runtime is replaced by a stand-in whose invocations end when the test says, and the
clock by one the test sets, so every decision here is made at instants the test chose."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

import simulator
from simulator import outcomes as oc

pytest.importorskip("aiohttp")

from loadtests.target.lambda_authorizers import GatewayAuthorizers  # noqa: E402

SCENARIO = {
    "name": "authorizer-server",
    "duration": "10s",
    "api": {"type": "REST"},
    "authorizers": [
        {"name": "token", "type": "TOKEN", "function": "auth", "deny_share": 0.25, "result_ttl": "10s"},
        {"name": "uncached", "type": "REQUEST", "function": "auth", "result_ttl": "0s", "timeout": "50ms"},
        {"name": "iam", "type": "AWS_IAM", "latency": "1ms"},
        {"name": "pool", "type": "COGNITO_USER_POOLS"},
    ],
    "routes": [{"name": "GET /x", "function": "f", "authorizer": "token"}],
    "functions": [{"name": "f", "duration": "1ms"}, {"name": "auth", "duration": "1ms"}],
    "clients": [{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform", "rate": 1},
                 "identities": {"count": 8}}],
}


@dataclass
class Ended:
    cause: int
    received_s: float
    ended_s: float
    throttle_reason: str = ""


class FakeRuntime:
    """Invocations that end after *busy_s* of the test's clock, with *cause*."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.calls: list[str] = []
        self.cause = oc.OK
        self.throttle = ""
        self.busy_s = 0.02
        self.hang = False

    def now(self) -> float:
        return self.now_s

    async def invoke(self, name: str, request_id: str) -> Ended:
        self.calls.append(name)
        received = self.now_s
        if self.hang:
            await asyncio.sleep(3600)
        return Ended(self.cause, received, received + self.busy_s, self.throttle)


def check(authorizers: GatewayAuthorizers, index: int, token: str | None) -> tuple[str, float]:
    cause, took_s = asyncio.run(authorizers.check(index, token))
    return oc.CAUSES[cause], round(took_s, 6)


def build() -> tuple[GatewayAuthorizers, FakeRuntime]:
    fake = FakeRuntime()
    return GatewayAuthorizers(simulator.parse_scenario(SCENARIO), fake.invoke, fake.now), fake


def test_no_token_or_a_token_of_no_identity_is_401_without_an_invocation():
    a, fake = build()
    assert [check(a, 0, t)[0] for t in (None, "", "c", "c.8", "d.1", "c.x", "c.-1")] == ["unauthorized"] * 7
    assert fake.calls == []
    assert check(a, 2, None) == ("ok", 0.001)  # AWS_IAM: no token needed, its latency only
    assert check(a, 3, None)[0] == "unauthorized"
    assert check(a, 3, "c.0") == ("ok", 0.0)
    assert fake.calls == []


def test_the_policy_denies_the_first_floor_share_times_count_identities():
    a, fake = build()
    got = [check(a, 0, f"c.{k}")[0] for k in range(8)]
    assert got == ["access_denied"] * 2 + ["ok"] * 6  # floor(0.25 x 8) = 2
    assert fake.calls == ["auth"] * 8


def test_answers_are_cached_per_token_for_the_ttl_from_when_the_function_ended():
    a, fake = build()
    assert check(a, 0, "c.5") == ("ok", 0.02)  # ended at 0.02 s: cached until 10.02 s
    fake.now_s = 10.0
    assert check(a, 0, "c.5") == ("ok", 0.0)
    assert check(a, 0, "c.0") == ("access_denied", 0.02)  # another token: its own entry
    fake.now_s = 10.0199
    assert check(a, 0, "c.0") == ("access_denied", 0.02)  # not cached before its function ended
    fake.now_s = 10.02
    assert check(a, 0, "c.0") == ("access_denied", 0.0)  # a Deny is cached too
    assert check(a, 0, "c.5") == ("ok", 0.02)  # expired at 10.02 s: invoked again
    assert fake.calls == ["auth"] * 4
    assert check(a, 1, "c.5") == ("ok", 0.02) and check(a, 1, "c.5") == ("ok", 0.02)  # result_ttl 0: no cache
    assert fake.calls == ["auth"] * 6


@pytest.mark.parametrize("cause, throttle", [(oc.FUNCTION_ERROR, ""), (oc.FUNCTION_TIMEOUT, ""),
                                             (oc.LAMBDA_THROTTLED, "concurrency"),
                                             (oc.LAMBDA_RATE_THROTTLED, "request_rate")])
def test_a_failed_or_throttled_authorizer_is_500_and_caches_nothing(cause, throttle):
    a, fake = build()
    fake.cause, fake.throttle = cause, throttle
    assert check(a, 0, "c.5")[0] == "authorizer_error"
    fake.cause, fake.throttle = oc.OK, ""
    assert check(a, 0, "c.5") == ("ok", 0.02)
    assert fake.calls == ["auth", "auth"]


def test_an_authorizer_that_does_not_answer_within_its_timeout_is_500():
    a, fake = build()
    fake.hang = True

    async def main() -> tuple[int, float]:
        result = await a.check(1, "c.5")
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
        return result

    cause, took_s = asyncio.run(main())
    assert (oc.CAUSES[cause], took_s) == ("authorizer_error", 0.05)
