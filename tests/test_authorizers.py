"""Authorizers in front of a route: exact timelines, the result cache, shares, billing.

The scenarios are built in code from ``conftest.BASE`` (one route ``GET /x`` on function
``f``: 100 ms runs, 500 ms inits; a uniform client at 1 rps; no gateway overhead), with a
second function ``auth`` for the Lambda authorizer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import simulator
from simulator.engine.fast.engine import unsupported

AUTH_FN = {"name": "auth", "duration": "500ms", "init": "0ms", "timeout": "10s"}


def authorized(build: Any, authorizer: dict[str, Any], *, functions: list[dict[str, Any]] | None = None,
               **extra: Any) -> simulator.Scenario:
    """BASE with *authorizer* (named "a") on the stage, and the authorizer's function."""
    fns = functions if functions is not None else [
        {"name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s"}, AUTH_FN]
    return build(functions=fns, authorizers=[{"name": "a", **authorizer}], stage={"authorizer": "a"}, **extra)


def auth_times(result: simulator.Result) -> list[float]:
    """When the attempts whose authorizer invocation Lambda ran were sent."""
    return [round(r.time_s, 9) for r in result.records()
            if r.authorizer_function and r.authorizer_cause != "lambda_throttled"]


def batch_means(x: np.ndarray, batches: int = 20) -> tuple[float, float]:
    """Mean and batch-means standard error of *x* in time order."""
    means = np.array([b.mean() for b in np.array_split(x.astype(float), batches)])
    return float(x.mean()), float(means.std(ddof=1) / math.sqrt(batches))


def test_ttl_zero_doubles_the_invocations(build: Any) -> None:
    s = authorized(build, {"type": "TOKEN", "function": "auth", "result_ttl": "0s"},
                   functions=[{"name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s"},
                              {"name": "auth", "duration": "20ms", "init": "100ms", "timeout": "10s"}],
                   clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform", "rate": 5}}])
    r = simulator.simulate(s, engine="simpy")
    lam = r.summary()["lambda"]
    assert r.n_requests == 50
    assert lam["auth"]["invocations"] == lam["f"]["invocations"] == 50
    assert sum(f["invocations"] for f in lam.values()) == 2 * r.n_requests
    first = r.records()[0]
    # Authorizer cold start (100 ms init + 20 ms) before the route's cold start (500 + 100 ms).
    assert first.authorizer_cold_start and first.cold_start
    assert first.latency_s == pytest.approx(0.72, abs=1e-12)
    assert first.integration_latency_s == pytest.approx(0.6, abs=1e-12)
    assert r.summary()["authorizers"]["a"]["cache_hits"] == 0


def test_one_token_invokes_once_per_cache_fill(build: Any) -> None:
    # 1 rps at 0, 1, ..., 59 s; each answer arrives 0.5 s after the request and is cached
    # for 10 s: [0.5, 10.5) covers 1..10, so 11 misses, fills [11.5, 21.5), and so on.
    s = authorized(build, {"type": "TOKEN", "function": "auth", "result_ttl": "10s"}, duration="60s")
    r = simulator.simulate(s, engine="simpy")
    assert auth_times(r) == [0.0, 11.0, 22.0, 33.0, 44.0, 55.0]
    assert r.summary()["lambda"]["auth"]["invocations"] == 6
    assert r.summary()["authorizers"]["a"]["cache_hits"] == 54
    # A miss waits for the authorizer; a hit adds nothing.
    lat = {round(x.time_s, 9): x.latency_s for x in r.records()}
    assert lat[11.0] == pytest.approx(0.6, abs=1e-12) and lat[12.0] == pytest.approx(0.1, abs=1e-12)


def test_cache_fills_follow_the_rule_under_poisson_traffic(build: Any) -> None:
    """Replay the documented cache rule (an answer is usable from when it arrives until
    ``result_ttl`` later; requests while one is in flight invoke again) over the recorded
    attempts of one token, and require the same attempts to have invoked."""
    fns = [{"name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s"},
           {"name": "auth", "duration": {"kind": "lognormal", "median": "80ms", "p99": "400ms"},
            "init": "300ms", "timeout": "10s"}]
    s = authorized(build, {"type": "REQUEST", "function": "auth", "result_ttl": "3s"}, functions=fns,
                   duration="2m", clients=[{"name": "c", "routes": {"GET /x": 1},
                                            "arrivals": {"process": "poisson", "rate": 8}}])
    recs = simulator.simulate(s, engine="simpy").records()
    recs.sort(key=lambda x: (x.time_s, x.request))
    fills: list[float] = []
    expected = []
    for x in recs:
        hit = any(f <= x.time_s < f + 3.0 for f in fills)
        expected.append(not hit)
        if not hit:
            fills.append(x.time_s + x.authorizer_latency_s)
    assert [bool(x.authorizer_function) for x in recs] == expected
    assert 0 < sum(expected) < len(recs)


def test_deny_and_missing_token_shares(build: Any) -> None:
    s = authorized(build, {"type": "TOKEN", "function": "auth", "deny_share": 0.25}, duration="200s",
                   clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": 50},
                             "identities": {"count": 1000, "without_token": 0.1}}])
    r = simulator.simulate(s, engine="simpy")
    cause = r.attempts["gateway_cause"]
    unauthorized, se = batch_means(cause == simulator.CAUSES.index("unauthorized"))
    assert abs(unauthorized - 0.1) < 4 * se
    with_token = cause != simulator.CAUSES.index("unauthorized")
    denied, se = batch_means(cause[with_token] == simulator.CAUSES.index("access_denied"))
    assert abs(denied - 0.25) < 4 * se  # exactly 250 of the 1,000 identities are denied
    status = dict(zip(r.attempts["gateway_cause"].tolist(), r.attempts["gateway_status"].tolist()))
    assert status[simulator.CAUSES.index("unauthorized")] == 401
    assert status[simulator.CAUSES.index("access_denied")] == 403
    # A 401 never invokes the authorizer.
    assert not np.any(r.attempts["authorizer_function"][~with_token] >= 0)


