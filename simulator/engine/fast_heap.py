"""The fast engine's event queue: SimPy's ``(time, priority, event id)`` heap, compiled.

SimPy keeps its events in a binary heap of ``(time, priority, eid, event)`` tuples and
takes the smallest; the fast engine keeps the same order with three flat arrays per heap
(times, keys = ``priority << PRI_SHIFT | eid``, and the slot of the event's fields in
``ev``/``evf``) arranged as a *4-ary* heap: half the depth of a binary one, and the
smallest of four children is found with arithmetic rather than branches. Keys are
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
    EID,
    E_A,
    E_CAUSE,
    E_COST,
    E_CREATED,
    E_FREE,
    E_N,
    E_RID,
    E_ROUTE,
    E_START,
    E_TYPE,
    E_USER,
    FREE_N,
    HEAP_N,
    NORMAL,
    OHEAP_N,
    PRI_SHIFT,
)

__all__: list[str] = []


@njit(inline="always")
def sift_up(ht, hk, hv, i, t, key, value):  # type: ignore[no-untyped-def]
    """Put (t, key, value) at position *i* of a 4-ary heap and move it up (times as floats,
    or as their bits with :func:`pop_bits`)."""
    while i > 0:
        p = (i - 1) >> 2
        tp = ht[p]
        if tp < t or (tp == t and hk[p] < key):
            break
        ht[i] = tp
        hk[i] = hk[p]
        hv[i] = hv[p]
        i = p
    ht[i] = t
    hk[i] = key
    hv[i] = value


@njit(inline="always")
def before_bits(hb, hk, x, y):  # type: ignore[no-untyped-def]
    """1 if entry *x* comes strictly before entry *y* in (time, key) order, else 0, with
    the times given as their IEEE-754 bits (an int64 view of the times)."""
    return np.int64((hb[x] < hb[y]) | ((hb[x] == hb[y]) & (hk[x] < hk[y])))


@njit(inline="always")
def pop_bits(hb, hk, hv, n):  # type: ignore[no-untyped-def]
    """Remove the top of a 4-ary heap, which had n + 1 entries.

    The times are compared as their bits (*hb*, an int64 view of the heap's times): for
    the non-negative times of a run (never -0.0: every time is ``now + d`` from 0.0)
    the bits order as the numbers do, and integer comparisons need no NaN checks. The
    hole left at the top walks down to a leaf along the smallest children, and the
    heap's last entry moves up from there (Floyd's bottom-up deletion): that entry is a
    late event that belongs near the bottom, so this saves a comparison, and an
    unpredictable branch, on every level. The order of the entries is (time, key), keys
    are unique, so the events come out in SimPy's order."""
    if n == 0:
        return
    tb = hb[n]
    k = hk[n]
    v = hv[n]
    i = 0
    last = n - 1
    while True:
        c = 4 * i + 1
        if c > last:
            break
        c2 = min(c + 1, last)
        c3 = min(c + 2, last)
        c4 = min(c + 3, last)
        a = c + (c2 - c) * before_bits(hb, hk, c2, c)
        b = c3 + (c4 - c3) * before_bits(hb, hk, c4, c3)
        c = a + (b - a) * before_bits(hb, hk, b, a)
        hb[i] = hb[c]
        hk[i] = hk[c]
        hv[i] = hv[c]
        i = c
    sift_up(hb, hk, hv, i, tb, k, v)


@njit(inline="always")
def push(si, ht, hk, hs, ev, evf, t, pri, typ, a, rid, route, n, cause, user, cost, start, created):  # type: ignore[no-untyped-def]
    """Schedule an event at *t*: SimPy's ``heappush((t, priority, eid, event))``."""
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
    evf[slot, E_CREATED] = created
    i = si[HEAP_N]
    si[HEAP_N] = i + 1
    sift_up(ht, hk, hs, i, t, (pri << PRI_SHIFT) | eid, slot)


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
    sift_up(oht, ohk, ohc, i, t, (NORMAL << PRI_SHIFT) | eid, c)


@njit(inline="always")
def free_slot(si, ev, slot):  # type: ignore[no-untyped-def]
    fn = si[FREE_N]
    ev[fn, E_FREE] = slot
    si[FREE_N] = fn + 1
