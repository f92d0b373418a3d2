"""The fast engine's event queue: SimPy's ``(time, priority, event id)`` heap, compiled.

SimPy keeps its events in a binary heap of ``(time, priority, eid, event)`` tuples and
takes the smallest; the fast engine keeps the same order with four flat arrays per heap
(times, keys = ``priority << PRI_SHIFT | eid``, a value: the slot of the event's fields in
``ev``/``evf``, or for a release its function (:func:`push_release`), and a release's
creation time) arranged as a *4-ary* heap: half the depth of a binary one, and the
smallest of four children is found by time with arithmetic rather than branches. Keys are
unique, so any correct heap gives the events in exactly SimPy's order; the shape only
changes how fast. A heap removes its top by *bottom-up deletion* on the times' bits
(:func:`pop_bits`). Open clients' next-arrival timeouts, at most one per client,
wait in a small heap of their own (:func:`push_open`).

Every function is inlined into the compiled loop (:mod:`simulator.engine.fast_loop`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simulator.engine.fast_layout import (
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
def sift_up(ht, hk, hv, hc, i, t, key, value, created):  # type: ignore[no-untyped-def]
    """Put (t, key, value, created) at position *i* of a 4-ary heap and move it up (times
    as floats, or as their bits with :func:`pop_bits`). A heap whose entries carry no
    creation time passes ``hc=None`` (numba then compiles no code for it)."""
    while i > 0:
        p = (i - 1) >> 2
        tp = ht[p]
        if tp < t or (tp == t and hk[p] < key):
            break
        ht[i] = tp
        hk[i] = hk[p]
        hv[i] = hv[p]
        if hc is not None:
            hc[i] = hc[p]
        i = p
    ht[i] = t
    hk[i] = key
    hv[i] = value
    if hc is not None:
        hc[i] = created


@njit(inline="always")
def pop_bits(hb, hk, hv, hc, n):  # type: ignore[no-untyped-def]
    """Remove the top of a 4-ary heap, which had n + 1 entries (*hc* None: entries carry
    no creation time).

    The times are compared as their bits (*hb*, an int64 view of the heap's times): for
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
    tb = hb[n]
    k = hk[n]
    v = hv[n]
    cr = hc[n] if hc is not None else 0.0
    i = 0
    last = n - 1
    while True:
        c = 4 * i + 1
        if c > last:
            break
        # Missing children (past the last entry) count as later than any time.
        b0 = hb[c]
        b1 = hb[min(c + 1, last)] if c + 1 <= last else _LATEST
        b2 = hb[min(c + 2, last)] if c + 2 <= last else _LATEST
        b3 = hb[min(c + 3, last)] if c + 3 <= last else _LATEST
        lo01 = min(b0, b1)
        lo23 = min(b2, b3)
        m01 = c + np.int64(b1 < b0)
        m23 = c + 2 + np.int64(b3 < b2)
        m = m01 if lo01 <= lo23 else m23
        lo = min(lo01, lo23)
        if np.int64(b0 == lo) + np.int64(b1 == lo) + np.int64(b2 == lo) + np.int64(b3 == lo) > 1:
            m = first_of(hb, hk, c, min(c + 3, last))
        hb[i] = hb[m]
        hk[i] = hk[m]
        hv[i] = hv[m]
        if hc is not None:
            hc[i] = hc[m]
        i = m
    sift_up(hb, hk, hv, hc, i, tb, k, v, cr)


@njit(inline="always")
def first_of(hb, hk, lo, hi):  # type: ignore[no-untyped-def]
    """The entry among *lo*..*hi* that comes first in (time bits, key) order."""
    m = lo
    for x in range(lo + 1, hi + 1):
        if hb[x] < hb[m] or (hb[x] == hb[m] and hk[x] < hk[m]):
            m = x
    return m


@njit(inline="always")
def push(si, ht, hk, hs, hc, ev, evf, t, pri, typ, a, rid, route, n, cause, user, cost, start):  # type: ignore[no-untyped-def]
    """Schedule an event at *t*: SimPy's ``heappush((t, priority, eid, event))``; its
    fields go to a free slot of ``ev``/``evf``, whose number is the heap entry's value."""
    eid = si[EID]
    si[EID] = eid + 1
    fn = si[FREE_N] - 1
    si[FREE_N] = fn
    slot = ev[fn, E_FREE]
    ev[slot, E_TYPE] = typ
    ev[slot, E_A] = a
    ev[slot, E_RID] = rid
    ev[slot, E_ROUTE] = route
    ev[slot, E_N] = n
    ev[slot, E_CAUSE] = cause
    ev[slot, E_USER] = user
    ev[slot, E_COST] = cost
    evf[slot, E_START] = start
    i = si[HEAP_N]
    si[HEAP_N] = i + 1
    sift_up(ht, hk, hs, hc, i, t, (pri << PRI_SHIFT) | eid, slot, 0.0)


@njit(inline="always")
def push_release(si, ht, hk, hs, hc, t, f, provisioned, created):  # type: ignore[no-untyped-def]
    """Schedule the release of an environment of function *f* at *t* (URGENT).

    Releases are most of the heap, and all they carry is the function, whether the
    environment is provisioned and when it was created, so they take no slot: the heap
    entry's value is ``-1 - (2 * f + provisioned)`` (negative, unlike a slot) and its
    creation time rides along in *hc*."""
    eid = si[EID]
    si[EID] = eid + 1
    i = si[HEAP_N]
    si[HEAP_N] = i + 1
    sift_up(ht, hk, hs, hc, i, t, (URGENT << PRI_SHIFT) | eid, -1 - (2 * f + provisioned), created)


@njit(inline="always")
def push_open(si, oht, ohk, ohc, t, c):  # type: ignore[no-untyped-def]
    """Schedule open client *c*'s timeout until its next arrival (NORMAL priority).

    These events live in a heap of their own (at most one per client), so that the
    main heap holds only releases, responses and users; the loop takes whichever top
    comes first in SimPy's order."""
    eid = si[EID]
    si[EID] = eid + 1
    i = si[OHEAP_N]
    si[OHEAP_N] = i + 1
    sift_up(oht, ohk, ohc, None, i, t, (NORMAL << PRI_SHIFT) | eid, c, 0.0)


@njit(inline="always")
def free_slot(si, ev, slot):  # type: ignore[no-untyped-def]
    fn = si[FREE_N]
    ev[fn, E_FREE] = slot
    si[FREE_N] = fn + 1
