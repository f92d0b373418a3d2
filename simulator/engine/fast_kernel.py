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
def pick_route(ti, tf, si, rb, c):  # type: ignore[no-untyped-def]
    """``ReferenceEngine._pick_route``: bisect_right of a U(0,1) in the cumulative weights."""
    ci = ti[L.T_O_CLI] + L.N_CI * c
    n = ti[ci + L.CI_NROUTES]
    routes = ti[L.T_O_CROUTES] + ti[L.T_NR] * c
    if n == 1:
        return ti[routes]
    u = draw(ti, tf, si, rb, ti[ci + L.CI_SROUTE])
    cum = ti[L.T_O_CCUM] + ti[L.T_NR] * c
    i = 0
    while i < n - 1 and not tf[cum + i] > u:
        i += 1
    return ti[routes + i]


@njit(inline="always")
def tally(ti, tf, si, sf, tsi, tsf, c, route, fidx, flags, now, cause, gateway_cause, latency, gateway_latency,
          integ, init, run_s):  # type: ignore[no-untyped-def]
    """Count one attempt in the bounded-memory aggregates."""
    status = ti[L.T_O_STATUS]
    si[ti[L.T_O_GATT] + NCAUSE * c + cause] += 1
    si[ti[L.T_O_AHIST] + L.HIST_BINS * c + hist_bin(latency)] += 1
    gl = ti[L.T_O_GLAT] + L.N_GLAT * c
    sf[gl + L.G_LAT_ATT_SUM] += latency
    sf[gl + L.G_LAT_ATT_MAX] = max(sf[gl + L.G_LAT_ATT_MAX], latency)
    b = int(now)
    tsi[L.TS_COUNT, b] += 1
    gs = ti[status + gateway_cause]
    if gs >= 500:
        tsi[L.TS_5XX, b] += 1
    elif gs >= 400:
        tsi[L.TS_4XX, b] += 1
    tsf[L.TS_LAT_MS, b] += gateway_latency * 1000.0
    nf = ti[L.T_NF]
    nc = ti[L.T_NC]
    fr = ti[ti[L.T_O_ROUTE_FN] + route]
    g = gateway_cause
    cell = ti[L.T_O_CUBE] + (fr * nc + c) * NCAUSE + g
    step = nf * nc * NCAUSE
    sf[cell + L.CUBE_COUNT * step] += 1.0
    if g == oc.OK or g > oc.THROTTLED_ACCOUNT:
        si[ti[L.T_O_GGW] + (route * nc + c) * NCAUSE + g] += 1
    if g == oc.OK:
        sf[cell + L.CUBE_TRANSFER * step] += tf[ti[L.T_O_FUNF] + L.N_FF * fr + L.FF_RESP]
    if fidx < 0:
        return
    tsi[L.TS_INTEG_N, b] += 1
    tsf[L.TS_INTEG_MS, b] += integ * 1000.0
    fn = ti[L.T_O_GFN] + L.N_FN * fidx
    row = L.N_TS + L.N_TSF * fidx
    if g == oc.LAMBDA_THROTTLED or g == oc.LAMBDA_RATE_THROTTLED:
        si[fn + L.FN_THR] += 1
        tsi[row + L.TF_THR, b] += 1
        return
    si[fn + L.FN_INV] += 1
    tsi[row + L.TF_INV, b] += 1
    if flags & L.COLD:
        si[fn + L.FN_COLD] += 1
    if g == oc.FUNCTION_ERROR or g == oc.FUNCTION_TIMEOUT:
        si[fn + L.FN_ERR] += 1
    if g == oc.FUNCTION_TIMEOUT:
        si[fn + L.FN_FT] += 1
    sf[cell + L.CUBE_REQUESTS * step] += 1.0
    plain = billed_ms(run_s + 0.0)
    if flags & L.PROVISIONED:
        si[fn + L.FN_PROV] += 1
        sf[cell + L.CUBE_PROV * step] += plain
    else:
        si[fn + L.FN_SPILL] += 1
        tsi[row + L.TF_SPILL, b] += 1
        with_init = plain if init == 0.0 else billed_ms(run_s + init)  # a warm start bills run_s alone
        sf[cell + L.CUBE_OD_INIT * step] += with_init
        sf[cell + L.CUBE_OD_RUN * step] += plain


