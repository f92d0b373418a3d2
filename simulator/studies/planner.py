"""Planning: the best configuration that meets your service-level objectives.

An SLO here is a bound on one of a sweep's figures (:data:`simulator.studies.sweep.METRICS`)::

    rate_5xx<0.001          fewer than 0.1% of attempts answered 5XX
    rate_429<=0.5%          percentages are fractions
    p99<800ms               p50/p95/p99 are p50_ms/p95_ms/p99_ms; durations become ms
    success_fraction>0.999
    monthly_usd<5000        a budget is an SLO too

:func:`plan` runs a sweep over the candidate configurations (see :mod:`simulator.studies.sweep`),
keeps the grid points that meet every SLO and picks the best by an explicit objective, with
the runner-up: by default the lowest cost *at full service* (monthly cost / success
fraction, so that unbilled failures never make a point look cheaper), costs within noise of
each other counting as ties broken by fewer errors; or the smallest value of a varied
setting; or the most headroom. :mod:`simulator.studies.objective` states the rules.

**Judging under noise.** With one replication a point is judged on its single run. With
more, a point must meet each SLO with its whole 95% confidence interval: the upper bound
(``<metric>_hi``) for ``<``/``<=`` SLOs, the lower bound (``<metric>_lo``) for ``>``/``>=``.
A point whose mean just passes but whose interval straddles the line is not chosen:
run more replications to tell.

**Why this point.** For every point the *slack* of an SLO is its margin relative to the
threshold: ``(threshold - value) / |threshold|`` for ``<`` (``value - threshold`` over the
same for ``>``; the raw difference when the threshold is 0). The *binding constraint* of a
passing point is the SLO with the least slack: what would break first if you cut further.
For a failing point it is the SLO it misses by the most. When no point passes, the
*closest* point is the one whose worst miss is smallest.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from simulator.studies.objective import Objective, check_objective, pick, served_cost, wilson_interval
from simulator.studies.sweep import METRICS, Executor, ProgressCallback, SweepResult, run_sweep
from simulator.units import parse_duration

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

__all__ = ["SLO", "PlanPoint", "PlanResult", "choose", "parse_slo", "plan", "render_plan"]

Op = Literal["<", "<=", ">", ">="]

_ALIASES = {"p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms"}
_FRACTIONS = {"rate_429", "rate_429_quota", "rate_5xx", "success_fraction"}
_SLO = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*(\S.*?)\s*$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class SLO:
    """One objective: ``metric op threshold``, with the metric as named in the sweep table."""

    metric: str
    op: Op
    threshold: float
    #: As written, for messages.
    text: str

    def column(self, replications: int) -> str:
        """The sweep-table column this SLO is judged on."""
        if replications <= 1:
            return self.metric
        return f"{self.metric}_hi" if self.op in ("<", "<=") else f"{self.metric}_lo"

    def met(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return {
            "<": value < self.threshold,
            "<=": value <= self.threshold,
            ">": value > self.threshold,
            ">=": value >= self.threshold,
        }[self.op]

    def slack(self, value: float) -> float:
        """The margin relative to the threshold: > 0 inside, < 0 outside."""
        scale = abs(self.threshold) or 1.0
        margin = self.threshold - value if self.op in ("<", "<=") else value - self.threshold
        return margin / scale


def parse_slo(text: str) -> SLO:
    """Read one ``--slo``: ``metric<threshold`` (also ``<=``, ``>``, ``>=``).

    Latency thresholds take a duration with its unit (``800ms``, ``1.2s``); a bare number
    is read as milliseconds only with the explicit name (``p99_ms<800``). Fractions may be
    written as percentages (``0.1%``). Anything else raises a one-line :class:`ValueError`.

    >>> parse_slo("p99<800ms")
    SLO(metric='p99_ms', op='<', threshold=800.0, text='p99<800ms')
    """
    flag = f"--slo {text}"
    match = _SLO.match(text)
    if match is None:
        raise ValueError(f"{flag}: expected metric<threshold, e.g. rate_5xx<0.001 or p99<800ms")
    name, op, value = match.groups()
    metric = _ALIASES.get(name, name)
    if metric not in METRICS:
        known = [*METRICS, *_ALIASES]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{flag}: unknown metric {name!r}{hint}; known: {', '.join(known)}")
    threshold = _threshold(flag, name, metric, value)
    return SLO(metric, op, threshold, text.strip())  # type: ignore[arg-type]


def _threshold(flag: str, name: str, metric: str, value: str) -> float:
    if metric.endswith("_ms"):
        if _NUMBER.match(value):
            if name == metric:
                return float(value)
            raise ValueError(f"{flag}: give {name} a duration with its unit, e.g. {value}ms")
        try:
            return parse_duration(value) * 1000.0
        except ValueError:
            raise ValueError(f"{flag}: {value!r} is not a duration such as 800ms or 1.2s") from None
    if metric == "monthly_usd" and value.startswith("$"):
        value = value[1:].replace(",", "")
    percent = metric in _FRACTIONS and value.endswith("%")
    number = value[:-1].strip() if percent else value
    if not _NUMBER.match(number):
        what = "a fraction such as 0.001 or 0.1%" if metric in _FRACTIONS else "a number"
        raise ValueError(f"{flag}: the threshold must be {what}, got {value!r}")
    threshold = float(number) / (100.0 if percent else 1.0)
    if metric in _FRACTIONS and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"{flag}: {metric} is a fraction between 0 and 1 (or 0% and 100%), got {value}")
    return threshold


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PlanPoint:
    """One grid point as the planner judged it."""

    #: Row of the sweep table.
    index: int
    overrides: dict[str, Any]
    #: Mean monthly cost over the replications (the ranking key).
    monthly_usd: float
    passes: bool
    #: The value each SLO was judged on (the mean, or a confidence bound), by SLO text.
    judged: dict[str, float]
    #: Relative margin of each SLO, by SLO text (see the module docstring).
    slack: dict[str, float]
    #: The SLO with the least slack (passing) or the largest miss (failing).
    binding: str
    #: The SLOs this point misses, worst first.
    violated: tuple[str, ...]
    #: Fraction of requests not answered with success (mean over the replications).
    error_rate: float = 0.0
    #: The 95% interval of :attr:`error_rate` (see :mod:`simulator.studies.objective`).
    error_interval: tuple[float, float] = (0.0, 0.0)
    #: Monthly cost at full service: monthly cost / success fraction, the ranking key of ``minimize cost``.
    served_usd: float = 0.0
    #: Standard error of :attr:`served_usd`.
    served_se: float = 0.0

    @property
    def headroom(self) -> float:
        """The least slack over the SLOs: how far this point is from breaking one."""
        return min(self.slack.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "overrides": dict(self.overrides),
            "monthly_usd": round(self.monthly_usd, 6),
            "served_monthly_usd": round(self.served_usd, 6) if math.isfinite(self.served_usd) else None,
            "served_monthly_usd_se": round(self.served_se, 6),
            "error_rate": round(self.error_rate, 9),
            "error_interval": [round(v, 9) for v in self.error_interval],
            "passes": self.passes,
            "binding": self.binding,
            "headroom": round(self.headroom, 6),
            "violated": list(self.violated),
            "judged": {k: round(v, 6) for k, v in self.judged.items()},
            "slack": {k: round(v, 6) for k, v in self.slack.items()},
        }


@dataclass(frozen=True, eq=False)
class PlanResult:
    """The planner's answer. ``best`` is None when no point meets every SLO."""

    slos: tuple[SLO, ...]
    replications: int
    #: How the SLOs were judged, in words.
    judged_on: str
    #: What the best point optimises (:mod:`simulator.studies.objective`).
    objective: Objective
    best: PlanPoint | None
    runner_up: PlanPoint | None
    #: The cheapest point that misses an SLO, with the one it misses by the most.
    cheapest_failing: PlanPoint | None
    #: When nothing passes: the point whose worst miss is smallest.
    closest: PlanPoint | None
    #: Every point, in grid order.
    points: tuple[PlanPoint, ...]
    sweep: SweepResult

    @property
    def table(self) -> pd.DataFrame:
        """The sweep table with ``meets_slos`` and ``binding`` columns."""
        table = self.sweep.table.copy()
        table["meets_slos"] = [p.passes for p in self.points]
        table["binding"] = [p.binding for p in self.points]
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with a stable key order."""

        def point(p: PlanPoint | None) -> dict[str, Any] | None:
            return None if p is None else p.to_dict()

        return {
            "slos": [s.text for s in self.slos],
            "replications": self.replications,
            "judged_on": self.judged_on,
            "objective": self.objective.text,
            "rule": self.objective.rule,
            "month_basis": self.sweep.month_basis,
            "best": point(self.best),
            "runner_up": point(self.runner_up),
            "cheapest_failing": point(self.cheapest_failing),
            "closest": point(self.closest),
            "points": len(self.points),
            "passing": sum(p.passes for p in self.points),
            "candidates": [p.to_dict() for p in self.points],
        }


def _judge(index: int, row: Mapping[str, Any], runs: list[Mapping[str, Any]], keys: list[str], slos: Sequence[SLO],
           replications: int) -> PlanPoint:
    judged = {s.text: float(row[s.column(replications)]) for s in slos}
    slack = {s.text: s.slack(judged[s.text]) for s in slos}
    missed = [s.text for s in slos if not s.met(judged[s.text])]
    missed.sort(key=lambda t: slack[t])
    binding = missed[0] if missed else min(slack, key=lambda t: slack[t])
    if not runs:  # a table without its runs: the point's means stand for one run
        runs = [row]
    requests = [float(r.get("requests", 0.0)) for r in runs]
    success = [float(r["success_fraction"]) for r in runs]
    served, served_se = served_cost([float(r["monthly_usd"]) for r in runs], success, requests)
    error_rate = 1.0 - float(row["success_fraction"])
    if replications > 1:
        hi, lo = float(row["success_fraction_hi"]), float(row["success_fraction_lo"])
        interval = (max(0.0, 1.0 - hi), min(1.0, 1.0 - lo))
    else:
        interval = wilson_interval(error_rate * requests[0], requests[0])
    return PlanPoint(
        index=index,
        overrides={k: row[k] for k in keys},
        monthly_usd=float(row["monthly_usd"]),
        passes=not missed,
        judged=judged,
        slack=slack,
        binding=binding,
        violated=tuple(missed),
        error_rate=error_rate,
        error_interval=interval,
        served_usd=served,
        served_se=served_se,
    )


def _natural(value: Any) -> Any:
    """NumPy scalars from a DataFrame row as plain Python values."""
    return value.item() if hasattr(value, "item") else value


def choose(sweep: SweepResult, slos: Sequence[str | SLO], objective: Objective | None = None) -> PlanResult:
    """Judge an existing sweep against *slos* (no new runs) and pick the best passing point
    by *objective* (default: minimize cost; see :mod:`simulator.studies.objective`)."""
    parsed = tuple(parse_slo(s) if isinstance(s, str) else s for s in slos)
    if not parsed:
        raise ValueError("give at least one SLO, e.g. rate_5xx<0.001")
    objective = objective or Objective("cost")
    n = sweep.replications
    keys = list(sweep.vary)
    check_objective(objective, sweep.vary)
    rows = sweep.table.to_dict("records")
    runs = sweep.runs.to_dict("records") if len(sweep.runs) == len(rows) * n else []
    points = tuple(
        _judge(i, _plain(row), [_plain(r) for r in runs[i * n:(i + 1) * n]], keys, parsed, n)
        for i, row in enumerate(rows)
    )
    by_cost = sorted(points, key=lambda p: (p.monthly_usd, p.index))
    ranked = pick([p for p in points if p.passes], objective)
    failing = [p for p in by_cost if not p.passes]
    closest = None
    if not ranked and failing:
        closest = min(failing, key=lambda p: (-min(p.slack.values()), p.monthly_usd, p.index))
    if n > 1:
        judged_on = (f"the 95% confidence bound over {n} replications: upper for '<' SLOs, lower for '>' SLOs")
    else:
        judged_on = "one run per point (no confidence interval; use replications > 1 to judge under noise)"
    return PlanResult(
        slos=parsed,
        replications=n,
        judged_on=judged_on,
        objective=objective,
        best=ranked[0] if ranked else None,
        runner_up=ranked[1] if len(ranked) > 1 else None,
        cheapest_failing=failing[0] if failing else None,
        closest=closest,
        points=points,
        sweep=sweep,
    )


def _plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): _natural(v) for k, v in row.items()}


def plan(
    scenario_path: str | Path,
    slos: Sequence[str | SLO],
    vary: Mapping[str, Sequence[Any]],
    *,
    replications: int = 1,
    seed: int | None = None,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    overrides: Mapping[str, Any] | None = None,
    scale: float = 1.0,
    objective: Objective | None = None,
) -> PlanResult:
    """Sweep *vary* over *scenario_path* (with *overrides* at every point, every client's
    load multiplied by *scale*) and pick the best point meeting every SLO by *objective*
    (default: the lowest cost at full service, see :mod:`simulator.studies.objective`)."""
    parsed = [parse_slo(s) if isinstance(s, str) else s for s in slos]
    if not parsed:
        raise ValueError("give at least one SLO, e.g. rate_5xx<0.001")
    if objective is not None:
        check_objective(objective, vary)
    sweep = run_sweep(scenario_path, vary, replications=replications, seed=seed, executor=executor, progress=progress,
                      overrides=overrides, scale=scale)
    return choose(sweep, parsed, objective)


# --------------------------------------------------------------------------- rendering


def _percent(x: float) -> str:
    return f"{100 * x:.3g}%"


def _errors(p: PlanPoint) -> str:
    lo, hi = p.error_interval
    return f"{_percent(p.error_rate)} [{_percent(lo)}, {_percent(hi)}]"


def _served(p: PlanPoint) -> str:
    if not math.isfinite(p.served_usd):
        return "-"
    return f"{p.served_usd:,.2f}" + (f" \u00b1{p.served_se:,.2f}" if p.served_se > 0 else "")


def render_plan(result: PlanResult) -> list[Table | str]:
    """Rich tables and lines for the terminal: the verdict, then every point with its error
    rate, headroom to each SLO and costs."""
    from rich.table import Table

    out: list[Table | str] = []
    keys = list(result.sweep.vary)

    def where(p: PlanPoint) -> str:
        return ", ".join(f"{k}={v}" for k, v in p.overrides.items())

    basis = f", {result.sweep.month_basis}" if result.sweep.month_basis else ""
    if result.best is not None:
        b = result.best
        out.append(f"[bold]best ({result.objective.text}):[/bold] {where(b)}  (${b.monthly_usd:,.2f}/month{basis}; "
                   f"binding: {b.binding}, headroom {b.headroom:+.1%}; errors {_errors(b)})")
        if result.runner_up is not None:
            r = result.runner_up
            out.append(f"runner-up: {where(r)}  (${r.monthly_usd:,.2f}/month{basis}; headroom {r.headroom:+.1%}; "
                       f"errors {_errors(r)})")
    else:
        out.append("[bold red]no configuration meets every SLO[/bold red]")
        if result.closest is not None:
            out.append(f"closest: {where(result.closest)}  (misses {', '.join(result.closest.violated)})")
    if result.cheapest_failing is not None:
        f = result.cheapest_failing
        out.append(f"cheapest failing: {where(f)}  (${f.monthly_usd:,.2f}/month{basis}; misses {f.binding}; "
                   f"errors {_errors(f)})")
    out.append(f"objective: {result.objective.rule}")
    out.append(f"judged on {result.judged_on}")
    ranked = pick([p for p in result.points if p.passes], result.objective)
    rank = {p.index: i + 1 for i, p in enumerate(ranked)}
    month = f"monthly USD {result.sweep.month_basis}; " if result.sweep.month_basis else ""
    table = Table(title=f"Candidates ({month}headroom: margin to each SLO relative to its threshold)",
                  title_justify="left")
    for k in keys:
        table.add_column(k, justify="right")
    for slo in result.slos:
        table.add_column(f"{slo.text}\n(headroom)", justify="right")
    table.add_column("errors [95%]", justify="right")
    table.add_column("monthly USD", justify="right")
    table.add_column("at full service\n(USD / success)", justify="right")
    table.add_column("rank", justify="center")
    for p in result.points:
        cells = [str(p.overrides[k]) for k in keys]
        cells += [f"{p.judged[slo.text]:,.4g} ({p.slack[slo.text]:+.0%})" for slo in result.slos]
        cells += [_errors(p), f"{p.monthly_usd:,.2f}", _served(p), str(rank[p.index]) if p.passes else "fails"]
        table.add_row(*cells, style="bold green" if result.best is not None and p.index == result.best.index else None)
    out.append(table)
    return out
