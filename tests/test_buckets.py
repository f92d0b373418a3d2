"""Token buckets against AWS's own worked examples and the bucket inequality."""

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.gateway.buckets import TokenBucket


def admitted(bucket: TokenBucket, times: list[float]) -> int:
    return sum(bucket.try_take(t) for t in times)


def test_aws_10000_requests_in_the_first_millisecond_serve_5000():
    b = TokenBucket(10_000, 5_000)
    assert admitted(b, [0.0005] * 10_000) == 5_000


def test_aws_10000_requests_spread_evenly_over_one_second_are_all_served():
    b = TokenBucket(10_000, 5_000)
    assert admitted(b, [i / 10_000 for i in range(10_000)]) == 10_000


def test_aws_5000_then_5000_over_the_remaining_999ms_are_all_served():
    b = TokenBucket(10_000, 5_000)
    times = [0.0] * 5_000 + [0.001 + i * 0.999 / 5_000 for i in range(5_000)]
    assert admitted(b, times) == 10_000


def test_aws_5000_at_zero_and_5000_in_the_101st_millisecond_serve_6000():
    # "waits until the 101st millisecond": the millisecond [100 ms, 101 ms).
    b = TokenBucket(10_000, 5_000)
    assert admitted(b, [0.0] * 5_000 + [0.100] * 5_000) == 6_000


def test_a_bucket_starts_full_and_refills_continuously():
    b = TokenBucket(rate=2, burst=3)
    assert [b.try_take(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.try_take(0.25) is False  # half a token
    assert b.try_take(0.5) is True  # one token after 0.5 s at 2/s
    assert b.try_take(10.0) and b.try_take(10.0) and b.try_take(10.0)  # capped at burst 3
    assert b.try_take(10.0) is False


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0, 500),
    burst=st.integers(0, 50),
    gaps=st.lists(st.floats(0, 0.2), min_size=1, max_size=300),
    window=st.floats(0.01, 5),
)
def test_admitted_in_any_window_is_at_most_burst_plus_rate_times_length(rate, burst, gaps, window):
    b = TokenBucket(rate, burst)
    t = 0.0
    ok = []
    for g in gaps:
        t += g
        if b.try_take(t):
            ok.append(t)
    for i, start in enumerate(ok):
        inside = sum(1 for x in ok[i:] if x <= start + window)
        assert inside <= burst + rate * window + 1e-6
