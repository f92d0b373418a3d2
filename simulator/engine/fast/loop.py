"""The fast engine's compiled loop: one function, resumable at any event boundary.

:func:`run` is the only compiled function; everything it calls is inlined into it
(numba-IR inlining, ``inline="always"``), so the arrays it works on are never passed
field by field from call to call. Each turn of the loop finds the next attempt
to send (an open client's next arrival, a retry, a closed user's next task) while
handling the events that send none (releases, responses, wake-ups), then sends it at a
single place.

Before it pops an event, :func:`room` checks that the event
can be handled in full; if not, :func:`run` returns a ``NEED_*`` code with the event
still queued, Python provides what is missing, and :func:`run` resumes. An open
client's arrival loop can stop between two arrivals of the same instant;
``state_i[CONT_OPEN]`` says where to pick it up.

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
from simulator.engine.fast import attempt, clients, functions, gateway, heap, lambda_function, rules, streams, tallies
from simulator.engine.fast import heap as H
from simulator.engine.fast import layout as L
from simulator.engine.fast.attempt import attempt as send_attempt
from simulator.engine.fast.clients import pick_route, response, user_wait
from simulator.engine.fast.functions import release
from simulator.engine.fast.tallies import concurrency, finish

__all__ = ["no_wraparound", "run"]


# nogil: simulations may run side by side in threads of one process.
@njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]  # no reference counting: it allocates nothing
def run(tables, supplies, queue, records):  # type: ignore[no-untyped-def]
    """Process events until the heap is empty (DONE) or something runs out (NEED_*).

    The arguments are :class:`~simulator.engine.fast.layout.Tables`, ``Supplies``,
    ``Queue`` and ``Records``; their arrays are read once, by name, into locals."""
    fixed_i, fixed_f, state_i, state_f = tables.fixed_i, tables.fixed_f, tables.state_i, tables.state_f
    quota_ends, randoms, idle_envs = supplies.quota_ends, supplies.randoms, supplies.idle_envs
    arrival_time, arrival_route = supplies.arrival_time, supplies.arrival_route
    heap_time, heap_bits, heap_key = queue.heap_time, queue.heap_bits, queue.heap_key
    heap_value, heap_created, event_i, event_f = queue.heap_value, queue.heap_created, queue.event_i, queue.event_f
    open_time, open_bits, open_key, open_client = queue.open_time, queue.open_bits, queue.open_key, queue.open_client
    attempt_i, attempt_f = records.attempt_i, records.attempt_f
    request_i, request_f = records.request_i, records.request_f
    conc_time, conc_i, series_i, series_f = records.conc_time, records.conc_i, records.series_i, records.series_f
    while True:
        # ---------------------------------------------------- the next attempt to send
        user = -1
        new = True
        rid = 0
        n = 1
        start = 0.0
        cost = -1
        from_heap = False
        c = state_i[L.CONT_OPEN]
        if c >= 0:
            # An open client's loop: ``if t > env.now: yield timeout(t - env.now)``.
            now = state_f[L.NOW]
            ar = fixed_i[L.T_O_ARR] + L.N_AR * c
            pos = state_i[ar + L.AR_POS]
            if pos >= state_i[ar + L.AR_LEN]:
                if state_i[ar + L.AR_MORE]:
                    state_i[L.NEED] = c
                    return L.NEED_ARRIVALS
                state_i[L.EID] += 1  # the process ends: SimPy schedules its Process event
                state_i[L.CONT_OPEN] = -1
                continue
            code = room(fixed_i, state_i, state_f, heap_key, attempt_i, request_i, conc_time, series_i, now)
            if code != L.DONE:
                return code
            k = state_i[ar + L.AR_OFF] + pos
            t = arrival_time[k]
            if t > now:
                H.push_open(state_i, open_time, open_key, open_client, now + (t - now), c)
                state_i[L.CONT_OPEN] = -1
                continue
            route = arrival_route[k]
            if route < 0:
                route = pick_route(fixed_i, fixed_f, state_i, randoms, c)
            state_i[ar + L.AR_POS] = pos + 1
        else:
            # The first event in SimPy's order: the top of the main heap or of the open
            # clients' heap (times compared as their bits, as the heaps do).
            nh = state_i[L.HEAP_N]
            if state_i[L.OHEAP_N] > 0 and (nh == 0 or open_bits[0] < heap_bits[0]
                                           or (open_bits[0] == heap_bits[0] and open_key[0] < heap_key[0])):
                now = open_time[0]
                c = open_client[0]
                code = room(fixed_i, state_i, state_f, heap_key, attempt_i, request_i, conc_time, series_i, now)
                if code != L.DONE:
                    return code
                no = state_i[L.OHEAP_N] - 1
                state_i[L.OHEAP_N] = no
                H.pop_bits(open_bits, open_key, open_client, None, no)
                state_f[L.NOW] = now
                # The timeout fired: send the arrival it waited for, then go on looping.
                ar = fixed_i[L.T_O_ARR] + L.N_AR * c
                pos = state_i[ar + L.AR_POS]
                route = arrival_route[state_i[ar + L.AR_OFF] + pos]
                if route < 0:
                    route = pick_route(fixed_i, fixed_f, state_i, randoms, c)
                state_i[ar + L.AR_POS] = pos + 1
                state_i[L.CONT_OPEN] = c
            elif nh == 0:
                return L.DONE
            else:
                from_heap = True
        if from_heap:
            now = heap_time[0]
            slot = heap_value[0]
            code = room(fixed_i, state_i, state_f, heap_key, attempt_i, request_i, conc_time, series_i, now)
            if code != L.DONE:
                return code
            nh = state_i[L.HEAP_N] - 1
            state_i[L.HEAP_N] = nh
            if slot < 0:
                # An environment's release (heap.push_release).
                created = heap_created[0]
                H.pop_bits(heap_bits, heap_key, heap_value, heap_created, nh)
                state_f[L.NOW] = now
                f = (-1 - slot) >> 1
                release(fixed_i, fixed_f, state_i, state_f, randoms, idle_envs, f, ((-1 - slot) & 1) != 0, created, now)
                concurrency(fixed_i, state_i, state_f, conc_time, conc_i, series_i, f, now, -1)
                continue
            typ = event_i[slot, L.E_TYPE]
            a = event_i[slot, L.E_A]
            c = a
            H.pop_bits(heap_bits, heap_key, heap_value, heap_created, nh)
            state_f[L.NOW] = now
            rid = event_i[slot, L.E_RID]
            route = event_i[slot, L.E_ROUTE]
            n = event_i[slot, L.E_N]
            cause = event_i[slot, L.E_CAUSE]
            user = event_i[slot, L.E_USER]
            cost = event_i[slot, L.E_COST]
            start = event_f[slot, L.E_START]
            H.free_slot(state_i, event_i, slot)
            if typ == L.EV_RESPONSE:
                response(fixed_i, fixed_f, state_i, state_f, randoms, heap_time, heap_key, heap_value, heap_created,
                         event_i, event_f, request_i, request_f, a, rid, route, n, cause, user, cost, start, now)
                continue
            if typ == L.EV_DONE_SIGNAL:
                H.push(state_i, heap_time, heap_key, heap_value, heap_created, event_i, event_f, now, L.NORMAL,
                       L.EV_DONE, a, 0, 0, 0, 0, 0, 0, 0.0)
                continue
            if typ == L.EV_RETRY:
                new = False
                n += 1
            else:
                # A process: a closed user (or an open client's start).
                u = a
                if typ == L.EV_INIT:
                    p = fixed_i[L.T_O_PROC] + 2 * a
                    if fixed_i[p] == 0:
                        state_i[L.CONT_OPEN] = fixed_i[p + 1]
                        continue
                    u = fixed_i[p + 1]
                    spawn = fixed_f[fixed_i[L.T_O_USPAWN] + u]
                    if spawn > 0:
                        H.push(state_i, heap_time, heap_key, heap_value, heap_created, event_i, event_f, now + spawn,
                               L.NORMAL, L.EV_USER_SPAWN, u, 0, 0, 0, 0, 0, 0, 0.0)
                        continue
                if typ == L.EV_INIT or typ == L.EV_USER_SPAWN:
                    us = fixed_i[L.T_O_USTATE] + 2 * u
                    state_f[us] = now
                    state_f[us + 1] = 0.0
                elif typ == L.EV_DONE:
                    wait = user_wait(fixed_i, fixed_f, state_i, state_f, randoms, u, now)
                    if wait > 0:
                        H.push(state_i, heap_time, heap_key, heap_value, heap_created, event_i, event_f, now + wait,
                               L.NORMAL, L.EV_USER_WAKE, u, 0, 0, 0, 0, 0, 0, 0.0)
                        continue
                # The top of the user's ``while env.now < end`` loop.
                if not now < fixed_f[L.TF_DURATION]:
                    state_i[L.EID] += 1  # the process ends
                    continue
                c = fixed_i[fixed_i[L.T_O_UCLIENT] + u]
                route = pick_route(fixed_i, fixed_f, state_i, randoms, c)
                user = u
        # ---------------------------------------------------- send it
        if new:
            rid = state_i[L.N_REQ]  # ``Recorder.new_request``
            state_i[L.N_REQ] = rid + 1
            n = 1
            start = now
            cost = -1
            if fixed_i[L.T_RECORD]:
                request_i[L.R_CLIENT, rid] = c
                request_i[L.R_ROUTE, rid] = route
                request_i[L.R_ATTEMPTS, rid] = 0
                request_i[L.R_STATUS, rid] = -1
                request_i[L.R_CAUSE, rid] = -1
                request_f[L.R_TIME, rid] = now
                request_f[L.R_END, rid] = np.nan
        cause, latency = send_attempt(fixed_i, fixed_f, state_i, state_f, quota_ends, randoms, idle_envs, heap_time,
                                      heap_key, heap_value, heap_created, event_i, event_f, attempt_i, attempt_f,
                                      conc_time, conc_i, series_i, series_f, c, rid, route, n, now)
        if fixed_i[fixed_i[L.T_O_CLI] + L.N_CI * c + L.CI_RETRY] != 0:
            H.push(state_i, heap_time, heap_key, heap_value, heap_created, event_i, event_f, now + latency, L.NORMAL,
                   L.EV_RESPONSE, c, rid, route, n, cause, user, cost, start)
        else:
            finish(fixed_i, state_i, state_f, request_i, request_f, c, rid, now + latency, n, cause, start)
            if user >= 0:
                H.push(state_i, heap_time, heap_key, heap_value, heap_created, event_i, event_f, now + latency,
                       L.NORMAL, L.EV_DONE_SIGNAL, user, 0, 0, 0, 0, 0, 0, 0.0)
        o = state_i[L.CONT_OPEN]
        if o >= 0:
            # The open client's loop goes on at once (nothing else is scheduled in
            # between): if its next arrival is not due, its timeout is scheduled now.
            ar = fixed_i[L.T_O_ARR] + L.N_AR * o
            pos = state_i[ar + L.AR_POS]
            if pos < state_i[ar + L.AR_LEN]:
                t = arrival_time[state_i[ar + L.AR_OFF] + pos]
                if t > now:
                    H.push_open(state_i, open_time, open_key, open_client, now + (t - now), o)
                    state_i[L.CONT_OPEN] = -1


@njit(inline="always")
def room(fixed_i, state_i, state_f, heap_key, attempt_i, request_i, conc_time, series_i, t):  # type: ignore[no-untyped-def]
    """DONE if an event at *t* can be handled in full."""
    if state_i[L.FREE_N] < 4 or state_i[L.HEAP_N] + 4 > heap_key.shape[0]:
        return L.NEED_EVENTS
    if t >= state_f[L.QEND_MIN]:
        return L.NEED_QUOTA
    if fixed_i[L.T_RECORD]:
        if (state_i[L.N_ATT] + 2 > attempt_i.shape[1] or state_i[L.N_REQ] + 2 > request_i.shape[1]
                or state_i[L.N_CONC] + 2 > conc_time.shape[0]):
            return L.NEED_RECORDS
    elif int(t) >= series_i.shape[1]:
        return L.NEED_BINS
    if state_i[L.BUDGET] < L.MAX_DRAWS:
        return L.NEED_RANDOM
    return L.DONE


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
    for module in (L, H, attempt, clients, functions, gateway, heap, lambda_function, rules, streams, tallies, oc):
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(Path(__file__).read_bytes())
    cache_file = getattr(getattr(run, "_cache", None), "_cache_file", None)
    if cache_file is not None and hasattr(cache_file, "_source_stamp"):
        cache_file._source_stamp = digest.digest()


_stamp()
