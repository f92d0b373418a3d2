"""Lambda Web Functions: environments that serve many requests each, a queue for the next
one, the endpoint's rate limit, scale-in of idle environments; checked on exact timelines
and against queueing theory (with no init time and one request per environment, an endpoint
of c environments is an M/M/c queue)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import timeline

import simulator
from simulator import ScenarioError


def web(build, times, *, web_settings, duration="1s", init="1s", **extra):
    return build(times, functions=[{"name": "f", "duration": duration, "init": init, "timeout": "30s",
                                    "web": web_settings}], **extra)


def test_requests_share_environments_and_queue_for_the_next_one(build):
    # Two requests per environment, at most two environments, init 1 s, run 1 s; five at t=0.
    s = web(build, [0.0] * 5, web_settings={"max_concurrency_per_environment": 2, "max_environments": 2})
    r = simulator.simulate(s, engine="simpy")
    # 1st starts environment A (cold, ready at 1 s); 2nd takes A's other slot; 3rd finds all
    # taken and starts B (ready at 1 s, sooner than A's first free slot at 2 s); 4th takes B's
    # other slot; 5th can start no third environment and waits for a slot at 2 s.
    assert timeline(r) == [(0.0, "ok", 2.0)] * 4 + [(0.0, "ok", 3.0)]
    df = r.to_dataframe()
    assert df["cold_start"].tolist() == [True, False, True, False, False]
    assert df["init_s"].tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    summary = r.summary()["lambda"]["f"]
    assert summary["cold_starts"] == 2 and summary["invocations"] == 5 and summary["peak_concurrency"] == 4


def test_an_existing_slot_that_frees_first_is_taken_and_the_new_environment_waits(build):
    # Run 1 s, init 5 s, one request per environment: at t=0.5 s the first environment frees at
    # 6 s (init 5 + run 1), a new one would be ready at 5.5 s: the new one is sooner.
    s = web(build, [0.0, 0.5, 5.8], init="5s",
            web_settings={"max_concurrency_per_environment": 1, "max_environments": 3})
    r = simulator.simulate(s, engine="simpy")
    # 3rd at 5.8: both environments busy (free at 6.0 and 6.5), a third would be ready at 10.8:
    # it waits for the slot at 6.0 (and a third environment starts for later requests).
    assert timeline(r) == [(0.0, "ok", 6.0), (0.5, "ok", 6.0), (5.8, "ok", 1.2)]
    assert r.to_dataframe()["cold_start"].tolist() == [True, True, False]


def test_the_endpoint_rate_limit_answers_429_before_any_environment(build):
    s = web(build, [0.0] * 150, duration="10ms", init="0ms",
            web_settings={"rate_limit": 100, "max_concurrency_per_environment": 128})
    r = simulator.simulate(s, engine="simpy")
    causes = r.to_dataframe()["cause"].tolist()
    assert causes == ["ok"] * 100 + ["web_rate_limited"] * 50
    assert set(r.to_dataframe()["status"].tolist()[100:]) == {429}
    assert r.summary()["lambda"]["f"]["invocations"] == 100


def test_scale_in_removes_idle_environments(build):
    times = [0.0, 8.0]
    kept = web(build, times, duration="100ms", init="500ms", web_settings={})
    scaled = web(build, times, duration="100ms", init="500ms", web_settings={"scale_in_after_idle": "5s"})
    assert simulator.simulate(kept, engine="simpy").summary()["lambda"]["f"]["cold_starts"] == 1
    assert simulator.simulate(scaled, engine="simpy").summary()["lambda"]["f"]["cold_starts"] == 2


def test_web_functions_are_not_billed_as_lambda(build):
    s = web(build, [0.0, 1.0], duration="100ms", init="0ms", web_settings={})
    cost = simulator.run_cost(simulator.simulate(s, engine="simpy"))
    assert "Lambda" not in cost.run.by_service()
    assert cost.run.by_service()["API Gateway"] > 0


def test_auto_runs_them_on_simpy_and_says_why(build):
    s = web(build, [0.0], web_settings={})
    r = simulator.simulate(s, engine="auto")
    assert r.engine_note == "ran on the SimPy engine: the fast engine has no Lambda Web Functions (functions.f.web)"


@pytest.mark.parametrize("settings, key", [
    ({"rate_limit": 150}, "rate_limit"),
    ({"max_concurrency_per_environment": 129}, "max_concurrency_per_environment"),
    ({"max_environments": 1}, "max_environments"),
])
def test_settings_aws_refuses_are_one_line_errors(build, settings, key):
    with pytest.raises(ScenarioError, match=key) as exc:
        web(build, [0.0], web_settings=settings)
    assert len(str(exc.value).splitlines()) == 1


def test_a_web_function_has_no_reserved_concurrency(build):
    with pytest.raises(ScenarioError, match=r"functions\[0\].reserved_concurrency: a web function has none"):
        build([0.0], functions=[{"name": "f", "duration": "1s", "reserved_concurrency": 5, "web": {}}])


def erlang_c(c: int, a: float) -> float:
    """The probability that an arrival waits in an M/M/c queue with offered load *a*."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_erlang_c_closed_form():
    assert erlang_c(2, 1.5) == pytest.approx(4.5 / 7)


@pytest.mark.parametrize("per_env, envs, rate", [(1, 2, 1.5), (2, 2, 3.0)])
def test_the_wait_probability_matches_erlang_c(build, per_env, envs, rate):
    # No init time: an environment is ready when it starts, so c = per_env x envs servers.
    s = build(None, duration="20000s",
              functions=[{"name": "f", "duration": {"kind": "exponential", "mean": "1s"}, "init": "0ms",
                          "timeout": "900s",
                          "web": {"max_concurrency_per_environment": per_env, "max_environments": envs}}],
              clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": rate}}],
              account={"throttle": {"rate": 100000, "burst": 100000}})
    df = simulator.simulate(s, seed=5, engine="simpy").to_dataframe()
    waited = (df["integration_latency_s"] - df["run_s"] > 1e-9).to_numpy()
    batches = np.array([b.mean() for b in np.array_split(waited, 20)])
    se = batches.std(ddof=1) / math.sqrt(len(batches))
    expected = erlang_c(per_env * envs, rate)
    assert abs(waited.mean() - expected) < 4 * se, (waited.mean(), expected, se)