def test_throttled_authorizer_gives_500_authorizer_error(build: Any) -> None:
    # One environment for the authorizer, busy 1 s per check, no cache: of the 10 requests
    # a second only the one at each whole second finds it free (released first at that instant).
    fns = [{"name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s"},
           {"name": "auth", "duration": "1s", "init": "0ms", "timeout": "10s", "reserved_concurrency": 1}]
    s = authorized(build, {"type": "TOKEN", "function": "auth", "result_ttl": "0s"}, functions=fns, duration="5s",
                   clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform", "rate": 10}}])
    r = simulator.simulate(s, engine="simpy")
    out = r.summary()
    assert out["attempts"]["causes"] == {"ok": 5, "authorizer_error": 45}
    assert out["attempts"]["status"] == {"200": 5, "500": 45}
    assert (out["lambda"]["auth"]["invocations"], out["lambda"]["auth"]["throttles"]) == (5, 45)
    assert out["lambda"]["f"]["invocations"] == 5
    errors = [x for x in r.records() if x.cause == "authorizer_error"]
    assert {x.authorizer_cause for x in errors} == {"lambda_throttled"}
    assert auth_times(r) == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize(("auth_fn", "authorizer", "why"), [
    ({"error_rate": 1.0}, {}, "function_error"),
    ({"timeout": "1s", "duration": "2s"}, {}, "function_timeout"),
    ({}, {"timeout": "200ms"}, "integration_timeout"),
])
def test_failing_authorizer_gives_500(build: Any, auth_fn: dict[str, Any], authorizer: dict[str, Any],
                                      why: str) -> None:
    fns = [{"name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s"}, AUTH_FN | auth_fn]
    s = authorized(build, {"type": "TOKEN", "function": "auth", **authorizer}, functions=fns, duration="3s")
    r = simulator.simulate(s, engine="simpy")
    recs = r.records()
    assert {(x.status, x.cause, x.authorizer_cause) for x in recs} == {(500, "authorizer_error", why)}
    assert r.summary()["lambda"]["f"]["invocations"] == 0
    assert r.summary()["lambda"]["auth"]["invocations"] == 3  # nothing failed is cached


def test_rejections_are_not_billed_but_the_authorizer_is(build: Any) -> None:
    s = authorized(build, {"type": "TOKEN", "function": "auth", "result_ttl": "0s", "deny_share": 0.5},
                   duration="100s",
                   clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": 10},
                             "identities": {"count": 10, "without_token": 0.2}}])
    r = simulator.simulate(s, engine="simpy")
    out = r.summary()
    causes = out["attempts"]["causes"]
    assert set(causes) == {"ok", "unauthorized", "access_denied"}
    lines = simulator.run_cost(r).run.lines
    gateway = sum(x.quantity for x in lines if x.price_key.startswith("apigateway."))
    requests = sum(x.quantity for x in lines if x.price_key == "lambda.requests" or
                   x.price_key.startswith("lambda.requests"))
    assert gateway == pytest.approx(causes["ok"])
    invocations = out["lambda"]["auth"]["invocations"] + out["lambda"]["f"]["invocations"]
    assert out["lambda"]["auth"]["invocations"] == causes["ok"] + causes["access_denied"]
    assert requests == pytest.approx(invocations)
    # The denied attempts' authorizer invocations cost something; the 401s nothing.
    failed = simulator.run_cost(r).failed
    assert failed["access_denied"] > 0 and failed["unauthorized"] == 0


