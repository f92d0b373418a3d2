"""The fast engine's own parts: its random draws and arrivals equal the reference's, it
resumes exactly after running out of anything, it chooses engines as documented, and a
run without records keeps bounded aggregates whose figures equal the recorded run's
(counts, time series and cost exactly; latency percentiles within 1%)."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import pytest

import simulator
from simulator.dists import BLOCK, Draws, Empirical, Exponential, Fixed, LogNormal, Uniform
from simulator.rng import stream
from simulator.traffic.arrivals import open_arrival_times
from tests.conftest import BASE, merge

numba = pytest.importorskip("numba")

from simulator.engine.fast import engine as fast_module
from simulator.engine.fast import inputs as fast_inputs
from simulator.engine.fast import streams as fast_streams
from simulator.engine.fast.engine import FastEngine
from simulator.engine.fast.streams import Inline, Streams, Worker
from simulator.results.aggregate import AggregateResult, RecordsNotKept, histogram_percentiles
from tests.test_engine_differential import CORPUS, assert_same


def scenario(name: str, **extra: Any) -> simulator.Scenario:
    return simulator.parse_scenario(merge(merge(merge(BASE, {"duration": "10s"}), CORPUS[name]), extra))


# --------------------------------------------------------------------------- same numbers


@pytest.mark.parametrize("dist", [Fixed(0.25), Exponential(0.1), LogNormal(0.05, 0.4), Uniform(0.0, 1.0),
                                  Empirical((0.01, 0.02, 0.5, 3.0, 0.07))], ids=lambda d: type(d).__name__)
def test_blocks_are_the_values_a_draws_hands_out(dist: Any) -> None:
    draws = Draws(dist, stream(5, "x"))
    expected = [draws.next() for _ in range(5 * BLOCK + 17)]
    rng = stream(5, "x")
    got = np.concatenate([fast_streams.draw_blocks(dist, rng, 2), fast_streams.draw_blocks(dist, rng, 4)])
    assert got[:len(expected)].tolist() == expected


OPEN = [
    {"process": "poisson", "rate": [["0s", 80], ["3m", 80], ["4m", 2400], ["6m", 2400], ["7m", 80]]},
    {"process": "poisson", "rate": 900,
     "bursts": [{"at": "1s", "count": 500}, {"at": "20s", "count": 30, "over": "3s"}]},
    {"process": "uniform", "rate": [["0s", 0], ["10s", 700], ["1m", 0]]},
    {"process": "poisson", "rate": [["0s", 0], ["10s", 0], ["20s", 50]]},
    {"process": "uniform", "rate": 0, "bursts": [{"at": "0s", "count": 3}]},
    {"process": "poisson", "rate": [["0s", 33.3], ["20s", 33.3], ["30s", 1234.567], ["1m", 1234.567], ["2m", 0.07]]},
    {"process": "uniform", "rate": 1e5 / 3},
]


@pytest.mark.parametrize("arrivals", OPEN)
@pytest.mark.parametrize("duration_s", [300.0, 47.3])
def test_open_arrivals_equal_the_reference(arrivals: dict[str, Any], duration_s: float,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spec = simulator.parse_scenario(merge(BASE, {"duration": "5m", "clients": [{"name": "c", "routes": {"GET /x": 1},
                                                              "arrivals": arrivals}]})).clients[0].arrivals
    expected = open_arrival_times(spec, duration_s, stream(3, "arrivals", "c"))
    np.testing.assert_array_equal(fast_inputs.open_times(spec, duration_s, stream(3, "arrivals", "c")), expected)
    monkeypatch.setattr(fast_inputs, "CHUNK", 4096)
    chunks = list(fast_inputs.arrival_chunks(spec, duration_s, stream(3, "arrivals", "c")))
    np.testing.assert_array_equal(np.concatenate(chunks or [np.zeros(0)]), expected)


@pytest.mark.parametrize("ahead", [False, True], ids=["inline", "made-ahead"])
def test_streamed_arrivals_give_the_same_run(monkeypatch: pytest.MonkeyPatch, ahead: bool) -> None:
    monkeypatch.setattr(fast_module, "AHEAD_ABOVE", -1 if ahead else 1 << 62)
    monkeypatch.setattr(fast_inputs, "STREAM_ABOVE", 100)
    monkeypatch.setattr(fast_inputs, "CHUNK", 4096)
    s = scenario("stage throttle shared by routes, account throttle", duration="3m",
                 clients=[{"name": "c", "routes": {"GET /x": 3, "GET /z": 1}, "arrivals": OPEN[1]}])
    engine = FastEngine(s, s.seed)
    assert isinstance(engine.x["arrivals"].sources[0], fast_inputs.ArrivalChunks)
    assert isinstance(engine.maker, Worker if ahead else Inline)
    engine.run()
    assert_same(s)


@pytest.mark.parametrize("maker", [Inline, Worker])
def test_a_stream_taken_in_any_steps_hands_out_the_values_of_a_draws(maker: Any) -> None:
    """However the loop takes values and whoever draws the parts, a stream's buffer gets
    the values :class:`~simulator.dists.Draws` hands out, in order, and ``used`` counts
    the values taken."""
    dist = LogNormal(0.05, 0.4)
    draws = Draws(dist, stream(5, "x"))
    expected = [draws.next() for _ in range(40 * BLOCK)]
    made = maker()
    streams = Streams([None, (Fixed(0.5), stream(5, "y")), (dist, stream(5, "x"))], max_total=8 * BLOCK,
                      expected_draws=16 * BLOCK, maker=made)
    rb, rpos, rlen = streams.buffers()
    steps = np.random.default_rng(0)
    got: list[float] = []
    while len(got) < len(expected):
        streams.refill(rb, rpos, rlen)
        take = int(steps.integers(1, rlen[2] - rpos[2] + 1))
        got += rb[2, np.arange(rpos[2], rpos[2] + take) % streams.cap].tolist()  # a ring
        rpos[2] += take
        assert streams.used(rpos, rlen)[2] == len(got)
    made.close()
    assert got[:len(expected)] == expected


def test_a_run_made_ahead_leaves_no_thread_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_module, "AHEAD_ABOVE", -1)
    s = scenario("stage throttle shared by routes, account throttle")
    simulator.simulate(s, engine="fast", record=False)
    assert not [t for t in threading.enumerate() if t.name.startswith("throttlesim-ahead")]


@pytest.mark.parametrize("name", ["rate profile and an empirical duration",
                                  "closed users: between, constant_pacing, constant zero wait, with retries",
                                  "reserved and unreserved pools, LRU reuse, short random idle timeouts",
                                  "aws_standard retries without jitter quota running dry"])
def test_numbers_made_ahead_in_small_parts_give_the_same_run(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(fast_module, "AHEAD_ABOVE", -1)
    monkeypatch.setattr(Streams.__init__, "__defaults__", (2 * BLOCK, 0, None))
    assert_same(scenario(name))


# --------------------------------------------------------------------------- resuming


def test_the_loop_resumes_exactly_after_running_out_of_quota_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fast_module.quota_windows
    calls: list[float] = []

    def first_window_only(quotas: Any, beyond: float) -> np.ndarray:
        calls.append(beyond)
        ends = real(quotas, beyond)
        return ends[:, :1].copy() if len(calls) == 1 else ends

    monkeypatch.setattr(fast_module, "quota_windows", first_window_only)
    assert_same(scenario("usage plans, shared key, quota over midnight", start="2026-01-01T23:59:58Z"))
    assert len(calls) == 2  # the second call came from the loop, asking for more windows


def test_the_loop_resumes_exactly_after_running_out_of_numbers_events_and_room(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny random buffers, a burst that fills the event heap, records that outgrow their
    first arrays: the loop stops many times and still gives the reference's run."""
    monkeypatch.setattr(Streams.__init__, "__defaults__", (2 * BLOCK, 0, None))
    monkeypatch.setattr(fast_inputs, "expected_attempts", lambda s: 16)
    def burst(retry: str) -> simulator.Scenario:
        return scenario(
            "stage throttle shared by routes, account throttle", duration="6s",
            account={"throttle": {"rate": 10000, "burst": 5000}, "lambda_concurrency": 5000},
            stage={"throttle": {"rate": 10000, "burst": 5000}}, behaviour={"scaling_burst": 5000},
            functions=[{"name": "f", "duration": {"kind": "lognormal", "median": "2s", "p99": "9s"},
                        "timeout": "60s", "init": {"kind": "exponential", "mean": "300ms"}}],
            clients=[{"name": "c", "routes": {"GET /x": 1, "GET /z": 1}, "retry": {"mode": retry},
                      "arrivals": {"process": "poisson", "rate": 200, "bursts": [{"at": "1s", "count": 3000}]}}])

    s = burst("aws_standard")
    assert_same(s)
    engine = FastEngine(s, s.seed)
    engine.run()
    assert len(engine.a["heap_time"]) > 1024 and engine.a["attempt_i"].shape[1] >= 4096  # both grew
    assert len(engine.a["event_i"]) > 1024  # pending responses take event slots
    assert engine.x["streams"].cap == 2 * BLOCK
    # Without retries the burst leaves only releases waiting, which take no slot: the
    # heap grows on its own.
    s = burst("none")
    assert_same(s)
    engine = FastEngine(s, s.seed)
    engine.run()
    assert len(engine.a["heap_time"]) > 1024 and len(engine.a["event_i"]) == 1024


