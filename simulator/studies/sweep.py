"""Sweeps: the same scenario under a grid of what-ifs, each run over several seeds.

A *sweep* answers "what if reserved concurrency were 100, 200 or 400, and memory 1024 or
1769?" by running every combination. It is defined by a scenario file and ``vary``, a
mapping from a dotted key path (the same paths ``--set`` takes, list entries by name) to
the values to try::

    from simulator.studies.sweep import parse_vary, run_sweep

    key, values = parse_vary("functions.checkout.reserved_concurrency=100:400:100")
    sweep = run_sweep("scenarios/flash_sale.toml", {key: values, "functions.checkout.memory_mb": [1024, 1769]},
                      replications=5)
    sweep.table        # one row per grid point: the keys, then each figure's mean and 95% interval

``vary`` is usually read from ``--vary`` flags by :mod:`simulator.studies.vary` (whose
:func:`parse_vary` and :func:`parse_vary_flags` are importable from here too).
**The grid** is the Cartesian product of the lists, in the order the keys were given.
**Replications** run each point with seeds ``seed, seed + 1, ...`` (the scenario's own seed
when *seed* is None). Every point uses the same seeds (common random numbers): two points
differ only by their overrides, so their difference is not blurred by different traffic.

**The figures** of a run are a handful of headline numbers taken from
:meth:`simulator.Result.summary` (see :data:`METRICS`). Over the replications of a point
the table gives the mean, and ``<metric>_lo`` / ``<metric>_hi``: the 95% confidence
interval of that mean, ``mean +- t(0.975, n-1) * s / sqrt(n)`` with Student's t and the
sample standard deviation *s*. With one replication the interval collapses to the mean:
one run says nothing about its own spread.

**Where the runs happen**: each (point, seed) is one task, handed to any object with an
``Executor``-like ``submit(fn, *args)`` whose futures have ``result()`` and
``add_done_callback()``: a ``concurrent.futures`` pool, a Dask ``distributed.Client`` or
its ``get_executor()``. The task is :func:`run_point`, a top-level function that takes
plain data (the scenario path, the overrides, the seed) and returns a small dict of
figures, so it pickles cheaply and a cluster never ships a whole run back. Workers read
the scenario file themselves: on a cluster they need the same files at the same path.
Results are put back in grid order, so the table does not depend on the executor or on
which task finished first.
"""

from __future__ import annotations

import itertools
import math
import os
import queue
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from simulator.cost.usage import monthly_basis
from simulator.engine import simulate
from simulator.errors import ThrottlesimError
from simulator.scenario import load_scenario
from simulator.scenario.scale import scale_scenario
from simulator.studies.vary import MAX_RANGE_POINTS, parse_vary, parse_vary_flags

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_RANGE_POINTS",
    "METRICS",
    "Sweep",
    "SweepResult",
    "headline",
    "parse_vary",
    "parse_vary_flags",
    "render_sweep",
    "run_point",
    "run_sweep",
    "student_t_quantile",
]

#: The figures a sweep records per run, with where they come from in ``Result.summary()``.
METRICS: dict[str, str] = {
    "rate_429": "rates.attempt_429_fraction",
    "rate_429_quota": "rates.attempt_429_quota_fraction",
    "rate_5xx": "rates.attempt_5xx_fraction",
    "success_fraction": "rates.success_fraction",
    "p50_ms": "latency_ms.p50 (per attempt)",
    "p95_ms": "latency_ms.p95 (per attempt)",
    "p99_ms": "latency_ms.p99 (per attempt)",
    "monthly_usd": "cost_usd.monthly_total",
    "cold_starts": "lambda.*.cold_starts, summed over functions",
    "lambda_throttles": "lambda.*.throttles, summed over functions",
}


class Executor(Protocol):
    """What a sweep needs of an executor: ``submit(fn, *args)`` returning a future."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any: ...


ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each finished run, in the calling thread."""


# --------------------------------------------------------------------------- one run


