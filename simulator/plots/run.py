"""Figures of one simulated run: outcomes, Lambda concurrency, latency and cost.

Time is cut into intervals of ``interval_s`` exactly as :meth:`Result.timeseries` cuts it:
interval *k* covers ``[k * interval_s, (k + 1) * interval_s)`` and the last one ends at or
after the end of the run (:attr:`Result.end_s`, when the last response or the last function
still running finished). Every attempt counts in the interval it *started* in, as
CloudWatch counts API Gateway and Lambda metrics, so the stacked outcomes of an interval add
up to its ``Count`` and its cold starts to the cold invocations that began in it.

Per-interval quantities are drawn as steps over their interval (``Axes.stairs``), one artist
per series whatever the number of intervals, so a long run stays cheap to draw and to save.
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from simulator import outcomes as oc
from simulator.cost.usage import run_cost
from simulator.outcomes import CAUSES, COLD, status_codes
from simulator.plots.backends import backend_queues
from simulator.plots.style import CAUSE_COLOURS, format_usd, new_figure
from simulator.scenario.background import unreserved_capacity

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from simulator.cost.usage import RunCost
    from simulator.results import Result

__all__ = [
    "cost_breakdown",
    "lambda_concurrency",
    "latency_cdf",
    "latency_over_time",
    "outcomes_over_time",
    "run_figures",
]

#: A limit line more than this many times the peak concurrency is left above the plotted range.
_OFF_SCALE = 5.0
#: An empirical CDF is drawn through at most this many of its steps (always including the last).
_CDF_POINTS = 2000
_SERVICE_COLOURS = {
    "API Gateway": "#9467bd",
    "Lambda": "#ff7f0e",
    "CloudWatch Logs": "#17becf",
    "Data Transfer": "#7f7f7f",
}
_TIME_LABEL = "time since start of run (s)"


# --------------------------------------------------------------------------- intervals


def _check_interval(interval_s: float) -> None:
    if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not interval_s > 0:
        raise ValueError(f"interval_s must be a number > 0, got {interval_s!r}")
    if not math.isfinite(interval_s):
        raise ValueError(f"interval_s must be finite, got {interval_s!r}")


def _n_intervals(result: Result, interval_s: float) -> int:
    return max(1, math.ceil(result.end_s / interval_s - 1e-9))


def _index(t: np.ndarray, interval_s: float, n: int) -> np.ndarray:
    return np.minimum((t / interval_s).astype(np.int64), n - 1)


def _per_interval(t: np.ndarray, interval_s: float, n: int) -> np.ndarray:
    return np.bincount(_index(t, interval_s, n), minlength=n).astype(np.int64)


def interval_label(interval_s: float) -> str:
    """``1 s``, ``250 ms``, ``5 min``: the interval as a reader says it."""
    if interval_s < 1:
        return f"{interval_s * 1000:g} ms"
    if interval_s >= 60 and interval_s % 60 == 0:
        return f"{interval_s / 60:g} min"
    return f"{interval_s:g} s"


def _run_title(result: Result) -> str:
    return f"{result.scenario.name} (seed {result.seed})"


def _cause_label(cause: str, status: int) -> str:
    return f"{cause} ({status if status else 'no response'})"


def _no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", color="#555555")


# --------------------------------------------------------------------------- outcomes


def outcomes_over_time(result: Result, interval_s: float = 1.0) -> Figure:
    """Attempts started per interval, stacked by cause, with the offered requests as a line.

    The stack's height in an interval is every attempt that started in it (CloudWatch's
    ``Count``, client timeouts included); the black line is the logical requests that started
    in it. Where the stack rises above the line, the difference is retries.
    """
    _check_interval(interval_s)
    n = _n_intervals(result, interval_s)
    edges = np.arange(n + 1) * interval_s
    a = result.attempts
    counts = np.zeros((len(CAUSES), n), dtype=np.int64)
    np.add.at(counts, (a["cause"], _index(a["time_s"], interval_s, n)), 1)
    statuses = status_codes(result.scenario)

    fig = new_figure(5.0)
    ax = fig.add_subplot()
    bottom = np.zeros(n, dtype=np.int64)
    for c, cause in enumerate(CAUSES):
        if not counts[c].any():
            continue
        top = bottom + counts[c]
        ax.stairs(top, edges, baseline=bottom, fill=True, color=CAUSE_COLOURS[cause],
                  label=_cause_label(cause, statuses[c]))
        bottom = top
    offered = _per_interval(result.requests["time_s"], interval_s, n)
    ax.stairs(offered, edges, color="black", linewidth=1.4, label="offered (requests started)")
    per = interval_label(interval_s)
    ax.set_xlim(0, edges[-1])
    ax.set_ylim(bottom=0)
    ax.set_xlabel(_TIME_LABEL)
    ax.set_ylabel(f"attempts started per {per}")
    ax.set_title(f"Outcomes per {per}: {_run_title(result)}")
    if result.n_attempts == 0:
        _no_data(ax, "no attempts")
    handles, labels = ax.get_legend_handles_labels()
    # Top of the stack first, as the reader sees it; the offered line last.
    order = list(range(len(handles) - 2, -1, -1)) + [len(handles) - 1]
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="outside right upper",
               title="cause (status)")
    return fig


# --------------------------------------------------------------------------- Lambda


def _limit_line(ax: Any, steps: list[tuple[float, int]], end_s: float, style: dict[str, Any]) -> None:
    """A limit across a panel: a horizontal line, or steps where it changes during the run."""
    if len(steps) == 1:
        ax.axhline(steps[0][1], **style)
        return
    times = [t for t, _ in steps] + [max(end_s, steps[-1][0])]
    values = [v for _, v in steps] + [steps[-1][1]]
    ax.plot(times, values, drawstyle="steps-post", **style)


def lambda_concurrency(result: Result, interval_s: float = 1.0) -> Figure:
    """``ConcurrentExecutions`` of each function per interval against its concurrency limits.

    One panel per function: the maximum number of invocations in flight in each interval, the
    function's reserved concurrency (its cap), its provisioned concurrency (invocations above
    it spill over to on-demand environments) or, without reserved concurrency, the unreserved
    pool it shares with the other such functions (account concurrency minus all reserved
    concurrency). Markers on the right-hand axis count the cold starts and the Lambda
    throttles of invocations that started in each interval. Each panel's title gives the peak
    and the limits; a limit more than five times the peak is drawn but left above the plotted
    range, and the title marks it "off scale".
    """
    _check_interval(interval_s)
    scenario = result.scenario
    functions = scenario.functions
    ts = result.timeseries(interval_s)
    n = len(ts["time_s"])
    edges = np.arange(n + 1) * interval_s
    mids = (edges[:-1] + edges[1:]) / 2
    a = result.attempts
    refused = np.isin(a["gateway_cause"], oc.LAMBDA_REFUSAL_CODES)
    ran_all = (a["function"] >= 0) & ~refused
    cold_all = ran_all & ((a["flags"] & COLD) != 0)
    pool = unreserved_capacity(scenario)  # less what background load holds

    fig = new_figure(1.2 + 2.6 * len(functions))
    axes = fig.subplots(len(functions), 1, sharex=True, squeeze=False)[:, 0]
    legend: dict[str, Artist] = {}
    for i, (f, ax) in enumerate(zip(functions, axes)):
        conc = ts[f"ConcurrentExecutions[{f.name}]"]
        peak = int(conc.max()) if n else 0
        ax.plot(edges, np.append(conc, conc[-1]), drawstyle="steps-post", color="#1f77b4", linewidth=1.5,
                label="ConcurrentExecutions (max per interval)")
        limits: list[tuple[str, list[tuple[float, int]], str, str]] = []
        if f.reserved_schedule is not None:
            limits.append(("reserved concurrency", list(f.reserved_schedule), "#d62728", "--"))
        else:
            limits.append(("unreserved pool (shared)", [(0.0, pool)], "#555555", "-."))
        if f.provisioned_peak:
            changes = [(t, n) for t, k, n in getattr(result, "provisioned_changes", ()) if k == i]
            limits.append(("provisioned concurrency", [(0.0, f.provisioned_schedule[0][1]), *changes], "#2ca02c", ":"))
        top = max(peak, 1)
        notes = []
        for name, steps, colour, style in limits:
            value = max(v for _, v in steps)
            _limit_line(ax, steps, edges[-1], dict(color=colour, linestyle=style, linewidth=1.5, label=name))
            if value <= _OFF_SCALE * max(peak, 1):
                top = max(top, value)
                notes.append(f"{name.split(' (')[0]} {value:,}")
            else:
                notes.append(f"{name.split(' (')[0]} {value:,} (off scale)")
        ax.set_ylim(0, top * 1.1 + 0.5)
        ax.set_ylabel("concurrent executions")

        mine = a["function"] == i
        cold = _per_interval(a["time_s"][mine & cold_all], interval_s, n)
        throttled = ts[f"Throttles[{f.name}]"]
        twin = ax.twinx()
        nz = cold > 0
        twin.plot(mids[nz], cold[nz], linestyle="none", marker="v", markersize=5, color="#9467bd",
                  label="cold starts per interval")
        nz = throttled > 0
        twin.plot(mids[nz], throttled[nz], linestyle="none", marker="x", markersize=5, color="#b2182b",
                  label="Lambda throttles per interval")
        twin.set_ylim(0, max(1, int(cold.max(initial=0)), int(throttled.max(initial=0))) * 1.15)
        twin.set_ylabel(f"cold starts, throttles per {interval_label(interval_s)}")
        ax.set_title(
            f"{f.name}: peak {peak:,}; {', '.join(notes)}; "
            f"{int(cold.sum()):,} cold starts; {int(throttled.sum()):,} throttles",
            fontsize="medium",
        )
        for h, lab in zip(*_handles(ax, twin)):
            legend.setdefault(lab, h)
    axes[-1].set_xlabel(_TIME_LABEL)
    axes[-1].set_xlim(0, edges[-1])
    fig.suptitle(f"Lambda concurrency per {interval_label(interval_s)}: {_run_title(result)}")
    fig.legend(list(legend.values()), list(legend.keys()), loc="outside lower center", ncols=min(3, len(legend)))
    return fig


def _handles(*axes: Axes) -> tuple[list[Artist], list[str]]:
    handles: list[Artist] = []
    labels: list[str] = []
    for ax in axes:
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    return handles, labels


# --------------------------------------------------------------------------- latency


def latency_over_time(result: Result, interval_s: float = 10.0) -> Figure:
    """p50, p95 and p99 of attempt latency (as the client measured it) per interval.

    Percentiles are NumPy's linear interpolation, as in :meth:`Result.summary`; an interval
    without attempts leaves a gap. The y axis turns logarithmic when the p99 reaches more than
    a hundred times the lowest p50 (a few 29 s timeouts among 20 ms answers).
    """
    _check_interval(interval_s)
    n = _n_intervals(result, interval_s)
    edges = np.arange(n + 1) * interval_s
    mids = (edges[:-1] + edges[1:]) / 2
    a = result.attempts
    idx = _index(a["time_s"], interval_s, n)
    order = np.lexsort((a["latency_s"], idx))
    lat_ms = a["latency_s"][order] * 1000.0
    bounds = np.searchsorted(idx[order], np.arange(n + 1))
    pct = np.full((3, n), np.nan)
    for k in range(n):
        lo, hi = bounds[k], bounds[k + 1]
        if hi > lo:
            pct[:, k] = np.percentile(lat_ms[lo:hi], (50, 95, 99))

    fig = new_figure(4.5)
    ax = fig.add_subplot()
    for row, (name, colour) in enumerate((("p50", "#1f77b4"), ("p95", "#ff7f0e"), ("p99", "#d62728"))):
        ax.plot(mids, pct[row], marker=".", markersize=4, color=colour, label=name)
    ax.set_xlim(0, edges[-1])
    ax.set_xlabel(_TIME_LABEL)
    ax.set_ylabel("attempt latency (ms)")
    ax.set_title(f"Latency per {interval_label(interval_s)}: {_run_title(result)}")
    low = np.nanmin(pct[0]) if np.isfinite(pct[0]).any() else math.nan
    high = np.nanmax(pct[2]) if np.isfinite(pct[2]).any() else math.nan
    if low > 0 and high / low > 100:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    if result.n_attempts == 0:
        _no_data(ax, "no attempts")
    fig.legend(loc="outside right upper", title="percentile")
    return fig


def _cdf_points(lat_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted latencies and the fraction at or below each, thinned to at most ``_CDF_POINTS``."""
    x = np.sort(lat_ms)
    y = np.arange(1, len(x) + 1) / len(x)
    if len(x) > _CDF_POINTS:
        keep = np.unique(np.round(np.linspace(0, len(x) - 1, _CDF_POINTS)).astype(np.int64))
        x, y = x[keep], y[keep]
    return x, y