def test_time_series_bins_grow_past_the_end_of_arrivals() -> None:
    s = scenario("exponential backoff without jitter", duration="2s",
                 functions=[{"name": "f", "duration": "100s", "timeout": "900s", "init": "1s"}])
    r = simulator.simulate(s, engine="fast", record=False)
    ref = simulator.simulate(s, engine="simpy")
    assert r.end_s == ref.end_s > 100
    assert_timeseries_equal(ref.timeseries(10), r.timeseries(10))


# --------------------------------------------------------------------------- choosing an engine


def test_auto_runs_the_fast_engine_and_falls_back_with_a_reason() -> None:
    s = scenario("ties: fixed durations, bursts at one instant, zero overhead")
    simulator.simulate(s, engine="fast")  # compiled and cached: auto then prefers it for any size
    assert simulator.simulate(s, engine="auto").engine == "fast"
    ngx = scenario("ties: fixed durations, bursts at one instant, zero overhead",
                   behaviour={"throttle_algorithm": "nginx_limit_req"})
    r = simulator.simulate(ngx, engine="auto")
    assert r.engine == "simpy" and "throttle_algorithm" in r.engine_note
    with pytest.raises(simulator.ThrottlesimError, match="throttle_algorithm"):
        simulator.simulate(ngx, engine="fast")
    with pytest.raises(ValueError, match="unknown engine"):
        simulator.simulate(s, engine="turbo")


