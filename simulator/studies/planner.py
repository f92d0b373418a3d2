"""Planning: the cheapest configuration that meets your service-level objectives.

An SLO here is a bound on one of a sweep's figures (:data:`simulator.studies.sweep.METRICS`)::

    rate_5xx<0.001          fewer than 0.1% of attempts answered 5XX
    rate_429<=0.5%          percentages are fractions
    p99<800ms               p50/p95/p99 are p50_ms/p95_ms/p99_ms; durations become ms
    success_fraction>0.999
    monthly_usd<5000        a budget is an SLO too

:func:`plan` runs a sweep over the candidate configurations (see :mod:`simulator.studies.sweep`),
keeps the grid points that meet every SLO and picks the cheapest by mean ``monthly_usd``
(ties go to the earlier grid point), with the runner-up.

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "overrides": dict(self.overrides),
            "monthly_usd": round(self.monthly_usd, 6),
            "passes": self.passes,
            "binding": self.binding,
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
            "best": point(self.best),
            "runner_up": point(self.runner_up),
            "cheapest_failing": point(self.cheapest_failing),
            "closest": point(self.closest),
            "points": len(self.points),
            "passing": sum(p.passes for p in self.points),
        }


def _judge(index: int, row: Mapping[str, Any], keys: list[str], slos: Sequence[SLO], replications: int) -> PlanPoint:
    judged = {s.text: float(row[s.column(replications)]) for s in slos}
    slack = {s.text: s.slack(judged[s.text]) for s in slos}
    missed = [s.text for s in slos if not s.met(judged[s.text])]
    missed.sort(key=lambda t: slack[t])
    binding = missed[0] if missed else min(slack, key=lambda t: slack[t])
    return PlanPoint(
        index=index,
        overrides={k: row[k] for k in keys},
        monthly_usd=float(row["monthly_usd"]),
        passes=not missed,
        judged=judged,
        slack=slack,
        binding=binding,
        violated=tuple(missed),
    )


def _natural(value: Any) -> Any:
    """NumPy scalars from a DataFrame row as plain Python values."""
    return value.item() if hasattr(value, "item") else value


def choose(sweep: SweepResult, slos: Sequence[str | SLO]) -> PlanResult:
    """Judge an existing sweep against *slos* (no new runs)."""
    parsed = tuple(parse_slo(s) if isinstance(s, str) else s for s in slos)
    if not parsed:
        raise ValueError("give at least one SLO, e.g. rate_5xx<0.001")
    n = sweep.replications
    keys = list(sweep.vary)
    rows = sweep.table.to_dict("records")
    points = tuple(
        _judge(i, {str(k): _natural(v) for k, v in row.items()}, keys, parsed, n) for i, row in enumerate(rows)
    )
    by_cost = sorted(points, key=lambda p: (p.monthly_usd, p.index))
    passing = [p for p in by_cost if p.passes]
    failing = [p for p in by_cost if not p.passes]
    closest = None
    if not passing and failing:
        closest = min(failing, key=lambda p: (-min(p.slack.values()), p.monthly_usd, p.index))
    if n > 1:
        judged_on = (f"the 95% confidence bound over {n} replications: upper for '<' SLOs, lower for '>' SLOs")
    else:
        judged_on = "one run per point (no confidence interval; use replications > 1 to judge under noise)"
    return PlanResult(
        slos=parsed,
        replications=n,
        judged_on=judged_on,
        best=passing[0] if passing else None,
        runner_up=passing[1] if len(passing) > 1 else None,
        cheapest_failing=failing[0] if failing else None,
        closest=closest,
        points=points,
        sweep=sweep,
    )


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
) -> PlanResult:
    """Sweep *vary* over *scenario_path* (with *overrides* at every point, every client's
    load multiplied by *scale*) and pick the cheapest point meeting every SLO."""
    parsed = [parse_slo(s) if isinstance(s, str) else s for s in slos]
    if not parsed:
        raise ValueError("give at least one SLO, e.g. rate_5xx<0.001")
    sweep = run_sweep(scenario_path, vary, replications=replications, seed=seed, executor=executor, progress=progress,
                      overrides=overrides, scale=scale)
    return choose(sweep, parsed)


# --------------------------------------------------------------------------- rendering


def render_plan(result: PlanResult) -> list[Table | str]:
    """Rich tables and lines for the terminal: the verdict, then every point."""
    from rich.table import Table

    out: list[Table | str] = []
    keys = list(result.sweep.vary)

    def where(p: PlanPoint) -> str:
        return ", ".join(f"{k}={v}" for k, v in p.overrides.items())

    basis = f", {result.sweep.month_basis}" if result.sweep.month_basis else ""
    if result.best is not None:
        out.append(f"[bold]cheapest meeting every SLO:[/bold] {where(result.best)}  "
                   f"(${result.best.monthly_usd:,.2f}/month{basis}; binding: {result.best.binding})")
        if result.runner_up is not None:
            out.append(f"runner-up: {where(result.runner_up)}  (${result.runner_up.monthly_usd:,.2f}/month{basis})")
    else:
        out.append("[bold red]no configuration meets every SLO[/bold red]")
        if result.closest is not None:
            out.append(f"closest: {where(result.closest)}  (misses {', '.join(result.closest.violated)})")
    if result.cheapest_failing is not None:
        out.append(f"cheapest failing: {where(result.cheapest_failing)}  "
                   f"(${result.cheapest_failing.monthly_usd:,.2f}/month; misses {result.cheapest_failing.binding})")
    out.append(f"judged on {result.judged_on}")
    table = Table(title="Candidates", title_justify="left")
    for k in keys:
        table.add_column(k, justify="right")
    for s in result.slos:
        table.add_column(s.text, justify="right")
    table.add_column("monthly USD" + (f"\n{result.sweep.month_basis}" if result.sweep.month_basis else ""),
                     justify="right")
    table.add_column("meets", justify="center")
    for p in result.points:
        cells = [str(p.overrides[k]) for k in keys]
        cells += [f"{p.judged[s.text]:,.4g}" for s in result.slos]
        cells += [f"{p.monthly_usd:,.2f}", "yes" if p.passes else "no"]
        table.add_row(*cells, style="bold green" if result.best is not None and p.index == result.best.index else None)
    out.append(table)
    return out
