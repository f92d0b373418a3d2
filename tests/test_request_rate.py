"""Lambda's request-rate limit (10 invocations per second per unit of concurrency) and
background load in the account: exact timelines, AWS's worked example, closed forms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import simulator
from simulator.functions.request_rate import request_rates
from simulator.scenario.background import background_concurrency, unreserved_capacity
from tests.conftest import BASE, merge, timeline

FAST = {"name": "f", "duration": "1ms", "init": "0ms", "timeout": "10s"}


def both(s: simulator.Scenario) -> simulator.Result:
    """Run *s* on both engines; they must agree record for record."""
    ref = simulator.simulate(s, engine="simpy")
    fast = simulator.simulate(s, engine="fast")
    assert ref.records() == fast.records()
    return ref


# --------------------------------------------------------------------------- the limit


def test_account_bucket_timeline(build: Any) -> None:
    # 2 concurrency: 20 invocations per second; 0.1 s of burst: 2 tokens.
    s = build([0.0, 0.0, 0.0, 0.05, 0.1, 0.1, 0.2], functions=[FAST],
              account={"lambda_concurrency": 2, "unreserved_min": 0},
              behaviour={"lambda_request_rate_burst_s": 0.1})
    r = both(s)
    assert timeline(r) == [(0.0, "ok", 0.001), (0.0, "ok", 0.001), (0.0, "lambda_rate_throttled", 0.0),
                           (0.05, "ok", 0.001), (0.1, "ok", 0.001), (0.1, "lambda_rate_throttled", 0.0),
                           (0.2, "ok", 0.001)]
    assert [x.status for x in r.records()] == [200, 200, 500, 200, 200, 500, 200]
    assert r.summary()["lambda"]["f"]["throttles"] == 2
    assert r.summary()["lambda"]["f"]["invocations"] == 5


def test_rate_is_checked_before_concurrency_and_a_concurrency_throttle_costs_no_token(build: Any) -> None:
    # 1 concurrency: 10 per second, burst 0.3 s = 3 tokens; each invocation holds it 100 ms.
    f = {"name": "f", "duration": "100ms", "init": "0ms"}
    s = build([0.0] + [0.01] * 5 + [0.1, 0.1, 0.1, 0.1], functions=[f],
              account={"lambda_concurrency": 1, "unreserved_min": 0},
              behaviour={"lambda_request_rate_burst_s": 0.3})
    got = [c for _, c, _ in timeline(both(s))]
    # Five refusals by concurrency at 0.01 take no token: at 0.1 the bucket is full again
    # (3 tokens), one invocation runs, the next two are refused by concurrency (2 tokens
    # left), so the fourth at 0.1 is still a concurrency throttle, not a rate throttle.
    assert got == ["ok"] + ["lambda_throttled"] * 5 + ["ok", "lambda_throttled", "lambda_throttled",
                                                        "lambda_throttled"]
    # With no tokens left the rate is what refuses, even with the concurrency full.
    s = build([0.0, 0.05], functions=[f], account={"lambda_concurrency": 1, "unreserved_min": 0},
              behaviour={"lambda_request_rate_burst_s": 0.1})
    assert [c for _, c, _ in timeline(both(s))] == ["ok", "lambda_rate_throttled"]


def test_reserved_concurrency_gives_a_function_its_own_rate(build: Any) -> None:
    # g reserves 1: 10 per second for g alone, burst 0.1 s = 1 token; f shares the account's.
    g = {"name": "g", "duration": "1ms", "init": "0ms", "reserved_concurrency": 1}
    s = build([0.0, 0.0, 0.05, 0.1], functions=[FAST, g],
              routes=[{"name": "GET /x", "function": "g"}], account={"lambda_concurrency": 1000},
              behaviour={"lambda_request_rate_burst_s": 0.1})
    assert [c for _, c, _ in timeline(both(s))] == ["ok", "lambda_rate_throttled", "lambda_rate_throttled", "ok"]
    rates = request_rates(s)
    assert [len(x.buckets) for x in rates] == [1, 2]
    assert rates[0].buckets[0] is rates[1].buckets[1]  # one account bucket, shared
    assert (rates[1].buckets[0].rate, rates[0].buckets[0].rate) == (10.0, 10000.0)


def test_provisioned_rate_limit_is_a_switch(build: Any) -> None:
    f = dict(FAST, provisioned_concurrency=1)
    on = build([0.0, 0.0, 0.05], functions=[f],
               behaviour={"lambda_request_rate_burst_s": 0.1, "provisioned_request_rate_limit": True})
    assert [c for _, c, _ in timeline(both(on))] == ["ok", "lambda_rate_throttled", "lambda_rate_throttled"]
    off = build([0.0, 0.0, 0.05], functions=[f], behaviour={"lambda_request_rate_burst_s": 0.1})
    assert [c for _, c, _ in timeline(both(off))] == ["ok", "ok", "ok"]


def test_the_limit_can_be_turned_off(build: Any) -> None:
    # 10 concurrency: 100 per second, 0.02 s of burst = 2 tokens.
    keys: dict[str, Any] = {"functions": [FAST], "account": {"lambda_concurrency": 10, "unreserved_min": 0}}
    on = build([0.0] * 3, behaviour={"lambda_request_rate_burst_s": 0.02}, **keys)
    assert [c for _, c, _ in timeline(both(on))] == ["ok", "ok", "lambda_rate_throttled"]
    off = build([0.0] * 3, behaviour={"lambda_request_rate_burst_s": 0.02, "lambda_request_rate_limit": False}, **keys)
    assert [c for _, c, _ in timeline(both(off))] == ["ok"] * 3


def test_http_api_answers_500_for_a_rate_throttle(build: Any) -> None:
    s = build([0.0, 0.0], functions=[FAST], api={"type": "HTTP"},
              account={"lambda_concurrency": 1, "unreserved_min": 0}, behaviour={"lambda_request_rate_burst_s": 0.1})
    assert [(x.status, x.cause) for x in both(s).records()] == [(200, "ok"), (500, "lambda_rate_throttled")]
    rest = build([0.0, 0.0], functions=[FAST], account={"lambda_concurrency": 1, "unreserved_min": 0},
                 behaviour={"lambda_request_rate_burst_s": 0.1, "lambda_throttle_status": 502})
    assert [x.status for x in both(rest).records()] == [200, 502]


def test_the_issues_example_refuses_about_5000_rps() -> None:
    """A 5 ms function at 15,000 rps, the API Gateway account throttle raised to 20,000,
    1,000 concurrency: Lambda's 10,000 rps refuses the rest, about 5,000 rps.

    The first 0.2 s are the cold-start ramp (1,000 new environments at once, then 100 per
    second, each busy 200 ms): those refusals are ``lambda_throttled`` and take no rate
    token, so the rate bucket (one second of tokens, 10,000) stays nearly full until then.
    It runs dry soon after t = 2 s (15,000 t = 10,000 + 10,000 t), and from then on places
    exactly 10,000 invocations per second: over [3 s, last arrival] the count placed is
    10,000 x the span, give or take the fraction of a token in the bucket at either end."""
    s = simulator.parse_scenario(merge(BASE, {
        "duration": "8s", "account": {"throttle": {"rate": 20000, "burst": 5000}, "lambda_concurrency": 1000},
        "functions": [{"name": "f", "duration": "5ms", "init": "200ms"}],
        "clients": [{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": 15000}}]}))
    r = simulator.simulate(s, engine="fast")
    cause, t = r.attempts["gateway_cause"], r.attempts["time_s"]
    ok, ramp, rate = (cause == simulator.CAUSES.index(x) for x in ("ok", "lambda_throttled", "lambda_rate_throttled"))
    assert (ok | ramp | rate).all()
    assert ramp.any() and t[ramp].max() < 0.25
    assert not rate[t < 2.0].any()
    steady = ok & (t >= 3.0)
    assert abs(int(steady.sum()) - 10000 * (float(t[-1]) - 3.0)) <= 2.0
    per_second = np.bincount(t[rate].astype(int), minlength=8)[3:8]
    assert all(4500 <= n <= 5500 for n in per_second), per_second  # 5,000 rps, within 4 Poisson sd (sqrt 15,000)
    assert abs(per_second.mean() - 5000) < 150
    # Without the limit, the same traffic loses only the ramp.
    off = simulator.simulate(s.model_copy(update={"behaviour": s.behaviour.model_copy(
        update={"lambda_request_rate_limit": False})}), engine="fast")
    assert set(off.summary()["attempts"]["causes"]) == {"ok", "lambda_throttled"}


# --------------------------------------------------------------------------- background load


def test_background_load_takes_unreserved_concurrency_by_littles_law(build: Any) -> None:
    f = {"name": "f", "duration": "1s", "init": "0ms"}
    s = build([0.0] * 8, functions=[f],
              account={"lambda_concurrency": 10, "unreserved_min": 0,
                       "background": [{"name": "other", "rate": 100, "mean_duration": "45ms"}]},
              behaviour={"lambda_request_rate_limit": False})
    assert background_concurrency(s) == 5 and unreserved_capacity(s) == 5  # 100/s x 45 ms = 4.5, half up
    assert [c for _, c, _ in timeline(both(s))] == ["ok"] * 5 + ["lambda_throttled"] * 3


def test_background_load_takes_its_share_of_the_account_throttle(build: Any) -> None:
    # Account throttle 100 rps, burst 2; background sends 150 rps of which 60% through this
    # gateway: 10 rps are left. Requests every 50 ms: 2 tokens, then half a token each.
    s = build([k * 0.05 for k in range(12)], functions=[FAST],
              account={"throttle": {"rate": 100, "burst": 2},
                       "background": [{"name": "web", "rate": 150, "mean_duration": "1ms", "gateway_share": 0.6,
                                       "lambda_share": 0}]})
    got = [c for _, c, _ in timeline(both(s))]
    assert got == ["ok", "ok", "ok"] + ["throttled_account", "ok"] * 4 + ["throttled_account"]


def test_background_load_takes_its_share_of_lambdas_request_rate(build: Any) -> None:
    # 10 concurrency: 100 invocations per second, 0.02 s burst = 2 tokens; background 90/s.
    s = build([k * 0.05 for k in range(6)] + [0.3, 0.3], functions=[FAST],
              account={"lambda_concurrency": 10, "unreserved_min": 0,
                       "background": [{"name": "jobs", "rate": 90, "mean_duration": "1ms", "gateway_share": 0}]},
              behaviour={"lambda_request_rate_burst_s": 0.02})
    assert request_rates(s)[0].buckets[0].rate == 10.0
    got = [c for _, c, _ in timeline(both(s))]
    # 10 tokens per second left, one every 100 ms.
    assert got == ["ok", "ok", "ok", "lambda_rate_throttled", "ok", "lambda_rate_throttled", "ok",
                   "lambda_rate_throttled"]


def test_background_load_above_a_limit_leaves_nothing(build: Any) -> None:
    s = build([0.0, 0.5, 1.0], functions=[FAST],
              account={"throttle": {"rate": 100, "burst": 50},
                       "background": [{"name": "big", "rate": 100, "mean_duration": "1ms", "lambda_share": 0}]})
    assert [c for _, c, _ in timeline(both(s))] == ["throttled_account"] * 3


@pytest.mark.parametrize("entry, key", [
    ({"name": "x", "rate": 1, "mean_duration": "1s", "lambda_share": 1.5}, "lambda_share"),
    ({"name": "x", "rate": -1, "mean_duration": "1s"}, "rate"),
    ({"name": "x", "rate": 1, "mean_duration": 3}, "mean_duration"),
])
def test_bad_background_entries_are_refused(entry: dict[str, Any], key: str) -> None:
    with pytest.raises(simulator.ScenarioError) as err:
        simulator.parse_scenario(merge(BASE, {"account": {"background": [entry]}}))
    assert f"account.background[0].{key}" in str(err.value) or key in str(err.value)