def test_the_default_engine_is_auto_unless_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    s = scenario("ties: fixed durations, bursts at one instant, zero overhead")
    monkeypatch.delenv("THROTTLESIM_ENGINE", raising=False)
    simulator.simulate(s, engine="fast")  # compiled and cached: auto then prefers it for any size
    assert simulator.simulate(s).engine == "fast"
    monkeypatch.setenv("THROTTLESIM_ENGINE", "simpy")
    assert simulator.simulate(s).engine == "simpy"


# --------------------------------------------------------------------------- bounded memory

AGGREGATE_CASES = ["usage plans, shared key, quota over midnight",
                   "provisioned with spillover inside reserved, max lifetime",
                   "errors, function timeouts, integration and client timeouts, HTTP API",
                   "closed users: between, constant_pacing, constant zero wait, with retries",
                   "reserved and unreserved pools, LRU reuse, short random idle timeouts"]


def latency_close(a: dict[str, float], b: dict[str, float]) -> None:
    assert a.keys() == b.keys()
    assert a["max"] == b["max"]
    assert b["mean"] == pytest.approx(a["mean"], rel=1e-9, abs=1e-3)
    for k in ("p50", "p90", "p95", "p99"):
        assert b[k] == pytest.approx(a[k], rel=0.01, abs=2e-3), k


def compare_blocks(a: dict[str, Any], b: dict[str, Any]) -> None:
    latency_close(a.pop("latency_ms"), b.pop("latency_ms"))
    latency_close(a["requests"].pop("latency_ms"), b["requests"].pop("latency_ms"))
    assert a == b