def test_authorizer_concurrency_is_in_the_timeline(build: Any) -> None:
    s = authorized(build, {"type": "TOKEN", "function": "auth", "result_ttl": "0s"}, duration="3s")
    r = simulator.simulate(s, engine="simpy")
    ts = r.timeseries(1.0)
    assert ts["ConcurrentExecutions[auth]"].tolist() == [1, 1, 1]
    assert ts["Invocations[auth]"].tolist() == [1, 1, 1]
    assert r.summary()["lambda"]["auth"]["peak_concurrency"] == 1


def test_latency_only_authorizers(build: Any) -> None:
    http = {"api": {"type": "HTTP"}}
    plain = simulator.simulate(build(**http), engine="simpy")
    jwt = simulator.simulate(authorized(build, {"type": "JWT", "latency": "20ms"}, **http), engine="simpy")
    a, b = plain.records(), jwt.records()
    assert [x.latency_s + 0.02 for x in a] == pytest.approx([x.latency_s for x in b], abs=1e-12)
    assert [x.integration_latency_s for x in a] == [x.integration_latency_s for x in b]
    assert not any(x.authorizer_function for x in b)


def test_a_zero_latency_authorizer_changes_no_other_stream(build: Any) -> None:
    base = {"clients": [{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": 5},
                         "identities": {"count": 50}}],
            "functions": [{"name": "f", "duration": {"kind": "exponential", "mean": "200ms"}, "init": "500ms",
                           "timeout": "10s"}]}
    plain = simulator.simulate(build(**base), engine="simpy")
    iam = simulator.simulate(build(authorizers=[{"name": "a", "type": "AWS_IAM"}], stage={"authorizer": "a"},
                                   **base), engine="simpy")
    assert plain.records() == iam.records()


def test_client_gives_up_before_the_authorizer_answers(build: Any) -> None:
    s = authorized(build, {"type": "TOKEN", "function": "auth"}, duration="1s",
                   clients=[{"name": "c", "routes": {"GET /x": 1}, "timeout": "300ms",
                             "arrivals": {"process": "uniform", "rate": 1}}])
    (x,) = simulator.simulate(s, engine="simpy").records()
    # The gateway does not know: it calls the function once the authorizer allows.
    assert (x.cause, x.latency_s, x.gateway_cause, x.function) == ("client_timeout", 0.3, "ok", "f")
    assert x.gateway_latency_s == pytest.approx(1.1, abs=1e-12)


def test_fast_engine_falls_back_and_runs_are_deterministic(build: Any) -> None:
    s = authorized(build, {"type": "TOKEN", "function": "auth", "result_ttl": "2s", "deny_share": 0.3},
                   clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": 20},
                             "identities": {"count": 7, "without_token": 0.05}}])
    assert "authorizer" in (unsupported(s) or "")
    one = simulator.simulate(s, engine="auto")
    assert one.engine == "simpy" and "authorizer" in (one.engine_note or "")
    assert one.to_json() == simulator.simulate(s, engine="auto").to_json()
    unused = build(functions=[{"name": "f", "duration": "100ms"}, AUTH_FN],
                   authorizers=[{"name": "a", "type": "TOKEN", "function": "auth"}])
    assert unsupported(unused) is None
