"""What the compiled loop counts: attempt and request records, concurrency changes, and,
when rows are not kept (``record=False``), the bounded-memory aggregates (counters by
client and cause, latency histograms, per-second series, billing quantities) that
:class:`~simulator.results.aggregate.AggregateResult` reads. The loop's side of
``Recorder``; inlined into the compiled loop.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from simulator import outcomes as oc
from simulator.engine.fast import layout as L
from simulator.engine.fast.layout import (
    ACCT,
    C_BUSY,
    C_FUNCTION,
    END_MAX,
    FN_PEAK,
    FS_BUSY_OD,
    FS_BUSY_PROV,
    HIST_BINS,
    HIST_EMAX,
    HIST_EMIN,
    HIST_SUB,
    N_CONC,
    N_FN,
    N_FS,
    N_TS,
    N_TSF,
    T_O_FSTATE,
    T_O_GFN,
    T_RECORD,
    TF_CONC_LAST,
    TF_CONC_MAX,
    TS_ACCT_LAST,
    TS_ACCT_MAX,
)

__all__ = ["billed_ms", "concurrency", "finish", "float_bits", "hist_bin", "hist_values", "tally"]

NCAUSE = len(oc.CAUSES)
_SUB_SHIFT = 52 - (HIST_SUB.bit_length() - 1)


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
def tally(fixed_i, fixed_f, state_i, state_f, series_i, series_f, c, route, fidx, flags, now, cause, gateway_cause,
          latency, gateway_latency, integ, init, run_s):  # type: ignore[no-untyped-def]
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
def concurrency(fixed_i, state_i, state_f, conc_time, conc_i, series_i, f, now, delta):  # type: ignore[no-untyped-def]
    """Record the function's concurrency after a change (``Recorder.concurrency``)."""
    fs = fixed_i[T_O_FSTATE] + N_FS * f
    busy = state_i[fs + FS_BUSY_OD] + state_i[fs + FS_BUSY_PROV]
    acct = state_i[ACCT] + delta
    state_i[ACCT] = acct
    state_f[END_MAX] = max(state_f[END_MAX], now)
    if fixed_i[T_RECORD]:
        n = state_i[N_CONC]
        conc_time[n] = now
        conc_i[C_FUNCTION, n] = f
        conc_i[C_BUSY, n] = busy
        state_i[N_CONC] = n + 1
        return
    b = int(now)
    row = N_TS + N_TSF * f
    series_i[row + TF_CONC_LAST, b] = busy
    series_i[TS_ACCT_LAST, b] = acct
    if delta < 0:
        # A release lowers the level: the level before it, set earlier in this second or
        # carried into it, already bounds every maximum (see aggregate._level_max).
        return
    peak = fixed_i[T_O_GFN] + N_FN * f + FN_PEAK
    state_i[peak] = max(state_i[peak], busy)
    series_i[row + TF_CONC_MAX, b] = max(series_i[row + TF_CONC_MAX, b], busy)
    series_i[TS_ACCT_MAX, b] = max(series_i[TS_ACCT_MAX, b], acct)


@intrinsic
def float_bits(typingctx, x):  # type: ignore[no-untyped-def]
    """The IEEE-754 bits of a float64, as an int64 (a bit cast: no instruction at all)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@njit(inline="always")
def hist_bin(x):  # type: ignore[no-untyped-def]
    """The histogram bin of a latency of *x* seconds (see ``HIST_*``).

    ``math.frexp``'s exponent and leading mantissa bits, read from the float's bits (an
    out-of-line call less on every attempt): *x* = 0.5 (1 + f) 2**e with e = the biased
    exponent - 1022, and the bin within the power of two is the top bits of f (HIST_SUB
    is a power of two). Subnormal numbers fall in bin 0 either way; the tests check it
    against the frexp formula."""
    if not x > 0.0:
        return 0
    b = float_bits(x)
    e = ((b >> 52) & 0x7FF) - 1022
    if e <= HIST_EMIN:
        return 0
    if e > HIST_EMAX:
        return HIST_BINS - 1
    return 1 + (e - HIST_EMIN - 1) * HIST_SUB + ((b >> _SUB_SHIFT) & (HIST_SUB - 1))

def hist_values() -> np.ndarray:
    """The value (s) each histogram bin stands for: its midpoint (0 for bin 0)."""
    e = np.repeat(np.arange(HIST_EMIN + 1, HIST_EMAX + 1), HIST_SUB).astype(np.float64)
    j = np.tile(np.arange(HIST_SUB), HIST_EMAX - HIST_EMIN).astype(np.float64)
    mid = (0.5 + (j + 0.5) / (2 * HIST_SUB)) * np.exp2(e)
    return np.concatenate([[0.0], mid])