@njit(inline="always")
def attempt(ti, tf, si, sf, qe, rb, ring, ht, hk, hs, hc, ev, evf, ra_i, ra_f, rc_t, rc_i, tsi, tsf, c, rid, route,
            n, now):  # type: ignore[no-untyped-def]
    """``ReferenceEngine._attempt``: send attempt *n* now; record it; (cause, latency)."""
    cause = admit(ti, tf, si, sf, qe, c, route, now)
    overhead = draw(ti, tf, si, rb, ti[L.T_S_OVER])
    fidx = -1
    flags = 0
    init = 0.0
    run_s = 0.0
    integ = 0.0
    if cause == oc.OK:
        fidx = ti[ti[L.T_O_ROUTE_FN] + route]
        cause, integ, init, run_s, flags = invoke(ti, tf, si, sf, rb, ring, ht, hk, hs, hc, rc_t, rc_i, tsi, fidx,
                                                  tf[ti[L.T_O_ROUTE_TO] + route], now)
    gateway_latency = integ + overhead
    gateway_cause = cause
    latency, cause = client_outcome(gateway_latency, tf[ti[L.T_O_CLIF] + L.N_CF * c + L.CF_TIMEOUT], cause)
    k = si[L.N_ATT]
    si[L.N_ATT] = k + 1
    if ti[L.T_RECORD]:
        status = ti[L.T_O_STATUS]
        ra_i[L.A_REQUEST, k] = rid
        ra_i[L.A_ATTEMPT, k] = n
        ra_i[L.A_CLIENT, k] = c
        ra_i[L.A_ROUTE, k] = route
        ra_i[L.A_FUNCTION, k] = fidx
        ra_i[L.A_STATUS, k] = ti[status + cause]
        ra_i[L.A_CAUSE, k] = cause
        ra_i[L.A_GATEWAY_STATUS, k] = ti[status + gateway_cause]
        ra_i[L.A_GATEWAY_CAUSE, k] = gateway_cause
        ra_i[L.A_FLAGS, k] = flags
        ra_i[L.A_AUTHORIZER_FUNCTION, k] = -1  # no authorizer (scenarios with one run on SimPy)
        ra_i[L.A_AUTHORIZER_CAUSE, k] = -1
        ra_i[L.A_AUTHORIZER_FLAGS, k] = 0
        ra_f[L.A_TIME, k] = now
        ra_f[L.A_LATENCY, k] = latency
        ra_f[L.A_GATEWAY_LATENCY, k] = gateway_latency
        ra_f[L.A_INTEGRATION_LATENCY, k] = integ
        ra_f[L.A_INIT, k] = init
        ra_f[L.A_RUN, k] = run_s
        ra_f[L.A_AUTHORIZER_LATENCY, k] = 0.0
        ra_f[L.A_AUTHORIZER_INIT, k] = 0.0
        ra_f[L.A_AUTHORIZER_RUN, k] = 0.0
    else:
        tally(ti, tf, si, sf, tsi, tsf, c, route, fidx, flags, now, cause, gateway_cause, latency, gateway_latency,
              integ, init, run_s)
    return cause, latency


@njit(inline="always")
def finish(ti, si, sf, rr_i, rr_f, c, rid, end, n, cause, start):  # type: ignore[no-untyped-def]
    """``Recorder.finish_request``."""
    sf[L.END_MAX] = max(sf[L.END_MAX], end)
    if ti[L.T_RECORD]:
        rr_i[L.R_ATTEMPTS, rid] = n
        rr_i[L.R_STATUS, rid] = ti[ti[L.T_O_STATUS] + cause]
        rr_i[L.R_CAUSE, rid] = cause
        rr_f[L.R_END, rid] = end
        return
    si[ti[L.T_O_GREQ] + NCAUSE * c + cause] += 1
    lat = end - start
    si[ti[L.T_O_RHIST] + L.HIST_BINS * c + hist_bin(lat)] += 1
    gl = ti[L.T_O_GLAT] + L.N_GLAT * c
    sf[gl + L.G_LAT_REQ_SUM] += lat
    sf[gl + L.G_LAT_REQ_MAX] = max(sf[gl + L.G_LAT_REQ_MAX], lat)


