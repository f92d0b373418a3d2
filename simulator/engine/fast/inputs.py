"""What the fast engine starts from: the run's resolved description
(:mod:`simulator.engine.resolved`) packed into arrays, and the open clients' arrival times
(their buffers, and the random streams, are :mod:`simulator.engine.fast.streams`).

**Open arrivals.** :func:`open_times` is :func:`simulator.traffic.arrivals.open_arrival_times`
with the inverse of the cumulative rate compiled (the same operations on the same values,
without NumPy's temporaries). Above :data:`STREAM_ABOVE` expected arrivals per client,
the times are produced in chunks (:func:`arrival_chunks`) with the same arithmetic, so a
one-hour run at 10,000 requests per second never holds its 36 million arrival times at
once. The chunks
equal the one-shot array provided the unit-rate levels map to nondecreasing times (they
do: the inverse of the cumulative rate is increasing) and no chunk boundary falls
between two arrivals at the very same instant.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from numba import njit

from simulator.dists import Distribution, Uniform
from simulator.engine.fast.layout import LEVEL_BUCKET, LEVEL_QUOTA, MAX_CHAIN, MAX_RATE
from simulator.engine.fast.streams import Arrivals, Maker, Streams
from simulator.engine.resolved import Resolved, resolve
from simulator.gateway.buckets import TokenBucket
from simulator.gateway.quota import QuotaCounter
from simulator.outcomes import CAUSES
from simulator.scenario import ClosedArrivals, OpenArrivals, ReplayArrivals, Scenario
from simulator.traffic.arrivals import cumulative_rate, rate_profile

__all__ = ["STREAM_ABOVE", "arrival_chunks", "flatten", "open_times"]

#: Open clients expecting more arrivals than this get them in chunks.
STREAM_ABOVE = 1 << 21
#: Arrivals per chunk (a multiple of the 4,096 unit-rate levels drawn at a time).
CHUNK = 1 << 18
_LEVEL_BLOCK = 4096

# --------------------------------------------------------------------------- arrivals


def _time_chunks(spec: OpenArrivals, ts: np.ndarray, rs: np.ndarray, cum: np.ndarray, duration_s: float,
                 rng: np.random.Generator) -> Iterator[tuple[np.ndarray, bool]]:
    """The arrival times before *duration_s* (bursts aside), in chunks of at most ``CHUNK``,
    each with whether it is in nondecreasing order, with simulator.traffic.arrivals' exact
    arithmetic: unit-rate levels, then the inverse of the cumulative rate. Poisson levels
    are drawn in blocks of 4,096 exponentials, as many blocks at a time as the rest of the
    run is expected to need (at most ``CHUNK`` levels): the draws come from NumPy, the sums and the inverse from
    :func:`_poisson_times`, which adds as ``level + np.cumsum(block)`` does."""
    total = float(cum[-1])
    if spec.process != "poisson":
        k = 0.0
        while k < total:
            yield _invert_sorted(np.arange(k, min(k + CHUNK, total), 1.0), ts, rs, cum, duration_s)
            k += CHUNK
        return
    level = 0.0
    most = CHUNK // _LEVEL_BLOCK
    while level < total:
        blocks = min(most, int((total - level) / _LEVEL_BLOCK) + 2)
        times, level, ordered = _poisson_times(rng.exponential(1.0, blocks * _LEVEL_BLOCK), level, total, ts, rs, cum,
                                               duration_s)
        yield times, ordered


@njit(inline="always")
def _invert_one(v, p, ts, rs, cum, last):  # type: ignore[no-untyped-def]
    """``traffic._invert`` of one level *v* (levels come in nondecreasing order; *p* is
    where the search in *cum* stopped for the one before): the time, and the new *p*."""
    while p < len(cum) and cum[p] <= v:  # searchsorted(cum, v, side="right")
        p += 1
    k = min(max(p - 1, 0), last)
    t0 = ts[k]
    r0 = rs[k]
    need = v - cum[k]
    span = ts[k + 1] - t0
    if rs[k + 1] == r0 and span > 0.0 and 1e-150 < r0 < 1e150:
        # A constant rate: slope = +0.0, d = r0 * r0 and sqrt(d) == r0 exactly (binary
        # floating point, no overflow or underflow), so den = 2 * r0 and the quotient
        # below is need / r0 with the same bits, without the slope's division or the
        # square root (they share the divider with the quotient).
        return t0 + need / r0, p
    slope = (rs[k + 1] - r0) / span
    d = r0 * r0 + 2 * slope * need
    if not (d >= 0.0 or math.isnan(d)):  # np.maximum(d, 0.0)
        d = 0.0
    den = r0 + math.sqrt(d)
    return t0 + (2 * need / den if den > 0 else 0.0), p


@njit(cache=True, nogil=True)
def _poisson_times(draws, level, total, ts, rs, cum, duration):  # type: ignore[no-untyped-def]
    """Blocks of :data:`_LEVEL_BLOCK` unit-rate gaps as arrival times: each block's levels
    are ``level + cumsum(block)`` (a running sum, as ``np.cumsum`` adds), those below
    *total* are inverted (:func:`_invert_sorted`'s arithmetic); the level after them, and
    whether the times are in nondecreasing order."""
    out = np.empty(len(draws))
    m = 0
    p = 0
    last = len(ts) - 2
    prev = -math.inf
    ordered = True
    for b in range(len(draws) // _LEVEL_BLOCK):
        if not level < total:
            break
        acc = 0.0
        for j in range(b * _LEVEL_BLOCK, (b + 1) * _LEVEL_BLOCK):
            acc += draws[j]
            v = level + acc
            if not v < total:
                continue
            t, p = _invert_one(v, p, ts, rs, cum, last)
            if t < duration:
                out[m] = t
                m += 1
                if t < prev:
                    ordered = False
                prev = t
        level = level + acc
    return out[:m], level, ordered


@njit(cache=True, nogil=True)
def _invert_sorted(lv, ts, rs, cum, duration):  # type: ignore[no-untyped-def]
    """``traffic._invert`` of nondecreasing levels, keeping the times before *duration*:
    the same operations on the same values, so the same bits, without NumPy's temporaries;
    and whether they are in nondecreasing order."""
    out = np.empty(len(lv))
    m = 0
    p = 0
    last = len(ts) - 2
    prev = -math.inf
    ordered = True
    for i in range(len(lv)):
        v = lv[i]
        t, p = _invert_one(v, p, ts, rs, cum, last)
        if t < duration:
            out[m] = t
            m += 1
            if t < prev:
                ordered = False
            prev = t
    return out[:m], ordered


def _bursts(spec: OpenArrivals) -> list[np.ndarray]:
    return [
        burst.at + burst.over * np.arange(burst.count) / burst.count if burst.over > 0
        else np.full(burst.count, burst.at)
        for burst in spec.bursts
    ]


def open_times(spec: OpenArrivals, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """:func:`~simulator.traffic.arrivals.open_arrival_times`, computed faster with the same result."""
    ts, rs = rate_profile(spec.rate, duration_s)
    _, cum = cumulative_rate(spec.rate, duration_s)
    parts: list[np.ndarray] = []
    ordered = True
    if cum[-1] > 0:
        for times, in_order in _time_chunks(spec, ts, rs, cum, duration_s, rng):
            if len(times):  # every time is before duration_s already
                ordered = ordered and in_order and (not parts or bool(parts[-1][-1] <= times[0]))
                parts.append(times)
    bursts = [b[b < duration_s] for b in _bursts(spec)]
    if not parts and not bursts:
        return np.zeros(0)
    out = np.concatenate(parts + bursts) if len(parts) + len(bursts) != 1 else (parts + bursts)[0]
    if not bursts and ordered:
        return out  # already in order: the stable sort would change nothing
    return np.sort(out, kind="stable")


class ArrivalChunks(Iterator[np.ndarray]):
    """:func:`arrival_chunks` with the most arrivals one chunk can hold (``max_len``)."""

    def __init__(self, spec: OpenArrivals, duration_s: float, rng: np.random.Generator) -> None:
        self.max_len = CHUNK + sum(b.count for b in spec.bursts)
        self._chunks = arrival_chunks(spec, duration_s, rng)

    def __next__(self) -> np.ndarray:
        return next(self._chunks)


def arrival_chunks(spec: OpenArrivals, duration_s: float, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """:func:`~simulator.traffic.arrivals.open_arrival_times` in sorted chunks of at most
    ``CHUNK`` arrivals plus the bursts that fall among them."""
    ts, rs = rate_profile(spec.rate, duration_s)
    _, cum = cumulative_rate(spec.rate, duration_s)
    total = cum[-1]
    bursts = _bursts(spec)
    extra = np.concatenate(bursts) if bursts else np.zeros(0)
    extra = np.sort(extra[extra < duration_s], kind="stable")
    taken = 0
    if total > 0:
        for times, ordered in _time_chunks(spec, ts, rs, cum, duration_s, rng):
            if not len(times):
                continue
            upto = int(np.searchsorted(extra, times[-1], side="right"))
            if upto == taken and ordered:
                yield times  # already in order: the stable sort would change nothing
            else:
                chunk = np.concatenate([times, extra[taken:upto]]) if upto > taken else times
                yield np.sort(chunk, kind="stable")
            taken = upto
    if taken < len(extra):
        yield extra[taken:]


# --------------------------------------------------------------------------- the scenario as arrays


def _i(*shape: int, fill: int = 0) -> np.ndarray:
    return np.full(shape, fill, dtype=np.int64)


def _f(*shape: int, fill: float = 0.0) -> np.ndarray:
    return np.full(shape, fill, dtype=np.float64)


Sources = list[tuple[Distribution, np.random.Generator] | None]


def flatten(s: Scenario, seed: int, maker: Maker | None = None, resolved: Resolved | None = None) -> dict[str, Any]:
    """Every table of the layout (:mod:`simulator.engine.fast.layout`) for *s*, plus the
    random streams, the arrivals, the initial state of buckets and quotas, and the
    processes in the order the reference engine starts them: a packing of the run's
    resolved description (*resolved*, :mod:`simulator.engine.resolved`; made here when not
    given). *maker* makes the streams' and the arrival chunks' next parts
    (:mod:`simulator.engine.fast.streams`)."""
    res = resolved if resolved is not None else resolve(s, seed)
    b = s.behaviour
    out: dict[str, Any] = {"status": np.array(res.status_codes, dtype=np.int64)}
    out.update(_levels(s, res))
    # Streams: 0 overhead; 4 per function; 3 per client.
    sources: Sources = [(b.gateway_overhead.build(), res.stream("gateway", "overhead"))]
    out.update(_functions(s, res, sources))
    out.update(_clients(s, res, sources, maker))
    streams = Streams(sources, expected_draws=expected_attempts(s), maker=maker)
    out.update(s_const=streams.const, s_val=streams.value, streams=streams,
               max_life=b.max_environment_lifetime if b.max_environment_lifetime is not None else math.inf)
    return out


def _levels(s: Scenario, res: Resolved) -> dict[str, Any]:
    """The gateway chains of every (client, route), and every token bucket and quota they and
    the functions use (scaling, request rate), each packed once: levels are shared by identity
    exactly as the resolved chains share them."""
    b = s.behaviour
    C, R, F = len(s.clients), len(s.routes), len(s.functions)
    buckets: list[TokenBucket] = []
    quotas: list[QuotaCounter] = []
    where: dict[int, tuple[int, int]] = {}

    def place(level: Any) -> tuple[int, int]:
        if id(level) not in where:
            if isinstance(level, QuotaCounter):
                where[id(level)] = (LEVEL_QUOTA, len(quotas))
                quotas.append(level)
            elif not isinstance(level, TokenBucket):
                raise NotImplementedError(f"the fast engine has no gateway level {type(level).__name__}")
            else:
                where[id(level)] = (LEVEL_BUCKET, len(buckets))
                buckets.append(level)
        return where[id(level)]

    chain_len = _i(C, R)
    chain_kind, chain_idx, chain_cause = _i(C, R, MAX_CHAIN), _i(C, R, MAX_CHAIN), _i(C, R, MAX_CHAIN)
    for c, client in enumerate(res.clients):
        for r, chain in enumerate(client.chains):
            if chain is None:
                chain_len[c, r] = -1
                continue
            chain_len[c, r] = len(chain)
            for j, (level, cause) in enumerate(chain):
                chain_kind[c, r, j], chain_idx[c, r, j] = place(level)
                chain_cause[c, r, j] = cause
    f_scaling = _i(F)
    shared = TokenBucket(b.account_burst_refill_per_s, b.account_burst)
    for i in range(F):
        per_function = b.scaling_model == "per_function"
        f_scaling[i] = place(TokenBucket(b.scaling_refill_per_s, b.scaling_burst) if per_function else shared)[1]
    f_rate = _i(F, MAX_RATE, fill=-1)  # Lambda's request-rate buckets, the account's shared
    for i, rate in enumerate(res.request_rates):
        for j, bucket in enumerate(rate.buckets):
            f_rate[i, j] = place(bucket)[1]
    return dict(chain_len=chain_len, chain_kind=chain_kind, chain_idx=chain_idx, chain_cause=chain_cause,
                f_scaling=f_scaling, f_rate=f_rate,
                b_rate=np.array([x.rate for x in buckets] or [0.0]),
                b_burst=np.array([x.burst for x in buckets] or [0.0]),
                b_tok0=np.array([x.tokens for x in buckets] or [0.0]),
                q_limit=np.array([q.limit for q in quotas] or [0], dtype=np.int64),
                q_allowed0=np.array([q.allowed for q in quotas] or [0], dtype=np.int64),
                quotas=[copy.copy(q) for q in quotas])


def _functions(s: Scenario, res: Resolved, sources: Sources) -> dict[str, Any]:
    """The functions' and routes' tables; each function's four streams are added to *sources*."""
    b = s.behaviour
    f_s = _i(4, len(s.functions))
    for i, f in enumerate(s.functions):
        idle = f.idle_timeout if f.idle_timeout is not None else b.idle_timeout
        f_s[:, i] = range(len(sources), len(sources) + 4)
        sources += [(f.duration.build(), res.stream("duration", f.name)),
                    (f.init.build(), res.stream("init", f.name)), (Uniform(0.0, 1.0), res.stream("errors", f.name)),
                    (idle.build(), res.stream("idle", f.name))]
    unres_cap = res.unreserved_capacity
    # The fast engine runs fixed concurrency only (``unsupported``): a schedule's one value.
    reserved = [f.reserved for f in res.functions]
    provisioned = [f.provisioned for f in res.functions]
    f_cap = np.array([f.on_demand_capacity for f in res.functions], dtype=np.int64)
    return dict(f_sdur=f_s[0].copy(), f_sinit=f_s[1].copy(), f_scoin=f_s[2].copy(), f_sidle=f_s[3].copy(),
                f_timeout=np.array([f.timeout for f in s.functions], dtype=np.float64),
                f_err=np.array([f.error_rate for f in s.functions], dtype=np.float64),
                f_cap=f_cap,
                f_ringk=np.array([(c if c >= 0 else max(unres_cap, 0)) + 1 for c in f_cap], dtype=np.int64),
                f_resp=np.array([float(f.response_bytes) for f in s.functions]),
                f_prov=np.array(provisioned, dtype=np.int64),
                unres_cap=unres_cap,
                unres0=sum(p for r, p in zip(reserved, provisioned) if r is None),
                route_fn=np.array([r.function for r in res.routes], dtype=np.int64),
                route_timeout=np.array([r.integration_timeout_s for r in res.routes], dtype=np.float64))


def _retries(res: Resolved) -> dict[str, Any]:
    """Each client's retry policy as columns (``c_retry``: 0 none, 1 fixed, 2 exponential)."""
    C = len(res.clients)
    status = res.status_codes
    c_retry, c_max_att, c_full = _i(C), _i(C, fill=1), _i(C)
    c_delay, c_base, c_cap = _f(C), _f(C), _f(C)
    c_retry_on, c_has_q, c_q = _i(C, len(CAUSES)), _i(C), _i(C, 4)
    for c, client in enumerate(res.clients):
        retry = client.retry
        if retry.mode == "none":
            continue
        c_retry[c] = 1 if retry.mode == "fixed" else 2
        c_max_att[c] = retry.max_attempts
        on = frozenset(retry.on)
        c_retry_on[c] = [1 if code in on else 0 for code in status]
        if retry.mode == "fixed":
            c_delay[c] = float(retry.delay)
        else:
            c_base[c], c_cap[c], c_full[c] = retry.base, retry.cap, 1 if retry.jitter == "full" else 0
        if retry.quota is not None:
            q = retry.quota
            c_has_q[c] = 1
            c_q[c] = (q.capacity, q.cost, q.timeout_cost, q.success_increment)
    return dict(c_retry=c_retry, c_max_att=c_max_att, c_delay=c_delay, c_base=c_base, c_cap=c_cap,
                c_full_jitter=c_full, c_retry_on=c_retry_on, c_has_q=c_has_q, c_q=c_q, c_qcap=c_q[:, 0].copy(),
                c_qcost=c_q[:, 1].copy(), c_qtcost=c_q[:, 2].copy(), c_qinc=c_q[:, 3].copy())


def _clients(s: Scenario, res: Resolved, sources: Sources, maker: Maker | None) -> dict[str, Any]:
    """The clients' tables, their arrivals and the processes in the reference engine's order;
    each client's three streams (route, retry jitter, wait; None where unused) are added to
    *sources*."""
    C, R = len(s.clients), len(s.routes)
    out = _retries(res)
    c_nroutes, c_routes, c_cum = _i(C), _i(C, R), _f(C, R, fill=1.0)
    c_timeout = _f(C, fill=math.inf)
    c_wait_kind, c_wait_a, c_wait_b = _i(C), _f(C), _f(C)
    c_s = _i(3, C)
    arrivals: dict[int, Any] = {}
    proc_kind: list[int] = []
    proc_id: list[int] = []
    u_client: list[int] = []
    u_spawn: list[float] = []
    for c, client in enumerate(res.clients):
        name = client.spec.name
        routes, cum = client.route_indices, client.cumulative_weights
        c_nroutes[c] = len(routes)
        c_routes[c, :len(routes)] = routes
        c_cum[c, :len(routes)] = cum
        c_timeout[c] = client.timeout_s
        arr = client.arrivals
        c_s[:, c] = range(len(sources), len(sources) + 3)
        uses_wait = isinstance(arr, ClosedArrivals) and arr.wait.kind == "between"
        sources += [(Uniform(0.0, 1.0), res.stream("routes", name)) if len(routes) > 1 else None,
                    (Uniform(0.0, 1.0), res.stream("retry", name)) if out["c_full_jitter"][c] else None,
                    (Uniform(0.0, 1.0), res.stream("wait", name)) if uses_wait else None]
        if isinstance(arr, ClosedArrivals):
            c_wait_kind[c], c_wait_a[c], c_wait_b[c] = _wait(arr)
            for spawn_at in client.spawn_times_s:
                proc_kind.append(1)
                proc_id.append(len(u_client))
                u_client.append(c)
                u_spawn.append(spawn_at)
            continue
        proc_kind.append(0)
        proc_id.append(c)
        if isinstance(arr, ReplayArrivals):
            arrivals[c] = (np.array(arr.times, dtype=np.float64), np.array(client.replay_routes, dtype=np.int64))
        else:
            assert isinstance(arr, OpenArrivals)
            arrivals[c] = _open_arrivals(arr, s.duration, res.stream("arrivals", name))
    out.update(c_nroutes=c_nroutes, c_routes=c_routes, c_cum=c_cum, c_timeout=c_timeout, c_wait_kind=c_wait_kind,
               c_wait_a=c_wait_a, c_wait_b=c_wait_b, c_sroute=c_s[0].copy(), c_sjit=c_s[1].copy(),
               c_swait=c_s[2].copy(), arrivals=Arrivals(arrivals, C, maker),
               proc_kind=np.array(proc_kind, dtype=np.int64), proc_id=np.array(proc_id, dtype=np.int64),
               u_client=np.array(u_client or [0], dtype=np.int64), u_spawn=np.array(u_spawn or [0.0]))
    return out


def _wait(arr: ClosedArrivals) -> tuple[int, float, float]:
    """A closed user's wait as (kind: 0 constant, 1 between, 2 pacing; a; b)."""
    w = arr.wait
    if w.kind == "constant":
        return 0, float(w.time), 0.0
    if w.kind == "between":
        return 1, w.min, w.max - w.min
    return 2, (w.time if w.kind == "constant_pacing" else 1.0 / w.rate), 0.0


def _open_arrivals(arr: OpenArrivals, duration_s: float, rng: np.random.Generator) -> Any:
    """An open client's arrival times (routes -1: drawn per request), in chunks when many."""
    expected = cumulative_rate(arr.rate, duration_s)[1][-1] + sum(x.count for x in arr.bursts)
    if expected > STREAM_ABOVE:
        return ArrivalChunks(arr, duration_s, rng)
    times = open_times(arr, duration_s, rng)
    return times, np.full(len(times), -1, dtype=np.int64)


def expected_attempts(s: Scenario) -> int:
    """About how many attempts the scenario's traffic makes (a first size for buffers)."""
    n = 0.0
    for c in s.clients:
        arr = c.arrivals
        if isinstance(arr, OpenArrivals):
            k = cumulative_rate(arr.rate, s.duration)[1][-1] + sum(b.count for b in arr.bursts)
        elif isinstance(arr, ClosedArrivals):
            k = arr.users * 16
        else:
            k = len(arr.times)
        n += k * (1.3 if c.retry.mode != "none" else 1.0)
    return int(n * 1.05) + 4096


def quota_windows(quotas: list[QuotaCounter], beyond: float) -> np.ndarray:
    """Each quota's window ends, from its first, until past *beyond* (seconds)."""
    rows: list[list[float]] = []
    for q in quotas:
        q = copy.copy(q)
        ends = [q.window_end]
        while ends[-1] <= beyond:
            q._roll(q.window_end)
            ends.append(q.window_end)
        rows.append(ends)
    width = max((len(r) for r in rows), default=1)
    out = np.full((max(1, len(rows)), width), math.inf)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
        out[i, len(r):] = r[-1]
    return out
