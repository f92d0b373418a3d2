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
def draw(ti, tf, si, rb, s):  # type: ignore[no-untyped-def]
    """The next value of stream *s* (a :class:`~simulator.dists.Draws`' ``next()``).
    Each stream's buffer is a ring (its length a power of two): position *p* counts every
    value taken, and the value is at ``p % length``."""
    if ti[ti[T_O_SCONST] + s]:
        return tf[ti[T_O_SVAL] + s]
    o = ti[T_O_RSTATE] + 2 * s
    p = si[o]
    si[o] = p + 1
    si[BUDGET] -= 1
    return rb[s, p & (rb.shape[1] - 1)]


# --------------------------------------------------------------------------- buckets and quotas


@njit(inline="always")
def bucket_ready(ti, tf, sf, b, now):  # type: ignore[no-untyped-def]
    """:meth:`TokenBucket.ready`."""
    o = ti[T_O_BSTATE] + 2 * b  # tokens, last
    r = ti[T_O_BUCKET] + 2 * b  # rate, burst
    sf[o], sf[o + 1] = refill(sf[o], sf[o + 1], tf[r], tf[r + 1], now)
    return has_token(sf[o])


@njit(inline="always")
def quota_roll(ti, si, qe, q, now):  # type: ignore[no-untyped-def]
    """:meth:`QuotaCounter._roll`, over precomputed window ends."""
    o = ti[T_O_QSTATE] + N_QS * q
    pos = si[o + QS_POS]
    if now >= qe[q, pos]:
        while now >= qe[q, pos]:
            pos += 1
        si[o + QS_POS] = pos
        si[o + QS_USED] = 0
        si[o + QS_ALLOWED] = ti[ti[T_O_QLIMIT] + q]


@njit(inline="always")
def level_ready(ti, tf, si, sf, qe, kind, idx, now):  # type: ignore[no-untyped-def]
    if kind == LEVEL_BUCKET:
        return bucket_ready(ti, tf, sf, idx, now)
    quota_roll(ti, si, qe, idx, now)
    o = ti[T_O_QSTATE] + N_QS * idx
    return si[o + QS_USED] < si[o + QS_ALLOWED]


@njit(inline="always")
def level_take(ti, si, sf, kind, idx):  # type: ignore[no-untyped-def]
    if kind == LEVEL_BUCKET:
        sf[ti[T_O_BSTATE] + 2 * idx] -= 1.0
    else:
        si[ti[T_O_QSTATE] + N_QS * idx + QS_USED] += 1


@njit(inline="always")
def admit(ti, tf, si, sf, qe, c, route, now):  # type: ignore[no-untyped-def]
    """:meth:`Gateway.admit`: ``OK`` or the rejecting cause."""
    base = ti[T_O_CHAIN] + (c * ti[T_NR] + route) * CH_W
    n = ti[base]
    if n < 0:
        return FORBIDDEN
    consume = ti[T_CONSUME]
    for j in range(n):
        k = base + 1 + 3 * j
        if not level_ready(ti, tf, si, sf, qe, ti[k], ti[k + 1], now):
            cause = ti[k + 2]
            if cause == THROTTLED_USAGE_PLAN and ti[T_QCT]:
                for m in range(n):
                    km = base + 1 + 3 * m
                    if ti[km + 2] == QUOTA_EXCEEDED:  # QuotaCounter.count
                        q = ti[km + 1]
                        quota_roll(ti, si, qe, q, now)
                        si[ti[T_O_QSTATE] + N_QS * q + QS_USED] += 1
            return cause
        if consume:
            level_take(ti, si, sf, ti[k], ti[k + 1])
    if not consume:
        for j in range(n):
            k = base + 1 + 3 * j
            level_take(ti, si, sf, ti[k], ti[k + 1])
    return OK


# --------------------------------------------------------------------------- Lambda environments


@njit(inline="always")
def rate_ready(ti, tf, sf, f, now):  # type: ignore[no-untyped-def]
    """:meth:`RequestRate.ready` of function *f*: every request-rate bucket has a token."""
    fi = ti[T_O_FUN] + N_FI * f + FI_RATE
    for j in range(MAX_RATE):
        b = ti[fi + j]
        if b >= 0 and not bucket_ready(ti, tf, sf, b, now):
            return False
    return True


@njit(inline="always")
def rate_take(ti, sf, f):  # type: ignore[no-untyped-def]
    """:meth:`RequestRate.take` of function *f*."""
    fi = ti[T_O_FUN] + N_FI * f + FI_RATE
    for j in range(MAX_RATE):
        b = ti[fi + j]
        if b >= 0:
            sf[ti[T_O_BSTATE] + 2 * b] -= 1.0


