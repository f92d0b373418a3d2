"""Results: what happened to every attempt, and the figures that follow from it.

An engine writes one row per HTTP attempt (and one per logical request, which may span
several attempts when the client retries) into a :class:`Recorder`. The finished
:class:`Result` holds those rows as NumPy columns and derives everything else from
them on demand: counts by status and cause, latency percentiles, per-function Lambda
figures, and CloudWatch-style time series.

Rows are reported as immutable :class:`AttemptRecord` tuples, or as pandas DataFrames
(``Result.to_dataframe()``), with times in seconds since the start of the run.
"""

from __future__ import annotations

import json
import math
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from simulator import outcomes as oc
from simulator.cost.usage import run_cost
from simulator.outcomes import CACHE_HIT, CAUSES, COLD, PROVISIONED
from simulator.results import per_part
from simulator.results.backends import backend_summary
from simulator.results.timeseries import build_timeseries

if TYPE_CHECKING:
    import pandas as pd

    from simulator.scenario import Scenario

__all__ = ["AttemptRecord", "RequestRecord", "Recorder", "Result", "PERCENTILES"]

PERCENTILES = (50, 90, 95, 99)


class AttemptRecord(NamedTuple):
    """One HTTP attempt as the client and the gateway saw it."""

    request: int
    attempt: int
    client: str
    route: str
    function: str
    time_s: float
    status: int
    cause: str
    latency_s: float
    gateway_status: int
    gateway_cause: str
    gateway_latency_s: float
    integration_latency_s: float
    cold_start: bool
    provisioned: bool
    init_s: float
    run_s: float
    #: The REST cache answered it (no integration call).
    cache_hit: bool = False
    #: The authorizer's invocation ("" when none was invoked: no authorizer, a cache hit,
    #: a request without a token, or an authorizer without a function).
    authorizer_function: str = ""
    authorizer_cause: str = ""
    authorizer_cold_start: bool = False
    authorizer_latency_s: float = 0.0
    authorizer_init_s: float = 0.0
    authorizer_run_s: float = 0.0


class RequestRecord(NamedTuple):
    """One logical request: the first attempt's start to the last attempt's answer."""

    request: int
    client: str
    route: str
    time_s: float
    attempts: int
    status: int
    cause: str
    latency_s: float


_ATTEMPT_INT = (
    "request", "attempt", "client", "route", "function", "status", "cause", "gateway_status", "gateway_cause", "flags",
    "authorizer_function", "authorizer_cause", "authorizer_flags",
)
_ATTEMPT_FLOAT = ("time_s", "latency_s", "gateway_latency_s", "integration_latency_s", "init_s", "run_s",
                  "authorizer_latency_s", "authorizer_init_s", "authorizer_run_s")
#: The authorizer's columns and their value when no authorizer was passed (a scenario without
#: authorizers records none: :class:`Result` fills them).
_AUTHORIZER_COLUMNS = {"authorizer_function": -1, "authorizer_cause": -1, "authorizer_flags": 0,
                       "authorizer_latency_s": 0.0, "authorizer_init_s": 0.0, "authorizer_run_s": 0.0}
_REQUEST_INT = ("client", "route", "attempts", "status", "cause")
_REQUEST_FLOAT = ("time_s", "end_s")


