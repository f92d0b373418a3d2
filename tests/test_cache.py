"""The REST API cache against theory and exact timelines.

One cache key with Poisson arrivals at rate λ and TTL T: after each miss the entry lives T,
the hits in that window are a Poisson count with mean λT, and the next request after it is
a miss, so the hit ratio is λT / (1 + λT). With many keys each key is such a process at
its own rate, and the hit ratio is the rate-weighted sum over keys.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator import outcomes as oc
from simulator.engine.fast.engine import unsupported
from simulator.scenario.cache import CacheKeys, route_caches

CACHE = {"capacity_gb": 0.5, "ttl": "1s"}
FAST_AIR = {"throttle": {"rate": 100000, "burst": 100000}}


def _flags(result: simulator.Result) -> np.ndarray:
    return np.asarray(result.attempts["flags"])


def _hits(result: simulator.Result) -> np.ndarray:
    return (_flags(result) & oc.CACHE_HIT) != 0


def _batch_check(hit: np.ndarray, expected: float) -> None:
    """The hit ratio is within 4 batch-means standard errors (20 batches) of *expected*."""
    batches = np.array([b.mean() for b in np.array_split(hit, 20)])
    se = batches.std(ddof=1) / math.sqrt(len(batches))
    assert abs(hit.mean() - expected) < 4 * se + 1e-3, (hit.mean(), expected, se)


def _poisson(build: Any, rate: float, ttl_s: float, keys: dict[str, Any] | None, duration: str) -> simulator.Scenario:
    route: dict[str, Any] = {"name": "GET /x", "function": "f"}
    if keys is not None:
        route["cache"] = {"key_parameters": ["method.request.querystring.id"], "keys": keys}
    return build(
        None,
        duration=duration,
        routes=[route],
        functions=[{"name": "f", "duration": "0ms", "init": "0ms", "timeout": "10s"}],
        clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": rate}}],
        stage={"cache": {"capacity_gb": 0.5, "ttl": f"{ttl_s}s"}},
        account=FAST_AIR,
    )


@pytest.mark.parametrize("rate, ttl_s", [(2.0, 1.0), (0.5, 3.0)])
def test_one_key_hit_ratio_is_lambda_t_over_one_plus_lambda_t(build, rate, ttl_s):
    r = simulator.simulate(_poisson(build, rate, ttl_s, None, "2000s"), seed=5)
    hit = _hits(r)
    assert len(hit) > 900
    _batch_check(hit, rate * ttl_s / (1 + rate * ttl_s))
    # Every attempt either hit or missed; none reached Lambda on a hit.
    flags = _flags(r)
    assert np.all(((flags & oc.CACHE_HIT) != 0) ^ ((flags & oc.CACHE_MISS) != 0))
    assert np.all(np.asarray(r.attempts["function"])[hit] == -1)


@pytest.mark.parametrize("law", [{"count": 20, "law": "uniform"}, {"count": 50, "law": "zipf", "exponent": 1.2}])
def test_many_keys_hit_ratio_is_the_sum_over_keys(build, law):
    rate, ttl_s = 20.0, 2.0
    r = simulator.simulate(_poisson(build, rate, ttl_s, law, "600s"), seed=11)
    p = np.array(CacheKeys(**law).probabilities())
    expected = float(np.sum(p * (rate * p * ttl_s) / (1 + rate * p * ttl_s)))
    _batch_check(_hits(r), expected)
    summary = r.summary()["cache"]["GET /x"]
    assert summary["hits"] == int(_hits(r).sum())
    assert summary["hits"] + summary["misses"] == r.n_attempts


def _trace(tmp: Path, rows: list[tuple[float, str]]) -> str:
    path = tmp / "keys.csv"
    path.write_text("time_s,route,cache_key\n" + "".join(f"{t!r},GET /x,{k}\n" for t, k in rows))
    return str(path)


def _replay(tmp_path: Path, rows: list[tuple[float, str]], **extra: Any) -> simulator.Scenario:
    data: dict[str, Any] = {
        "name": "cache-timeline",
        "duration": "30s",
        "routes": [{"name": "GET /x", "function": "f",
                    "cache": {"key_parameters": ["method.request.path.id"], "keys": {"count": 3}}}],
        "functions": [{"name": "f", "duration": "125ms", "init": "0ms", "timeout": "10s"}],
        "clients": [{"name": "c", "routes": {"GET /x": 1},
                     "arrivals": {"process": "replay", "file": _trace(tmp_path, rows)}}],
        "stage": {"cache": {"capacity_gb": 0.5, "ttl": "10s"}},
        "behaviour": {"gateway_overhead": "0ms"},
    }
    data.update(extra)
    return simulator.parse_scenario(data, base_dir=tmp_path)


def _lookups(result: simulator.Result) -> list[tuple[float, str, str, int]]:
    out = []
    for rec, flags in zip(result.records(), _flags(result), strict=True):
        kind = "hit" if flags & oc.CACHE_HIT else "miss" if flags & oc.CACHE_MISS else "-"
        out.append((round(rec.time_s, 6), kind, rec.cause, rec.status))
    return out


def test_exact_timeline_fill_on_answer_hit_and_expiry(tmp_path):
    # Fill when the function answers (0.125 s later), expire TTL (10 s) after the fill.
    rows = [(0.0, "a"), (0.0625, "a"), (5.0, "a"), (10.125, "a"), (10.1875, "a"), (10.25, "a"), (10.5, "a"),
            (10.5625, "b")]
    r = simulator.simulate(_replay(tmp_path, rows), seed=1)
    assert _lookups(r) == [
        (0.0, "miss", "ok", 200),       # fills at 0.125, to expire at 10.125
        (0.0625, "miss", "ok", 200),    # the fill is on its way: a miss too; fills again at 0.1875
        (5.0, "hit", "ok", 200),
        (10.125, "hit", "ok", 200),     # the second fill expires at 10.1875
        (10.1875, "miss", "ok", 200),   # exactly at the expiry: a miss; fills at 10.3125
        (10.25, "miss", "ok", 200),
        (10.5, "hit", "ok", 200),
        (10.5625, "miss", "ok", 200),   # another key
    ]
    rec = r.records()
    assert [x.function for x in rec] == ["f", "f", "", "", "f", "f", "", "f"]
    assert [x.cache_hit for x in rec] == [False, False, True, True, False, False, True, False]
    assert r.to_dataframe()["cache_hit"].tolist() == [x.cache_hit for x in rec]
    assert rec[2].latency_s == 0.0 and rec[0].latency_s == 0.125
    assert r.lambda_summary()["f"]["invocations"] == 5
    series = r.timeseries(5.0)
    assert series["CacheHitCount"].tolist() == [0, 1, 2, 0, 0, 0]
    assert series["CacheMissCount"].tolist() == [2, 0, 3, 0, 0, 0]


def test_a_hit_is_not_lambda_throttled_when_a_miss_is(tmp_path):
    # One environment, busy for 1 s per invocation.
    fn = [{"name": "f", "duration": "1s", "init": "0ms", "timeout": "10s", "reserved_concurrency": 1}]
    rows = [(0.0, "a"), (0.5, "b"), (1.25, "b"), (1.5, "a"), (1.625, "c")]
    r = simulator.simulate(_replay(tmp_path, rows, functions=fn), seed=1)
    assert _lookups(r) == [
        (0.0, "miss", "ok", 200),                  # fills a at 1.0
        (0.5, "miss", "lambda_throttled", 500),    # the one environment is busy; nothing is stored
        (1.25, "miss", "ok", 200),                 # busy again until 2.25
        (1.5, "hit", "ok", 200),                   # a is cached: no Lambda, no throttle
        (1.625, "miss", "lambda_throttled", 500),
    ]


def test_gateway_throttles_come_before_the_cache(tmp_path):
    rows = [(0.0, "a"), (1.0, "a"), (1.0625, "a")]
    stage = {"throttle": {"rate": 1, "burst": 1}, "cache": {"capacity_gb": 0.5, "ttl": "10s"}}
    r = simulator.simulate(_replay(tmp_path, rows, stage=stage), seed=1)
    assert _lookups(r) == [(0.0, "miss", "ok", 200), (1.0, "hit", "ok", 200), (1.0625, "-", "throttled_stage", 429)]


def test_retries_ask_for_the_same_key(tmp_path):
    # The request at 0.125 s is throttled by Lambda; its retry 1 s later (at most) asks for
    # key b again, which the request at 0.5 s has filled at 0.75 s.
    fn = [{"name": "f", "duration": "250ms", "init": "0ms", "timeout": "10s", "reserved_concurrency": 1}]
    rows = [(0.0, "a"), (0.125, "b"), (0.5, "b")]
    client = {"name": "c", "routes": {"GET /x": 1}, "retry": {"mode": "fixed", "max_attempts": 2, "delay": "1s"},
              "arrivals": {"process": "replay", "file": _trace(tmp_path, rows)}}
    r = simulator.simulate(_replay(tmp_path, rows, functions=fn, clients=[client]), seed=1)
    looked = _lookups(r)
    assert looked[:3] == [(0.0, "miss", "ok", 200), (0.125, "miss", "lambda_throttled", 500), (0.5, "miss", "ok", 200)]
    recs = r.records()
    retry = next(i for i, x in enumerate(recs) if x.attempt == 2)
    assert recs[retry].request == recs[1].request
    if recs[retry].time_s > 0.75:
        assert looked[retry][1:] == ("hit", "ok", 200)


def test_only_get_methods_are_cached_by_default(build):
    s = build(
        [0.0, 0.5, 1.0],
        routes=[{"name": "GET /x", "function": "f"}, {"name": "POST /x", "function": "f"}],
        clients=[{"name": "c", "routes": {"GET /x": 1, "POST /x": 1}, "arrivals": {"process": "uniform", "rate": 1}}],
        stage={"cache": {"capacity_gb": 1.6}},
    )
    caches = route_caches(s)
    assert caches[0] is not None and caches[0].ttl_s == 300.0 and caches[1] is None


def test_cost_has_cache_hours_at_the_size_price(tmp_path):
    r = simulator.simulate(_replay(tmp_path, [(0.0, "a"), (1.0, "a")]), seed=1)
    cost = r.summary()["cost_usd"]
    run_line = cost["run"]["API Gateway"]["Cache (0.5 GB)"]
    assert run_line["quantity"] == pytest.approx(30 / 3600, abs=1e-6)
    assert run_line["usd"] == pytest.approx(0.02 * 30 / 3600, abs=1e-6)
    assert cost["monthly"]["API Gateway"]["Cache (0.5 GB)"]["usd"] == pytest.approx(0.02 * 730)
    # One invocation is billed (the miss); the hit is an API call but no Lambda request.
    assert cost["run"]["Lambda"]["Requests"]["quantity"] == 1
    assert cost["run"]["API Gateway"]["REST requests"]["quantity"] == 2


def test_fast_engine_falls_back_and_says_why(tmp_path):
    s = _replay(tmp_path, [(0.0, "a")])
    assert unsupported(s) == "the fast engine has no REST API cache (stage.cache)"
    assert simulator.simulate(s, seed=1, engine="auto").engine == "simpy"
    off = _replay(tmp_path, [(0.0, "a")], stage={"cache": {"capacity_gb": 0.5, "enabled": False}})
    assert unsupported(off) is None


def test_key_draws_leave_other_streams_alone(build):
    plain = build(None, duration="60s",
                  clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": 5}}])
    cached = build(None, duration="60s", stage={"cache": {"capacity_gb": 0.5}},
                   routes=[{"name": "GET /x", "function": "f",
                            "cache": {"key_parameters": ["id"], "keys": {"count": 7, "law": "zipf"}}}],
                   clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": 5}}])
    a = simulator.simulate(plain, seed=3, engine="simpy")
    b = simulator.simulate(cached, seed=3, engine="simpy")
    assert np.array_equal(np.asarray(a.attempts["time_s"]), np.asarray(b.attempts["time_s"]))
    assert simulator.simulate(cached, seed=3).to_json() == b.to_json()


@settings(max_examples=25, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=40),
    keys=st.lists(st.sampled_from("abc"), min_size=40, max_size=40),
    ttl_ticks=st.integers(min_value=1, max_value=128),
)
def test_hits_match_a_per_key_renewal_oracle(gaps, keys, ttl_ticks):
    # Times and the TTL on a 1/16 s grid (exact in binary); the function answers at once,
    # so each miss fills its key at its own instant and the entry lives exactly the TTL.
    times = np.cumsum(gaps) / 16.0
    rows = list(zip(times.tolist(), keys, strict=False))
    fn = [{"name": "f", "duration": "0ms", "init": "0ms", "timeout": "10s"}]
    stage = {"cache": {"capacity_gb": 0.5, "ttl": f"{ttl_ticks * 62.5}ms"}}
    with tempfile.TemporaryDirectory() as tmp:  # each example's trace, removed when it has run
        scenario = _replay(Path(tmp), rows, functions=fn, stage=stage, duration=f"{times[-1] + 1}s")
        r = simulator.simulate(scenario, seed=1)
    expires: dict[str, float] = {}
    expected = []
    for t, k in rows:
        hit = t < expires.get(k, -1.0)
        expected.append("hit" if hit else "miss")
        if not hit:
            expires[k] = t + ttl_ticks / 16.0
    assert [x[1] for x in _lookups(r)] == expected
