"""The attempt, the response and the checks of the fast engine's compiled loop.

These functions are the reference engine's ``_attempt``, ``_send``/``_after`` (with
:class:`~simulator.traffic.clients.RetryPolicy`), ``Waiter.wait`` and ``Recorder`` ported to the
packed arrays of :mod:`simulator.engine.fast_layout`. Like the building blocks of
:mod:`simulator.engine.fast_parts`, they are inlined into :func:`simulator.engine.fast_loop.run`,
each at one call site.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simulator import outcomes as oc
from simulator.engine import fast_layout as L
from simulator.engine.fast_heap import push
from simulator.engine.fast_lambda import invoke
from simulator.engine.fast_parts import admit, client_outcome, draw, hist_bin

__all__ = ["attempt", "finish", "pick_route", "response", "room", "user_wait"]

NCAUSE = len(oc.CAUSES)


@njit(inline="always")
def billed_ms(seconds):  # type: ignore[no-untyped-def]
    """:func:`simulator.cost.metering.lambda_billed_ms` of one duration in seconds.

    That is ``ceil(rint(ms * 1e6) / 1e6)``. Below 2**52 nanoseconds (52 days) the
    quotient is under 2**33, where a double's spacing is under 1e-6: a quotient that is
    not a whole number stays more than half a spacing away from one, so its ceiling is
    the integers' ceiling division, which needs no floating-point division."""
    r = np.rint(seconds * 1000.0 * 1e6)
    if r < 4503599627370496.0:  # 2**52
        return float((np.int64(r) + 999_999) // 1_000_000)
    return float(math.ceil(r / 1e6))


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
def tally(fixed_i, fixed_f, state_i, state_f, series_i, series_f, c, route, fidx, flags, now, cause, gateway_cause, latency, gateway_latency,
          integ, init, run_s):  # type: ignore[no-untyped-def]
    """Count one attempt in the bounded-memory aggregates."""
    status = fixed_i[L.T_O_STATUS]
    state_i[fixed_i[L.T_O_GATT] + NCAUSE * c + cause] += 1
    state_i[fixed_i[L.T_O_AHIST] + L.HIST_BINS * c + hist_bin(latency)] += 1
    gl = fixed_i[L.T_O_GLAT] + L.N_GLAT * c
    state_f[gl + L.G_LAT_ATT_SUM] += latency
    state_f[gl + L.G_LAT_ATT_MAX] = max(state_f[gl + L.G_LAT_ATT_MAX], latency)
    b = int(now)
    series_i[L.TS_COUNT, b] += 1
    gs = fixed_i[status + gateway_cause]
    if gs >= 500:
        series_i[L.TS_5XX, b] += 1
    elif gs >= 400:
        series_i[L.TS_4XX, b] += 1
    series_f[L.TS_LAT_MS, b] += gateway_latency * 1000.0
    nf = fixed_i[L.T_NF]
    nc = fixed_i[L.T_NC]
    fr = fixed_i[fixed_i[L.T_O_ROUTE_FN] + route]
    g = gateway_cause
    cell = fixed_i[L.T_O_CUBE] + (fr * nc + c) * NCAUSE + g
    step = nf * nc * NCAUSE
    state_f[cell + L.CUBE_COUNT * step] += 1.0
    if g == oc.OK or g > oc.THROTTLED_ACCOUNT:
        state_i[fixed_i[L.T_O_GGW] + (route * nc + c) * NCAUSE + g] += 1
    if g == oc.OK:
        state_f[cell + L.CUBE_TRANSFER * step] += fixed_f[fixed_i[L.T_O_FUNF] + L.N_FF * fr + L.FF_RESP]
    if fidx < 0:
        return
    series_i[L.TS_INTEG_N, b] += 1
    series_f[L.TS_INTEG_MS, b] += integ * 1000.0
    fn = fixed_i[L.T_O_GFN] + L.N_FN * fidx
    row = L.N_TS + L.N_TSF * fidx
    if g == oc.LAMBDA_THROTTLED or g == oc.LAMBDA_RATE_THROTTLED:
        state_i[fn + L.FN_THR] += 1
        series_i[row + L.TF_THR, b] += 1
        return
    state_i[fn + L.FN_INV] += 1
    series_i[row + L.TF_INV, b] += 1
    if flags & L.COLD:
        state_i[fn + L.FN_COLD] += 1
    if g == oc.FUNCTION_ERROR or g == oc.FUNCTION_TIMEOUT:
        state_i[fn + L.FN_ERR] += 1
    if g == oc.FUNCTION_TIMEOUT:
        state_i[fn + L.FN_FT] += 1
    state_f[cell + L.CUBE_REQUESTS * step] += 1.0
    plain = billed_ms(run_s + 0.0)
    if flags & L.PROVISIONED:
        state_i[fn + L.FN_PROV] += 1
        state_f[cell + L.CUBE_PROV * step] += plain
    else:
        state_i[fn + L.FN_SPILL] += 1
        series_i[row + L.TF_SPILL, b] += 1
        with_init = plain if init == 0.0 else billed_ms(run_s + init)  # a warm start bills run_s alone
        state_f[cell + L.CUBE_OD_INIT * step] += with_init
        state_f[cell + L.CUBE_OD_RUN * step] += plain


@njit(inline="always")
def attempt(fixed_i, fixed_f, state_i, state_f, quota_ends, randoms, idle_envs, heap_time, heap_key, heap_value, heap_created, event_i, event_f, attempt_i, attempt_f, conc_time, conc_i, series_i, series_f, c, rid, route,
            n, now):  # type: ignore[no-untyped-def]
    """``ReferenceEngine._attempt``: send attempt *n* now; record it; (cause, latency)."""
    cause = admit(fixed_i, fixed_f, state_i, state_f, quota_ends, c, route, now)
    overhead = draw(fixed_i, fixed_f, state_i, randoms, fixed_i[L.T_S_OVER])
    fidx = -1
    flags = 0
    init = 0.0
    run_s = 0.0
    integ = 0.0
    if cause == oc.OK:
        fidx = fixed_i[fixed_i[L.T_O_ROUTE_FN] + route]
        cause, integ, init, run_s, flags = invoke(fixed_i, fixed_f, state_i, state_f, randoms, idle_envs, heap_time, heap_key, heap_value, heap_created, conc_time, conc_i, series_i, fidx,
                                                  fixed_f[fixed_i[L.T_O_ROUTE_TO] + route], now)
    gateway_latency = integ + overhead
    gateway_cause = cause
    latency, cause = client_outcome(gateway_latency, fixed_f[fixed_i[L.T_O_CLIF] + L.N_CF * c + L.CF_TIMEOUT], cause)
    k = state_i[L.N_ATT]
    state_i[L.N_ATT] = k + 1
    if fixed_i[L.T_RECORD]:
        status = fixed_i[L.T_O_STATUS]
        attempt_i[L.A_REQUEST, k] = rid
        attempt_i[L.A_ATTEMPT, k] = n
        attempt_i[L.A_CLIENT, k] = c
        attempt_i[L.A_ROUTE, k] = route
        attempt_i[L.A_FUNCTION, k] = fidx
        attempt_i[L.A_STATUS, k] = fixed_i[status + cause]
        attempt_i[L.A_CAUSE, k] = cause
        attempt_i[L.A_GATEWAY_STATUS, k] = fixed_i[status + gateway_cause]
        attempt_i[L.A_GATEWAY_CAUSE, k] = gateway_cause
        attempt_i[L.A_FLAGS, k] = flags
        attempt_i[L.A_AUTHORIZER_FUNCTION, k] = -1  # no authorizer (scenarios with one run on SimPy)
        attempt_i[L.A_AUTHORIZER_CAUSE, k] = -1
        attempt_i[L.A_AUTHORIZER_FLAGS, k] = 0
        attempt_f[L.A_TIME, k] = now
        attempt_f[L.A_LATENCY, k] = latency
        attempt_f[L.A_GATEWAY_LATENCY, k] = gateway_latency
        attempt_f[L.A_INTEGRATION_LATENCY, k] = integ
        attempt_f[L.A_INIT, k] = init
        attempt_f[L.A_RUN, k] = run_s
        attempt_f[L.A_AUTHORIZER_LATENCY, k] = 0.0
        attempt_f[L.A_AUTHORIZER_INIT, k] = 0.0
        attempt_f[L.A_AUTHORIZER_RUN, k] = 0.0
    else:
        tally(fixed_i, fixed_f, state_i, state_f, series_i, series_f, c, route, fidx, flags, now, cause, gateway_cause, latency, gateway_latency,
              integ, init, run_s)
    return cause, latency


@njit(inline="always")
def finish(fixed_i, state_i, state_f, request_i, request_f, c, rid, end, n, cause, start):  # type: ignore[no-untyped-def]
    """``Recorder.finish_request``."""
    state_f[L.END_MAX] = max(state_f[L.END_MAX], end)
    if fixed_i[L.T_RECORD]:
        request_i[L.R_ATTEMPTS, rid] = n
        request_i[L.R_STATUS, rid] = fixed_i[fixed_i[L.T_O_STATUS] + cause]
        request_i[L.R_CAUSE, rid] = cause
        request_f[L.R_END, rid] = end
        return
    state_i[fixed_i[L.T_O_GREQ] + NCAUSE * c + cause] += 1
    lat = end - start
    state_i[fixed_i[L.T_O_RHIST] + L.HIST_BINS * c + hist_bin(lat)] += 1
    gl = fixed_i[L.T_O_GLAT] + L.N_GLAT * c
    state_f[gl + L.G_LAT_REQ_SUM] += lat
    state_f[gl + L.G_LAT_REQ_MAX] = max(state_f[gl + L.G_LAT_REQ_MAX], lat)


@njit(inline="always")
def response(fixed_i, fixed_f, state_i, state_f, randoms, heap_time, heap_key, heap_value, heap_created, event_i, event_f, request_i, request_f, c, rid, route, n, cause, user, cost, start,
             now):  # type: ignore[no-untyped-def]
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
            push(state_i, heap_time, heap_key, heap_value, heap_created, event_i, event_f, now, L.NORMAL, L.EV_DONE, user, 0, 0, 0, 0, 0, 0, 0.0)
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
    push(state_i, heap_time, heap_key, heap_value, heap_created, event_i, event_f, now + delay, L.NORMAL, L.EV_RETRY, c, rid, route, n, cause, user, cost, start)


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
        return fixed_f[cf + L.CF_WAIT_A] + draw(fixed_i, fixed_f, state_i, randoms, fixed_i[ci + L.CI_SWAIT]) * fixed_f[cf + L.CF_WAIT_B]
    us = fixed_i[L.T_O_USTATE] + 2 * u  # last_run, last_wait
    run_time = now - state_f[us] - state_f[us + 1]
    x = fixed_f[cf + L.CF_WAIT_A] - run_time
    wait = max(0.0, x)
    state_f[us + 1] = wait
    state_f[us] = now
    return wait


@njit(inline="always")
def room(fixed_i, state_i, state_f, heap_key, attempt_i, request_i, conc_time, series_i, t):  # type: ignore[no-untyped-def]
    """DONE if an event at *t* can be handled in full."""
    if state_i[L.FREE_N] < 4 or state_i[L.HEAP_N] + 4 > heap_key.shape[0]:
        return L.NEED_EVENTS
    if t >= state_f[L.QEND_MIN]:
        return L.NEED_QUOTA
    if fixed_i[L.T_RECORD]:
        if state_i[L.N_ATT] + 2 > attempt_i.shape[1] or state_i[L.N_REQ] + 2 > request_i.shape[1] or state_i[L.N_CONC] + 2 > conc_time.shape[0]:
            return L.NEED_RECORDS
    elif int(t) >= series_i.shape[1]:
        return L.NEED_BINS
    if state_i[L.BUDGET] < L.MAX_DRAWS:
        return L.NEED_RANDOM
    return L.DONE
