"""Bounded-memory results: the figures of a run without a row per attempt.

A run of an hour at 10,000 requests per second has 36 million attempts; their rows
would take gigabytes. With ``simulate(..., engine="fast", record=False)`` the engine
instead keeps, as it goes:

* attempt and request counts by client and cause (statuses follow from causes);
* latency histograms by client, per attempt and per request: bin 0 holds zero, then
  each power of two of seconds is cut into 128 equal bins, so the midpoint of a bin is
  within 0.4% of every latency in it. Percentiles interpolate between order statistics
  as ``numpy.percentile`` does, each order statistic read as its bin's midpoint; max and
  mean are exact;
* per-function Lambda counts and peak concurrency;
* one-second time-series bins (counts, latency sums, invocations, throttles, spillover,
  the highest and last concurrency in each second), from which any whole number of
  seconds per interval is derived exactly as :func:`simulator.results.timeseries.build_timeseries`
  would compute it;
* the billing quantities by (function, client, gateway cause), so the cost is the same
  as from the rows.

:class:`AggregateResult` answers ``summary()`` with the same keys as
:meth:`simulator.results.Result.summary`, and ``timeseries(interval_s)`` with the same
series. Rows (``records()``, DataFrames) need a recorded run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator import outcomes as oc
from simulator.cost.bill import http_metered_requests
from simulator.cost.pricing import PriceTable, load_prices
from simulator.cost.usage import RunCost, Usage, price_usage
from simulator.engine.fast import layout as L
from simulator.errors import ThrottlesimError
from simulator.outcomes import CAUSES, status_codes
from simulator.results.records import _write_csv
from simulator.results.timeseries import series_table

if TYPE_CHECKING:
    import pandas as pd

    from simulator.scenario import Scenario

__all__ = ["AggregateResult", "RecordsNotKept", "histogram_percentiles"]

PERCENTILES = (50, 90, 95, 99)


class RecordsNotKept(ThrottlesimError):
    """Rows were asked of a run that kept only aggregates (``record=False``)."""


def _r(x: float, digits: int = 3) -> float:
    return float(round(float(x), digits))


def histogram_percentiles(
    counts: np.ndarray, values: np.ndarray, total_s: float, max_s: float
) -> dict[str, float | None]:
    """``p50``..``p99``, ``max`` and ``mean`` in ms from a latency histogram (seconds); all
    None when the histogram is empty, as :class:`~simulator.results.Result` gives them."""
    n = int(counts.sum())
    if n == 0:
        return dict.fromkeys([*(f"p{p}" for p in PERCENTILES), "max", "mean"])
    cum = np.cumsum(counts)

    def order(k: int) -> float:
        return min(float(values[int(np.searchsorted(cum, k, side="right"))]), max_s)

    out: dict[str, float | None] = {}
    for p in PERCENTILES:
        rank = (n - 1) * p / 100
        lo = math.floor(rank)
        hi = min(lo + 1, n - 1)
        a, b = order(lo), order(hi)
        out[f"p{p}"] = _r((a + (b - a) * (rank - lo)) * 1000.0)
    out["max"] = _r(max_s * 1000.0)
    out["mean"] = _r(total_s / n * 1000.0)
    return out


class AggregateResult:
    """The outcome of one simulated run, as bounded-memory aggregates."""

    def __init__(self, scenario: Scenario, seed: int, engine: str, figures: dict[str, Any],
                 engine_note: str | None = None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.engine = engine
        self.engine_note = engine_note
        self.figures = figures
        self._status = np.array(status_codes(scenario))

    @classmethod
    def from_state(cls, scenario: Scenario, seed: int, engine: str, figures: dict[str, Any]) -> AggregateResult:
        """Wrap the aggregates a fast-engine run collected (``FastEngine.figures()``)."""
        from simulator.engine.fast.tallies import hist_values

        return cls(scenario, seed, engine, {**figures, "hist_values": hist_values()})

    # ------------------------------------------------------------------ sizes

    @property
    def n_attempts(self) -> int:
        return int(self.figures["n_attempts"])

    @property
    def n_requests(self) -> int:
        return int(self.figures["n_requests"])

    @property
    def end_s(self) -> float:
        return float(self.figures["end_s"])

    # ------------------------------------------------------------------ summary

    def _block(self, clients: slice | int) -> dict[str, Any]:
        g = self.figures
        a_c = np.atleast_2d(g["attempt_causes"][clients]).sum(axis=0)
        r_c = np.atleast_2d(g["request_causes"][clients]).sum(axis=0)
        lat = np.atleast_2d(g["latency"][clients])
        a_hist = np.atleast_2d(g["attempt_hist"][clients]).sum(axis=0)
        r_hist = np.atleast_2d(g["request_hist"][clients]).sum(axis=0)
        n_att, n_req = int(a_c.sum()), int(r_c.sum())
        values = g["hist_values"]
        return {
            "requests": {
                "offered": n_req,
                "succeeded": int(r_c[self._status == 200].sum()),
                "status": self._status_counts(r_c),
                "outcomes": {name: int(n) for name, n in zip(CAUSES, r_c) if n},
                "latency_ms": histogram_percentiles(r_hist, values, float(lat[:, 2].sum()), float(lat[:, 3].max())),
            },
            "attempts": {
                "total": n_att,
                "retries": n_att - n_req,
                "status": self._status_counts(a_c),
                "causes": {name: int(n) for name, n in zip(CAUSES, a_c) if n},
            },
            "rates": self._rates(a_c, r_c, n_att, n_req),
            "latency_ms": histogram_percentiles(a_hist, values, float(lat[:, 0].sum()), float(lat[:, 1].max())),
        }

    def _status_counts(self, by_cause: np.ndarray) -> dict[str, int]:
        out: dict[int, int] = {}
        for code, n in zip(self._status, by_cause):
            if n:
                out[int(code)] = out.get(int(code), 0) + int(n)
        return {str(code): out[code] for code in sorted(out)}

    def _rates(self, a_c: np.ndarray, r_c: np.ndarray, n_att: int, n_req: int) -> dict[str, float]:
        dur = self.scenario.duration
        st = self._status

        def frac(x: int, n: int) -> float:
            return _r(x / n, 6) if n else 0.0

        def count(mask: np.ndarray, by: np.ndarray = a_c) -> int:
            return int(by[mask].sum())

        quota = np.arange(len(CAUSES)) == oc.QUOTA_EXCEEDED
        return {
            "offered_rps": _r(n_req / dur),
            "attempts_rps": _r(n_att / dur),
            "success_fraction": frac(count(st == 200, r_c), n_req),
            "attempt_2xx_fraction": frac(count((st >= 200) & (st < 300)), n_att),
            "attempt_429_fraction": frac(count(st == 429), n_att),
            "attempt_429_throttle_fraction": frac(count((st == 429) & ~quota), n_att),
            "attempt_429_quota_fraction": frac(count(quota), n_att),
            "attempt_4xx_fraction": frac(count((st >= 400) & (st < 500)), n_att),
            "attempt_5xx_fraction": frac(count(st >= 500), n_att),
            "attempt_no_response_fraction": frac(count(st == 0), n_att),
        }

    def lambda_summary(self) -> dict[str, dict[str, Any]]:
        fn = self.figures["lambda"]
        out = {}
        for i, f in enumerate(self.scenario.functions):
            inv, cold, thr, err, ft, prov, spill, peak = (int(v) for v in fn[i])
            out[f.name] = {
                "invocations": inv, "cold_starts": cold, "throttles": thr, "errors": err, "function_timeouts": ft,
                "peak_concurrency": peak, "provisioned_concurrency": f.provisioned_concurrency,
                "provisioned_invocations": prov, "provisioned_spillover": spill if f.provisioned_concurrency else 0,
            }
        return out

    def summary(self, cost: bool = True) -> dict[str, Any]:
        """The same keys as :meth:`simulator.results.Result.summary`; latency
        percentiles come from the histograms (within 0.4%)."""
        s = self.scenario
        out: dict[str, Any] = {
            "scenario": s.name, "seed": self.seed, "engine": self.engine, "api": s.api.type,
            "duration_s": s.duration, "end_s": _r(self.end_s, 6),
        }
        out.update(self._block(slice(None)))
        out["lambda"] = self.lambda_summary()
        out["clients"] = {c.name: self._block(slice(i, i + 1)) for i, c in enumerate(s.clients)}
        if cost:
            out["cost_usd"] = self.cost().to_dict()
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.summary(), indent=indent)

    def cost(self, *, free_tier: bool = False, bill_init: bool = True, month_hours: float = 730.0,
             prices: Any = None) -> RunCost:
        """What the run costs: :func:`simulator.cost.run_cost`'s answer, computed from
        the billing quantities kept by (function, client, gateway cause)."""
        return _run_cost(self, free_tier=free_tier, bill_init=bill_init, month_hours=month_hours, prices=prices)

    # ------------------------------------------------------------------ time series

    def timeseries(self, interval_s: float = 1.0) -> dict[str, np.ndarray]:
        """The series of :meth:`simulator.results.Result.timeseries`, for intervals of a
        whole number of seconds."""
        k = round(interval_s)
        if interval_s <= 0 or k < 1 or abs(interval_s - k) > 1e-9:
            raise ValueError(f"a run without records has one-second bins: interval_s must be a whole number of "
                             f"seconds, got {interval_s}")
        g = self.figures
        n = max(1, math.ceil(self.end_s / interval_s - 1e-9))
        base = g["ts_counts"].shape[1]
        group = np.minimum(np.arange(base) // k, n - 1)

        def total(x: np.ndarray) -> np.ndarray:
            return np.bincount(group, weights=x, minlength=n)[:n]

        def count(x: np.ndarray) -> np.ndarray:
            return np.rint(total(x)).astype(np.int64)

        def mean(ms: np.ndarray, k_: np.ndarray) -> np.ndarray:
            t, c = total(ms), total(k_)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.round(np.where(c > 0, t / np.maximum(c, 1), np.nan), 6)

        tsn, tsf = g["ts_counts"], g["ts_ms"]
        acct_max, acct_last = tsn[L.TS_ACCT_MAX], tsn[L.TS_ACCT_LAST]
        gateway = {
            "Count": count(tsn[L.TS_COUNT]),
            "4XXError": count(tsn[L.TS_4XX]),
            "5XXError": count(tsn[L.TS_5XX]),
            "Latency": mean(tsf[L.TS_LAT_MS], tsn[L.TS_COUNT]),
            "IntegrationLatency": mean(tsf[L.TS_INTEG_MS], tsn[L.TS_INTEG_N]),
        }
        tsfn = g["ts_functions"]
        per_function = [
            (f.name, count(tsfn[i, L.TF_INV]), count(tsfn[i, L.TF_THR]),
             _level_max(tsfn[i, L.TF_CONC_MAX], tsfn[i, L.TF_CONC_LAST], group, n),
             count(tsfn[i, L.TF_SPILL]) if f.provisioned_concurrency else np.zeros(n, np.int64))
            for i, f in enumerate(self.scenario.functions)
        ]
        return series_table(np.arange(n) * interval_s, gateway, per_function, _level_max(acct_max, acct_last, group, n))

    def timeseries_dataframe(self, interval_s: float = 1.0) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.timeseries(interval_s))

    def write_timeseries(self, path: str | Path, interval_s: float = 1.0) -> None:
        _write_csv(Path(path), self.timeseries(interval_s))

    # ------------------------------------------------------------------ rows are not kept

    def _no_rows(self) -> RecordsNotKept:
        return RecordsNotKept("this run kept no per-attempt records; simulate it with record=True")

    def records(self) -> Any:
        raise self._no_rows()

    def to_dataframe(self) -> Any:
        raise self._no_rows()

    def requests_dataframe(self) -> Any:
        raise self._no_rows()

    def write_records(self, path: str | Path) -> None:
        raise self._no_rows()


def _level_max(peak: np.ndarray, last: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Highest concurrency per interval: the highest level set in it, or the level in
    force when it starts (``timeseries._max_level``). -1 marks seconds without a change."""
    carry = np.zeros(len(peak), dtype=np.int64)
    current = 0
    for b in range(len(peak)):
        carry[b] = current
        if last[b] >= 0:
            current = int(last[b])
    level = np.maximum(peak, carry)
    out = np.zeros(n, dtype=np.int64)
    np.maximum.at(out, group, level)
    return out


