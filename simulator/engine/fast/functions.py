"""Lambda functions" execution environments in the compiled loop: the pool of
:mod:`simulator.functions.pool` (provisioned and on-demand environments, reserved and
unreserved concurrency, the scaling bucket) and the request-rate buckets of
:mod:`simulator.functions.request_rate`, ported line by line to the packed arrays of
:mod:`simulator.engine.fast.layout`. Inlined into the compiled loop.
"""

from __future__ import annotations

from numba import njit

from simulator.engine.fast.gateway import bucket_ready
from simulator.engine.fast.layout import (
    FI_CAP,
    FI_RATE,
    FI_RINGK,
    FI_SCALING,
    FI_SIDLE,
    FS_BUSY_OD,
    FS_BUSY_PROV,
    FS_IDLE_PROV,
    FS_RING_H,
    FS_RING_N,
    MAX_RATE,
    N_FI,
    N_FS,
    T_MRU,
    T_O_BSTATE,
    T_O_FSTATE,
    T_O_FUN,
    T_UNRES_CAP,
    TF_MAX_LIFE,
    UNRES,
)
from simulator.engine.fast.streams import draw

__all__ = ["acquire", "rate_ready", "rate_take", "release"]


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
