"""Where the authorizer falls among the gateway's checks (``behaviour.authorizer_before_throttles``):
exact timelines on a stage throttle of one token that never refills within the run.

AWS documents the order of the throttles, not where authorization falls among them, so both orders
are a setting: after the throttles (the default) a throttled request invokes no authorizer; before
them a 401, 403 or authorizer 500 takes no token, and a request the throttle refuses has invoked the
authorizer and waited for it.
"""

from __future__ import annotations

from typing import Any

import pytest

import simulator
from tests.conftest import timeline

#: One token, refilled at 0.01 a second: the first request admitted takes it for the whole run.
ONE_TOKEN = {"rate": 0.01, "burst": 1}
FUNCTIONS = [{"name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s"},
             {"name": "auth", "duration": "500ms", "init": "0ms", "timeout": "10s"}]


def scenario(build: Any, first: bool, clients: list[dict[str, Any]] | None = None,
             times: list[float] | None = None) -> simulator.Scenario:
    extra: dict[str, Any] = {} if clients is None else {"clients": clients}
    return build(times, functions=FUNCTIONS, stage={"authorizer": "a", "throttle": ONE_TOKEN},
                 authorizers=[{"name": "a", "type": "TOKEN", "function": "auth", "result_ttl": "0s"}],
                 behaviour={"authorizer_before_throttles": first}, **extra)


def invocations(result: simulator.Result, function: str) -> int:
    return int(result.summary()["lambda"][function]["invocations"])


def test_after_the_throttles_a_throttled_request_invokes_no_authorizer(build: Any) -> None:
    r = simulator.simulate(scenario(build, False, times=[0.0, 1.0, 2.0]), engine="simpy")
    # 0.5 s authorizer, then f's cold start (0.5 s init + 0.1 s run).
    assert timeline(r) == [(0.0, "ok", 1.1), (1.0, "throttled_stage", 0.0), (2.0, "throttled_stage", 0.0)]
    assert invocations(r, "auth") == 1 and [x.authorizer_function for x in r.records()] == ["auth", "", ""]


def test_before_the_throttles_a_throttled_request_has_waited_for_the_authorizer(build: Any) -> None:
    r = simulator.simulate(scenario(build, True, times=[0.0, 1.0, 2.0]), engine="simpy")
    # Each request waits 0.5 s for the authorizer; the throttle is asked at 0.5, 1.5 and 2.5 s.
    assert timeline(r) == [(0.0, "ok", 1.1), (1.0, "throttled_stage", 0.5), (2.0, "throttled_stage", 0.5)]
    assert invocations(r, "auth") == 3 and [x.authorizer_function for x in r.records()] == ["auth"] * 3
    assert invocations(r, "f") == 1


def test_before_the_throttles_a_401_takes_no_token(build: Any) -> None:
    clients = [{"name": "anon", "routes": {"GET /x": 1}, "identities": {"count": 1, "without_token": 1.0},
                "arrivals": {"process": "replay", "file": build.trace([0.0, 0.1])}},
               {"name": "user", "routes": {"GET /x": 1},
                "arrivals": {"process": "replay", "file": build.trace([0.2])}}]
    after = simulator.simulate(scenario(build, False, clients), engine="simpy")
    before = simulator.simulate(scenario(build, True, clients), engine="simpy")

    def by_time(r: simulator.Result) -> list[tuple[float, str, float]]:
        return sorted(timeline(r))

    # After: the first 401 took the only token, so the user is throttled.
    assert by_time(after) == [(0.0, "unauthorized", 0.0), (0.1, "throttled_stage", 0.0),
                              (0.2, "throttled_stage", 0.0)]
    # Before: both 401s are answered without the throttle; the user's request, allowed at 0.7 s, gets the token.
    assert by_time(before) == [(0.0, "unauthorized", 0.0), (0.1, "unauthorized", 0.0), (0.2, "ok", 1.1)]


@pytest.mark.parametrize("first", [False, True])
def test_the_setting_changes_nothing_without_an_authorizer(build: Any, first: bool) -> None:
    s = build([0.0, 1.0, 2.0], stage={"throttle": ONE_TOKEN}, behaviour={"authorizer_before_throttles": first})
    r = simulator.simulate(s, engine="simpy")
    assert timeline(r) == [(0.0, "ok", 0.6), (1.0, "throttled_stage", 0.0), (2.0, "throttled_stage", 0.0)]


FIRST = """
name = "s"
duration = "2s"
routes = [{ name = "GET /a", function = "f" }]
functions = [{ name = "f", duration = "5ms" }, { name = "auth", duration = "5ms" }]
authorizers = [{ name = "a", type = "TOKEN", function = "auth" }]
stage = { authorizer = "a" }
behaviour = { authorizer_before_throttles = true }
[[clients]]
name = "open"
routes = { "GET /a" = 1 }
arrivals = { process = "uniform", rate = 5 }
"""


@pytest.mark.parametrize("argv", [["validate", "{path}", "--target", "emulated", "--out", "{tmp}/v"],
                                  ["validate", "{path}", "--target", "nginx", "--out", "{tmp}/v"],
                                  ["serve", "{path}", "--port", "18124"]])
def test_the_local_targets_refuse_the_authorizer_first_in_one_line(
        argv: list[str], tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The local targets authorize after the throttles (nginx's auth_request runs after limit_req)."""
    from simulator.cli import main

    path = tmp_path / "s.toml"
    path.write_text(FIRST)
    code = main([a.format(path=path, tmp=tmp_path) for a in argv])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert f"{path}: behaviour.authorizer_before_throttles: the local targets authorize after" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]