@njit(inline="always")
def acquire(ti, tf, si, sf, ring, f, now):  # type: ignore[no-untyped-def]
    """:meth:`FunctionPool.acquire`: (got one, cold, provisioned, created at)."""
    fs = ti[T_O_FSTATE] + N_FS * f
    if si[fs + FS_IDLE_PROV] > 0:
        si[fs + FS_IDLE_PROV] -= 1
        si[fs + FS_BUSY_PROV] += 1
        return True, False, True, 0.0
    fi = ti[T_O_FUN] + N_FI * f
    cap = ti[fi + FI_CAP]
    if cap >= 0:
        if si[fs + FS_BUSY_OD] >= cap:
            return False, False, False, 0.0
    elif si[UNRES] >= ti[T_UNRES_CAP]:
        return False, False, False, 0.0
    k = ti[fi + FI_RINGK]
    max_life = tf[TF_MAX_LIFE]
    mru = ti[T_MRU]
    found = False
    created = now
    while si[fs + FS_RING_N] > 0:
        n = si[fs + FS_RING_N] - 1
        si[fs + FS_RING_N] = n
        h = si[fs + FS_RING_H]
        if mru:
            idx = h + n
            if idx >= k:
                idx -= k
        else:
            idx = h
            h += 1
            si[fs + FS_RING_H] = h if h < k else 0
        if ring[f, 2 * idx + 1] > now and now - ring[f, 2 * idx] < max_life:
            found = True
            created = ring[f, 2 * idx]
            break
    if not found:
        b = ti[fi + FI_SCALING]
        if not bucket_ready(ti, tf, sf, b, now):
            return False, False, False, 0.0
        sf[ti[T_O_BSTATE] + 2 * b] -= 1.0
    si[fs + FS_BUSY_OD] += 1
    if cap < 0:
        si[UNRES] += 1
    return True, not found, False, created


@njit(inline="always")
def release(ti, tf, si, sf, rb, ring, f, provisioned, created, now):  # type: ignore[no-untyped-def]
    """:meth:`FunctionPool.release`."""
    fs = ti[T_O_FSTATE] + N_FS * f
    if provisioned:
        si[fs + FS_BUSY_PROV] -= 1
        si[fs + FS_IDLE_PROV] += 1
        return
    fi = ti[T_O_FUN] + N_FI * f
    si[fs + FS_BUSY_OD] -= 1
    if ti[fi + FI_CAP] < 0:
        si[UNRES] -= 1
    if now - created >= tf[TF_MAX_LIFE]:
        return
    expires = now + draw(ti, tf, si, rb, ti[fi + FI_SIDLE])
    k = ti[fi + FI_RINGK]
    n = si[fs + FS_RING_N]
    h = si[fs + FS_RING_H]
    idx = h + n
    if idx >= k:
        idx -= k
    ring[f, 2 * idx] = created
    ring[f, 2 * idx + 1] = expires
    n += 1
    # Drop environments that expired at the old end (the reference's popleft loop).
    while n > 0 and ring[f, 2 * h + 1] <= now:
        h += 1
        if h >= k:
            h = 0
        n -= 1
    si[fs + FS_RING_N] = n
    si[fs + FS_RING_H] = h


@njit(inline="always")
def concurrency(ti, si, sf, rc_t, rc_i, tsi, f, now, delta):  # type: ignore[no-untyped-def]
    """Record the function's concurrency after a change (``Recorder.concurrency``)."""
    fs = ti[T_O_FSTATE] + N_FS * f
    busy = si[fs + FS_BUSY_OD] + si[fs + FS_BUSY_PROV]
    acct = si[ACCT] + delta
    si[ACCT] = acct
    sf[END_MAX] = max(sf[END_MAX], now)
    if ti[T_RECORD]:
        n = si[N_CONC]
        rc_t[n] = now
        rc_i[C_FUNCTION, n] = f
        rc_i[C_BUSY, n] = busy
        si[N_CONC] = n + 1
        return
    b = int(now)
    row = N_TS + N_TSF * f
    tsi[row + TF_CONC_LAST, b] = busy
    tsi[TS_ACCT_LAST, b] = acct
    if delta < 0:
        # A release lowers the level: the level before it, set earlier in this second or
        # carried into it, already bounds every maximum (see aggregate._level_max).
        return
    peak = ti[T_O_GFN] + N_FN * f + FN_PEAK
    si[peak] = max(si[peak], busy)
    tsi[row + TF_CONC_MAX, b] = max(tsi[row + TF_CONC_MAX, b], busy)
    tsi[TS_ACCT_MAX, b] = max(tsi[TS_ACCT_MAX, b], acct)


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
