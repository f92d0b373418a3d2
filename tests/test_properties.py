"""Invariants that hold for any scenario, checked on Hypothesis-generated ones."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator
from simulator.outcomes import CAUSES, LAMBDA_REFUSALS, status_codes
from tests.conftest import BASE, merge

scenarios = st.fixed_dictionaries({
    "rate": st.floats(1, 300),
    "duration_ms": st.integers(5, 400),
    "reserved": st.one_of(st.none(), st.integers(0, 20)),
    "provisioned": st.integers(0, 5),
    "account_rate": st.floats(1, 400),
    "burst": st.integers(0, 50),
    "error_rate": st.floats(0, 0.5),
    "timeout_ms": st.integers(50, 1000),
    "client_timeout_ms": st.one_of(st.none(), st.integers(20, 2000)),
    "retries": st.booleans(),
    "seed": st.integers(0, 2**32),
    # Lambda's request rate (30 concurrency: 300 per second) and other load in the account.
    "rate_burst_s": st.floats(0.01, 1.0),
    "background": st.one_of(st.none(), st.tuples(st.floats(0, 350), st.integers(1, 200), st.floats(0, 1),
                                                  st.floats(0, 1))),
})


def make(p):
    fn = {"name": "f", "duration": {"kind": "exponential", "mean": f"{p['duration_ms']}ms"},
          "init": {"kind": "uniform", "low": "10ms", "high": "300ms"}, "timeout": "1s",
          "error_rate": p["error_rate"], "provisioned_concurrency": p["provisioned"]}
    if p["reserved"] is not None:
        fn["reserved_concurrency"] = max(p["reserved"], p["provisioned"])
    client = {"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "poisson", "rate": p["rate"]}}
    if p["client_timeout_ms"]:
        client["timeout"] = f"{p['client_timeout_ms']}ms"
    if p["retries"]:
        client["retry"] = {"mode": "exponential", "base": "10ms", "max_attempts": 3}
    background = []
    if p["background"] is not None:
        rate, mean_ms, gateway_share, lambda_share = p["background"]
        background = [{"name": "other", "rate": rate, "mean_duration": f"{mean_ms}ms", "gateway_share": gateway_share,
                       "lambda_share": lambda_share}]
    data = merge(BASE, {
        "duration": "3s", "seed": p["seed"],
        "routes": [{"name": "GET /x", "function": "f", "integration_timeout": f"{p['timeout_ms']}ms"}],
        "account": {"throttle": {"rate": p["account_rate"], "burst": p["burst"]}, "lambda_concurrency": 30,
                    "unreserved_min": 5, "background": background},
        "functions": [fn], "clients": [client],
        "behaviour": {"gateway_overhead": {"kind": "uniform", "low": "1ms", "high": "20ms"}, "scaling_burst": 10,
                      "scaling_refill_per_s": 5, "lambda_request_rate_burst_s": p["rate_burst_s"]},
    })
    return simulator.parse_scenario(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_invariants(p):
    s = make(p)
    r = simulator.simulate(s)
    a = r.attempts
    statuses = status_codes(s)
    # Every attempt has exactly one cause, and its status is that cause's.
    assert len(a["cause"]) == len(a["status"]) == r.n_attempts
    assert ((a["cause"] >= 0) & (a["cause"] < len(CAUSES))).all()
    assert (a["status"] == np.array(statuses)[a["cause"]]).all()
    # Concurrency never exceeds the function's cap (or the unreserved pool).
    f = s.functions[0]
    cap = f.reserved_concurrency if f.reserved_concurrency is not None else 30
    _, _, level = r._conc
    assert (level <= cap).all() and (level >= 0).all()
    # Lambda's account request rate: the invocations placed by any time t are at most the
    # bucket's start plus its refill until t (what background load leaves of 300 per second).
    placed = (a["function"] >= 0) & ~np.isin(a["gateway_cause"], sorted(LAMBDA_REFUSALS))
    t = a["time_s"][placed]
    used = sum(x.rate * x.lambda_share for x in s.account.background)
    left = max(0.0, 300.0 - used)
    start = 0.0 if used and left == 0 else 300.0 * p["rate_burst_s"]
    assert (np.arange(1, len(t) + 1) <= start + left * t + 1e-6).all()
    # Every invocation ends: the last logged level is zero.
    assert len(level) == 0 or level[-1] == 0
    # Latency: non-negative; an integration timeout lasts exactly the timeout plus overhead.
    assert (a["latency_s"] >= 0).all()
    timed_out = a["gateway_cause"] == CAUSES.index("integration_timeout")
    assert np.allclose(a["integration_latency_s"][timed_out], p["timeout_ms"] / 1000)
    # Every request ends, with as many attempts as it recorded.
    req = r.requests
    assert not np.isnan(req["end_s"]).any()
    assert req["attempts"].sum() == r.n_attempts
    # Same scenario and seed: the same bytes.
    assert simulator.simulate(s).to_json() == r.to_json()
