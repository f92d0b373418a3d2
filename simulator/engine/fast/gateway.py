"""The gateway in the compiled loop: token buckets and usage-plan quotas, checked along a
client's chain for a route (:meth:`simulator.gateway.path.Gateway.admit`), each a
line-by-line port of :mod:`simulator.gateway.buckets` and :mod:`simulator.gateway.quota`
on the packed arrays of :mod:`simulator.engine.fast.layout`.

Floating-point arithmetic is written in the same order as in the reference, and compiled
without ``fastmath``, so every sum and product gives the same bits. Every function here is
inlined into the one compiled loop (``inline="always"``).
"""

from __future__ import annotations

from numba import njit

from simulator.engine.fast.layout import (
    CH_W,
    LEVEL_BUCKET,
    N_QS,
    QS_ALLOWED,
    QS_POS,
    QS_USED,
    T_CONSUME,
    T_NR,
    T_O_BSTATE,
    T_O_BUCKET,
    T_O_CHAIN,
    T_O_QLIMIT,
    T_O_QSTATE,
    T_QCT,
)
from simulator.engine.fast.rules import has_token, refill
from simulator.outcomes import FORBIDDEN, OK, QUOTA_EXCEEDED, THROTTLED_USAGE_PLAN

__all__ = ["admit", "bucket_ready", "level_ready", "level_take", "quota_roll"]


@njit(inline="always")
def bucket_ready(fixed_i, fixed_f, state_f, b, now):  # type: ignore[no-untyped-def]
    """:meth:`TokenBucket.ready`."""
    o = fixed_i[T_O_BSTATE] + 2 * b  # tokens, last
    r = fixed_i[T_O_BUCKET] + 2 * b  # rate, burst
    state_f[o], state_f[o + 1] = refill(state_f[o], state_f[o + 1], fixed_f[r], fixed_f[r + 1], now)
    return has_token(state_f[o])


@njit(inline="always")
def quota_roll(fixed_i, state_i, quota_ends, q, now):  # type: ignore[no-untyped-def]
    """:meth:`QuotaCounter._roll`, over precomputed window ends."""
    o = fixed_i[T_O_QSTATE] + N_QS * q
    pos = state_i[o + QS_POS]
    if now >= quota_ends[q, pos]:
        while now >= quota_ends[q, pos]:
            pos += 1
        state_i[o + QS_POS] = pos
        state_i[o + QS_USED] = 0
        state_i[o + QS_ALLOWED] = fixed_i[fixed_i[T_O_QLIMIT] + q]


@njit(inline="always")
def level_ready(fixed_i, fixed_f, state_i, state_f, quota_ends, kind, idx, now):  # type: ignore[no-untyped-def]
    if kind == LEVEL_BUCKET:
        return bucket_ready(fixed_i, fixed_f, state_f, idx, now)
    quota_roll(fixed_i, state_i, quota_ends, idx, now)
    o = fixed_i[T_O_QSTATE] + N_QS * idx
    return state_i[o + QS_USED] < state_i[o + QS_ALLOWED]


@njit(inline="always")
def level_take(fixed_i, state_i, state_f, kind, idx):  # type: ignore[no-untyped-def]
    if kind == LEVEL_BUCKET:
        state_f[fixed_i[T_O_BSTATE] + 2 * idx] -= 1.0
    else:
        state_i[fixed_i[T_O_QSTATE] + N_QS * idx + QS_USED] += 1


@njit(inline="always")
def admit(fixed_i, fixed_f, state_i, state_f, quota_ends, c, route, now):  # type: ignore[no-untyped-def]
    """:meth:`Gateway.admit`: ``OK`` or the rejecting cause."""
    base = fixed_i[T_O_CHAIN] + (c * fixed_i[T_NR] + route) * CH_W
    n = fixed_i[base]
    if n < 0:
        return FORBIDDEN
    consume = fixed_i[T_CONSUME]
    for j in range(n):
        k = base + 1 + 3 * j
        if not level_ready(fixed_i, fixed_f, state_i, state_f, quota_ends, fixed_i[k], fixed_i[k + 1], now):
            cause = fixed_i[k + 2]
            if cause == THROTTLED_USAGE_PLAN and fixed_i[T_QCT]:
                for m in range(n):
                    km = base + 1 + 3 * m
                    if fixed_i[km + 2] == QUOTA_EXCEEDED:  # QuotaCounter.count
                        q = fixed_i[km + 1]
                        quota_roll(fixed_i, state_i, quota_ends, q, now)
                        state_i[fixed_i[T_O_QSTATE] + N_QS * q + QS_USED] += 1
            return cause
        if consume:
            level_take(fixed_i, state_i, state_f, fixed_i[k], fixed_i[k + 1])
    if not consume:
        for j in range(n):
            k = base + 1 + 3 * j
            level_take(fixed_i, state_i, state_f, fixed_i[k], fixed_i[k + 1])
    return OK
