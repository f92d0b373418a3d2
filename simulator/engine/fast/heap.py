"""The fast engine's event queue: SimPy's ``(time, priority, event id)`` heap, compiled.

SimPy keeps its events in a binary heap of ``(time, priority, eid, event)`` tuples and
takes the smallest; the fast engine keeps the same order with four flat arrays per heap
(times, keys = ``priority << PRI_SHIFT | eid``, a value: the slot of the event's fields in
``event_i``/``event_f``, or for a release its function (:func:`push_release`), and a
release's creation time) arranged as a *4-ary* heap: half the depth of a binary one, and the
smallest of four children is found by time with arithmetic rather than branches. Keys are
unique, so any correct heap gives the events in exactly SimPy's order; the shape only
changes how fast. A heap removes its top by *bottom-up deletion* on the times' bits
(:func:`pop_bits`). Open clients' next-arrival timeouts, at most one per client,
wait in a small heap of their own (:func:`push_open`) whose entries carry no creation
time (it passes ``None`` for that array).

Every function is inlined into the compiled loop (:mod:`simulator.engine.fast.loop`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simulator.engine.fast.layout import (
    E_A,
    E_CAUSE,
    E_COST,
    E_FREE,
    E_N,
    E_RID,
    E_ROUTE,
    E_START,
    E_TYPE,
    E_USER,
    EID,
    FREE_N,
    HEAP_N,
    NORMAL,
    OHEAP_N,
    PRI_SHIFT,
    URGENT,
)

__all__: list[str] = []

#: Greater than the bits of any time (the largest int64; +inf's bits are 0x7FF0...).
_LATEST = np.int64(0x7FFFFFFFFFFFFFFF)


@njit(inline="always")
def sift_up(times, keys, values, created_at, i, t, key, value, created):  # type: ignore[no-untyped-def]
    """Put (t, key, value, created) at position *i* of a 4-ary heap and move it up (times
    as floats, or as their bits with :func:`pop_bits`). A heap whose entries carry no
    creation time passes ``created_at=None`` (numba then compiles no code for it)."""
    while i > 0:
        p = (i - 1) >> 2
        tp = times[p]
        if tp < t or (tp == t and keys[p] < key):
            break
        times[i] = tp
        keys[i] = keys[p]
        values[i] = values[p]
        if created_at is not None:
            created_at[i] = created_at[p]
        i = p
    times[i] = t
    keys[i] = key
    values[i] = value
    if created_at is not None:
        created_at[i] = created


@njit(inline="always")
def pop_bits(bits, keys, values, created_at, n):  # type: ignore[no-untyped-def]
    """Remove the top of a 4-ary heap, which had n + 1 entries (*created_at* None: entries carry
    no creation time).

    The times are compared as their bits (*bits*, an int64 view of the heap's times): for
    the non-negative times of a run (never -0.0: every time is ``now + d`` from 0.0)
    the bits order as the numbers do, and integer comparisons need no NaN checks. The
    hole left at the top walks down to a leaf along the smallest children, and the
    heap's last entry moves up from there (Floyd's bottom-up deletion): that entry is a
    late event that belongs near the bottom, so this saves a comparison, and an
    unpredictable branch, on every level.

    The smallest of four children is picked by time alone, with arithmetic rather than
    branches; the keys are read only when two children share the smallest time (rare:
    times are sums of random durations), and then decide. The order of the entries is
    (time, key), keys are unique, so the events come out in SimPy's order."""
    if n == 0:
        return
    tb = bits[n]
    k = keys[n]
    v = values[n]
    cr = created_at[n] if created_at is not None else 0.0
    i = 0
    last = n - 1
    while True:
        c = 4 * i + 1
        if c > last:
            break
        # Missing children (past the last entry) count as later than any time.
        b0 = bits[c]
        b1 = bits[min(c + 1, last)] if c + 1 <= last else _LATEST
        b2 = bits[min(c + 2, last)] if c + 2 <= last else _LATEST
        b3 = bits[min(c + 3, last)] if c + 3 <= last else _LATEST
        lo01 = min(b0, b1)
        lo23 = min(b2, b3)
        m01 = c + np.int64(b1 < b0)
        m23 = c + 2 + np.int64(b3 < b2)
        m = m01 if lo01 <= lo23 else m23
        lo = min(lo01, lo23)
        if np.int64(b0 == lo) + np.int64(b1 == lo) + np.int64(b2 == lo) + np.int64(b3 == lo) > 1:
            m = first_of(bits, keys, c, min(c + 3, last))
        bits[i] = bits[m]
        keys[i] = keys[m]
        values[i] = values[m]
        if created_at is not None:
            created_at[i] = created_at[m]
        i = m
    sift_up(bits, keys, values, created_at, i, tb, k, v, cr)


