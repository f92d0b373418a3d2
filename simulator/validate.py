"""Comparing the model with what a real API did to the same traffic.

The latency checks compare successful (2XX) attempts when there are enough of them (20 on
each side): that is the wait users care about, and the median of all attempts sits between
the fast rejections and the successes, where a few requests move it a long way.

A load test sends a scenario's traffic to a running API and logs every attempt: when it
was meant to start, when it started, how long it took, the status, and (for the local
targets) the cause the server reports. Validation then asks the model two questions:

1. **Replay**: given exactly the arrivals that were sent (their intended start times and
   routes), what does the model predict for each one? This isolates the model of the API
   from the randomness of the traffic, so it can be checked request by request.
2. **Traffic model**: with the scenario's own random traffic over several seeds, how much
   do the headline figures vary? That gives the intervals an observation should fall in.

This module holds the pure parts: building the replay scenario from an observed log, and
comparing an observed log with predictions. Starting servers and load generators lives in
``loadtests`` (the simulator never imports Locust).

The observed log is a DataFrame with at least ``intended_start_s, latency_ms, status,
client, route, attempt`` and optionally ``cause`` and ``cold_start`` columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.outcomes import CAUSES, answer_groups
from simulator.scenario.loader import load_scenario

if TYPE_CHECKING:
    import pandas as pd

    from simulator.results import Result
    from simulator.scenario import Scenario

__all__ = [
    "DEFAULT_TOLERANCES",
    "MIN_OVERHEAD_SAMPLES",
    "Check",
    "MeasuredOverhead",
    "ValidationReport",
    "compare",
    "causes_from_answers",
    "measured_overhead",
    "paired_overhead",
    "replay_scenario",
    "status_class",
]

#: Tolerances (absolute for fractions, relative for latency, minimum for agreement).
DEFAULT_TOLERANCES: dict[str, float] = {
    "fraction_429": 0.005,
    "fraction_5xx": 0.005,
    "agreement": 0.98,
    "latency_p50": 0.10,
    "latency_p95": 0.10,
    "latency_floor_ms": 1.0,
}

#: Status classes compared between model and observation.
CLASSES = ("2xx", "403", "429", "5xx", "no_response", "other")


def status_class(status: np.ndarray) -> np.ndarray:
    """Map HTTP statuses to the classes in :data:`CLASSES`."""
    status = np.asarray(status)
    out = np.full(status.shape, "other", dtype=object)
    out[(status >= 200) & (status < 300)] = "2xx"
    out[status == 403] = "403"
    out[status == 429] = "429"
    out[status >= 500] = "5xx"
    out[status == 0] = "no_response"
    return out


def replay_scenario(
    scenario_path: str | Path,
    observed: pd.DataFrame,
    out_dir: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> Scenario:
    """The scenario with every client's arrivals replaced by what was actually sent.

    Each client's first attempts (``attempt == 1``) become a replay trace at their intended
    start times, with their routes; the model then applies the client's own retry policy.
    Closed (Locust-user) clients are replayed the same way: their requests' timing is taken
    as observed rather than re-derived from response times.
    """
    base = load_scenario(scenario_path, overrides=overrides, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    firsts = observed[observed["attempt"] == 1]
    merged: dict[str, Any] = dict(overrides or {})
    keep_clients = []
    for i, client in enumerate(base.clients):
        mine = firsts[firsts["client"] == client.name].sort_values("intended_start_s", kind="stable")
        if mine.empty:
            merged[f"clients.{i}.arrivals"] = {"process": "uniform", "rate": 0}
            continue
        keep_clients.append(i)
        trace = out / f"replay_{i}.csv"
        times = np.clip(mine["intended_start_s"].to_numpy(dtype=float), 0.0, None)
        with open(trace, "w", encoding="utf-8") as fh:
            fh.write("time_s,route\n")
            for t, route in zip(times, mine["route"].astype(str)):
                fh.write(f"{float(t)!r},{route}\n")
        merged[f"clients.{i}.arrivals"] = {"process": "replay", "file": str(trace.resolve())}
        last = float(times.max()) if len(times) else 0.0
        merged["duration"] = f"{max(base.duration, last + 1e-3)!r}s"
    return load_scenario(scenario_path, overrides=merged, seed=seed)


#: Successful attempts that must report the function's time before the target's overhead
#: is taken as measured.
MIN_OVERHEAD_SAMPLES = 20


@dataclass(frozen=True)
class MeasuredOverhead:
    """What a target adds to each successful answer beyond the function's own time.

    The model's latency is ``behaviour.gateway_overhead`` plus the integration's time
    (init on a cold start, plus the run). A local target reports the second part for each
    invocation (``x-throttlesim-function-ms``, the ``function_ms`` column), so the rest of
    what the client waited (HTTP parsing, nginx, the event loops, the loopback network, a
    busy machine's scheduling) is measured, not guessed: ``latency_ms - function_ms``
    over the successful attempts.
    """

    samples_ms: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.samples_ms)

    def percentile(self, q: float) -> float:
        return float(np.percentile(np.asarray(self.samples_ms), q))

    def to_dict(self) -> dict[str, float]:
        return {"n": float(self.n), "p50_ms": _r(self.percentile(50)), "p95_ms": _r(self.percentile(95)),
                "mean_ms": _r(float(np.mean(self.samples_ms)))}

    def write(self, path: str | Path) -> Path:
        """The samples as an empirical distribution file (one value in ms per line)."""
        return _write_ms(path, self.samples_ms)

    def override(self, path: str | Path) -> dict[str, Any]:
        """The ``behaviour.gateway_overhead`` override that draws from these samples (written to *path*)."""
        return {"kind": "empirical", "file": str(self.write(path).resolve()), "unit": "ms"}


def paired_overhead(observed: pd.DataFrame, scenario: Scenario, path: str | Path) -> dict[str, Any] | None:
    """Each attempt's own overhead, in the order the replay makes its attempts, as a
    ``behaviour.gateway_overhead`` override (``kind = "sequence"``, written to *path*), or
    None when the target does not report function times.

    On a busy machine one scheduling spike slows the gateway and the function's worker
    together, so what an attempt waited is not an independent draw of overhead plus run
    time. Handing the replay's n-th attempt the overhead the n-th observed attempt had
    leaves the latency checks to test how the model puts an answer's time together (init
    on the cold starts it predicts, the run, the integration timeout's cap), not the
    machine's scheduling. An attempt's overhead is its latency less what the integration
    took: the function's time, the integration timeout where the gateway gave up (504),
    nothing where it never called one (a throttle); an attempt that says neither (no
    function time on a success, or no answer) takes the median of the others.
    """
    if "function_ms" not in observed or observed["function_ms"].isna().all():
        return None
    order = observed.sort_values("intended_start_s", kind="stable")
    latency = order["latency_ms"].to_numpy(dtype=float)
    function_ms = order["function_ms"].to_numpy(dtype=float, na_value=np.nan)
    cause = order["cause"].fillna("").astype(str).to_numpy() if "cause" in order else np.full(len(order), "")
    status = order["status"].to_numpy(dtype=np.int64)
    limit_ms = np.array([1000.0 * scenario.integration_timeout_s(scenario.route(str(r))) for r in order["route"]])
    integration = np.where(np.isfinite(function_ms), np.minimum(function_ms, limit_ms), np.nan)
    integration = np.where(cause == "integration_timeout", limit_ms, integration)
    integration = np.where(np.isnan(integration) & (status >= 400) & (status != 502), 0.0, integration)
    overhead = latency - integration
    known = np.isfinite(overhead) & (status != 0)
    if not known.any():
        return None
    overhead = np.where(known, overhead, float(np.median(overhead[known])))
    out = _write_ms(path, np.maximum(overhead, 0.0))
    return {"kind": "sequence", "file": str(out.resolve()), "unit": "ms"}


def _write_ms(path: str | Path, values_ms: Any) -> Path:
    """A distribution file of *values_ms*, one per line (``unit = "ms"``)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{v:.3f}\n" for v in values_ms), encoding="utf-8")
    return out


def measured_overhead(observed: pd.DataFrame) -> MeasuredOverhead | None:
    """The target's overhead on successful attempts, or None when fewer than
    :data:`MIN_OVERHEAD_SAMPLES` of them say it.

    A gateway's own figure (``gateway_overhead_ms``, from an access log's response minus
    integration latency) is taken when there is one; else what the client waited beyond
    the function's reported time (``latency_ms - function_ms``).
    """
    status = observed["status"].to_numpy(dtype=np.int64)
    if "gateway_overhead_ms" in observed:
        values = observed["gateway_overhead_ms"].to_numpy(dtype=float, na_value=np.nan)
    elif "function_ms" in observed:
        values = (observed["latency_ms"].to_numpy(dtype=float)
                  - observed["function_ms"].to_numpy(dtype=float, na_value=np.nan))
    else:
        return None
    ok = (status >= 200) & (status < 300) & np.isfinite(values)
    if int(ok.sum()) < MIN_OVERHEAD_SAMPLES:
        return None
    samples = np.maximum(values[ok], 0.0)
    return MeasuredOverhead(tuple(float(round(v, 3)) for v in samples))


@dataclass(frozen=True)
class Check:
    """One figure, predicted against observed, with its tolerance."""

    name: str
    predicted: float
    observed: float
    tolerance: float
    kind: str  # "abs", "rel" or "min"
    interval: tuple[float, float] | None = None
    #: For "rel": an absolute error this small passes whatever the relative error (a real
    #: server's timer resolution makes 10% of a 5 ms latency meaningless).
    floor: float = 0.0

    @property
    def error(self) -> float:
        if self.kind == "rel":
            return abs(self.predicted - self.observed) / max(abs(self.observed), 1e-12)
        if self.kind == "min":
            return self.observed
        return abs(self.predicted - self.observed)

    @property
    def ok(self) -> bool:
        if self.kind == "min":
            return self.observed >= self.tolerance
        if self.kind == "rel" and abs(self.predicted - self.observed) <= self.floor:
            return True
        return self.error <= self.tolerance + 1e-12


@dataclass
class ValidationReport:
    """Predicted against observed, side by side."""

    checks: list[Check]
    fractions: dict[str, dict[str, float]]
    causes: dict[str, dict[str, float]]
    latency_ms: dict[str, dict[str, float]]
    cold_starts: dict[str, float]
    series: dict[str, dict[str, float]]
    agreement: float
    n_observed: int
    per_second: Any = field(default=None, repr=False)
    #: Where the model's gateway overhead came from (set by the harness that ran the target).
    overhead: dict[str, Any] | None = None
    #: Which parts of the request path the target decides independently of the model's code.
    parts: dict[str, str] | None = None
    #: Groups of causes the observation could not tell apart (causes read from answers alone).
    indistinguishable: list[str] | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "attempts_observed": self.n_observed,
            "checks": [
                {"name": c.name, "predicted": _r(c.predicted), "observed": _r(c.observed), "error": _r(c.error),
                 "tolerance": c.tolerance, "kind": c.kind, "ok": c.ok,
                 "interval": None if c.interval is None else [_r(c.interval[0]), _r(c.interval[1])]}
                for c in self.checks
            ],
            "fractions": self.fractions,
            "causes": self.causes,
            "latency_ms": self.latency_ms,
            "cold_starts": self.cold_starts,
            "series": self.series,
            "agreement": _r(self.agreement),
        }