def latency_cdf(result: Result, by_client: bool = False, requests: bool = False) -> Figure:
    """Empirical CDF of latency on a logarithmic axis: the fraction answered within *x* ms.

    By default per HTTP attempt, as a client measures it (a client timeout counts at the
    client's timeout); with *requests*, per logical request from its first attempt to its
    last answer, backoff included. *by_client* adds one curve per client. Latencies of 0 ms
    (possible with no gateway overhead) cannot sit on a log axis; the curve starts at the first
    positive latency but its heights still count them.
    """
    what = "request (with retries)" if requests else "attempt"
    if requests:
        lat = result.requests["end_s"] - result.requests["time_s"]
        client = result.requests["client"]
    else:
        lat = result.attempts["latency_s"]
        client = result.attempts["client"]
    groups: list[tuple[str, np.ndarray]] = [("all clients", lat)]
    if by_client:
        groups += [(name, lat[client == i]) for i, name in enumerate(result.names.clients)]

    fig = new_figure(4.8)
    ax = fig.add_subplot()
    for k, (name, values) in enumerate(groups):
        if len(values) == 0:
            continue
        x, y = _cdf_points(values * 1000.0)
        colour, width = ("black", 2.0) if k == 0 else (f"C{(k - 1) % 10}", 1.2)
        ax.plot(x, y, drawstyle="steps-post", color=colour, linewidth=width, label=f"{name} (n={len(values):,})")
    for q in (0.5, 0.99):
        ax.axhline(q, color="#999999", linestyle=":", linewidth=0.8)
        ax.annotate(f"p{q * 100:g}", (1.0, q), xycoords=("axes fraction", "data"), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize="small", color="#555555")
    if np.any(lat > 0):
        ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(f"{what} latency (ms, log scale)")
    ax.set_ylabel(f"fraction of {what.split(' ')[0]}s at or below")
    ax.set_title(f"Latency CDF per {what}: {_run_title(result)}")
    if len(lat) == 0:
        _no_data(ax, "no attempts")
    else:
        fig.legend(loc="outside right upper")
    return fig


