"""The fast engine's driver: packs a scenario into the loop's arrays, runs the compiled loop,
provides what it runs out of, and unpacks the result (the design: :mod:`simulator.engine.fast`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.engine.fast import inputs
from simulator.engine.fast import layout as L
from simulator.engine.fast.inputs import flatten, quota_windows
from simulator.engine.fast.streams import Inline, Maker, Worker
from simulator.engine.resolved import resolve
from simulator.outcomes import CAUSES
from simulator.results import AggregateResult, Result
from simulator.scenario.cache import route_caches

if TYPE_CHECKING:
    from simulator.scenario import Scenario

__all__ = ["FastEngine", "available", "unsupported"]

_DAY = 86400.0
#: Runs expecting more attempts than this make their random numbers and arrival times
#: ahead, in a second thread (:mod:`simulator.engine.fast.streams`).
AHEAD_ABOVE = 1 << 21


def available() -> str | None:
    """None if the fast engine can run here, else why not."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return "the fast engine needs numba (pip install numba)"
    return None


def unsupported(scenario: Scenario) -> str | None:
    """None if the fast engine models everything *scenario* uses, else what it lacks."""
    algorithm = getattr(scenario.behaviour, "throttle_algorithm", "aws_token_bucket")
    if algorithm != "aws_token_bucket":
        return f"the fast engine has no behaviour.throttle_algorithm = {algorithm!r} (only AWS's token bucket)"
    if getattr(scenario, "backends", None):
        return "the fast engine has no HTTP backends ([[backends]]: workers and a FIFO queue)"
    b = scenario.behaviour
    specs = [b.idle_timeout, b.gateway_overhead, *(d for f in scenario.functions
                                                  for d in (f.duration, f.init, f.idle_timeout) if d is not None)]
    if any(d.kind == "sequence" for d in specs):
        return "the fast engine has no kind = \"sequence\" distributions (observed times replayed in order)"
    web = [f.name for f in scenario.functions if f.web is not None]
    if web:
        return f"the fast engine has no Lambda Web Functions (functions.{web[0]}.web)"
    changing = [f.name for f in scenario.functions if f.changes_concurrency]
    if changing:
        return (f"the fast engine has no concurrency that changes during a run (schedules or "
                f"provisioned_autoscaling of function {changing[0]!r})")
    if b.provisioned_recycle_interval is not None and any(f.provisioned_peak for f in scenario.functions):
        return "the fast engine has no behaviour.provisioned_recycle_interval (provisioned environments re-initialised)"
    if getattr(scenario, "authorizers", None) and any(scenario.route_authorizer(r) for r in scenario.routes):
        return "the fast engine has no authorizers ([[authorizers]] in front of a route)"
    if any(rc is not None for rc in route_caches(scenario)):
        return "the fast engine has no REST API cache (stage.cache)"
    return None


class _Columns:
    """The record columns in the shape :class:`~simulator.results.Result` reads."""

    def __init__(self, a: dict[str, np.ndarray]) -> None:
        si = a["state_i"]
        na, nr, nc = int(si[L.N_ATT]), int(si[L.N_REQ]), int(si[L.N_CONC])
        # Views, not copies: each row of a record array is one contiguous column.
        self.a_int = {k: a["attempt_i"][i, :na] for i, k in enumerate(L.RA_INT)}
        self.a_float = {k: a["attempt_f"][i, :na] for i, k in enumerate(L.RA_FLOAT)}
        self.r_int = {k: a["request_i"][i, :nr] for i, k in enumerate(L.RR_INT)}
        self.r_float = {k: a["request_f"][i, :nr] for i, k in enumerate(L.RR_FLOAT)}
        self.conc_t = a["conc_time"][:nc]
        self.conc_f = a["conc_i"][L.C_FUNCTION, :nc]
        self.conc_n = a["conc_i"][L.C_BUSY, :nc]


def _grow(a: np.ndarray, axis: int, size: int, fill: float | None = 0) -> np.ndarray:
    """*a* with *axis* extended to *size*; the new part is *fill* (None: not initialised)."""
    shape = list(a.shape)
    shape[axis] = size
    out = np.empty(shape, dtype=a.dtype) if fill is None else np.full(shape, fill, dtype=a.dtype)
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


