"""One attempt in the compiled loop: the reference engine's ``_attempt``. The gateway
admits it or not (:mod:`simulator.engine.fast.gateway`), the gateway's overhead is drawn,
the integration invokes the route's function (:mod:`simulator.engine.fast.lambda_function`),
the client sees the outcome through its own timeout (:mod:`simulator.rules`), and the
attempt is recorded or counted (:mod:`simulator.engine.fast.tallies`). Inlined into
:func:`simulator.engine.fast.loop.run`.
"""

from __future__ import annotations

from numba import njit

from simulator import outcomes as oc
from simulator.engine.fast import layout as L
from simulator.engine.fast.gateway import admit
from simulator.engine.fast.lambda_function import invoke
from simulator.engine.fast.rules import client_outcome
from simulator.engine.fast.streams import draw
from simulator.engine.fast.tallies import tally

__all__ = ["attempt"]


@njit(inline="always")
def attempt(fixed_i, fixed_f, state_i, state_f, quota_ends, randoms, idle_envs, heap_time, heap_key, heap_value,
            heap_created, event_i, event_f, attempt_i, attempt_f, conc_time, conc_i, series_i, series_f, c, rid, route,
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
        cause, integ, init, run_s, flags = invoke(fixed_i, fixed_f, state_i, state_f, randoms, idle_envs, heap_time,
                                                  heap_key, heap_value, heap_created, conc_time, conc_i, series_i, fidx,
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
        tally(fixed_i, fixed_f, state_i, state_f, series_i, series_f, c, route, fidx, flags, now, cause, gateway_cause,
              latency, gateway_latency, integ, init, run_s)
    return cause, latency