# --------------------------------------------------------------------------- cost


def cost_breakdown(cost: RunCost, title: str | None = None) -> Figure:
    """What the run cost and what a month of it would cost, by billed item.

    Two panels of horizontal bars, one per ``(service, item)`` of the bill in the bill's order,
    coloured by service and labelled in USD: the run priced on its own, and the run scaled to
    a month (``cost.monthly_method`` says how, under the panels).
    """
    panels = (("run", cost.run), ("month", cost.monthly))
    items = list(dict.fromkeys([*cost.run.by_item(), *cost.monthly.by_item()]))
    fig = new_figure(1.8 + 0.38 * max(len(items), 1))
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(items))
    for ax, (name, breakdown) in zip(axes, panels):
        usd_by_item = breakdown.by_item()
        usd = [usd_by_item.get(item, 0.0) for item in items]
        colours = [_SERVICE_COLOURS.get(service, "#4c72b0") for service, _ in items]
        bars = ax.barh(y, usd, color=colours)
        ax.bar_label(bars, labels=[format_usd(v) for v in usd], padding=3, fontsize="small")
        ax.set_xlim(0, max(usd, default=0.0) * 1.3 or 1.0)
        ax.set_xlabel("USD")
        ax.set_title(f"{name}: {format_usd(breakdown.total_usd)}")
        if not items:
            _no_data(ax, "nothing billed")
    axes[0].set_yticks(y, [f"{service}: {item}" for service, item in items])
    axes[0].invert_yaxis()
    fig.suptitle(title or f"Cost by item ({cost.region}, {'with' if cost.free_tier else 'without'} free tier)")
    fig.supxlabel(textwrap.fill(cost.monthly_method, 150), fontsize="small")
    services = list(dict.fromkeys(service for service, _ in items))
    if services:
        from matplotlib.patches import Patch

        fig.legend([Patch(color=_SERVICE_COLOURS.get(s, "#4c72b0")) for s in services], services,
                   loc="outside right upper", title="service")
    return fig