class Recorder:
    """Append-only columns an engine fills during a run (without *authorizers*, none of theirs)."""

    def __init__(self, authorizers: bool = True) -> None:
        self.a_int = {k: array("q") for k in _ATTEMPT_INT if authorizers or k not in _AUTHORIZER_COLUMNS}
        self.a_float = {k: array("d") for k in _ATTEMPT_FLOAT if authorizers or k not in _AUTHORIZER_COLUMNS}
        self.r_int = {k: array("q") for k in _REQUEST_INT}
        self.r_float = {k: array("d") for k in _REQUEST_FLOAT}
        #: (time, function, concurrency after the change) at every change.
        self.conc_t = array("d")
        self.conc_f = array("q")
        self.conc_n = array("q")
        #: (time, function, configured provisioned concurrency) at every change during the run.
        self.prov_t = array("d")
        self.prov_f = array("q")
        self.prov_n = array("q")
        #: Every request an HTTP backend accepted: arrival, backend, start and end of its
        #: service, and its state (answered, served after the gateway gave up, or skipped;
        #: :mod:`simulator.integrations.http_backend`).
        self.back_t = array("d")
        self.back_b = array("q")
        self.back_start = array("d")
        self.back_end = array("d")
        self.back_state = array("q")

    def new_request(self, client: int, route: int, t: float) -> int:
        r = self.r_int
        rid = len(r["client"])
        r["client"].append(client)
        r["route"].append(route)
        r["attempts"].append(0)
        r["status"].append(-1)
        r["cause"].append(-1)
        self.r_float["time_s"].append(t)
        self.r_float["end_s"].append(math.nan)
        return rid

    def finish_request(self, rid: int, end: float, attempts: int, status: int, cause: int) -> None:
        self.r_int["attempts"][rid] = attempts
        self.r_int["status"][rid] = status
        self.r_int["cause"][rid] = cause
        self.r_float["end_s"][rid] = end

    def concurrency(self, now: float, function: int, busy: int) -> None:
        self.conc_t.append(now)
        self.conc_f.append(function)
        self.conc_n.append(busy)

    def provisioned(self, t: float, function: int, configured: int) -> None:
        self.prov_t.append(t)
        self.prov_f.append(function)
        self.prov_n.append(configured)

    def backend_request(self, t: float, backend: int, start: float, end: float, state: int) -> None:
        self.back_t.append(t)
        self.back_b.append(backend)
        self.back_start.append(start)
        self.back_end.append(end)
        self.back_state.append(state)


def _attempt_columns(recorder: Recorder) -> dict[str, np.ndarray]:
    """The recorder's attempt columns as arrays, in their order; those it left out hold their constant."""
    n, out = len(recorder.a_float["time_s"]), {}
    for names, cols, dt in ((_ATTEMPT_INT, recorder.a_int, np.int64), (_ATTEMPT_FLOAT, recorder.a_float, np.float64)):
        for k in (*names, *(k for k in cols if k not in names)):
            out[k] = np.frombuffer(cols[k], dt) if k in cols else np.full(n, _AUTHORIZER_COLUMNS[k], dt)
    return out


@dataclass(frozen=True)
class _Names:
    clients: tuple[str, ...]
    routes: tuple[str, ...]
    functions: tuple[str, ...]


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    """Latency percentiles in ms; with nothing measured, every figure is None (``null`` in
    JSON), never a zero that reads as instant answers."""
    if len(values) == 0:
        return dict.fromkeys([*(f"p{p}" for p in PERCENTILES), "max", "mean"])
    ms = values * 1000.0
    pct = np.percentile(ms, PERCENTILES)
    out: dict[str, float | None] = {f"p{p}": _r(v) for p, v in zip(PERCENTILES, pct)}
    out["max"] = _r(ms.max())
    out["mean"] = _r(ms.mean())
    return out


def _r(x: float, digits: int = 3) -> float:
    return float(round(float(x), digits))


