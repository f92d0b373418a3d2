"""Putting each observed attempt at the instant the server received it.

A load test sees its requests from the load generator: when each was planned
(``intended_start_s``) and when it was sent (``actual_start_s``). The server under test saw
them later, by the network and the scheduling lag of the generator, and it is the server's
instants that its token buckets and its concurrency counted. To replay what the server
decided, the replay must run on the server's clock, not the generator's.

The local targets say when they received each request (:mod:`loadtests.log` reads the
headers into ``server_received_s`` and the function runtime's ``function_received_s``).
This module turns those into the replay's start times, in three steps:

1. :func:`on_server_clock` shifts the server's instants onto the load test's timeline by
   the median gap between the two clocks, and keeps the planned time as ``planned_start_s``;
2. behind nginx, :func:`runtime_clock` chooses the clock that decided: the function
   runtime's fine clock, unless nginx itself refused a request with 429;
3. on nginx's millisecond clock, :func:`on_monotonic_grid` moves each wall millisecond to
   the monotonic millisecond ``limit_req`` counted on, read per connection by
   :func:`connection_bases` (:mod:`loadtests.target.nginx` and
   :mod:`loadtests.target.time_namespace` explain the two clocks).

Attempts the server said nothing about keep the generator's send time.
"""

from __future__ import annotations

from typing import Any

__all__ = ["connection_bases", "has_server_clock", "on_monotonic_grid", "on_server_clock", "runtime_clock"]


def has_server_clock(observed: Any) -> bool:
    """Whether any attempt says when a server received it (``server_received_s``)."""
    return "server_received_s" in observed and not bool(observed["server_received_s"].isna().all())


def on_server_clock(observed: Any) -> Any:
    """Replay each attempt at the instant the server received it, when the server says.

    The local targets report their own receive time (``x-throttlesim-received-s``). Those
    instants, shifted by the median gap to the load generator's start times so that they
    sit on the load test's timeline, are what the server's buckets and concurrency saw;
    the generator's own start times are later than planned by its scheduling lag and earlier
    than the server's by the network. Attempts without the header keep their actual start
    time. ``intended_start_s`` is kept as ``planned_start_s``.

    Behind nginx there are two clocks, and the replay uses the one that decided: nginx's
    millisecond clock when nginx refused any request with 429 (its limit_req counted on
    it; see :func:`on_monotonic_grid`), else the function runtime's own fine clock
    (``function_received_s``), on which it decided Lambda concurrency, with the requests
    nginx answered alone (504s) moved onto it by the median gap between the two.
    """
    import numpy as np

    if not has_server_clock(observed):
        return observed
    server = observed["server_received_s"].astype(float).to_numpy()
    actual = observed["actual_start_s"].astype(float).to_numpy()
    have = ~np.isnan(server)
    millis = np.all(np.abs(server[have] * 1000 - np.round(server[have] * 1000)) < 1e-3)
    if millis:
        runtime = runtime_clock(observed, server, have)
        if runtime is not None:
            server, millis = runtime, False
    offset = float(np.median(server[have] - actual[have]))
    if millis:
        # nginx's clock ticks in whole milliseconds: keep the replay on the same grid (a
        # whole-millisecond offset) and order the requests of one millisecond as they
        # were sent, with a sub-millisecond fraction the model's floor to ms ignores.
        offset = round(offset, 3)
        ms = np.round((server - offset) * 1000)
        ms = np.where(have, on_monotonic_grid(observed, ms), ms)
        order = np.argsort(actual, kind="stable")
        rank = np.empty(len(actual))
        rank[order] = np.arange(len(actual))
        fraction = 0.1 + 0.8 * rank / max(len(actual), 1)
        at = (ms + fraction) / 1000
    else:
        at = server - offset
    replay_at = np.where(have, at, actual)
    return observed.assign(planned_start_s=observed["intended_start_s"], intended_start_s=replay_at)


def runtime_clock(observed: Any, nginx_s: Any, have: Any) -> Any:
    """The function runtime's receive times behind nginx, or None when nginx's clock decided
    (nginx answered some request 429 itself) or the runtime does not say."""
    import numpy as np

    if "function_received_s" not in observed:
        return None
    fn = observed["function_received_s"].to_numpy(dtype=float, na_value=np.nan)
    reached = ~np.isnan(fn)
    status = observed["status"].to_numpy()
    if not reached.any() or np.any((status == 429) & ~reached & have):
        return None
    both = reached & have
    gap = float(np.median(fn[both] - nginx_s[both])) if both.any() else 0.0
    return np.where(reached, fn, nginx_s + gap)


def on_monotonic_grid(observed: Any, wall_ms: Any) -> Any:
    """nginx's wall milliseconds moved onto the monotonic millisecond grid ``limit_req`` counts on.

    nginx takes both clocks at each turn of its event loop, so for a wall millisecond *W*
    the monotonic millisecond is *W - k* or *W - k - 1* for one constant *k*, depending on
    where in the millisecond the turn fell (:mod:`loadtests.target.nginx` explains the
    clocks and how the target makes the second case rare). A connection's elapsed time
    (``$connection_time``) is exact on the monotonic clock: request *i* on connection *c*
    is at ``A_c + e_i`` for the connection's (unknown) accept time ``A_c``. So
    ``u_i = W_i - e_i`` is ``A_c + k`` or ``A_c + k + 1``; and because the wall clock is
    read first, a turn interrupted between the two reads can only make ``u_i`` smaller.

    Each connection's base ``A_c + k`` is therefore read from the top of its ``u`` values:
    when the two highest are one apart, the lower one is the base, exactly. A connection
    whose requests all gave the same top value (typically one that carried one to three
    requests) leaves two candidates; it gets the side that the unambiguous connections
    show to be the commoner (their share of ``k + 1`` samples, the clocks' phase, is the
    same for every connection). When the target aligned nginx's clock, that share is
    about 0.2% and the choice is right but for about one connection in 500 raised to the
    number of its requests; on plain clocks it is right with the probability of the
    commoner side. Requests are then at ``base + e``: monotonic milliseconds shifted by
    the whole number *k*, which the replay's offset absorbs. Rows without the connection
    columns keep *W*.
    """
    import numpy as np

    if "server_connection_ms" not in observed or "server_connection" not in observed:
        return wall_ms
    elapsed = observed["server_connection_ms"].to_numpy(dtype=float, na_value=np.nan)
    conn = observed["server_connection"].to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(elapsed) & ~np.isnan(conn) & ~np.isnan(wall_ms)
    if not known.any():
        return wall_ms
    bases = connection_bases(conn[known], wall_ms[known] - elapsed[known])
    out = np.array(wall_ms, dtype=float)
    out[known] = np.array([bases[c] for c in conn[known]]) + elapsed[known]
    return out


def connection_bases(conn: Any, u: Any) -> dict[float, float]:
    """Each connection's base from its ``u = W - e`` values (see :func:`on_monotonic_grid`)."""
    import numpy as np

    tops: dict[float, float] = {}
    below: dict[float, bool] = {}
    for c in np.unique(conn):
        values = u[conn == c]
        top = float(values.max())
        tops[c] = top
        below[c] = bool(np.any(values == top - 1))
    # The clocks' phase: among connections that show both sides, the share of requests
    # on the k + 1 side.
    upper = lower = 0
    for c, both in below.items():
        if both:
            values = u[conn == c]
            upper += int(np.sum(values == tops[c]))
            lower += int(np.sum(values == tops[c] - 1))
    upper_commoner = upper > lower
    return {c: tops[c] - 1 if (below[c] or upper_commoner) else tops[c] for c in tops}