class FastEngine:
    """Runs one scenario once with the compiled loop. Use :func:`simulator.simulate`."""

    name = "fast"

    def __init__(self, scenario: Scenario, seed: int, record: bool = True) -> None:
        self.s = scenario
        self.seed = seed
        self.record = record
        long_run = inputs.expected_attempts(scenario) > AHEAD_ABOVE
        self.maker: Maker = Worker() if long_run else Inline()
        try:
            #: What the run reads of the scenario, worked out once (:mod:`simulator.engine.resolved`).
            self.resolved = resolve(scenario, seed)
            self.x = flatten(scenario, seed, self.maker, self.resolved)
            self.a = self._pack()
        except BaseException:
            self.maker.close()
            raise

    # ------------------------------------------------------------------ set-up

    def _pack(self) -> dict[str, np.ndarray]:
        """Every array of the run (layout explains the packing)."""
        x, s = self.x, self.s
        P = len(x["proc_kind"])
        nq = len(x["quotas"])
        ti, tf = self._scenario_tables()
        si, sf = self._state_tables()
        t_i = self._header(ti, tf, si, sf)
        t_f = tf.build()
        t_f[L.TF_DURATION], t_f[L.TF_MAX_LIFE] = s.duration, x["max_life"]
        s_i, s_f = si.build(), sf.build()
        H = max(1024, 2 * P + 64)
        s_i[L.EID], s_i[L.HEAP_N], s_i[L.FREE_N], s_i[L.CONT_OPEN], s_i[L.UNRES] = P, P, H - P, -1, x["unres0"]
        q_ends = quota_windows(x["quotas"], s.duration + 2 * _DAY)
        s_f[L.QEND_MIN] = q_ends[:, -1].min() if nq else math.inf
        heap = self._heap(H, P)
        rb = self._bind_inputs(t_i, s_i)
        return {
            "fixed_i": t_i, "fixed_f": t_f, "state_i": s_i, "state_f": s_f, "quota_ends": q_ends, "randoms": rb,
            "idle_envs": np.zeros((len(s.functions), 2 * int(x["f_ringk"].max()))),
            **heap, **self._record_buffers(),
        }

    def _scenario_tables(self) -> tuple[L.Pack, L.Pack]:
        """The tables the loop only reads: outcomes, chains, clients, functions, buckets, streams."""
        x, s = self.x, self.s
        C, R = len(s.clients), len(s.routes)
        ti, tf = L.Pack(L.N_TI_HDR, np.int64), L.Pack(L.N_TF_HDR, np.float64)
        chain = np.zeros((C, R, L.CH_W), dtype=np.int64)
        chain[:, :, 0] = x["chain_len"]
        chain[:, :, 1::3], chain[:, :, 2::3], chain[:, :, 3::3] = x["chain_kind"], x["chain_idx"], x["chain_cause"]
        cli = np.column_stack([x[k] for k in L.CLIENT_INT])
        fun = np.column_stack([x[k] for k in L.FUNCTION_INT])
        for key, values in ((L.T_O_STATUS, x["status"]), (L.T_O_ROUTE_FN, x["route_fn"]), (L.T_O_CHAIN, chain),
                            (L.T_O_QLIMIT, x["q_limit"]), (L.T_O_CLI, cli), (L.T_O_CROUTES, x["c_routes"]),
                            (L.T_O_RETRY_ON, x["c_retry_on"]), (L.T_O_FUN, fun),
                            (L.T_O_SCONST, x["s_const"]),
                            (L.T_O_PROC, np.stack([x["proc_kind"], x["proc_id"]], axis=1)),
                            (L.T_O_UCLIENT, x["u_client"])):
            ti.add(key, values)
        clif = np.column_stack([x[k] for k in L.CLIENT_FLOAT])
        funf = np.column_stack([x[k] for k in L.FUNCTION_FLOAT])
        for key, values in ((L.T_O_CLIF, clif), (L.T_O_CCUM, x["c_cum"]), (L.T_O_FUNF, funf),
                            (L.T_O_ROUTE_TO, x["route_timeout"]),
                            (L.T_O_BUCKET, np.stack([x["b_rate"], x["b_burst"]], axis=1)),
                            (L.T_O_SVAL, x["s_val"]), (L.T_O_USPAWN, x["u_spawn"])):
            tf.add(key, values)
        return ti, tf

    def _state_tables(self) -> tuple[L.Pack, L.Pack]:
        """The state the loop changes: quotas, tokens, arrivals, streams, functions, buckets,
        users, and the tallies (per-second histograms only when rows are not recorded)."""
        x, s = self.x, self.s
        C, R, F = len(s.clients), len(s.routes), len(s.functions)
        S = len(x["s_const"])
        hist = L.HIST_BINS if not self.record else 1
        si, sf = L.Pack(L.N_SI_HDR, np.int64), L.Pack(L.N_SF_HDR, np.float64)
        fstate = np.zeros((F, L.N_FS), dtype=np.int64)
        fstate[:, L.FS_IDLE_PROV] = x["f_prov"]
        qstate = np.zeros((max(1, len(x["quotas"])), L.N_QS), dtype=np.int64)
        qstate[:, L.QS_ALLOWED] = x["q_allowed0"]
        for key, values in ((L.T_O_QSTATE, qstate), (L.T_O_CTOK, x["c_q"][:, 0]),
                            (L.T_O_ARR, np.zeros((C, L.N_AR))), (L.T_O_RSTATE, np.zeros((S, 2))),
                            (L.T_O_FSTATE, fstate), (L.T_O_GATT, np.zeros(C * len(CAUSES))),
                            (L.T_O_GREQ, np.zeros(C * len(CAUSES))), (L.T_O_GFN, np.zeros(F * L.N_FN)),
                            (L.T_O_GGW, np.zeros(R * C * len(CAUSES))), (L.T_O_AHIST, np.zeros(C * hist)),
                            (L.T_O_RHIST, np.zeros(C * hist))):
            si.add(key, values)
        bstate = np.stack([x["b_tok0"], np.zeros(len(x["b_rate"]))], axis=1)
        for key, values in ((L.T_O_BSTATE, bstate), (L.T_O_USTATE, np.zeros((len(x["u_client"]), 2))),
                            (L.T_O_GLAT, np.zeros(C * L.N_GLAT)),
                            (L.T_O_CUBE, np.zeros(L.N_CUBE * F * C * len(CAUSES)))):
            sf.add(key, values)
        return si, sf

    def _header(self, ti: L.Pack, tf: L.Pack, si: L.Pack, sf: L.Pack) -> np.ndarray:
        """The integer table with its header: every table's offsets, the sizes, the switches."""
        x, s, b = self.x, self.s, self.s.behaviour
        t_i = ti.build()
        for key, off in {**ti.offsets, **tf.offsets, **si.offsets, **sf.offsets}.items():
            t_i[key] = off
        t_i[L.T_NC], t_i[L.T_NR], t_i[L.T_NF] = len(s.clients), len(s.routes), len(s.functions)
        t_i[L.T_RECORD] = int(self.record)
        t_i[L.T_CONSUME] = int(b.rejected_requests_consume_tokens)
        t_i[L.T_QCT] = int(b.throttled_requests_count_toward_quota)
        t_i[L.T_MRU] = int(b.environment_reuse == "mru")
        t_i[L.T_UNRES_CAP], t_i[L.T_S_OVER] = x["unres_cap"], 0
        return t_i

    def _heap(self, H: int, P: int) -> dict[str, np.ndarray]:
        """The event heap of capacity *H*, holding each of the *P* processes' first event, and
        the heap of open clients' next arrivals."""
        C = max(1, len(self.s.clients))
        ev = np.zeros((H, L.N_EV), dtype=np.int64)
        ev[:P, L.E_TYPE], ev[:P, L.E_A] = L.EV_INIT, np.arange(P)
        ev[:H - P, L.E_FREE] = np.arange(H - 1, P - 1, -1)
        ht = np.zeros(H)
        oht = np.zeros(C)
        hk = np.zeros(H, dtype=np.int64)
        hk[:P] = np.arange(P)  # URGENT (0) << PRI_SHIFT | event id, in process order
        return {"heap_time": ht, "heap_bits": ht.view(np.int64), "heap_key": hk,
                "heap_value": np.arange(H, dtype=np.int64), "heap_created": np.zeros(H), "event_i": ev,
                "event_f": np.zeros((H, L.N_EVF)), "open_time": oht, "open_bits": oht.view(np.int64),
                "open_key": np.zeros(C, dtype=np.int64), "open_client": np.zeros(C, dtype=np.int64), }

    def _bind_inputs(self, t_i: np.ndarray, s_i: np.ndarray) -> np.ndarray:
        """Fill the random-number buffer and bind the arrivals to their state; the buffer."""
        C, S = len(self.s.clients), len(self.x["s_const"])
        streams = self.x["streams"]
        rb, _, _ = streams.buffers()
        rstate = s_i[t_i[L.T_O_RSTATE]:t_i[L.T_O_RSTATE] + 2 * S].reshape(S, 2)
        self.rpos, self.rlen = rstate[:, 0], rstate[:, 1]
        s_i[L.BUDGET] = streams.refill(rb, self.rpos, self.rlen)
        self.x["arrivals"].bind(s_i[t_i[L.T_O_ARR]:t_i[L.T_O_ARR] + L.N_AR * C].reshape(C, L.N_AR))
        return rb

    def _record_buffers(self) -> dict[str, np.ndarray]:
        """The rows of attempts, requests and concurrency changes (grown as the run needs), and
        the per-second series."""
        s, rec = self.s, self.record
        na = inputs.expected_attempts(s) if rec else 1
        nbins = max(2, math.ceil(s.duration) + 64) if not rec else 1
        tsi = np.zeros((L.N_TS + L.N_TSF * len(s.functions), nbins), dtype=np.int64)
        self._reset_levels(tsi, 0)
        return {
            "attempt_i": np.empty((len(L.RA_INT), na), dtype=np.int64), "attempt_f": np.empty((len(L.RA_FLOAT), na)),
            "request_i": np.empty((len(L.RR_INT), na), dtype=np.int64), "request_f": np.empty((len(L.RR_FLOAT), na)),
            "conc_time": np.empty(2 * na), "conc_i": np.empty((2, 2 * na), dtype=np.int64),
            "series_i": tsi, "series_f": np.zeros((2, nbins)),
            "arrival_time": self.x["arrivals"].t, "arrival_route": self.x["arrivals"].r,
        }

    @staticmethod
    def _reset_levels(tsi: np.ndarray, start: int) -> None:
        """Mark bins from *start* as "no concurrency change yet" (-1)."""
        tsi[L.TS_ACCT_MAX, start:] = -1
        tsi[L.TS_ACCT_LAST, start:] = -1
        for row in range(L.N_TS, tsi.shape[0], L.N_TSF):
            tsi[row + L.TF_CONC_MAX, start:] = -1
            tsi[row + L.TF_CONC_LAST, start:] = -1

    # ------------------------------------------------------------------ running

    def _serve(self, code: int) -> None:
        """Provide what the compiled loop ran out of."""
        a = self.a
        si = a["state_i"]
        if code == L.NEED_RANDOM:
            si[L.BUDGET] = self.x["streams"].refill(a["randoms"], self.rpos, self.rlen)
        elif code == L.NEED_ARRIVALS:
            self.x["arrivals"].load(int(si[L.NEED]))
        elif code == L.NEED_EVENTS:
            if si[L.FREE_N] < 4:  # event slots (heap.push)
                E = len(a["event_i"])
                nfree = int(si[L.FREE_N])
                ev = _grow(a["event_i"], 0, 2 * E)
                ev[nfree:nfree + E, L.E_FREE] = np.arange(2 * E - 1, E - 1, -1)
                si[L.FREE_N] = nfree + E
                a.update(event_i=ev, event_f=_grow(a["event_f"], 0, 2 * E))
            H = len(a["heap_time"])
            if si[L.HEAP_N] + 4 > H:  # the heap itself (releases take no slot)
                ht = _grow(a["heap_time"], 0, 2 * H)
                a.update(heap_time=ht, heap_bits=ht.view(np.int64), heap_key=_grow(a["heap_key"], 0, 2 * H),
                         heap_value=_grow(a["heap_value"], 0, 2 * H), heap_created=_grow(a["heap_created"], 0, 2 * H))
        elif code == L.NEED_RECORDS:
            n = 2 * a["attempt_i"].shape[1]
            for k in ("attempt_i", "attempt_f", "request_i", "request_f"):
                a[k] = _grow(a[k], 1, n, None)
            a["conc_i"] = _grow(a["conc_i"], 1, 2 * n, None)
            a["conc_time"] = _grow(a["conc_time"], 0, 2 * n, None)
        elif code == L.NEED_BINS:
            old = a["series_i"].shape[1]
            a["series_i"] = _grow(a["series_i"], 1, 2 * old)
            a["series_f"] = _grow(a["series_f"], 1, 2 * old)
            self._reset_levels(a["series_i"], old)
        elif code == L.NEED_QUOTA:
            t = max(float(a["state_f"][L.NOW]), float(a["heap_time"][0]) if si[L.HEAP_N] else 0.0)
            a["quota_ends"] = quota_windows(self.x["quotas"], 2 * t + 2 * _DAY)
            a["state_f"][L.QEND_MIN] = a["quota_ends"][:, -1].min()
        else:  # pragma: no cover - the loop returns only the codes above
            raise RuntimeError(f"fast engine: unexpected return code {code}")

    def run(self) -> Result | AggregateResult:
        try:
            return self._run()
        finally:
            self.maker.close()

    def _run(self) -> Result | AggregateResult:
        from simulator.engine.fast.loop import no_wraparound
        from simulator.engine.fast.loop import run as loop

        if not loop.signatures:  # the first call in this process compiles or loads the loop
            with no_wraparound():
                code = loop(*self._groups())
            if code != L.DONE:
                self._serve(code)
            else:
                return self._result()
        while True:
            code = loop(*self._groups())
            if code == L.DONE:
                break
            self._serve(code)
        return self._result()

    def _groups(self) -> tuple[Any, ...]:
        """The loop's arguments: its arrays in their named groups (layout.GROUPS)."""
        return tuple(group(*(self.a[k] for k in group._fields)) for group in L.GROUPS)

    def _result(self) -> Result | AggregateResult:
        if self.record:
            return Result(self.s, self.seed, _Columns(self.a), self.name)  # type: ignore[arg-type]
        return AggregateResult.from_state(self.s, self.seed, self.name, self.figures())

    def figures(self) -> dict[str, Any]:
        """The bounded-memory aggregates of the run, unpacked by name."""
        a, x, s = self.a, self.x, self.s
        ti, si, sf = a["fixed_i"], a["state_i"], a["state_f"]
        C, R, F, K = len(s.clients), len(s.routes), len(s.functions), len(CAUSES)

        def part(arr: np.ndarray, key: int, *shape: int) -> np.ndarray:
            o = int(ti[key])
            return arr[o:o + int(np.prod(shape))].reshape(shape).copy()

        end = max(float(s.duration), float(sf[L.END_MAX]))
        used = min(a["series_i"].shape[1], max(1, math.ceil(end - 1e-9)) + 1)
        return {"n_attempts": int(si[L.N_ATT]), "n_requests": int(si[L.N_REQ]), "end_s": end,
                "attempt_causes": part(si, L.T_O_GATT, C, K), "request_causes": part(si, L.T_O_GREQ, C, K),
                "attempt_hist": part(si, L.T_O_AHIST, C, L.HIST_BINS),
                "request_hist": part(si, L.T_O_RHIST, C, L.HIST_BINS), "latency": part(sf, L.T_O_GLAT, C, L.N_GLAT),
                "lambda": part(si, L.T_O_GFN, F, L.N_FN), "ts_counts": a["series_i"][:L.N_TS, :used].copy(),
                "ts_ms": a["series_f"][:, :used].copy(),
                "ts_functions": a["series_i"][L.N_TS:, :used].reshape(F, L.N_TSF, used).copy(),
                "cube": part(sf, L.T_O_CUBE, L.N_CUBE, F, C, K), "gateway_billed": part(si, L.T_O_GGW, R, C, K),
                "route_fn": x["route_fn"].copy(), }