def assert_timeseries_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for k, expected in a.items():
        if k in ("Latency", "IntegrationLatency"):
            np.testing.assert_allclose(expected, b[k], rtol=1e-9, atol=2e-6, equal_nan=True, err_msg=k)
        else:
            np.testing.assert_array_equal(expected, b[k], err_msg=k)


@pytest.mark.parametrize("name", AGGREGATE_CASES)
def test_a_run_without_records_has_the_recorded_figures(name: str) -> None:
    s = scenario(name)
    ref = simulator.simulate(s, engine="fast")
    agg = simulator.simulate(s, engine="fast", record=False)
    assert isinstance(agg, AggregateResult) and (agg.n_attempts, agg.n_requests) == (ref.n_attempts, ref.n_requests)
    one, two = ref.summary(), agg.summary()
    assert list(one) == list(two)
    for key in ("scenario", "seed", "engine", "api", "duration_s", "end_s", "lambda", "cost_usd"):
        assert one[key] == two[key], key
    compare_blocks({k: one[k] for k in ("requests", "attempts", "rates", "latency_ms")},
                   {k: two[k] for k in ("requests", "attempts", "rates", "latency_ms")})
    for client in one["clients"]:
        compare_blocks(one["clients"][client], two["clients"][client])
    for interval in (1, 3, 60):
        assert_timeseries_equal(ref.timeseries(interval), agg.timeseries(interval))
    from simulator.cost.usage import run_cost

    assert agg.cost(bill_init=False, free_tier=True).to_dict() == run_cost(ref, bill_init=False,
                                                                           free_tier=True).to_dict()


