"""The Lambda integration in the fast engine: :class:`simulator.integrations.LambdaIntegration`
ported to the packed arrays of :mod:`simulator.engine.fast.layout`.

One synchronous invocation at *now*: Lambda's request-rate buckets may refuse it
(``functions.rate_ready``); else the pool places it (``functions.acquire``) or
Lambda throttles it; a placed invocation draws its duration, its init time on a cold
start and its error coin, in that order (the reference's order, so both engines consume
the function's streams alike); its environment's release is scheduled at init plus run;
the shared rules of :mod:`simulator.rules` decide the function's and the integration's
outcome. Inlined into :func:`simulator.engine.fast.attempt.attempt`.
"""

from __future__ import annotations

from numba import njit

from simulator import outcomes as oc
from simulator.engine.fast import layout as L
from simulator.engine.fast.functions import acquire, rate_ready, rate_take
from simulator.engine.fast.heap import push_release
from simulator.engine.fast.rules import function_outcome, integration_outcome
from simulator.engine.fast.streams import draw
from simulator.engine.fast.tallies import concurrency

__all__ = ["invoke"]


@njit(inline="always")
def invoke(fixed_i, fixed_f, state_i, state_f, randoms, idle_envs, heap_time, heap_key, heap_value, heap_created,
           conc_time, conc_i, series_i, f, limit_s, now):  # type: ignore[no-untyped-def]
    """Invoke function *f* at *now* behind an integration timeout of *limit_s*:
    ``(cause, integration latency, init_s, run_s, flags)``."""
    if not rate_ready(fixed_i, fixed_f, state_f, f, now):
        return oc.LAMBDA_RATE_THROTTLED, 0.0, 0.0, 0.0, 0
    got, cold, prov, created = acquire(fixed_i, fixed_f, state_i, state_f, idle_envs, f, now)
    if not got:
        return oc.LAMBDA_THROTTLED, 0.0, 0.0, 0.0, 0
    rate_take(fixed_i, state_f, f)
    concurrency(fixed_i, state_i, state_f, conc_time, conc_i, series_i, f, now, 1)
    fi = fixed_i[L.T_O_FUN] + L.N_FI * f
    ff = fixed_i[L.T_O_FUNF] + L.N_FF * f
    duration = draw(fixed_i, fixed_f, state_i, randoms, fixed_i[fi + L.FI_SDUR])
    init = 0.0
    flags = 0
    if cold:
        init = draw(fixed_i, fixed_f, state_i, randoms, fixed_i[fi + L.FI_SINIT])
        flags |= L.COLD
    if prov:
        flags |= L.PROVISIONED
    failed = draw(fixed_i, fixed_f, state_i, randoms, fixed_i[fi + L.FI_SCOIN]) < fixed_f[ff + L.FF_ERR]
    run_s, cause = function_outcome(duration, fixed_f[ff + L.FF_TIMEOUT], failed)
    busy_for = init + run_s
    push_release(state_i, heap_time, heap_key, heap_value, heap_created, now + busy_for, f, 1 if prov else 0, created)
    integ, cause = integration_outcome(busy_for, limit_s, cause)
    return cause, integ, init, run_s, flags
