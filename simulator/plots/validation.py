"""Figures that set the model's predictions against what a real stack did.

A validation run replays the same traffic against the simulator and against a deployed API,
then compares the two. Two views help judge the match:

* :func:`validation_series`: per-second counts (say of ``429`` and ``5XX`` responses) from
  both, on the same axes, so a reader sees *when* they disagree (a burst absorbed by the real
  bucket but not by the model, a quota reset a second late);
* :func:`validation_fractions`: the share of each status or cause over the whole run, the
  model's bar carrying its confidence interval (from replications over seeds), the observed
  bar beside it. The title counts how many observed shares fall inside the model's interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from simulator.plots.style import new_figure, outcome_colour

__all__ = ["validation_fractions", "validation_series"]

PREDICTED_COLOUR = "#1f77b4"
OBSERVED_COLOUR = "#000000"


def _column(frame: pd.DataFrame, name: str, which: str) -> np.ndarray:
    if name not in frame.columns:
        raise ValueError(f"{which} has no column {name!r} (columns: {', '.join(map(str, frame.columns))})")
    return frame[name].to_numpy(dtype=float)


def validation_series(
    predicted: pd.DataFrame,
    observed: pd.DataFrame,
    metrics: Sequence[str] = ("429", "5XX"),
    ylabel: str = "responses per second",
    title: str = "Predicted vs observed",
) -> Figure:
    """Predicted and observed series of each metric, one panel per metric, sharing the time axis.

    *predicted* and *observed* have a ``time_s`` column (the start of each second, or of any
    interval) and one column per metric. Each series is drawn as steps over its intervals,
    the model in blue, the observation in black; the legend gives each one's total.
    """
    if isinstance(metrics, str):
        metrics = (metrics,)
    if not metrics:
        raise ValueError("metrics must name at least one column")
    fig = new_figure(1.0 + 2.4 * len(metrics))
    axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    sources = (
        ("predicted (model)", predicted, PREDICTED_COLOUR, "-", 1.6),
        ("observed", observed, OBSERVED_COLOUR, "--", 1.2),
    )
    for metric, ax in zip(metrics, axes):
        for name, frame, colour, style, width in sources:
            t = _column(frame, "time_s", name.split(" ")[0])
            v = _column(frame, metric, name.split(" ")[0])
            order = np.argsort(t, kind="stable")
            t, v = t[order], v[order]
            # Close the last interval: a step drawn from t[-1] needs a point where it ends.
            step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
            ax.plot(np.append(t, t[-1] + step if len(t) else []), np.append(v, v[-1:]), drawstyle="steps-post",
                    color=colour, linestyle=style, linewidth=width, label=f"{name}: total {np.nansum(v):,.6g}")
        ax.set_ylim(bottom=0)
        ax.set_ylabel(ylabel)
        ax.set_title(metric, loc="left", fontsize="medium", color=outcome_colour(metric))
        ax.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("time since start of run (s)")
    fig.suptitle(title)
    return fig


def validation_fractions(
    predicted: Mapping[str, float],
    observed: Mapping[str, float],
    intervals: Mapping[str, tuple[float, float]] | None = None,
    ylabel: str = "fraction of attempts",
    title: str = "Outcome shares: model vs observation",
) -> Figure:
    """Grouped bars of each status or cause: the model's share and the observed share.

    Keys are statuses, status classes or causes (``"200"``, ``"429"``, ``"quota_exceeded"``,
    ``"5XX"``), in the order of *predicted*, then any only *observed* has; a key missing on
    one side counts as 0. *intervals* gives the model's confidence interval ``(lo, hi)`` per
    key, drawn as an error bar on the model's bar (it need not be centred on the bar: an
    interval from replications is drawn where it lies). Bars are coloured by outcome family;
    the model's are solid, the observed ones hatched.
    """
    keys = list(dict.fromkeys([*predicted, *observed]))
    intervals = dict(intervals or {})
    unknown = sorted(set(intervals) - set(keys))
    if unknown:
        raise ValueError(f"intervals for keys in neither predicted nor observed: {', '.join(unknown)}")
    for key, (low, high) in intervals.items():
        if not low <= high:
            raise ValueError(f"interval for {key!r} has lo > hi: ({low}, {high})")
    x = np.arange(len(keys))
    width = 0.38
    pred = np.array([float(predicted.get(k, 0.0)) for k in keys])
    obs = np.array([float(observed.get(k, 0.0)) for k in keys])
    colours = [outcome_colour(k) for k in keys]

    fig = new_figure(4.8, width_in=max(8.0, 2.5 + 1.4 * len(keys)))
    ax = fig.add_subplot()
    ax.bar(x - width / 2, pred, width, color=colours, edgecolor="black", linewidth=0.6, label="predicted (model)")
    ax.bar(x + width / 2, obs, width, color="white", edgecolor=colours, hatch="///", linewidth=1.2, label="observed")
    with_interval = [i for i, k in enumerate(keys) if k in intervals]
    label_at = pred.copy()
    inside = 0
    if with_interval:
        lo = np.array([intervals[keys[i]][0] for i in with_interval])
        hi = np.array([intervals[keys[i]][1] for i in with_interval])
        ax.errorbar(x[with_interval] - width / 2, (lo + hi) / 2, yerr=(hi - lo) / 2, fmt="none", ecolor="black",
                    elinewidth=1.4, capsize=5, label="model interval")
        label_at[with_interval] = np.maximum(pred[with_interval], hi)
        inside = int(np.sum((obs[with_interval] >= lo) & (obs[with_interval] <= hi)))
    for xs, heights, values in ((x - width / 2, label_at, pred), (x + width / 2, obs, obs)):
        for xi, h, v in zip(xs, heights, values):
            ax.annotate(f"{v:.1%}", (xi, h), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                        fontsize="x-small")
    top = max([*label_at, *obs, 0.01])
    ax.set_ylim(0, top * 1.15)
    ax.set_xticks(x, keys)
    ax.set_xlabel("status or cause")
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if with_interval:
        title = f"{title}\n{inside} of {len(with_interval)} observed shares inside the model's interval"
    ax.set_title(title)
    handles: list[Artist] = [
        Patch(facecolor="#999999", edgecolor="black", label="predicted (model)"),
        Patch(facecolor="white", edgecolor="#555555", hatch="///", label="observed"),
    ]
    if with_interval:
        handles.append(Line2D([], [], color="black", marker="_", markersize=10, linewidth=1.4, label="model interval"))
    fig.legend(handles=handles, loc="outside right upper")
    return fig