# --------------------------------------------------------------------------- cost


def _run_cost(result: AggregateResult, *, free_tier: bool, bill_init: bool, month_hours: float,
              prices: Any) -> RunCost:
    """:func:`simulator.cost.usage.run_cost` with the per-attempt usage replaced by the
    same quantities summed during the run (integers of ms and bytes, so the sums are
    exact and the cost equals the recorded run's)."""
    s = result.scenario
    table = prices if isinstance(prices, PriceTable) else load_prices(prices or s.account.region)
    g = result.figures
    cube = g["cube"]
    shape = (len(s.functions), len(s.clients), len(CAUSES))
    if s.api.type == "REST":
        units = np.ones(len(s.routes))
    else:
        units = np.array([float(http_metered_requests(r.request_bytes, prices=table)) for r in s.routes])
    gateway = np.zeros(shape)
    for r, f in enumerate(g["route_fn"]):
        gateway[f] += units[r] * g["gateway_billed"][r]
    on_demand = cube[L.CUBE_OD_INIT if bill_init else L.CUBE_OD_RUN]
    usage = Usage.from_sums(s, {
        "gateway": gateway,
        "requests": cube[L.CUBE_REQUESTS],
        "on_demand_ms": on_demand,
        "provisioned_ms": cube[L.CUBE_PROV],
        "billed_ms": on_demand + cube[L.CUBE_PROV],
        "transfer": cube[L.CUBE_TRANSFER],
        "logs": cube[L.CUBE_COUNT] * float(s.api.access_log_bytes),
    }, np.rint(cube[L.CUBE_COUNT].sum(axis=(0, 1))).astype(np.int64))
    return price_usage(usage, s, free_tier=free_tier, bill_init=bill_init, month_hours=float(month_hours), table=table)