def test_a_run_without_records_keeps_no_rows_and_bounded_arrays() -> None:
    s = scenario("stage throttle shared by routes, account throttle", duration="20m",
                 clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": 300}}])
    engine = FastEngine(s, s.seed, record=False)
    r = engine.run()
    assert r.n_attempts > 300_000
    held = sum(a.nbytes for a in engine.a.values())
    assert held < 32 * 2**20  # rows would take > 300,000 x 128 bytes
    with pytest.raises(RecordsNotKept):
        r.records()
    with pytest.raises(RecordsNotKept):
        r.to_dataframe()
    with pytest.raises(ValueError, match="whole number of seconds"):
        r.timeseries(0.5)
    assert simulator.simulate(s, engine="simpy", record=False).n_attempts == r.n_attempts  # SimPy records anyway


def test_histogram_percentiles_are_within_half_a_percent() -> None:
    from simulator.engine.fast.tallies import hist_values

    rng = np.random.default_rng(1)
    values = np.concatenate([rng.lognormal(-3, 1.5, 20_000), np.zeros(50), [3600.0]])
    edges = hist_values()
    counts = np.zeros(len(edges), dtype=np.int64)
    for v in values:
        if v <= 0:
            counts[0] += 1
            continue
        m, e = math.frexp(v)
        counts[1 + (e + 20 - 1) * 128 + int((m - 0.5) * 256)] += 1
    got = histogram_percentiles(counts, edges, float(values.sum()), float(values.max()))
    exact = np.percentile(values * 1000, [50, 90, 95, 99])
    for p, x in zip(("p50", "p90", "p95", "p99"), exact):
        assert got[p] == pytest.approx(x, rel=0.005)
    assert got["max"] == 3_600_000.0



def test_the_histogram_bin_from_the_bits_is_frexps() -> None:
    from simulator.engine.fast import layout as L
    from simulator.engine.fast.layout import HIST_EMAX, HIST_EMIN
    from simulator.engine.fast.tallies import hist_bin

    @numba.njit
    def hist_bin_frexp(x):  # type: ignore[no-untyped-def]
        """The bin by ``math.frexp``: the definition the bit arithmetic must equal."""
        if not x > 0.0:
            return 0
        m, e = math.frexp(x)  # x = m * 2**e, 0.5 <= m < 1
        if e <= HIST_EMIN:
            return 0
        if e > HIST_EMAX:
            return L.HIST_BINS - 1
        return 1 + (e - HIST_EMIN - 1) * L.HIST_SUB + int((m - 0.5) * (2 * L.HIST_SUB))

    rng = np.random.default_rng(7)
    edges = [0.0, -0.0, -1.0, math.nan, 5e-324, 2.0 ** HIST_EMIN, np.nextafter(2.0 ** HIST_EMIN, 1.0),
             2.0 ** (HIST_EMIN + 1), np.nextafter(2.0 ** (HIST_EMIN + 1), 0.0), 2.0 ** HIST_EMAX,
             np.nextafter(2.0 ** HIST_EMAX, 0.0), 1e300, 0.25, 0.0401, 29.0]
    values = list(edges) + list(np.exp(rng.uniform(-16, 18, 20_000))) + list(2.0 ** rng.integers(-30, 30, 500))

    @numba.njit
    def bins(xs):  # type: ignore[no-untyped-def]
        out = np.empty((len(xs), 2), dtype=np.int64)
        for i in range(len(xs)):
            out[i, 0] = hist_bin(xs[i])
            out[i, 1] = hist_bin_frexp(xs[i])
        return out

    got = bins(np.array(values, dtype=np.float64))
    np.testing.assert_array_equal(got[:, 0], got[:, 1])
    # frexp's exponent of infinity is undefined; the bits put it in the last bin.
    assert bins(np.array([math.inf]))[0, 0] == L.HIST_BINS - 1


def test_billed_milliseconds_equal_the_cost_model() -> None:
    from simulator.cost.bill import lambda_billed_ms
    from simulator.engine.fast.tallies import billed_ms

    rng = np.random.default_rng(11)
    ms = np.arange(0, 20_000) / 1000.0
    values = np.concatenate([
        rng.lognormal(-3, 2, 50_000), rng.uniform(0, 900, 20_000), ms, np.nextafter(ms, 1.0), np.nextafter(ms, -1.0),
        ms + 1e-12, ms + 1.1e-9, [0.0, 0.2, 0.1 + 0.2, 899.9999999, 1e7, 5e9],
    ])
    values = values[values >= 0]

    @numba.njit
    def each(xs):  # type: ignore[no-untyped-def]
        out = np.empty(len(xs))
        for i in range(len(xs)):
            out[i] = billed_ms(xs[i])
        return out

    np.testing.assert_array_equal(each(values), lambda_billed_ms(values * 1000.0).astype(np.float64))


def test_the_event_heap_pops_in_simpys_order() -> None:
    """Any mix of pushes and pops, with many equal times, comes out as ``heapq`` gives
    ``(time, key)`` tuples: the smallest time first and, among equal times, the smallest
    key; each entry's value and creation time come out with it."""
    import heapq

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from simulator.engine.fast import heap as H

    @numba.njit
    def drive(ops, times):  # type: ignore[no-untyped-def]
        n_ops = len(ops)
        ht = np.zeros(n_ops + 1)
        hb = ht.view(np.int64)
        hk = np.zeros(n_ops + 1, dtype=np.int64)
        hv = np.zeros(n_ops + 1, dtype=np.int64)
        hc = np.zeros(n_ops + 1)
        out = np.full(n_ops, -1, dtype=np.int64)
        rode = np.zeros(n_ops)
        n = 0
        m = 0
        for i in range(n_ops):
            if ops[i] and n > 0:
                out[m] = hk[0]
                rode[m] = hc[0]
                m += 1
                n -= 1
                H.pop_bits(hb, hk, hv, hc, n)
            else:
                H.sift_up(ht, hk, hv, hc, n, times[i], i, i, times[i])
                n += 1
        return out[:m], rode[:m]

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 0.5, 0.75, 1.0, 2.5, 1e-9, 3.0])), max_size=200))
    def check(steps: list[tuple[bool, float]]) -> None:
        ops = np.array([p for p, _ in steps], dtype=np.bool_)
        times = np.array([t for _, t in steps], dtype=np.float64)
        expected: list[int] = []
        heap: list[tuple[float, int]] = []
        for i, (pop, t) in enumerate(steps):
            if pop and heap:
                expected.append(heapq.heappop(heap)[1])
            else:
                heapq.heappush(heap, (t, i))
        keys, rode = drive(ops, times)
        assert keys.tolist() == expected
        assert rode.tolist() == [times[k] for k in expected]  # the value riding along moved with its entry

    check()