def _r(x: float) -> float:
    return float(round(float(x), 6))


def _fractions(classes: np.ndarray) -> dict[str, float]:
    n = len(classes)
    return {c: _r(np.sum(classes == c) / n) if n else 0.0 for c in CLASSES}


def _percentiles(ms: np.ndarray) -> dict[str, float]:
    if len(ms) == 0:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    p = np.percentile(ms, [50, 95, 99])
    return {"p50": _r(p[0]), "p95": _r(p[1]), "p99": _r(p[2])}


def _per_second(t: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    idx = np.clip(t.astype(np.int64), 0, n - 1)
    return np.bincount(idx[mask], minlength=n)


def _paired(obs: Any, pred: Any) -> Iterator[tuple[Any, Any, int]]:
    """Each observed client's attempts and the model's, in order, with how many pair up:
    the k-th observed attempt of a client goes with its k-th predicted one."""
    for client, o_group in obs.groupby("client", sort=True):
        p_group = pred[pred["client"] == client]
        yield o_group, p_group, min(len(o_group), len(p_group))


def _cold_starts(obs: Any, pred: Any) -> dict[str, float]:
    """Cold starts observed and predicted, counted on the attempts whose answer says
    whether one happened (a gateway's own 504 cannot know), on the paired attempts."""
    if "cold_start" not in obs:
        return {"observed": float("nan"), "predicted": float(pred["cold_start"].sum()), "attempts": 0.0}
    observed = predicted = known = 0.0
    for o_group, p_group, k in _paired(obs, pred):
        flags = o_group["cold_start"].to_numpy(dtype=float, na_value=np.nan)[:k]
        says = ~np.isnan(flags)
        observed += float(flags[says].sum())
        predicted += float(p_group["cold_start"].to_numpy(dtype=float)[:k][says].sum())
        known += float(says.sum())
    return {"observed": observed, "predicted": predicted, "attempts": known}


def causes_from_answers(observed: pd.DataFrame, scenario: Scenario) -> tuple[pd.DataFrame, dict[str, str]]:
    """What the answers alone say of each attempt's cause, for an API that does not say it.

    A deployed API Gateway stage tells a client only a status and a body. Each
    ``(status, message)`` of the scenario's API stands for the causes that answer that way
    (:func:`simulator.outcomes.answer_groups`): one cause when it is alone, else a group
    named ``"throttled_usage_plan|throttled_method|..."``. Returns the log with its empty
    ``cause`` cells filled that way (``""`` for an answer no cause gives), and the map from
    each cause to its group, to read the model's causes the same way.
    """
    groups = answer_groups(scenario)
    label = {key: "|".join(causes) for key, causes in groups.items()}
    of_cause = {cause: label[key] for key, causes in groups.items() for cause in causes}
    status = observed["status"].to_numpy(dtype=np.int64)
    message = (observed["message"].fillna("").astype(str).to_numpy() if "message" in observed
               else np.full(len(status), ""))
    found = np.array([
        "ok" if 200 <= st < 300 else "client_timeout" if st == 0 else label.get((int(st), str(m)), "")
        for st, m in zip(status, message)
    ], dtype=object)
    known = observed["cause"].fillna("").astype(str).to_numpy() if "cause" in observed else np.full(len(status), "")
    return observed.assign(cause=np.where(known == "", found, known)), of_cause


def compare(
    observed: pd.DataFrame,
    replay: Result,
    model_runs: Sequence[Result] = (),
    *,
    tolerances: Mapping[str, float] | None = None,
    cause_groups: Mapping[str, str] | None = None,
) -> ValidationReport:
    """Compare an observed log with the replay prediction (and traffic-model runs).

    *cause_groups* (from :func:`causes_from_answers`) reads the model's causes as the
    groups a response-only observation can tell apart.
    """
    tol = {**DEFAULT_TOLERANCES, **(tolerances or {})}
    obs = observed.sort_values(["client", "intended_start_s", "attempt"], kind="stable").reset_index(drop=True)
    pred = replay.to_dataframe()
    pred = pred.assign(intended_start_s=pred["time_s"], latency_ms=pred["latency_s"] * 1000.0)
    pred = pred.sort_values(["client", "time_s", "attempt"], kind="stable").reset_index(drop=True)

    o_cls = status_class(obs["status"].to_numpy(dtype=np.int64))
    p_cls = status_class(pred["status"].to_numpy(dtype=np.int64))
    fractions = {"observed": _fractions(o_cls), "predicted": _fractions(p_cls)}
    causes = _cause_fractions(obs, pred, cause_groups)
    latency = _latencies(obs, pred, o_cls, p_cls)
    enough_2xx = min(int(np.sum(o_cls == "2xx")), int(np.sum(p_cls == "2xx"))) >= 20
    lat_o, lat_p = ("observed_2xx", "predicted_2xx") if enough_2xx else ("observed", "predicted")
    cold = _cold_starts(obs, pred)
    agreement = _agreement(obs, pred)
    per_second, series = _per_second_errors(obs, pred)
    intervals = _model_intervals(model_runs)

    checks = [
        Check("fraction_429", fractions["predicted"]["429"], fractions["observed"]["429"], tol["fraction_429"],
              "abs", intervals.get("429")),
        Check("fraction_5xx", fractions["predicted"]["5xx"], fractions["observed"]["5xx"], tol["fraction_5xx"],
              "abs", intervals.get("5xx")),
        Check("agreement", agreement, agreement, tol["agreement"], "min"),
        Check("latency_p50", latency[lat_p]["p50"], latency[lat_o]["p50"], tol["latency_p50"], "rel",
              floor=tol["latency_floor_ms"]),
        Check("latency_p95", latency[lat_p]["p95"], latency[lat_o]["p95"], tol["latency_p95"], "rel",
              floor=tol["latency_floor_ms"]),
    ]
    return ValidationReport(checks, fractions, causes, latency, cold, series, agreement, len(obs), per_second)


def _cause_fractions(obs: pd.DataFrame, pred: pd.DataFrame,
                     cause_groups: Mapping[str, str] | None) -> dict[str, dict[str, float]]:
    """The share of attempts of each cause (or group of causes), observed and predicted."""
    o_cause = obs["cause"].fillna("").astype(str).to_numpy() if "cause" in obs else np.full(len(obs), "")
    p_cause = pred["cause"].astype(str).to_numpy()
    names: Sequence[str] = CAUSES
    if cause_groups:
        p_cause = np.array([cause_groups.get(c, c) for c in p_cause], dtype=object)
        names = list(dict.fromkeys(cause_groups.get(c, c) for c in CAUSES))
    return {
        "observed": {c: _r(np.mean(o_cause == c)) for c in names if np.any(o_cause == c)},
        "predicted": {c: _r(np.mean(p_cause == c)) for c in names if np.any(p_cause == c)},
    }


def _latencies(obs: pd.DataFrame, pred: pd.DataFrame, o_cls: np.ndarray,
               p_cls: np.ndarray) -> dict[str, dict[str, float]]:
    """Latency percentiles of all attempts and of the successful ones, observed and predicted."""
    o_ms = obs["latency_ms"].to_numpy(dtype=float)
    p_ms = pred["latency_ms"].to_numpy(dtype=float)
    return {
        "observed": _percentiles(o_ms),
        "predicted": _percentiles(p_ms),
        # Successful attempts alone: the latency users wait for. With many fast 429s the
        # all-attempt median falls between two modes and swings with a few requests.
        "observed_2xx": _percentiles(o_ms[o_cls == "2xx"]),
        "predicted_2xx": _percentiles(p_ms[p_cls == "2xx"]),
    }


def _agreement(obs: pd.DataFrame, pred: pd.DataFrame) -> float:
    """Request-by-request: the share of the k-th attempts of each client, in intended-start
    order, that got the same status."""
    agree = 0
    total = 0
    for o_group, p_group, k in _paired(obs, pred):
        total += max(len(o_group), len(p_group))
        agree += int(np.sum(o_group["status"].to_numpy()[:k] == p_group["status"].to_numpy()[:k]))
    return agree / total if total else 1.0


def _per_second_errors(obs: pd.DataFrame, pred: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """The 429s and 5XXs of each second, observed and predicted, and the errors between them."""
    import pandas as pd

    o_status = obs["status"].to_numpy(dtype=np.int64)
    p_status = pred["status"].to_numpy(dtype=np.int64)
    end = int(np.ceil(max(obs["intended_start_s"].max() if len(obs) else 0.0, pred["time_s"].max()
                          if len(pred) else 0.0))) + 1
    o_t = obs["intended_start_s"].to_numpy(dtype=float)
    p_t = pred["time_s"].to_numpy(dtype=float)
    per_second = pd.DataFrame({
        "time_s": np.arange(end, dtype=float),
        "observed_429": _per_second(o_t, o_status == 429, end),
        "predicted_429": _per_second(p_t, p_status == 429, end),
        "observed_5xx": _per_second(o_t, o_status >= 500, end),
        "predicted_5xx": _per_second(p_t, p_status >= 500, end),
    })
    series = {}
    for m in ("429", "5xx"):
        diff = np.abs(per_second[f"predicted_{m}"] - per_second[f"observed_{m}"]).to_numpy()
        series[m] = {"mean_abs_error": _r(diff.mean()), "max_abs_error": _r(diff.max() if len(diff) else 0.0)}
    return per_second, series


def _model_intervals(model_runs: Sequence[Result]) -> dict[str, tuple[float, float]]:
    """The 95% range of the 429 and 5XX fractions over the traffic model's runs."""
    intervals: dict[str, tuple[float, float]] = {}
    if not model_runs:
        return intervals
    for cls in ("429", "5xx"):
        values = [float(np.mean(status_class(r.attempts["status"]) == cls)) if r.n_attempts else 0.0
                  for r in model_runs]
        intervals[cls] = (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
    return intervals
