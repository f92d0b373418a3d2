"""The fast engine's compiled loop: one function, resumable at any event boundary.

:func:`run` is the only compiled function; everything it calls is inlined into it
(numba-IR inlining, ``inline="always"``), so the twenty arrays it works on are never
passed field by field from call to call. Each turn of the loop finds the next attempt
to send (an open client's next arrival, a retry, a closed user's next task) while
handling the events that send none (releases, responses, wake-ups), then sends it at a
single place.

Before it pops an event, :func:`~simulator.engine.fast_kernel.room` checks that the event
can be handled in full; if not, :func:`run` returns a ``NEED_*`` code with the event
still queued, Python provides what is missing, and :func:`run` resumes. An open
client's arrival loop can stop between two arrivals of the same instant;
``si[CONT_OPEN]`` says where to pick it up.

numba invalidates a cached function when the file that defines it changes; :func:`run`
also inlines code and constants from other files, so its cache key covers them all
(:func:`_stamp`).

No index in the loop is ever negative, so it is compiled without numba's Python-style
fix-up of negative indices (:func:`no_wraparound`: three instructions less per array
access, a quarter of the loop's time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from simulator import outcomes as oc
from simulator.engine import fast_heap as H
from simulator.engine import fast_kernel as K
from simulator.engine import fast_layout as L
from simulator.engine import fast_parts as P

__all__ = ["no_wraparound", "run"]


# nogil: simulations may run side by side in threads of one process.
@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # no reference counting: it allocates nothing
def run(ti, tf, si, sf, qe, rb, ring, ht, hb, hk, hs, hc, ev, evf, oht, ohb, ohk, ohc, ra_i, ra_f, rr_i, rr_f, rc_t,
        rc_i, tsi, tsf, arr_t, arr_r):  # type: ignore[no-untyped-def]
    """Process events until the heap is empty (DONE) or something runs out (NEED_*)."""
    while True:
        # ---------------------------------------------------- the next attempt to send
        user = -1
        new = True
        rid = 0
        n = 1
        start = 0.0
        cost = -1
        from_heap = False
        c = si[L.CONT_OPEN]
        if c >= 0:
            # An open client's loop: ``if t > env.now: yield timeout(t - env.now)``.
            now = sf[L.NOW]
            ar = ti[L.T_O_ARR] + L.N_AR * c
            pos = si[ar + L.AR_POS]
            if pos >= si[ar + L.AR_LEN]:
                if si[ar + L.AR_MORE]:
                    si[L.NEED] = c
                    return L.NEED_ARRIVALS
                si[L.EID] += 1  # the process ends: SimPy schedules its Process event
                si[L.CONT_OPEN] = -1
                continue
            code = K.room(ti, si, sf, hk, ra_i, rr_i, rc_t, tsi, now)
            if code != L.DONE:
                return code
            k = si[ar + L.AR_OFF] + pos
            t = arr_t[k]
            if t > now:
                H.push_open(si, oht, ohk, ohc, now + (t - now), c)
                si[L.CONT_OPEN] = -1
                continue
            route = arr_r[k]
            if route < 0:
                route = K.pick_route(ti, tf, si, rb, c)
            si[ar + L.AR_POS] = pos + 1
        else:
            # The first event in SimPy's order: the top of the main heap or of the open
            # clients' heap (times compared as their bits, as the heaps do).
            nh = si[L.HEAP_N]
            if si[L.OHEAP_N] > 0 and (nh == 0 or ohb[0] < hb[0] or (ohb[0] == hb[0] and ohk[0] < hk[0])):
                now = oht[0]
                c = ohc[0]
                code = K.room(ti, si, sf, hk, ra_i, rr_i, rc_t, tsi, now)
                if code != L.DONE:
                    return code
                no = si[L.OHEAP_N] - 1
                si[L.OHEAP_N] = no
                H.pop_bits(ohb, ohk, ohc, None, no)
                sf[L.NOW] = now
                # The timeout fired: send the arrival it waited for, then go on looping.
                ar = ti[L.T_O_ARR] + L.N_AR * c
                pos = si[ar + L.AR_POS]
                route = arr_r[si[ar + L.AR_OFF] + pos]
                if route < 0:
                    route = K.pick_route(ti, tf, si, rb, c)
                si[ar + L.AR_POS] = pos + 1
                si[L.CONT_OPEN] = c
            elif nh == 0:
                return L.DONE
            else:
                from_heap = True
        if from_heap:
            now = ht[0]
            slot = hs[0]
            code = K.room(ti, si, sf, hk, ra_i, rr_i, rc_t, tsi, now)
            if code != L.DONE:
                return code
            nh = si[L.HEAP_N] - 1
            si[L.HEAP_N] = nh
            if slot < 0:
                # An environment's release (fast_heap.push_release).
                created = hc[0]
                H.pop_bits(hb, hk, hs, hc, nh)
                sf[L.NOW] = now
                f = (-1 - slot) >> 1
                P.release(ti, tf, si, sf, rb, ring, f, ((-1 - slot) & 1) != 0, created, now)
                P.concurrency(ti, si, sf, rc_t, rc_i, tsi, f, now, -1)
                continue
            typ = ev[slot, L.E_TYPE]
            a = ev[slot, L.E_A]
            c = a
            H.pop_bits(hb, hk, hs, hc, nh)
            sf[L.NOW] = now
            rid = ev[slot, L.E_RID]
            route = ev[slot, L.E_ROUTE]
            n = ev[slot, L.E_N]
            cause = ev[slot, L.E_CAUSE]
            user = ev[slot, L.E_USER]
            cost = ev[slot, L.E_COST]
            start = evf[slot, L.E_START]
            H.free_slot(si, ev, slot)
            if typ == L.EV_RESPONSE:
                K.response(ti, tf, si, sf, rb, ht, hk, hs, hc, ev, evf, rr_i, rr_f, a, rid, route, n, cause, user, cost, start,
                           now)
                continue
            if typ == L.EV_DONE_SIGNAL:
                H.push(si, ht, hk, hs, hc, ev, evf, now, L.NORMAL, L.EV_DONE, a, 0, 0, 0, 0, 0, 0, 0.0)
                continue
            if typ == L.EV_RETRY:
                new = False
                n += 1
            else:
                # A process: a closed user (or an open client's start).
                u = a
                if typ == L.EV_INIT:
                    p = ti[L.T_O_PROC] + 2 * a
                    if ti[p] == 0:
                        si[L.CONT_OPEN] = ti[p + 1]
                        continue
                    u = ti[p + 1]
                    spawn = tf[ti[L.T_O_USPAWN] + u]
                    if spawn > 0:
                        H.push(si, ht, hk, hs, hc, ev, evf, now + spawn, L.NORMAL, L.EV_USER_SPAWN, u, 0, 0, 0, 0, 0, 0,
                               0.0)
                        continue
                if typ == L.EV_INIT or typ == L.EV_USER_SPAWN:
                    us = ti[L.T_O_USTATE] + 2 * u
                    sf[us] = now
                    sf[us + 1] = 0.0
                elif typ == L.EV_DONE:
                    wait = K.user_wait(ti, tf, si, sf, rb, u, now)
                    if wait > 0:
                        H.push(si, ht, hk, hs, hc, ev, evf, now + wait, L.NORMAL, L.EV_USER_WAKE, u, 0, 0, 0, 0, 0, 0,
                               0.0)
                        continue
                # The top of the user's ``while env.now < end`` loop.
                if not now < tf[L.TF_DURATION]:
                    si[L.EID] += 1  # the process ends
                    continue
                c = ti[ti[L.T_O_UCLIENT] + u]
                route = K.pick_route(ti, tf, si, rb, c)
                user = u
        # ---------------------------------------------------- send it
        if new:
            rid = si[L.N_REQ]  # ``Recorder.new_request``
            si[L.N_REQ] = rid + 1
            n = 1
            start = now
            cost = -1
            if ti[L.T_RECORD]:
                rr_i[L.R_CLIENT, rid] = c
                rr_i[L.R_ROUTE, rid] = route
                rr_i[L.R_ATTEMPTS, rid] = 0
                rr_i[L.R_STATUS, rid] = -1
                rr_i[L.R_CAUSE, rid] = -1
                rr_f[L.R_TIME, rid] = now
                rr_f[L.R_END, rid] = np.nan
        cause, latency = K.attempt(ti, tf, si, sf, qe, rb, ring, ht, hk, hs, hc, ev, evf, ra_i, ra_f, rc_t, rc_i, tsi, tsf, c,
                                   rid, route, n, now)
        if ti[ti[L.T_O_CLI] + L.N_CI * c + L.CI_RETRY] != 0:
            H.push(si, ht, hk, hs, hc, ev, evf, now + latency, L.NORMAL, L.EV_RESPONSE, c, rid, route, n, cause, user,
                   cost, start)
        else:
            K.finish(ti, si, sf, rr_i, rr_f, c, rid, now + latency, n, cause, start)
            if user >= 0:
                H.push(si, ht, hk, hs, hc, ev, evf, now + latency, L.NORMAL, L.EV_DONE_SIGNAL, user, 0, 0, 0, 0, 0, 0,
                       0.0)
        o = si[L.CONT_OPEN]
        if o >= 0:
            # The open client's loop goes on at once (nothing else is scheduled in
            # between): if its next arrival is not due, its timeout is scheduled now.
            ar = ti[L.T_O_ARR] + L.N_AR * o
            pos = si[ar + L.AR_POS]
            if pos < si[ar + L.AR_LEN]:
                t = arr_t[si[ar + L.AR_OFF] + pos]
                if t > now:
                    H.push_open(si, oht, ohk, ohc, now + (t - now), o)
                    si[L.CONT_OPEN] = -1


@contextmanager
def no_wraparound() -> Iterator[None]:
    """While numba compiles in this block, index arrays as C does: a negative index is
    not counted from the end. Compile :func:`run` (its first call) inside it; numba's
    cache then keeps that code. Without the numba function it patches, nothing changes."""
    try:
        from numba.core import types
        from numba.np import arrayobj
    except ImportError:  # pragma: no cover - another numba
        yield
        return
    original = getattr(arrayobj, "fix_integer_index", None)
    if original is None:  # pragma: no cover - another numba
        yield
        return

    def fix_integer_index(context: Any, builder: Any, idxty: Any, idx: Any, size: Any) -> Any:
        if getattr(idxty, "signed", False):
            return context.cast(builder, idx, idxty, types.intp)
        return original(context, builder, idxty, idx, size)

    arrayobj.fix_integer_index = fix_integer_index
    try:
        yield
    finally:
        arrayobj.fix_integer_index = original


def _stamp() -> None:
    """Make numba's cache of :func:`run` depend on every file whose code it inlines."""
    digest = hashlib.sha256()
    for module in (L, H, P, K, oc):
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(Path(__file__).read_bytes())
    cache_file = getattr(getattr(run, "_cache", None), "_cache_file", None)
    if cache_file is not None and hasattr(cache_file, "_source_stamp"):
        cache_file._source_stamp = digest.digest()


_stamp()