class Result:
    """The outcome of one simulated run."""

    #: Why the run did not use the engine asked for (``engine="auto"`` falling back), or None.
    engine_note: str | None = None

    def __init__(self, scenario: Scenario, seed: int, recorder: Recorder, engine: str) -> None:
        self.scenario = scenario
        self.seed = seed
        self.engine = engine
        self.names = _Names(
            tuple(c.name for c in scenario.clients),
            tuple(r.name for r in scenario.routes),
            tuple(f.name for f in scenario.functions),
        )
        self.attempts = _attempt_columns(recorder)
        self.requests = {k: np.frombuffer(v, dtype=np.int64) for k, v in recorder.r_int.items()}
        self.requests.update({k: np.frombuffer(v, dtype=np.float64) for k, v in recorder.r_float.items()})
        self._conc = (
            np.frombuffer(recorder.conc_t, dtype=np.float64),
            np.frombuffer(recorder.conc_f, dtype=np.int64),
            np.frombuffer(recorder.conc_n, dtype=np.int64),
        )
        #: (time_s, function, configured) at every change of provisioned concurrency.
        self.provisioned_changes = tuple(zip(getattr(recorder, "prov_t", ()), getattr(recorder, "prov_f", ()),
                                             getattr(recorder, "prov_n", ())))
        #: The HTTP backends' requests (:meth:`Recorder.backend_request`); the fast engine,
        #: which runs no scenario with backends, writes none.
        self.backend_requests = {
            k: np.frombuffer(getattr(recorder, f"back_{k}", array("d" if k in ("t", "start", "end") else "q")),
                             dtype=np.float64 if k in ("t", "start", "end") else np.int64)
            for k in ("t", "b", "start", "end", "state")
        }

    # ------------------------------------------------------------------ sizes

    @property
    def n_attempts(self) -> int:
        return len(self.attempts["time_s"])

    @property
    def n_requests(self) -> int:
        return len(self.requests["time_s"])

    @property
    def end_s(self) -> float:
        """When the run ended: the last response or the last invocation to finish,
        whichever is later (at least the scenario's duration)."""
        end = self.scenario.duration
        if self.n_requests:
            end = max(end, float(np.nanmax(self.requests["end_s"])))
        if len(self._conc[0]):
            end = max(end, float(self._conc[0][-1]))
        if len(self.backend_requests["end"]):
            end = max(end, float(self.backend_requests["end"].max()))
        return end

    # ------------------------------------------------------------------ counts

    def _status_counts(self, status: np.ndarray) -> dict[str, int]:
        values, counts = np.unique(status, return_counts=True)
        return {str(int(v)): int(c) for v, c in zip(values, counts)}

    def _cause_counts(self, cause: np.ndarray) -> dict[str, int]:
        counts = np.bincount(cause, minlength=len(CAUSES)) if len(cause) else np.zeros(len(CAUSES), int)
        return {name: int(n) for name, n in zip(CAUSES, counts) if n}

    def _block(self, a_mask: np.ndarray | None, r_mask: np.ndarray | None) -> dict[str, Any]:
        a = self.attempts
        r = self.requests
        a_status = a["status"] if a_mask is None else a["status"][a_mask]
        a_cause = a["cause"] if a_mask is None else a["cause"][a_mask]
        a_lat = a["latency_s"] if a_mask is None else a["latency_s"][a_mask]
        r_status = r["status"] if r_mask is None else r["status"][r_mask]
        r_cause = r["cause"] if r_mask is None else r["cause"][r_mask]
        r_lat = (r["end_s"] - r["time_s"]) if r_mask is None else (r["end_s"] - r["time_s"])[r_mask]
        n_req = len(r_status)
        n_att = len(a_status)
        return {
            "requests": {
                "offered": n_req,
                "succeeded": int(np.sum(r_status == 200)),
                "status": self._status_counts(r_status),
                "outcomes": self._cause_counts(r_cause),
                "latency_ms": _percentiles(r_lat),
            },
            "attempts": {
                "total": n_att,
                "retries": n_att - n_req,
                "status": self._status_counts(a_status),
                "causes": self._cause_counts(a_cause),
            },
            "rates": self._rates(a_status, a_cause, r_status, n_att, n_req),
            "latency_ms": _percentiles(a_lat),
        }

    def _rates(
        self, a_status: np.ndarray, a_cause: np.ndarray, r_status: np.ndarray, n_att: int, n_req: int
    ) -> dict[str, float]:
        dur = self.scenario.duration

        def frac(x: int, n: int) -> float:
            return _r(x / n, 6) if n else 0.0

        return {
            "offered_rps": _r(n_req / dur),
            "attempts_rps": _r(n_att / dur),
            "success_fraction": frac(int(np.sum(r_status == 200)), n_req),
            "attempt_2xx_fraction": frac(int(np.sum((a_status >= 200) & (a_status < 300))), n_att),
            "attempt_429_fraction": frac(int(np.sum(a_status == 429)), n_att),
            "attempt_429_throttle_fraction": frac(
                int(np.sum((a_status == 429) & (a_cause != oc.QUOTA_EXCEEDED))), n_att
            ),
            "attempt_429_quota_fraction": frac(int(np.sum(a_cause == oc.QUOTA_EXCEEDED)), n_att),
            "attempt_4xx_fraction": frac(int(np.sum((a_status >= 400) & (a_status < 500))), n_att),
            "attempt_5xx_fraction": frac(int(np.sum(a_status >= 500)), n_att),
            "attempt_no_response_fraction": frac(int(np.sum(a_status == 0)), n_att),
        }

    def cache_summary(self) -> dict[str, dict[str, float]]:
        """:func:`simulator.results.per_part.cache_summary` of this run."""
        return per_part.cache_summary(self.scenario, self.attempts)

    def lambda_summary(self) -> dict[str, dict[str, Any]]:
        """:func:`simulator.results.per_part.lambda_summary` of this run."""
        return per_part.lambda_summary(self.scenario, self.attempts, self._conc)

    def authorizer_summary(self) -> dict[str, dict[str, int]]:
        """:func:`simulator.results.per_part.authorizer_summary` of this run."""
        return per_part.authorizer_summary(self.scenario, self.attempts)

    def summary(self, cost: bool = True) -> dict[str, Any]:
        """Every headline figure, as a JSON-ready dict with a stable key order.

        With *cost* (the default) it includes ``cost_usd``: what the run and a month of it
        cost at list prices without free tier (see :func:`simulator.cost.run_cost`)."""
        s = self.scenario
        out: dict[str, Any] = {
            "scenario": s.name,
            "seed": self.seed,
            "engine": self.engine,
            "api": s.api.type,
            "duration_s": s.duration,
            "end_s": _r(self.end_s, 6),
        }
        out.update(self._block(None, None))
        out["lambda"] = self.lambda_summary()
        if s.authorizers:
            out["authorizers"] = self.authorizer_summary()
        cache = self.cache_summary()
        if cache:
            out["cache"] = cache
        if s.backends:
            out["backends"] = backend_summary(self)
        clients = {}
        for i, c in enumerate(s.clients):
            clients[c.name] = self._block(self.attempts["client"] == i, self.requests["client"] == i)
        out["clients"] = clients
        if cost:
            out["cost_usd"] = run_cost(self).to_dict()
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """The summary as JSON: the same scenario and seed give the same bytes."""
        return json.dumps(self.summary(), indent=indent)

    # ------------------------------------------------------------------ records

    def records(self) -> list[AttemptRecord]:
        """Every attempt, in the order the engine decided them."""
        a = self.attempts
        n = self.names
        fnames = n.functions + ("",)
        return [
            AttemptRecord(
                int(a["request"][i]), int(a["attempt"][i]), n.clients[a["client"][i]], n.routes[a["route"][i]],
                fnames[a["function"][i]], float(a["time_s"][i]), int(a["status"][i]), CAUSES[a["cause"][i]],
                float(a["latency_s"][i]), int(a["gateway_status"][i]), CAUSES[a["gateway_cause"][i]],
                float(a["gateway_latency_s"][i]),
                float(a["integration_latency_s"][i]), bool(a["flags"][i] & COLD), bool(a["flags"][i] & PROVISIONED),
                float(a["init_s"][i]), float(a["run_s"][i]), bool(a["flags"][i] & CACHE_HIT),
                fnames[a["authorizer_function"][i]],
                CAUSES[a["authorizer_cause"][i]] if a["authorizer_cause"][i] >= 0 else "",
                bool(a["authorizer_flags"][i] & COLD), float(a["authorizer_latency_s"][i]),
                float(a["authorizer_init_s"][i]), float(a["authorizer_run_s"][i]),
            )
            for i in range(self.n_attempts)
        ]

    def _attempt_columns(self) -> dict[str, Any]:
        a = self.attempts
        n = self.names
        fnames = np.array(n.functions + ("",), dtype=object)
        return {
            "request": a["request"],
            "attempt": a["attempt"],
            "client": np.array(n.clients, dtype=object)[a["client"]] if self.n_attempts else np.array([], dtype=object),
            "route": np.array(n.routes, dtype=object)[a["route"]] if self.n_attempts else np.array([], dtype=object),
            "function": fnames[a["function"]],
            "time_s": a["time_s"],
            "status": a["status"],
            "cause": np.array(CAUSES, dtype=object)[a["cause"]] if self.n_attempts else np.array([], dtype=object),
            "latency_s": a["latency_s"],
            "gateway_status": a["gateway_status"],
            "gateway_cause": (np.array(CAUSES, dtype=object)[a["gateway_cause"]] if self.n_attempts
                              else np.array([], dtype=object)),
            "gateway_latency_s": a["gateway_latency_s"],
            "integration_latency_s": a["integration_latency_s"],
            "cold_start": (a["flags"] & COLD) != 0,
            "provisioned": (a["flags"] & PROVISIONED) != 0,
            "init_s": a["init_s"],
            "run_s": a["run_s"],
            "cache_hit": (a["flags"] & CACHE_HIT) != 0,
            **self._authorizer_columns(),
        }

    def _authorizer_columns(self) -> dict[str, Any]:
        """The authorizer's columns, present when the scenario has authorizers."""
        if not self.scenario.authorizers:
            return {}
        a = self.attempts
        fnames = np.array(self.names.functions + ("",), dtype=object)
        causes = np.array((*CAUSES, ""), dtype=object)
        return {
            "authorizer_function": fnames[a["authorizer_function"]],
            "authorizer_cause": causes[a["authorizer_cause"]],
            "authorizer_cold_start": (a["authorizer_flags"] & COLD) != 0,
            "authorizer_latency_s": a["authorizer_latency_s"],
            "authorizer_init_s": a["authorizer_init_s"],
            "authorizer_run_s": a["authorizer_run_s"],
        }

    def to_dataframe(self) -> pd.DataFrame:
        """Every attempt as a DataFrame (one row per :class:`AttemptRecord`)."""
        import pandas as pd

        return pd.DataFrame(self._attempt_columns())

    def requests_dataframe(self) -> pd.DataFrame:
        """Every logical request as a DataFrame (one row per :class:`RequestRecord`)."""
        import pandas as pd

        r = self.requests
        n = self.names
        empty = self.n_requests == 0
        return pd.DataFrame(
            {
                "request": np.arange(self.n_requests),
                "client": np.array([], dtype=object) if empty else np.array(n.clients, dtype=object)[r["client"]],
                "route": np.array([], dtype=object) if empty else np.array(n.routes, dtype=object)[r["route"]],
                "time_s": r["time_s"],
                "attempts": r["attempts"],
                "status": r["status"],
                "cause": np.array([], dtype=object) if empty else np.array(CAUSES, dtype=object)[r["cause"]],
                "latency_s": r["end_s"] - r["time_s"],
            }
        )

    def write_records(self, path: str | Path) -> None:
        """Write every attempt as CSV (or Parquet for a ``.parquet`` path)."""
        path = Path(path)
        if path.suffix == ".parquet":
            self.to_dataframe().to_parquet(path, index=False)
            return
        _write_csv(path, self._attempt_columns())

    # ------------------------------------------------------------------ time series

    def timeseries(self, interval_s: float = 1.0) -> dict[str, np.ndarray]:
        """CloudWatch-style metrics per interval, by the attempt's start time.

        API Gateway: ``Count``, ``4XXError``, ``5XXError`` (sums, by the status the gateway
        returned), ``Latency`` and ``IntegrationLatency`` (averages, ms). Lambda, summed over
        functions and per function as ``Metric[function]``: ``Invocations``, ``Throttles``,
        ``ConcurrentExecutions`` (maximum), ``ProvisionedConcurrencySpilloverInvocations``.
        """
        return build_timeseries(self, interval_s)

    def timeseries_dataframe(self, interval_s: float = 1.0) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.timeseries(interval_s))

    def write_timeseries(self, path: str | Path, interval_s: float = 1.0) -> None:
        _write_csv(Path(path), self.timeseries(interval_s))


def _write_csv(path: Path, columns: dict[str, Any]) -> None:
    import csv

    names = list(columns)
    cols = [columns[k] for k in names]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for row in zip(*cols):
            w.writerow([_cell(v) for v in row])


def _cell(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return repr(round(float(v), 9))
    if isinstance(v, (np.bool_, bool)):
        return "true" if v else "false"
    if isinstance(v, np.integer):
        return int(v)
    return v
