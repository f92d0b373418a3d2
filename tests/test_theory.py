"""The model against queueing theory.

With Poisson arrivals, exponential durations, no cold-start time and a concurrency cap
c, Lambda is an M/M/c/c loss system: the fraction of invocations it throttles is the
Erlang-B blocking probability B(c, a) with offered load a = arrival rate x mean duration.
"""

import math

import numpy as np
import pytest

import simulator


def erlang_b(c: int, a: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def test_erlang_b_recursion_matches_the_closed_form():
    c, a = 5, 3.0
    closed = (a**c / math.factorial(c)) / sum(a**k / math.factorial(k) for k in range(c + 1))
    assert erlang_b(c, a) == pytest.approx(closed)


@pytest.mark.parametrize("c, rate, mean_ms", [(10, 80.0, 100), (4, 50.0, 100)])
def test_lambda_throttle_fraction_matches_erlang_b(build, c, rate, mean_ms):
    s = build(
        None,
        duration="1000s",
        functions=[{"name": "f", "duration": {"kind": "exponential", "mean": f"{mean_ms}ms"},
                    "init": "0ms", "timeout": "900s", "reserved_concurrency": c}],
        clients=[{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": rate}}],
        account={"throttle": {"rate": 100000, "burst": 100000}},
        behaviour={"gateway_overhead": "0ms", "scaling_burst": 100000},
    )
    r = simulator.simulate(s, seed=3)
    df = r.to_dataframe()
    blocked = (df["cause"] == "lambda_throttled").to_numpy()
    # Batch means over 20 consecutive stretches give the run's own standard error.
    batches = np.array([b.mean() for b in np.array_split(blocked, 20)])
    se = batches.std(ddof=1) / math.sqrt(len(batches))
    expected = erlang_b(c, rate * mean_ms / 1000)
    assert abs(blocked.mean() - expected) < 4 * se + 1e-3, (blocked.mean(), expected, se)
