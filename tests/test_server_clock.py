"""Reading the servers' clocks from their answers, and putting nginx's requests on the
millisecond grid its ``limit_req`` counted on."""

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtests.log import server_fields, server_received
from loadtests.server_clock import on_monotonic_grid, on_server_clock, runtime_clock


def test_nginx_header_gives_wall_ms_connection_and_elapsed_ms():
    headers = {"x-throttlesim-nginx-time": "1795626310.428 17 0.043"}
    assert server_received(headers) == ("1795626310.428", "17", "43")
    assert server_fields(headers) == {"server_received_s": "1795626310.428", "server_connection": "17",
                                      "server_connection_ms": "43", "function_received_s": "", "function_ms": "",
                                      "aws_request_id": ""}
    behind = {**headers, "x-throttlesim-received-s": "1795626310.428612", "x-throttlesim-function-ms": "30.125"}
    assert server_fields(behind)["function_received_s"] == "1795626310.428612"
    assert server_fields(behind)["function_ms"] == "30.125"
    assert server_fields(behind)["server_received_s"] == "1795626310.428"  # nginx's clock wins
    assert server_fields({**behind, "x-throttlesim-function-ms": "nan"})["function_ms"] == ""


def test_runtime_header_and_no_header():
    assert server_received({"x-throttlesim-received-s": "12.5"}) == ("12.5", "", "")
    assert server_received({}) == ("", "", "")
    assert server_received(None) == ("", "", "")
    assert server_received({"x-throttlesim-nginx-time": "garbage 1 x"}) == ("", "", "")


def test_the_wall_millisecond_that_ticked_early_is_moved_back():
    # Measured on nginx 1.22: wall ms 654, 668, 682, 697, 711 with connection times
    # 0, 14, 28, 42, 57 ms. The monotonic clock says the fourth request came 42 ms after
    # the first, not 43: its wall millisecond ticked early.
    obs = pd.DataFrame({"server_connection": pd.array([1] * 5, dtype="Int64"),
                        "server_connection_ms": pd.array([0, 14, 28, 42, 57], dtype="Int64")})
    wall = np.array([654.0, 668.0, 682.0, 697.0, 711.0])
    assert on_monotonic_grid(obs, wall).tolist() == [654.0, 668.0, 682.0, 696.0, 711.0]


def test_rows_without_connection_keep_their_wall_millisecond():
    obs = pd.DataFrame({"server_connection": pd.array([1, None, 1], dtype="Int64"),
                        "server_connection_ms": pd.array([0, None, 9], dtype="Int64")})
    assert on_monotonic_grid(obs, np.array([100.0, 105.0, 110.0])).tolist() == [100.0, 105.0, 109.0]
    assert on_monotonic_grid(pd.DataFrame({"x": [1]}), np.array([3.0])).tolist() == [3.0]


