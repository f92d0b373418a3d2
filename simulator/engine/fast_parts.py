"""Compiled building blocks of the fast engine: random draws, token buckets, quotas and
Lambda environments (the event heap is :mod:`simulator.engine.fast_heap`), each a line-by-line port of the reference
object it mirrors (:mod:`simulator.gateway.buckets`, :mod:`simulator.gateway.quota`,
:mod:`simulator.gateway.path`, :mod:`simulator.functions.pool`), working on the packed
arrays of :mod:`simulator.engine.fast_layout`.

Floating-point arithmetic is written in the same order as in the reference, and compiled
without ``fastmath``, so every sum and product gives the same bits. Every function here is
inlined into the one compiled loop (``inline="always"``): calls between separately
compiled functions would pass each of the loop's twenty arrays field by field.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from simulator import rules
from simulator.engine.fast_layout import (
    ACCT,
    BUDGET,
    C_BUSY,
    C_FUNCTION,
    CH_W,
    END_MAX,
    FI_CAP,
    FI_RATE,
    FI_RINGK,
    FI_SCALING,
    FI_SIDLE,
    FN_PEAK,
    FS_BUSY_OD,
    FS_BUSY_PROV,
    FS_IDLE_PROV,
    FS_RING_H,
    FS_RING_N,
    HIST_BINS,
    HIST_EMAX,
    HIST_EMIN,
    HIST_SUB,
    LEVEL_BUCKET,
    MAX_RATE,
    N_CONC,
    N_FI,
    N_FN,
    N_FS,
    N_QS,
    N_TS,
    N_TSF,
    QS_ALLOWED,
    QS_POS,
    QS_USED,
    T_CONSUME,
    T_MRU,
    T_NR,
    T_O_BSTATE,
    T_O_BUCKET,
    T_O_CHAIN,
    T_O_FSTATE,
    T_O_FUN,
    T_O_GFN,
    T_O_QLIMIT,
    T_O_QSTATE,
    T_O_RSTATE,
    T_O_SCONST,
    T_O_SVAL,
    T_QCT,
    T_RECORD,
    T_UNRES_CAP,
    TF_CONC_LAST,
    TF_CONC_MAX,
    TF_MAX_LIFE,
    TS_ACCT_LAST,
    TS_ACCT_MAX,
    UNRES,
)
from simulator.outcomes import FORBIDDEN, OK, QUOTA_EXCEEDED, THROTTLED_USAGE_PLAN

__all__ = ["client_outcome", "function_outcome", "has_token", "hist_values", "integration_outcome", "refill"]

# The rules both engines apply (simulator.rules), compiled from the same source the
# reference engine calls, and inlined where the loop uses them.
refill = njit(inline="always")(rules.refill)
has_token = njit(inline="always")(rules.has_token)
function_outcome = njit(inline="always")(rules.function_outcome)
integration_outcome = njit(inline="always")(rules.integration_outcome)
client_outcome = njit(inline="always")(rules.client_outcome)

# --------------------------------------------------------------------------- random draws


@njit(inline="always")
def draw(fixed_i, fixed_f, state_i, randoms, s):  # type: ignore[no-untyped-def]
    """The next value of stream *s* (a :class:`~simulator.dists.Draws`' ``next()``).
    Each stream's buffer is a ring (its length a power of two): position *p* counts every
    value taken, and the value is at ``p % length``."""
    if fixed_i[fixed_i[T_O_SCONST] + s]:
        return fixed_f[fixed_i[T_O_SVAL] + s]
    o = fixed_i[T_O_RSTATE] + 2 * s
    p = state_i[o]
    state_i[o] = p + 1
    state_i[BUDGET] -= 1
    return randoms[s, p & (randoms.shape[1] - 1)]


# --------------------------------------------------------------------------- buckets and quotas


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


# --------------------------------------------------------------------------- Lambda environments


@njit(inline="always")
def rate_ready(fixed_i, fixed_f, state_f, f, now):  # type: ignore[no-untyped-def]
    """:meth:`RequestRate.ready` of function *f*: every request-rate bucket has a token."""
    fi = fixed_i[T_O_FUN] + N_FI * f + FI_RATE
    for j in range(MAX_RATE):
        b = fixed_i[fi + j]
        if b >= 0 and not bucket_ready(fixed_i, fixed_f, state_f, b, now):
            return False
    return True


@njit(inline="always")
def rate_take(fixed_i, state_f, f):  # type: ignore[no-untyped-def]
    """:meth:`RequestRate.take` of function *f*."""
    fi = fixed_i[T_O_FUN] + N_FI * f + FI_RATE
    for j in range(MAX_RATE):
        b = fixed_i[fi + j]
        if b >= 0:
            state_f[fixed_i[T_O_BSTATE] + 2 * b] -= 1.0


@njit(inline="always")
def acquire(fixed_i, fixed_f, state_i, state_f, idle_envs, f, now):  # type: ignore[no-untyped-def]
    """:meth:`FunctionPool.acquire`: (got one, cold, provisioned, created at)."""
    fs = fixed_i[T_O_FSTATE] + N_FS * f
    if state_i[fs + FS_IDLE_PROV] > 0:
        state_i[fs + FS_IDLE_PROV] -= 1
        state_i[fs + FS_BUSY_PROV] += 1
        return True, False, True, 0.0
    fi = fixed_i[T_O_FUN] + N_FI * f
    cap = fixed_i[fi + FI_CAP]
    if cap >= 0:
        if state_i[fs + FS_BUSY_OD] >= cap:
            return False, False, False, 0.0
    elif state_i[UNRES] >= fixed_i[T_UNRES_CAP]:
        return False, False, False, 0.0
    k = fixed_i[fi + FI_RINGK]
    max_life = fixed_f[TF_MAX_LIFE]
    mru = fixed_i[T_MRU]
    found = False
    created = now
    while state_i[fs + FS_RING_N] > 0:
        n = state_i[fs + FS_RING_N] - 1
        state_i[fs + FS_RING_N] = n
        h = state_i[fs + FS_RING_H]
        if mru:
            idx = h + n
            if idx >= k:
                idx -= k
        else:
            idx = h
            h += 1
            state_i[fs + FS_RING_H] = h if h < k else 0
        if idle_envs[f, 2 * idx + 1] > now and now - idle_envs[f, 2 * idx] < max_life:
            found = True
            created = idle_envs[f, 2 * idx]
            break
    if not found:
        b = fixed_i[fi + FI_SCALING]
        if not bucket_ready(fixed_i, fixed_f, state_f, b, now):
            return False, False, False, 0.0
        state_f[fixed_i[T_O_BSTATE] + 2 * b] -= 1.0
    state_i[fs + FS_BUSY_OD] += 1
    if cap < 0:
        state_i[UNRES] += 1
    return True, not found, False, created


@njit(inline="always")
def release(fixed_i, fixed_f, state_i, state_f, randoms, idle_envs, f, provisioned, created, now):  # type: ignore[no-untyped-def]
    """:meth:`FunctionPool.release`."""
    fs = fixed_i[T_O_FSTATE] + N_FS * f
    if provisioned:
        state_i[fs + FS_BUSY_PROV] -= 1
        state_i[fs + FS_IDLE_PROV] += 1
        return
    fi = fixed_i[T_O_FUN] + N_FI * f
    state_i[fs + FS_BUSY_OD] -= 1
    if fixed_i[fi + FI_CAP] < 0:
        state_i[UNRES] -= 1
    if now - created >= fixed_f[TF_MAX_LIFE]:
        return
    expires = now + draw(fixed_i, fixed_f, state_i, randoms, fixed_i[fi + FI_SIDLE])
    k = fixed_i[fi + FI_RINGK]
    n = state_i[fs + FS_RING_N]
    h = state_i[fs + FS_RING_H]
    idx = h + n
    if idx >= k:
        idx -= k
    idle_envs[f, 2 * idx] = created
    idle_envs[f, 2 * idx + 1] = expires
    n += 1
    # Drop environments that expired at the old end (the reference's popleft loop).
    while n > 0 and idle_envs[f, 2 * h + 1] <= now:
        h += 1
        if h >= k:
            h = 0
        n -= 1
    state_i[fs + FS_RING_N] = n
    state_i[fs + FS_RING_H] = h


@njit(inline="always")
def concurrency(fixed_i, state_i, state_f, conc_time, conc_i, series_i, f, now, delta):  # type: ignore[no-untyped-def]
    """Record the function's concurrency after a change (``Recorder.concurrency``)."""
    fs = fixed_i[T_O_FSTATE] + N_FS * f
    busy = state_i[fs + FS_BUSY_OD] + state_i[fs + FS_BUSY_PROV]
    acct = state_i[ACCT] + delta
    state_i[ACCT] = acct
    state_f[END_MAX] = max(state_f[END_MAX], now)
    if fixed_i[T_RECORD]:
        n = state_i[N_CONC]
        conc_time[n] = now
        conc_i[C_FUNCTION, n] = f
        conc_i[C_BUSY, n] = busy
        state_i[N_CONC] = n + 1
        return
    b = int(now)
    row = N_TS + N_TSF * f
    series_i[row + TF_CONC_LAST, b] = busy
    series_i[TS_ACCT_LAST, b] = acct
    if delta < 0:
        # A release lowers the level: the level before it, set earlier in this second or
        # carried into it, already bounds every maximum (see aggregate._level_max).
        return
    peak = fixed_i[T_O_GFN] + N_FN * f + FN_PEAK
    state_i[peak] = max(state_i[peak], busy)
    series_i[row + TF_CONC_MAX, b] = max(series_i[row + TF_CONC_MAX, b], busy)
    series_i[TS_ACCT_MAX, b] = max(series_i[TS_ACCT_MAX, b], acct)


# --------------------------------------------------------------------------- latency histogram


@intrinsic
def float_bits(typingctx, x):  # type: ignore[no-untyped-def]
    """The IEEE-754 bits of a float64, as an int64 (a bit cast: no instruction at all)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


_SUB_SHIFT = 52 - (HIST_SUB.bit_length() - 1)


@njit(inline="always")
def hist_bin(x):  # type: ignore[no-untyped-def]
    """The histogram bin of a latency of *x* seconds (see ``HIST_*``).

    ``math.frexp``'s exponent and leading mantissa bits, read from the float's bits (an
    out-of-line call less on every attempt): *x* = 0.5 (1 + f) 2**e with e = the biased
    exponent - 1022, and the bin within the power of two is the top bits of f (HIST_SUB
    is a power of two). Subnormal numbers fall in bin 0 either way; the tests check it
    against the frexp formula."""
    if not x > 0.0:
        return 0
    b = float_bits(x)
    e = ((b >> 52) & 0x7FF) - 1022
    if e <= HIST_EMIN:
        return 0
    if e > HIST_EMAX:
        return HIST_BINS - 1
    return 1 + (e - HIST_EMIN - 1) * HIST_SUB + ((b >> _SUB_SHIFT) & (HIST_SUB - 1))


def hist_values() -> np.ndarray:
    """The value (s) each histogram bin stands for: its midpoint (0 for bin 0)."""
    e = np.repeat(np.arange(HIST_EMIN + 1, HIST_EMAX + 1), HIST_SUB).astype(np.float64)
    j = np.tile(np.arange(HIST_SUB), HIST_EMAX - HIST_EMIN).astype(np.float64)
    mid = (0.5 + (j + 0.5) / (2 * HIST_SUB)) * np.exp2(e)
    return np.concatenate([[0.0], mid])