@njit(inline="always")
def first_of(bits, keys, lo, hi):  # type: ignore[no-untyped-def]
    """The entry among *lo*..*hi* that comes first in (time bits, key) order."""
    m = lo
    for x in range(lo + 1, hi + 1):
        if bits[x] < bits[m] or (bits[x] == bits[m] and keys[x] < keys[m]):
            m = x
    return m


@njit(inline="always")
def push(state_i, heap_time, heap_key, heap_value, heap_created, event_i, event_f, t, pri, typ, a, rid, route, n, cause,
         user, cost, start):  # type: ignore[no-untyped-def]
    """Schedule an event at *t*: SimPy's ``heappush((t, priority, eid, event))``; its
    fields go to a free slot of ``event_i``/``event_f``, whose number is the heap entry's value."""
    eid = state_i[EID]
    state_i[EID] = eid + 1
    fn = state_i[FREE_N] - 1
    state_i[FREE_N] = fn
    slot = event_i[fn, E_FREE]
    event_i[slot, E_TYPE] = typ
    event_i[slot, E_A] = a
    event_i[slot, E_RID] = rid
    event_i[slot, E_ROUTE] = route
    event_i[slot, E_N] = n
    event_i[slot, E_CAUSE] = cause
    event_i[slot, E_USER] = user
    event_i[slot, E_COST] = cost
    event_f[slot, E_START] = start
    i = state_i[HEAP_N]
    state_i[HEAP_N] = i + 1
    sift_up(heap_time, heap_key, heap_value, heap_created, i, t, (pri << PRI_SHIFT) | eid, slot, 0.0)


@njit(inline="always")
def push_release(state_i, heap_time, heap_key, heap_value, heap_created, t, f, provisioned, created):  # type: ignore[no-untyped-def]
    """Schedule the release of an environment of function *f* at *t* (URGENT).

    Releases are most of the heap, and all they carry is the function, whether the
    environment is provisioned and when it was created, so they take no slot: the heap
    entry's value is ``-1 - (2 * f + provisioned)`` (negative, unlike a slot) and its
    creation time rides along in *heap_created*."""
    eid = state_i[EID]
    state_i[EID] = eid + 1
    i = state_i[HEAP_N]
    state_i[HEAP_N] = i + 1
    sift_up(heap_time, heap_key, heap_value, heap_created, i, t, (URGENT << PRI_SHIFT) | eid,
            -1 - (2 * f + provisioned), created)


@njit(inline="always")
def push_open(state_i, open_time, open_key, open_client, t, c):  # type: ignore[no-untyped-def]
    """Schedule open client *c*'s timeout until its next arrival (NORMAL priority).

    These events live in a heap of their own (at most one per client), so that the
    main heap holds only releases, responses and users; the loop takes whichever top
    comes first in SimPy's order."""
    eid = state_i[EID]
    state_i[EID] = eid + 1
    i = state_i[OHEAP_N]
    state_i[OHEAP_N] = i + 1
    sift_up(open_time, open_key, open_client, None, i, t, (NORMAL << PRI_SHIFT) | eid, c, 0.0)


@njit(inline="always")
def free_slot(state_i, event_i, slot):  # type: ignore[no-untyped-def]
    fn = state_i[FREE_N]
    event_i[fn, E_FREE] = slot
    state_i[FREE_N] = fn + 1
