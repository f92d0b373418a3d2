"""Clients in the compiled loop: the route a client picks, what it does with a response
(retry with its policy and retry quota, or finish the request), and a closed user's wait
before its next task: the reference engine's ``_pick_route``, ``_after`` with
:class:`~simulator.traffic.clients.RetryPolicy`, and ``Waiter.wait``, on the packed arrays
of :mod:`simulator.engine.fast.layout`. Inlined into the compiled loop.
"""

from __future__ import annotations

from numba import njit

from simulator import outcomes as oc
from simulator.engine.fast import layout as L
from simulator.engine.fast.heap import push
from simulator.engine.fast.streams import draw
from simulator.engine.fast.tallies import finish

__all__ = ["pick_route", "response", "user_wait"]

NCAUSE = len(oc.CAUSES)


@njit(inline="always")
def pick_route(fixed_i, fixed_f, state_i, randoms, c):  # type: ignore[no-untyped-def]
    """``ReferenceEngine._pick_route``: bisect_right of a U(0,1) in the cumulative weights."""
    ci = fixed_i[L.T_O_CLI] + L.N_CI * c
    n = fixed_i[ci + L.CI_NROUTES]
    routes = fixed_i[L.T_O_CROUTES] + fixed_i[L.T_NR] * c
    if n == 1:
        return fixed_i[routes]
    u = draw(fixed_i, fixed_f, state_i, randoms, fixed_i[ci + L.CI_SROUTE])
    cum = fixed_i[L.T_O_CCUM] + fixed_i[L.T_NR] * c
    i = 0
    while i < n - 1 and not fixed_f[cum + i] > u:
        i += 1
    return fixed_i[routes + i]


@njit(inline="always")
def response(fixed_i, fixed_f, state_i, state_f, randoms, heap_time, heap_key, heap_value, heap_created, event_i,
             event_f, request_i, request_f, c, rid, route, n, cause, user, cost, start, now):  # type: ignore[no-untyped-def]
    """``ReferenceEngine._after`` with ``RetryPolicy.next_delay`` and ``finished``."""
    status = fixed_i[fixed_i[L.T_O_STATUS] + cause]
    ci = fixed_i[L.T_O_CLI] + L.N_CI * c
    cf = fixed_i[L.T_O_CLIF] + L.N_CF * c
    retry = n < fixed_i[ci + L.CI_MAXATT] and fixed_i[fixed_i[L.T_O_RETRY_ON] + NCAUSE * c + cause] != 0
    tok = fixed_i[L.T_O_CTOK] + c
    if retry and fixed_i[ci + L.CI_HASQ]:
        need = fixed_i[ci + L.CI_QTCOST] if status == 0 else fixed_i[ci + L.CI_QCOST]
        if state_i[tok] < need:
            retry = False
        else:
            state_i[tok] -= need
            cost = need
    if not retry:
        if fixed_i[ci + L.CI_HASQ] and 200 <= status < 300:
            back = fixed_i[ci + L.CI_QINC] if cost < 0 else cost
            tokens = state_i[tok] + back
            cap = fixed_i[ci + L.CI_QCAP]
            state_i[tok] = min(cap, tokens)
        finish(fixed_i, state_i, state_f, request_i, request_f, c, rid, now, n, cause, start)
        if user >= 0:
            push(state_i, heap_time, heap_key, heap_value, heap_created, event_i, event_f, now, L.NORMAL, L.EV_DONE,
                 user, 0, 0, 0, 0, 0, 0, 0.0)
        return
    if fixed_i[ci + L.CI_RETRY] == 1:
        delay = fixed_f[cf + L.CF_DELAY]
    else:
        ceiling = fixed_f[cf + L.CF_BASE] * 2.0 ** (n - 1)
        cap_s = fixed_f[cf + L.CF_CAP]
        if not ceiling < cap_s:  # min(cap, ceiling)
            ceiling = cap_s
        if fixed_i[ci + L.CI_FULLJIT]:
            delay = draw(fixed_i, fixed_f, state_i, randoms, fixed_i[ci + L.CI_SJIT]) * ceiling
        else:
            delay = ceiling
    push(state_i, heap_time, heap_key, heap_value, heap_created, event_i, event_f, now + delay, L.NORMAL, L.EV_RETRY, c,
         rid, route, n, cause, user, cost, start)


@njit(inline="always")
def user_wait(fixed_i, fixed_f, state_i, state_f, randoms, u, now):  # type: ignore[no-untyped-def]
    """``Waiter.wait``: the sleep of user *u* after a task that ended at *now*."""
    c = fixed_i[fixed_i[L.T_O_UCLIENT] + u]
    cf = fixed_i[L.T_O_CLIF] + L.N_CF * c
    ci = fixed_i[L.T_O_CLI] + L.N_CI * c
    kind = fixed_i[ci + L.CI_WAITKIND]
    if kind == 0:
        return fixed_f[cf + L.CF_WAIT_A]
    if kind == 1:
        u01 = draw(fixed_i, fixed_f, state_i, randoms, fixed_i[ci + L.CI_SWAIT])
        return fixed_f[cf + L.CF_WAIT_A] + u01 * fixed_f[cf + L.CF_WAIT_B]
    us = fixed_i[L.T_O_USTATE] + 2 * u  # last_run, last_wait
    run_time = now - state_f[us] - state_f[us + 1]
    x = fixed_f[cf + L.CF_WAIT_A] - run_time
    wait = max(0.0, x)
    state_f[us + 1] = wait
    state_f[us] = now
    return wait
