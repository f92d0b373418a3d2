"""nginx's limit_req: nginx-tests' vectors, timelines derived from the C code, and the
equivalence with a token bucket of capacity burst + 1."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.gateway.buckets import TokenBucket
from simulator.gateway.nginx import (
    Closed,
    LimitReq,
    limit_req,
    nginx_burst,
    nginx_level,
    nginx_rate,
    parse_rate,
    to_ms,
)


def statuses(zone: LimitReq, times: list[float], reject: int = 429) -> list[int]:
    return [200 if limit_req([zone], t).passed else reject for t in times]


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("text", "milli"),
    [("2r/s", 2000), ("1000r/s", 1_000_000), ("30r/m", 500), ("1r/m", 16), ("7r/m", 116), ("5", 5000)],
)
def test_rates_are_stored_as_whole_milli_requests_per_second(text, milli):
    assert parse_rate(text) == milli


@pytest.mark.parametrize("text", ["0r/s", "2r/h", "1.5r/s", "r/s", "-1r/m"])
def test_rates_nginx_refuses(text):
    with pytest.raises(ValueError):
        parse_rate(text)


@pytest.mark.parametrize(
    ("aws", "nginx"),
    [(10000, "10000r/s"), (2, "2r/s"), (0.5, "30r/m"), (2.5, "150r/m"), (0.01, "1r/m"), (0, "1r/m"), (1.5, "90r/m")],
)
def test_aws_rates_become_whole_requests_per_second_or_minute(aws, nginx):
    assert nginx_rate(aws) == nginx


def test_an_aws_bucket_of_capacity_b_is_burst_b_minus_1_and_capacity_0_refuses_everything():
    assert nginx_burst(5000) == 4999 and nginx_burst(1) == 0
    assert isinstance(nginx_level(5, 0), Closed) and not nginx_level(5, 0).ready(0.0)
    level = nginx_level(2, 2)
    assert isinstance(level, LimitReq) and level.burst == 1000 and level.rate == 2000


def test_the_clock_is_whole_milliseconds_floored():
    assert [to_ms(t) for t in (0.0, 0.0004, 0.0009999, 0.001, 0.3, 0.7, 62.5)] == [0, 0, 0, 1, 300, 700, 62500]


# --------------------------------------------------------------------------- nginx-tests limit_req.t


def test_limit_req_t_back_to_back_200_200_then_rejected():
    # rate=2r/s; limit_req zone=one burst=1 nodelay: 200, 200, 503 (here limit_req_status 429).
    zone = LimitReq("2r/s", burst=1, nodelay=True)
    assert statuses(zone, [0.0, 0.0, 0.0]) == [200, 200, 429]


def test_limit_req_t_rejects_are_not_counted_and_access_returns_after_one_over_rate():
    # Two accepted at t=0 leave excess 1000 at last=0. Rejected requests change nothing,
    # so at 499 ms the excess would be 1000 - 2000*499/1000 + 1000 = 1002 > 1000 and at
    # 500 ms exactly 1000: allowed again after 1/rate.
    zone = LimitReq("2r/s", burst=1, nodelay=True)
    times = [0.0, 0.0] + [0.001 * k for k in range(1, 10)] + [0.499, 0.500]
    assert statuses(zone, times) == [200, 200] + [429] * 9 + [429, 200]
    assert (zone.excess, zone.last) == (1000, 500)


def test_limit_req_t_negative_excess_is_clamped_to_zero_and_not_delayed():
    # rate=1000r/s burst=1 (delaying): a request 100 ms after the last one has excess
    # 0 - 1000000*100/1000 + 1000 < 0 -> 0, and is not delayed.
    zone = LimitReq("1000r/s", burst=1)
    assert limit_req([zone], 0.0) == limit_req([zone], 0.1)
    assert (zone.excess, zone.delay_ms) == (0, 0)


def test_limit_req_t_without_nodelay_the_second_request_waits_excess_over_rate():
    # rate=2r/s burst=5: the second back-to-back request has excess 1000 and is held
    # 1000 * 1000 / 2000 = 500 ms.
    zone = LimitReq("2r/s", burst=5)
    assert [limit_req([zone], 0.0).delay_ms for _ in range(2)] == [0, 500]


def test_queued_requests_wait_one_two_three_four_seconds_at_1r_s():
    zone = LimitReq("1r/s", burst=5)
    assert [limit_req([zone], 0.0).delay_ms for _ in range(6)] == [0, 1000, 2000, 3000, 4000, 5000]
    assert not limit_req([zone], 0.0).passed


def test_delay_n_serves_the_first_n_excess_requests_without_waiting():
    zone = LimitReq("1r/s", burst=4, delay=2)
    assert [limit_req([zone], 0.0).delay_ms for _ in range(5)] == [0, 0, 0, 1000, 2000]


# --------------------------------------------------------------------------- nginx-tests limit_req2.t


@pytest.mark.parametrize("nodelay", [False, True])
@pytest.mark.parametrize(
    ("keys", "expected"),
    [("b", [200, 200]), ("a", [200, 503]), ("ab", [200, 503]), ("", [200, 200])],
)
def test_limit_req2_t_two_zones_keyed_by_two_arguments(nodelay, keys, expected):
    # zone fast: $arg_b rate=1000r/s; zone slow: $arg_a rate=1r/m; "limit_req zone=fast;
    # limit_req zone=slow;" (burst 0). Two requests 100 ms apart; an absent argument is an
    # empty key and its zone is skipped.
    fast = LimitReq("1000r/s", nodelay=nodelay)
    slow = LimitReq("1r/m", nodelay=nodelay)
    zones = [fast if "b" in keys else None, slow if "a" in keys else None]
    got = [200 if limit_req(zones, t).passed else 503 for t in (0.0, 0.1)]
    assert got == expected


# --------------------------------------------------------------------------- derived from the C code


def test_a_request_refused_by_a_later_zone_leaves_the_earlier_zones_unchanged():
    # ngx_http_limit_req_unlock only drops the node's count: no excess, no last.
    first = LimitReq("10r/s", burst=5, nodelay=True)
    account = LimitReq("1r/m", nodelay=True)
    assert limit_req([first, account], 0.0).passed
    for t in (0.001, 0.002, 0.003):
        assert limit_req([first, account], t).rejected_by == 1
    assert (first.excess, first.last) == (0, 0)
    # ...so requests the account skips find excess 0 - 10000*4/1000 + 1000 = 960, then
    # 1960 ... 4960: five more fit under burst=5 (two, had the refused three counted).
    assert [limit_req([first, None], 0.004).passed for _ in range(6)] == [True] * 5 + [False]


def test_the_first_zone_that_refuses_decides_the_cause():
    route = LimitReq("1r/s", nodelay=True)
    account = LimitReq("1r/s", nodelay=True)
    assert limit_req([route, account], 0.0).passed
    assert limit_req([route, account], 0.0).rejected_by == 0
    assert limit_req([None, account], 0.0).rejected_by == 1


def test_the_delay_is_the_largest_among_the_zones():
    a = LimitReq("2r/s", burst=5)
    b = LimitReq("1r/s", burst=5)
    c = LimitReq("1r/s", burst=5, nodelay=True)
    assert [limit_req([a, b, c], 0.0).delay_ms for _ in range(3)] == [0, 1000, 2000]


def test_1r_m_is_16_milli_requests_per_second_so_a_slot_comes_back_after_62_5_s():
    # burst=1: accepted at 0 and 1 ms (excess 0, then 1000, last=1). The next one needs
    # 16 * ms / 1000 >= 1000, i.e. ms >= 62500 after last, not the 60 s that 1r/m says.
    zone = LimitReq("1r/m", burst=1, nodelay=True)
    assert statuses(zone, [0.0, 0.001, 60.001, 62.500, 62.501]) == [200, 200, 429, 429, 200]


def test_the_leak_is_truncated_on_every_accepted_request():
    # 7r/m = 116/1000 r/s. Ten requests 100 ms apart: each leaks 116*100/1000 = 11
    # (not 11.6), so the excess is 9 * (1000 - 11) = 8901.
    zone = LimitReq("7r/m", burst=20, nodelay=True)
    assert statuses(zone, [0.1 * k for k in range(10)]) == [200] * 10
    assert zone.excess == 8901


def test_requests_in_the_same_millisecond_see_the_same_clock():
    # 1000r/s burst=0: one request per millisecond. Two 0.8 ms apart inside one
    # millisecond: the second is refused; the next millisecond has room again.
    zone = LimitReq("1000r/s", nodelay=True)
    assert statuses(zone, [0.0001, 0.0009, 0.0010, 0.0015, 0.0020]) == [200, 429, 200, 429, 200]


def test_ready_and_take_are_the_gateway_interface():
    zone = LimitReq("2r/s", burst=1, nodelay=True)
    assert zone.ready(0.0)
    zone.take()
    assert zone.ready(0.0)
    assert zone.ready(0.0)  # checking twice charges nothing
    zone.take()
    assert not zone.ready(0.0)
    assert zone.ready(0.5)


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(
    rate=st.integers(1, 3000),
    burst=st.integers(0, 20),
    gaps_ms=st.lists(st.integers(0, 40), min_size=1, max_size=200),
)
def test_with_whole_r_s_and_millisecond_arrivals_limit_req_is_a_token_bucket_of_burst_plus_1(rate, burst, gaps_ms):
    # rate * ms / 1000 is exact for whole r/s, and excess E after a request is
    # (burst + 1) - 1 - tokens: the two meters accept exactly the same requests.
    zone = LimitReq(f"{rate}r/s", burst=burst, nodelay=True)
    bucket = TokenBucket(rate, burst + 1)
    now_ms = 0
    for gap in gaps_ms:
        now_ms += gap
        now = now_ms / 1000
        assert limit_req([zone], now).passed == bucket.try_take(now)


@settings(max_examples=200, deadline=None)
@given(
    zones=st.lists(st.tuples(st.integers(1, 50), st.integers(0, 5)), min_size=1, max_size=4),
    requests=st.lists(
        st.tuples(st.integers(0, 30), st.lists(st.booleans(), min_size=4, max_size=4)), min_size=1, max_size=120
    ),
)
def test_several_zones_act_like_check_every_bucket_then_charge_them_all(zones, requests):
    # ngx_http_limit_req_handler = the gateway's default rule: the first level that says
    # no decides, and the levels are charged only when all of them admit the request.
    limits = [LimitReq(f"{r}r/s", burst=b, nodelay=True) for r, b in zones]
    buckets = [TokenBucket(r, b + 1) for r, b in zones]
    now_ms = 0
    for gap, keyed in requests:
        now_ms += gap
        now = now_ms / 1000
        applies = keyed[: len(zones)]
        verdict = limit_req([z if k else None for z, k in zip(limits, applies)], now)
        chain = [(i, b) for i, (b, k) in enumerate(zip(buckets, applies)) if k]
        refusing = next((i for i, b in chain if not b.ready(now)), None)
        if refusing is None:
            for _, b in chain:
                b.take()
        assert verdict.rejected_by == refusing


@settings(max_examples=200, deadline=None)
@given(
    rate=st.sampled_from(["1r/m", "7r/m", "30r/m", "90r/m", "1r/s", "3r/s", "50r/s"]),
    burst=st.integers(0, 10),
    gaps_ms=st.lists(st.integers(0, 3000), min_size=1, max_size=100),
    window_ms=st.integers(1, 20000),
)
def test_accepted_requests_in_any_window_are_at_most_burst_plus_1_plus_rate_times_length(
    rate, burst, gaps_ms, window_ms
):
    zone = LimitReq(rate, burst=burst, nodelay=True)
    now_ms = 0
    ok = []
    for gap in gaps_ms:
        now_ms += gap
        if limit_req([zone], now_ms / 1000).passed:
            ok.append(now_ms)
    bound = burst + 1 + zone.rate * window_ms / 1_000_000
    for i, start in enumerate(ok):
        assert sum(1 for x in ok[i:] if x <= start + window_ms) <= bound + 1e-9
