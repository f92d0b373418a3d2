"""The rules both engines share (simulator.rules): one source, and what each guarantees."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from simulator import outcomes as oc
from simulator import rules

finite = st.floats(0, 1e6, allow_nan=False)


def test_the_fast_engine_compiles_the_very_functions_the_reference_calls():
    from simulator.engine.fast import rules as compiled

    for name in ("refill", "has_token", "function_outcome", "integration_outcome", "client_outcome"):
        assert getattr(compiled, name).py_func is getattr(rules, name)


def test_aws_worked_example_refill():
    # 10,000 rps, burst 5,000: 5,000 taken at t=0, then 100 ms refills 1,000 tokens.
    tokens, last = rules.refill(0.0, 0.0, 10_000.0, 5_000.0, 0.1)
    assert (tokens, last) == (1_000.0, 0.1)
    assert rules.refill(4_999.0, 0.0, 10_000.0, 5_000.0, 10.0) == (5_000.0, 10.0)  # never past the burst


@given(tokens=finite, last=finite, rate=finite, burst=finite, dt=st.floats(-10, 10, allow_nan=False))
def test_refill_never_goes_back_in_time_nor_past_the_burst(tokens, last, rate, burst, dt):
    tokens = min(tokens, burst)
    now = last + dt
    got, when = rules.refill(tokens, last, rate, burst, now)
    if now > last:
        assert when == now and tokens <= got <= burst
    else:
        assert (got, when) == (tokens, last)


def test_a_whole_token_within_epsilon():
    assert rules.has_token(1.0) and rules.has_token(1.0 - rules.EPSILON / 2) and not rules.has_token(0.999)


def test_timeouts_in_their_order():
    assert rules.function_outcome(2.0, 3.0, False) == (2.0, oc.OK)
    assert rules.function_outcome(2.0, 3.0, True) == (2.0, oc.FUNCTION_ERROR)
    assert rules.function_outcome(4.0, 3.0, True) == (3.0, oc.FUNCTION_TIMEOUT)  # the timeout wins over the error
    assert rules.integration_outcome(3.0, 3.0, oc.OK) == (3.0, oc.OK)  # exactly at the limit: answered
    assert rules.integration_outcome(3.5, 3.0, oc.FUNCTION_ERROR) == (3.0, oc.INTEGRATION_TIMEOUT)
    assert rules.client_outcome(3.01, math.inf, oc.OK) == (3.01, oc.OK)
    assert rules.client_outcome(3.01, 2.0, oc.INTEGRATION_TIMEOUT) == (2.0, oc.CLIENT_TIMEOUT)