def _ms(value: float | None) -> float:
    """A latency for a sweep's table: NaN when the run measured none (no SLO passes on it)."""
    return math.nan if value is None else float(value)


def headline(summary: Mapping[str, Any]) -> dict[str, float]:
    """The :data:`METRICS` of one run, from its ``Result.summary()``."""
    rates = summary["rates"]
    latency = summary["latency_ms"]
    functions = summary["lambda"].values()
    return {
        "rate_429": float(rates["attempt_429_fraction"]),
        "rate_429_quota": float(rates["attempt_429_quota_fraction"]),
        "rate_5xx": float(rates["attempt_5xx_fraction"]),
        "success_fraction": float(rates["success_fraction"]),
        "p50_ms": _ms(latency["p50"]),
        "p95_ms": _ms(latency["p95"]),
        "p99_ms": _ms(latency["p99"]),
        "monthly_usd": float(summary["cost_usd"]["monthly_total"]),
        "cold_starts": float(sum(f["cold_starts"] for f in functions)),
        "lambda_throttles": float(sum(f["throttles"] for f in functions)),
    }


def run_point(scenario_path: str, overrides: dict[str, Any], seed: int, scale: float = 1.0) -> dict[str, float]:
    """Load *scenario_path* with *overrides*, scale its load by *scale*
    (:func:`~simulator.scenario.scale.scale_scenario`), simulate it with *seed*, return its figures.

    This is the task a sweep sends to its executor: plain data in, a small dict out.
    """
    scenario = scale_scenario(load_scenario(scenario_path, overrides=overrides, seed=seed), scale)
    return headline(simulate(scenario, seed=seed).summary())


# --------------------------------------------------------------------------- statistics