# --------------------------------------------------------------------------- bundle


def run_figures(
    result: Result,
    interval_s: float = 1.0,
    latency_interval_s: float | None = None,
    cost: RunCost | bool = True,
) -> dict[str, Figure]:
    """Every figure of a run, by a name fit for a file: ``outcomes``, ``lambda_concurrency``
    (with functions), ``backend_queues`` (with HTTP backends), ``latency``, ``latency_cdf``
    and ``cost``.

    *latency_interval_s* defaults to ten times *interval_s* (percentiles need more attempts
    than counts do). *cost* is a :class:`~simulator.cost.RunCost` to draw, ``True`` to price the
    run at list prices without free tier, or ``False`` for no cost figure. The CDF has a curve
    per client when there are several.
    """
    _check_interval(interval_s)
    figures = {"outcomes": outcomes_over_time(result, interval_s)}
    if result.scenario.functions:
        figures["lambda_concurrency"] = lambda_concurrency(result, interval_s)
    if result.scenario.backends:
        figures["backend_queues"] = backend_queues(result, interval_s)
    figures["latency"] = latency_over_time(result, latency_interval_s or 10.0 * interval_s)
    figures["latency_cdf"] = latency_cdf(result, by_client=len(result.names.clients) > 1)
    if cost is True:
        cost = run_cost(result)
    if cost is not False:
        figures["cost"] = cost_breakdown(cost, title=f"Cost by item: {_run_title(result)}")
    return figures