@njit(inline="always")
def response(ti, tf, si, sf, rb, ht, hk, hs, hc, ev, evf, rr_i, rr_f, c, rid, route, n, cause, user, cost, start,
             now):  # type: ignore[no-untyped-def]
    """``ReferenceEngine._after`` with ``RetryPolicy.next_delay`` and ``finished``."""
    status = ti[ti[L.T_O_STATUS] + cause]
    ci = ti[L.T_O_CLI] + L.N_CI * c
    cf = ti[L.T_O_CLIF] + L.N_CF * c
    retry = n < ti[ci + L.CI_MAXATT] and ti[ti[L.T_O_RETRY_ON] + NCAUSE * c + cause] != 0
    tok = ti[L.T_O_CTOK] + c
    if retry and ti[ci + L.CI_HASQ]:
        need = ti[ci + L.CI_QTCOST] if status == 0 else ti[ci + L.CI_QCOST]
        if si[tok] < need:
            retry = False
        else:
            si[tok] -= need
            cost = need
    if not retry:
        if ti[ci + L.CI_HASQ] and 200 <= status < 300:
            back = ti[ci + L.CI_QINC] if cost < 0 else cost
            tokens = si[tok] + back
            cap = ti[ci + L.CI_QCAP]
            si[tok] = min(cap, tokens)
        finish(ti, si, sf, rr_i, rr_f, c, rid, now, n, cause, start)
        if user >= 0:
            push(si, ht, hk, hs, hc, ev, evf, now, L.NORMAL, L.EV_DONE, user, 0, 0, 0, 0, 0, 0, 0.0)
        return
    if ti[ci + L.CI_RETRY] == 1:
        delay = tf[cf + L.CF_DELAY]
    else:
        ceiling = tf[cf + L.CF_BASE] * 2.0 ** (n - 1)
        cap_s = tf[cf + L.CF_CAP]
        if not ceiling < cap_s:  # min(cap, ceiling)
            ceiling = cap_s
        if ti[ci + L.CI_FULLJIT]:
            delay = draw(ti, tf, si, rb, ti[ci + L.CI_SJIT]) * ceiling
        else:
            delay = ceiling
    push(si, ht, hk, hs, hc, ev, evf, now + delay, L.NORMAL, L.EV_RETRY, c, rid, route, n, cause, user, cost, start)


@njit(inline="always")
def user_wait(ti, tf, si, sf, rb, u, now):  # type: ignore[no-untyped-def]
    """``Waiter.wait``: the sleep of user *u* after a task that ended at *now*."""
    c = ti[ti[L.T_O_UCLIENT] + u]
    cf = ti[L.T_O_CLIF] + L.N_CF * c
    ci = ti[L.T_O_CLI] + L.N_CI * c
    kind = ti[ci + L.CI_WAITKIND]
    if kind == 0:
        return tf[cf + L.CF_WAIT_A]
    if kind == 1:
        return tf[cf + L.CF_WAIT_A] + draw(ti, tf, si, rb, ti[ci + L.CI_SWAIT]) * tf[cf + L.CF_WAIT_B]
    us = ti[L.T_O_USTATE] + 2 * u  # last_run, last_wait
    run_time = now - sf[us] - sf[us + 1]
    x = tf[cf + L.CF_WAIT_A] - run_time
    wait = max(0.0, x)
    sf[us + 1] = wait
    sf[us] = now
    return wait


@njit(inline="always")
def room(ti, si, sf, hk, ra_i, rr_i, rc_t, tsi, t):  # type: ignore[no-untyped-def]
    """DONE if an event at *t* can be handled in full."""
    if si[L.FREE_N] < 4 or si[L.HEAP_N] + 4 > hk.shape[0]:
        return L.NEED_EVENTS
    if t >= sf[L.QEND_MIN]:
        return L.NEED_QUOTA
    if ti[L.T_RECORD]:
        if si[L.N_ATT] + 2 > ra_i.shape[1] or si[L.N_REQ] + 2 > rr_i.shape[1] or si[L.N_CONC] + 2 > rc_t.shape[0]:
            return L.NEED_RECORDS
    elif int(t) >= tsi.shape[1]:
        return L.NEED_BINS
    if si[L.BUDGET] < L.MAX_DRAWS:
        return L.NEED_RANDOM
    return L.DONE