def _abs_t_cdf(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with *df* degrees of freedom (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2 == 0:
        term = total = 1.0
        for k in range(1, (df - 2) // 2 + 1):
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        return s * total
    if df == 1:
        return 2 * theta / math.pi
    term = total = math.cos(theta)
    for k in range(1, (df - 3) // 2 + 1):
        term *= c2 * (2 * k) / (2 * k + 1)
        total += term
    return 2 * (theta + s * total) / math.pi


def student_t_quantile(df: int, confidence: float = 0.95) -> float:
    """The t with P(|T| <= t) = *confidence*: the two-sided critical value (df=4: 2.776)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df > 200:
        # The Cornish-Fisher expansion around the normal quantile: exact to ~1e-10 here.
        from statistics import NormalDist

        z = NormalDist().inv_cdf((1 + confidence) / 2)
        return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
                + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
                + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * df**4))
    low, high = 0.0, 1.0
    while _abs_t_cdf(high, df) < confidence:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if _abs_t_cdf(mid, df) < confidence:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return (low + high) / 2


def _interval(values: Sequence[float]) -> tuple[float, float, float]:
    n = len(values)
    mean = math.fsum(values) / n
    if n == 1:
        return mean, mean, mean
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = student_t_quantile(n - 1) * math.sqrt(var / n)
    return mean, mean - half, mean + half


# --------------------------------------------------------------------------- the sweep


@dataclass(frozen=True, eq=False)
class SweepResult:
    """What a sweep found: :attr:`table` (one row per grid point) and :attr:`runs` (one per run)."""

    scenario_path: str
    vary: dict[str, list[Any]]
    replications: int
    seeds: tuple[int, ...]
    #: One row per replication: the varied keys, ``replication``, ``seed``, then every metric.
    runs: pd.DataFrame
    #: One row per grid point: the varied keys, then ``<metric>``, ``<metric>_lo``, ``<metric>_hi``.
    table: pd.DataFrame
    #: What ``monthly_usd`` is made of (:func:`~simulator.cost.usage.monthly_basis`), e.g.
    #: ``"× 730 h / 10m of this run"``; "" when the grid varies ``cost.month_from``.
    month_basis: str = ""

    def points(self) -> list[dict[str, Any]]:
        """The overrides of each row of :attr:`table`, in order."""
        keys = list(self.vary)
        return [dict(zip(keys, row)) for row in self.table[keys].itertuples(index=False, name=None)]

    def to_csv(self, path: str | Path) -> None:
        """Write :attr:`table` as CSV."""
        self.table.to_csv(path, index=False)

    def to_parquet(self, path: str | Path) -> None:
        """Write :attr:`table` as Parquet (needs pyarrow)."""
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise ThrottlesimError(f"{path}: writing Parquet needs pyarrow (pip install pyarrow); or use a .csv file")
        # Varied columns may mix numbers and strings; Parquet wants one type per column.
        table = self.table.copy()
        for key in self.vary:
            if table[key].map(type).nunique() > 1:
                table[key] = table[key].astype(str)
        table.to_parquet(path, index=False)


@dataclass(frozen=True)
class Sweep:
    """The definition of a sweep: a scenario, the grid of overrides, the seeds."""

    scenario_path: str
    vary: dict[str, list[Any]]
    replications: int = 1
    #: First seed; None uses the scenario's own.
    seed: int | None = None
    #: Overrides applied at every point (what ``--set`` is to ``throttlesim run``).
    overrides: dict[str, Any] = field(default_factory=dict)
    #: Every client's offered load multiplied by this at every point (``--scale``).
    scale: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.replications, bool) or not isinstance(self.replications, int) or self.replications < 1:
            raise ValueError(f"replications must be a whole number >= 1, got {self.replications!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0):
            raise ValueError(f"seed must be a whole number >= 0, got {self.seed!r}")
        for key, values in self.vary.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise ValueError(f"vary[{key!r}] must be a non-empty list of values")
        both = sorted(set(self.overrides) & set(self.vary))
        if both:
            raise ValueError(f"{both[0]!r} is both varied and fixed; give it in vary or in overrides, not both")
        object.__setattr__(self, "overrides", dict(self.overrides))
        object.__setattr__(self, "scenario_path", str(Path(self.scenario_path).resolve()))
        object.__setattr__(self, "vary", {k: list(v) for k, v in self.vary.items()})

    def points(self) -> list[dict[str, Any]]:
        """Every grid point's overrides, in grid order (the first key varies slowest)."""
        keys = list(self.vary)
        return [dict(zip(keys, combo)) for combo in itertools.product(*self.vary.values())]

    def validate(self) -> tuple[list[dict[str, Any]], tuple[int, ...]]:
        """Load the scenario at every point (raising :class:`~simulator.ScenarioError` on the
        first bad one) before any time is spent running; returns the points and the seeds."""
        base = scale_scenario(load_scenario(self.scenario_path, overrides=self.overrides or None), self.scale)
        first = base.seed if self.seed is None else self.seed
        points = self.points()
        for point in points:
            scale_scenario(load_scenario(self.scenario_path, overrides={**self.overrides, **point}), self.scale)
        return points, tuple(first + r for r in range(self.replications))

    def run(self, executor: Executor | None = None, progress: ProgressCallback | None = None) -> SweepResult:
        """Run every (point, seed) on *executor* (default: a local process pool, one
        worker per CPU) and collect the figures."""
        points, seeds = self.validate()
        tasks = [(p, r) for p in range(len(points)) for r in range(len(seeds))]
        own = executor is None
        pool: Executor = ProcessPoolExecutor(max_workers=os.cpu_count() or 1) if own else executor  # type: ignore[assignment]
        try:
            figures = _gather(pool, self.scenario_path, [{**self.overrides, **p} for p in points], seeds, tasks,
                              progress, self.scale)
        finally:
            if own:
                pool.shutdown(cancel_futures=True)  # type: ignore[attr-defined]
        return self._result(points, seeds, figures)

    def _result(
        self, points: list[dict[str, Any]], seeds: tuple[int, ...], figures: dict[tuple[int, int], dict[str, float]]
    ) -> SweepResult:
        import pandas as pd

        keys = list(self.vary)
        run_rows = []
        table_rows = []
        for p, point in enumerate(points):
            per_run = [figures[(p, r)] for r in range(len(seeds))]
            for r, seed in enumerate(seeds):
                run_rows.append({**point, "replication": r, "seed": seed, **per_run[r]})
            row: dict[str, Any] = dict(point)
            for metric in METRICS:
                row[metric], row[f"{metric}_lo"], row[f"{metric}_hi"] = _interval([f[metric] for f in per_run])
            table_rows.append(row)
        run_columns = [*keys, "replication", "seed", *METRICS]
        table_columns = [*keys, *(c for m in METRICS for c in (m, f"{m}_lo", f"{m}_hi"))]
        varied_month = {"duration", "cost.month_from"} & set(keys)
        base = scale_scenario(load_scenario(self.scenario_path, overrides=self.overrides or None), self.scale)
        return SweepResult(
            month_basis=(monthly_basis(base) if not varied_month else
                         "× 730 h / each point's duration" if varied_month == {"duration"} else ""),
            scenario_path=self.scenario_path,
            vary={k: list(v) for k, v in self.vary.items()},
            replications=self.replications,
            seeds=seeds,
            runs=pd.DataFrame(run_rows, columns=run_columns),
            table=pd.DataFrame(table_rows, columns=table_columns),
        )


def _gather(
    pool: Executor,
    path: str,
    points: list[dict[str, Any]],
    seeds: tuple[int, ...],
    tasks: list[tuple[int, int]],
    progress: ProgressCallback | None,
    scale: float = 1.0,
) -> dict[tuple[int, int], dict[str, float]]:
    """Submit every task, wait for all, and return the figures by (point, replication)."""
    done: queue.Queue[int] = queue.Queue()
    futures: list[Any] = []
    out: dict[tuple[int, int], dict[str, float]] = {}
    try:
        for i, (p, r) in enumerate(tasks):
            future = pool.submit(run_point, path, points[p], seeds[r], scale)
            future.add_done_callback(lambda _f, i=i: done.put(i))
            futures.append(future)
        for n in range(1, len(tasks) + 1):
            i = done.get()
            out[tasks[i]] = dict(futures[i].result())
            if progress is not None:
                progress(n, len(tasks))
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return out


def run_sweep(
    scenario_path: str | Path,
    vary: Mapping[str, Sequence[Any]],
    *,
    replications: int = 1,
    seed: int | None = None,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    overrides: Mapping[str, Any] | None = None,
    scale: float = 1.0,
) -> SweepResult:
    """Run *scenario_path* at every combination of *vary*, *replications* seeds each, with
    *overrides* (key path -> value, as ``throttlesim run --set``) applied at every point and
    every client's load multiplied by *scale*.

    See the module docstring for the grid, the seeds and the confidence intervals.
    """
    sweep = Sweep(str(scenario_path), {k: list(v) for k, v in vary.items()}, replications, seed, dict(overrides or {}),
                  scale)
    return sweep.run(executor, progress)


def render_sweep(
    result: SweepResult, metrics: Sequence[str] = ("rate_429", "rate_5xx", "p99_ms", "monthly_usd")
) -> Any:
    """A rich table of a sweep for the terminal: the keys, then ``mean [lo, hi]`` per metric."""
    from rich.table import Table

    more = "..." if result.replications > 3 else ""
    table = Table(title=f"{Path(result.scenario_path).name}: {len(result.table)} points x "
                        f"{result.replications} seeds {list(result.seeds)[:3]}{more}",
                  title_justify="left")
    for key in result.vary:
        table.add_column(key, justify="right")
    for m in metrics:
        title = m if result.replications == 1 else f"{m} [95% CI]"
        if m == "monthly_usd" and result.month_basis:
            title += f"\n{result.month_basis}"
        table.add_column(title, justify="right")
    for row in result.table.to_dict("records"):
        cells = [str(row[k]) for k in result.vary]
        for m in metrics:
            cell = f"{row[m]:,.4g}"
            if result.replications > 1:
                cell += f" [{row[f'{m}_lo']:,.4g}, {row[f'{m}_hi']:,.4g}]"
            cells.append(cell)
        table.add_row(*cells)
    return table