@settings(max_examples=300, deadline=None)
@given(
    offset_us=st.integers(0, 999),
    connections=st.lists(
        st.tuples(st.integers(0, 5_000_000), st.lists(st.integers(0, 3_000_000), min_size=1, max_size=30)),
        min_size=1, max_size=5),
)
def test_monotonic_differences_are_recovered(offset_us, connections):
    """Whatever the clocks' phase, rebuilt times differ by what the monotonic clock says
    within a connection; a connection with requests on both sides of the clocks' phase
    gets the true shift exactly, and one with requests on one side only gets it when that
    side is the commoner one among the others (times in whole microseconds)."""
    conn, real_us, accept_us = [], [], []
    for c, (accept, gaps) in enumerate(connections):
        t = accept
        for g in gaps:
            t += g
            conn.append(c)
            real_us.append(10_000_000 + t)
            accept_us.append(10_000_000 + accept)
    real = np.array(real_us)
    conn_a = np.array(conn)
    mono_ms = (real - 5_000_000 - offset_us) // 1000  # the monotonic clock: a constant behind
    accept_ms = (np.array(accept_us) - 5_000_000 - offset_us) // 1000
    wall = (real // 1000).astype(float)
    side = wall.astype(np.int64) - mono_ms - 5_000  # 0, or 1 when the wall ms ticked first
    obs = pd.DataFrame({"server_connection": pd.array(conn_a, dtype="Int64"),
                        "server_connection_ms": pd.array(mono_ms - accept_ms, dtype="Int64")})
    got = on_monotonic_grid(obs, wall)
    both = [c for c in set(conn) if np.ptp(side[conn_a == c]) == 1]
    on_both = np.isin(conn_a, both)
    upper_commoner = np.sum(side[on_both] == 1) > np.sum(side[on_both] == 0)
    for c in set(conn):
        on = conn_a == c
        shift = got[on] - mono_ms[on]
        assert np.ptp(shift) == 0
        if c in both or side[on][0] == upper_commoner:
            assert shift[0] == 5_000
        else:
            assert abs(shift[0] - 5_000) == 1


def test_a_turn_interrupted_between_the_two_clock_reads_does_not_move_the_connection():
    # nginx reads the wall clock, then the monotonic one: a pause between the two makes the
    # elapsed time larger and W - e smaller (98 here), never larger.
    obs = pd.DataFrame({"server_connection": pd.array([1, 1, 1, 1], dtype="Int64"),
                        "server_connection_ms": pd.array([0, 10, 24, 30], dtype="Int64")})
    wall = np.array([100.0, 111.0, 122.0, 130.0])  # W - e = 100, 101, 98, 100
    assert on_monotonic_grid(obs, wall).tolist() == [100.0, 110.0, 124.0, 130.0]


def test_a_connection_with_requests_on_one_side_takes_the_commoner_side():
    # Connection 1 shows both sides, mostly the upper one (W - e = 201 three times, 200
    # once): the clocks' phase puts most turns there. Connection 2 shows 301 only: its
    # base is taken as 300, the same side as most of connection 1's requests.
    obs = pd.DataFrame({"server_connection": pd.array([1, 1, 1, 1, 2], dtype="Int64"),
                        "server_connection_ms": pd.array([0, 5, 9, 14, 0], dtype="Int64")})
    wall = np.array([201.0, 206.0, 209.0, 215.0, 301.0])
    assert on_monotonic_grid(obs, wall).tolist() == [200.0, 205.0, 209.0, 214.0, 300.0]


def test_on_server_clock_keeps_planned_start_and_orders_one_millisecond_by_send_time():
    obs = pd.DataFrame({
        "intended_start_s": [0.0, 0.001, 0.002],
        "actual_start_s": [0.0004, 0.0003, 0.0021],
        "server_received_s": [1000.101, 1000.101, 1000.103],
        "server_connection": pd.array([1, 2, 1], dtype="Int64"),
        "server_connection_ms": pd.array([0, 0, 2], dtype="Int64"),
    })
    out = on_server_clock(obs)
    assert out["planned_start_s"].tolist() == [0.0, 0.001, 0.002]
    at = out["intended_start_s"].to_numpy()
    assert np.floor(at[0] * 1000) == np.floor(at[1] * 1000)  # the same millisecond
    assert at[1] < at[0]  # sent first, handled first
    assert np.floor(at[2] * 1000) - np.floor(at[0] * 1000) == 2


def _behind_nginx(status: list[int], function: list[float | None]) -> pd.DataFrame:
    n = len(status)
    return pd.DataFrame({
        "intended_start_s": [0.01 * i for i in range(n)],
        "actual_start_s": [0.01 * i + 0.0002 for i in range(n)],
        "status": status,
        "server_received_s": [1000.0 + 0.01 * i for i in range(n)],
        "server_connection": pd.array([1] * n, dtype="Int64"),
        "server_connection_ms": pd.array([10 * i for i in range(n)], dtype="Int64"),
        "function_received_s": [np.nan if f is None else f for f in function],
    })


def test_behind_nginx_theruntime_clock_decides_when_nginx_refused_nothing():
    # The function runtime received each request 0.7 ms after nginx; the 504 never got its header.
    obs = _behind_nginx([200, 500, 504, 200], [1000.0007, 1000.0107, None, 1000.0307])
    runtime = runtime_clock(obs, obs["server_received_s"].to_numpy(), np.ones(4, dtype=bool))
    np.testing.assert_allclose(runtime, [1000.0007, 1000.0107, 1000.0207, 1000.0307])
    out = on_server_clock(obs)
    np.testing.assert_allclose(np.diff(out["intended_start_s"].to_numpy()), [0.01, 0.01, 0.01])


def test_behind_nginx_its_own_clock_decides_once_it_refused_a_request():
    obs = _behind_nginx([200, 429, 200], [1000.0007, None, 1000.0207])
    assert runtime_clock(obs, obs["server_received_s"].to_numpy(), np.ones(3, dtype=bool)) is None
    at = on_server_clock(obs)["intended_start_s"].to_numpy()
    assert np.floor(np.round(at * 1000, 6)).tolist() == [0.0, 10.0, 20.0]  # whole nginx milliseconds, in order


def test_nginx_own_504_says_nothing_about_cold_starts(tmp_path):
    import simulator
    from loadtests.target.nginx import nginx_config

    scenario = simulator.load_scenario(str(Path(__file__).resolve().parents[1] / "scenarios" / "validation"
                                           / "integration_timeout.toml"))
    config = nginx_config(scenario, port=1, upstream_port=2, prefix=tmp_path)
    timeout = config[config.index("location @timeout"):]
    throttled = config[config.index("location @throttled"):config.index("location @timeout")]
    assert "x-throttlesim-cold-start" not in timeout[:timeout.index("}")]
    assert "x-throttlesim-cold-start 0" in throttled
