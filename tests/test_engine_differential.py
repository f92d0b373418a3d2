"""The fast engine against the reference engine: the same scenario and seed must give
the same attempts, field for field (time, cause, status, latency, cold start, ...), the
same logical requests and the same concurrency changes.

The corpus: every shipped scenario, shortened; hand-made scenarios that exercise each
rule the fast engine ports (gateway modes, quotas across calendar windows, every Lambda
pool rule, every retry and wait kind, ties at one instant); and Hypothesis-generated
scenarios built like tests/test_properties.py builds them.

Exact identity holds because both engines draw the same named streams in the same
order and process simultaneous events in SimPy's (time, priority, event id) order (see
simulator/engine/fast/). Nothing here is compared statistically: where the fast
engine approximates (latency percentiles of a run without records), tests/test_fast_engine.py
bounds the error instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import simulator
from tests.conftest import BASE, merge
from tests.test_properties import make, scenarios

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[1]


def assert_same(s: simulator.Scenario, seed: int | None = None) -> simulator.Result:
    """Run *s* on both engines; every record and every figure must agree."""
    ref = simulator.simulate(s, seed=seed, engine="simpy")
    fast = simulator.simulate(s, seed=seed, engine="fast")
    a, b = ref.records(), fast.records()
    assert len(a) == len(b), f"{len(a)} attempts on SimPy, {len(b)} on the fast engine"
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"attempt {i} differs:\n simpy: {x}\n fast:  {y}"
    for k, col in ref.requests.items():
        np.testing.assert_array_equal(col, fast.requests[k], err_msg=f"requests[{k!r}]")
    for x, y in zip(ref._conc, fast._conc):
        np.testing.assert_array_equal(x, y, err_msg="concurrency records")
    one, two = ref.summary(), fast.summary()
    assert one.pop("engine") == "simpy" and two.pop("engine") == "fast"
    assert one == two
    return ref


# --------------------------------------------------------------------------- shipped scenarios

SHIPPED = [
    ("flash_sale.toml", {"duration": "3m15s"}),
    ("flash_sale.toml", {"duration": "3m5s", "clients.mobile-app.retry": {"mode": "none"}}),
    ("rest_usage_plans.toml", {"duration": "2m", "start": "2026-03-02T23:59:00Z"}),
    ("slow_integration_retry_storm.toml", {"duration": "2m"}),
    ("http_api_routes.toml", {"duration": "40s"}),
    ("shared_account.toml", {"duration": "42s"}),
]


@pytest.mark.parametrize("file, overrides", SHIPPED, ids=[f"{f}-{i}" for i, (f, _) in enumerate(SHIPPED)])
def test_shipped_scenarios(file: str, overrides: dict[str, Any]) -> None:
    ref = assert_same(simulator.load_scenario(ROOT / "scenarios" / file, overrides=overrides))
    assert ref.n_attempts > 500


# --------------------------------------------------------------------------- hand-made corpus

POISSON = {"process": "poisson", "rate": 40}
LOGN = {"kind": "lognormal", "median": "60ms", "p99": "700ms"}


def one_client(**keys: Any) -> list[dict[str, Any]]:
    return [dict({"name": "c", "routes": {"GET /x": 1}, "arrivals": POISSON}, **keys)]


def fn(**keys: Any) -> list[dict[str, Any]]:
    return [dict({"name": "f", "duration": LOGN, "init": {"kind": "uniform", "low": "50ms", "high": "400ms"},
                  "timeout": "2s"}, **keys)]


KEYED = {
    "api": {"type": "REST", "api_key_required": True},
    "usage_plans": [{"name": "p", "throttle": {"rate": 15, "burst": 20},
                     "quota": {"limit": 300, "period": "DAY", "offset": 100},
                     "method_throttles": {"GET /x": {"rate": 12, "burst": 5}}}],
    "routes": [{"name": "GET /x", "function": "f"}, {"name": "POST /y", "function": "f"}],
    "start": "2026-01-01T23:59:50Z",
    "clients": [{"name": "a", "api_key": "k" * 30, "usage_plan": "p", "routes": {"GET /x": 2, "POST /y": 1},
                 "arrivals": {"process": "poisson", "rate": 30}},
                {"name": "b", "api_key": "k" * 30, "usage_plan": "p", "routes": {"POST /y": 1},
                 "arrivals": {"process": "uniform", "rate": 9}},
                {"name": "nokey", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform", "rate": 2}}],
}

CORPUS: dict[str, dict[str, Any]] = {
    "usage plans, shared key, quota over midnight": KEYED,
    "rejected requests consume tokens, throttled count toward quota": merge(KEYED, {"behaviour": {
        "gateway_overhead": "3ms", "rejected_requests_consume_tokens": True,
        "throttled_requests_count_toward_quota": True}}),
    "week and month quotas with offsets": merge(KEYED, {
        "start": "2026-01-31T23:59:55Z", "duration": "20s",
        "usage_plans": [{"name": "p", "quota": {"limit": 100, "period": "MONTH", "offset": 90}}],
        "behaviour": {"quota_week_start": "MONDAY", "gateway_overhead": "0ms"}}),
    "stage throttle shared by routes, account throttle": {
        "routes": [{"name": "GET /x", "function": "f"}, {"name": "GET /z", "function": "f",
                                                       "throttle": {"rate": 5, "burst": 3}}],
        "stage": {"throttle": {"rate": 20, "burst": 10}}, "account": {"throttle": {"rate": 30, "burst": 15}},
        "clients": one_client(routes={"GET /x": 3, "GET /z": 1}, arrivals={"process": "poisson", "rate": 60}),
        "behaviour": {"stage_throttle_scope": "shared", "gateway_overhead": {"kind": "exponential", "mean": "5ms"}}},
    "reserved and unreserved pools, LRU reuse, short random idle timeouts": {
        "account": {"lambda_concurrency": 12, "unreserved_min": 2},
        "functions": fn(idle_timeout={"kind": "exponential", "mean": "300ms"}) + [
            {"name": "g", "duration": "250ms", "init": "100ms", "reserved_concurrency": 4, "timeout": "1s"}],
        "routes": [{"name": "GET /x", "function": "f"}, {"name": "GET /g", "function": "g"}],
        "clients": one_client(routes={"GET /x": 1, "GET /g": 1}, arrivals={"process": "poisson", "rate": 50}),
        "behaviour": {"environment_reuse": "lru", "gateway_overhead": "2ms"}},
    "provisioned with spillover inside reserved, max lifetime": {
        "functions": fn(reserved_concurrency=6, provisioned_concurrency=3),
        "clients": one_client(arrivals={"process": "poisson", "rate": 45}),
        "behaviour": {"max_environment_lifetime": "1500ms", "idle_timeout": "700ms"}},
    "account burst scaling and a slow scaling bucket": {
        "functions": fn() + [{"name": "g", "duration": LOGN, "init": "600ms"}],
        "routes": [{"name": "GET /x", "function": "f"}, {"name": "GET /g", "function": "g"}],
        "clients": one_client(routes={"GET /x": 1, "GET /g": 1}, arrivals={"process": "poisson", "rate": 70}),
        "behaviour": {"scaling_model": "account_burst", "account_burst": 6, "account_burst_refill_per_s": 2.5}},
    "a 300 s integration timeout lowers the account throttle (966.7 rps, burst 483)": {
        "api": {"type": "REST", "extended_integration_timeout": True, "integration_timeout": "300s"},
        "clients": one_client(arrivals={"process": "poisson", "rate": 20, "bursts": [{"at": "2s", "count": 600}]})},
    "errors, function timeouts, integration and client timeouts, HTTP API": {
        "api": {"type": "HTTP", "integration_timeout": "400ms"},
        "functions": fn(error_rate=0.2, timeout="1s", duration={"kind": "exponential", "mean": "300ms"}),
        "clients": one_client(timeout="350ms", retry={"mode": "exponential", "base": "20ms", "cap": "80ms",
                                                      "max_attempts": 4, "on": [0, 500, 503]}),
        "behaviour": {"http_api_timeout_status": 504}},
    "502 Lambda throttles, fixed retries with a retry quota": {
        "functions": fn(reserved_concurrency=2),
        "clients": one_client(retry={"mode": "fixed", "delay": "40ms", "max_attempts": 3,
                                     "quota": {"capacity": 30, "cost": 5, "timeout_cost": 10, "success_increment": 2}}),
        "behaviour": {"lambda_throttle_status": 502}},
    "aws_standard retries without jitter quota running dry": {
        "functions": fn(reserved_concurrency=1),
        "clients": one_client(retry={"mode": "aws_standard"}, arrivals={"process": "poisson", "rate": 25})},
    "exponential backoff without jitter": {
        "account": {"throttle": {"rate": 10, "burst": 2}},
        "clients": one_client(retry={"mode": "exponential", "base": "50ms", "cap": "120ms", "jitter": "none",
                                     "max_attempts": 5})},
    # (A user with no wait and answers that take no time would loop at one instant forever,
    # in both engines: the gateway overhead keeps time moving.)
    "closed users: between, constant_pacing, constant zero wait, with retries": {
        "duration": "6s", "behaviour": {"gateway_overhead": "4ms"},
        "functions": fn(reserved_concurrency=5),
        "routes": [{"name": "GET /x", "function": "f"}, {"name": "GET /z", "function": "f"}],
        "clients": [
            {"name": "u1", "routes": {"GET /x": 1, "GET /z": 1},
             "arrivals": {"process": "closed", "users": 7, "spawn_rate": 2.5,
                          "wait": {"kind": "between", "min": "50ms", "max": "300ms"}}},
            {"name": "u2", "routes": {"GET /z": 1}, "retry": {"mode": "fixed", "delay": "30ms", "max_attempts": 2},
             "arrivals": {"process": "closed", "users": 4, "spawn_rate": 10,
                          "wait": {"kind": "constant_pacing", "time": "200ms"}}},
            {"name": "u3", "routes": {"GET /x": 1},
             "arrivals": {"process": "closed", "users": 3, "spawn_rate": 1,
                          "wait": {"kind": "constant", "time": "0s"}}},
            {"name": "u4", "routes": {"GET /x": 1},
             "arrivals": {"process": "closed", "users": 2, "spawn_rate": 0.5,
                          "wait": {"kind": "constant_throughput", "rate": 4}}}]},
    "ties: fixed durations, bursts at one instant, zero overhead": {
        "functions": [{"name": "f", "duration": "100ms", "init": "200ms", "timeout": "1s", "reserved_concurrency": 5}],
        "clients": [
            {"name": "a", "routes": {"GET /x": 1}, "retry": {"mode": "fixed", "delay": "100ms", "max_attempts": 3},
             "arrivals": {"process": "uniform", "rate": 20, "bursts": [{"at": "1s", "count": 12},
                                                                       {"at": "2s", "count": 6, "over": "300ms"}]}},
            {"name": "b", "routes": {"GET /x": 1},
             "arrivals": {"process": "uniform", "rate": 10, "bursts": [{"at": "1s", "count": 4}]}}],
        "behaviour": {"gateway_overhead": "0ms", "idle_timeout": "0s"}},
    "Lambda's request rate: account and reserved buckets bind, ties, concurrency throttles": {
        "account": {"lambda_concurrency": 8, "unreserved_min": 2},
        "functions": fn(duration="5ms", init="20ms", reserved_concurrency=2) + [
            {"name": "g", "duration": {"kind": "exponential", "mean": "30ms"}, "init": "50ms"}],
        "routes": [{"name": "GET /x", "function": "f"}, {"name": "GET /g", "function": "g"}],
        "clients": [
            {"name": "a", "routes": {"GET /x": 1, "GET /g": 2}, "arrivals": {"process": "poisson", "rate": 90}},
            {"name": "b", "routes": {"GET /x": 1},
             "arrivals": {"process": "uniform", "rate": 15, "bursts": [{"at": "2s", "count": 30}]}}],
        "behaviour": {"lambda_request_rate_burst_s": 0.25, "gateway_overhead": "1ms"}},
    "provisioned request rate, background load on every shared limit": {
        "account": {"throttle": {"rate": 100, "burst": 40}, "lambda_concurrency": 12, "unreserved_min": 2,
                    "background": [{"name": "other", "rate": 70, "mean_duration": "40ms", "gateway_share": 0.5},
                                   {"name": "batch", "rate": 20, "mean_duration": "150ms", "gateway_share": 0,
                                    "lambda_share": 0.75}]},
        "functions": fn(provisioned_concurrency=2, duration="20ms") + [
            {"name": "g", "duration": "80ms", "init": "100ms", "provisioned_concurrency": 1}],
        "routes": [{"name": "GET /x", "function": "f"}, {"name": "GET /g", "function": "g"}],
        "clients": one_client(routes={"GET /x": 3, "GET /g": 1}, arrivals={"process": "poisson", "rate": 80}),
        "behaviour": {"provisioned_request_rate_limit": True, "lambda_request_rate_burst_s": 0.5}},
    "request-rate limit off": {
        "account": {"lambda_concurrency": 3, "unreserved_min": 1},
        "functions": fn(duration="5ms", init="20ms"),
        "clients": one_client(arrivals={"process": "poisson", "rate": 60}),
        "behaviour": {"lambda_request_rate_limit": False}},
    "rate profile and an empirical duration": {
        "functions": fn(duration={"kind": "empirical", "file": str(ROOT / "scenarios/data/search_durations_ms.txt")}),
        "clients": one_client(arrivals={"process": "poisson", "rate": [["0s", 5], ["4s", 90], ["6s", 10]]})},
    "steps in rate profiles (a repeated time), at the start, inside, at and after the end": {
        "clients": [
            {"name": "p", "routes": {"GET /x": 1},
             "arrivals": {"process": "poisson", "rate": [["0s", 0], ["0s", 20], ["3s", 20], ["3s", 120], ["5s", 120],
                                                          ["5s", 8], ["7s", 30], ["10s", 30], ["10s", 500]]}},
            {"name": "u", "routes": {"GET /x": 1},
             "arrivals": {"process": "uniform", "rate": [["0s", 4], ["2500ms", 4], ["2500ms", 60], ["6s", 10],
                                                          ["12s", 10], ["12s", 90]]}}]},
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus(name: str) -> None:
    ref = assert_same(simulator.parse_scenario(merge(merge(BASE, {"duration": "10s"}), CORPUS[name])))
    assert ref.n_attempts > 20


def test_replayed_traces_with_named_routes(build: Any) -> None:
    times = [0.0, 0.0, 0.05, 0.05, 0.05, 0.3, 0.31, 1.0, 1.0, 2.5]
    routes = ["GET /x", "", "GET /z", "GET /z", "", "GET /x", "", "GET /z", "GET /x", ""]
    s = build(None, routes=[{"name": "GET /x", "function": "f"}, {"name": "GET /z", "function": "f"}],
              clients=[{"name": "c", "routes": {"GET /x": 1, "GET /z": 3},
                        "arrivals": {"process": "replay", "file": build.trace(times, routes)}}],
              functions=[{"name": "f", "duration": "250ms", "init": "500ms", "reserved_concurrency": 2}])
    assert_same(s)


def test_another_seed_gives_other_numbers_on_both() -> None:
    s = simulator.parse_scenario(merge(merge(BASE, {"duration": "10s"}), CORPUS["errors, function timeouts, "
                                                                                "integration and client timeouts, "
                                                                                "HTTP API"]))
    assert assert_same(s, seed=99).records() != simulator.simulate(s, seed=98).records()


# --------------------------------------------------------------------------- generated scenarios


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_generated_scenarios(p: dict[str, Any]) -> None:
    assert_same(make(p))
