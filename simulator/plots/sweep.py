"""Figures of a parameter sweep: how a figure of merit moves as configuration changes.

A sweep table has one row per grid point: one column per varied key, named by its dotted
path (``functions.checkout.reserved_concurrency``), and one column per metric (``rate_429``,
``rate_5xx``, ``p99_ms``, ``monthly_usd``, ...). A metric may come with a confidence band in
``<metric>_lo`` and ``<metric>_hi`` (from replications over seeds).

* :func:`sweep_lines` draws metric against one key, a line per value of a second key;
* :func:`sweep_heatmap` draws one metric over two keys, every cell annotated with its value;
* :func:`sweep_figures` picks the figures for a sweep over any number of keys.

Both refuse a table with several rows for the same point of the figure (a third key that
varies and was neither plotted nor filtered out) rather than draw a misleading zigzag or an
arbitrary cell.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from simulator.plots.style import format_value, is_fraction_metric, metric_label, new_figure

__all__ = ["DEFAULT_METRICS", "sweep_figures", "sweep_heatmap", "sweep_lines"]

#: The metrics :func:`sweep_figures` draws unless told otherwise.
DEFAULT_METRICS: tuple[str, ...] = ("rate_429", "rate_5xx", "p99_ms", "monthly_usd")


def _require(table: pd.DataFrame, *columns: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"sweep table has no column {', '.join(map(repr, missing))} "
                         f"(columns: {', '.join(map(str, table.columns))})")


def _ordered(values: pd.Series) -> list[object]:
    """Distinct values: sorted when they can be, else in order of appearance."""
    unique = list(dict.fromkeys(values.tolist()))
    try:
        return sorted(unique)
    except TypeError:
        return unique


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def sweep_lines(
    table: pd.DataFrame,
    x: str,
    metrics: Sequence[str],
    hue: str | None = None,
    title: str | None = None,
) -> Figure:
    """Each metric against the varied key *x*, one panel per metric, one line per *hue* value.

    A metric with ``<metric>_lo`` and ``<metric>_hi`` columns gets a shaded band between them
    (unless every interval has zero width, as with one replication).
    Fractions (``rate_*``, ``*_fraction``) are shown as percentages.
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    if not metrics:
        raise ValueError("metrics must name at least one column")
    _require(table, x, *metrics, *([hue] if hue else []))
    keys = [x] + ([hue] if hue else [])
    duplicated = table.duplicated(subset=keys, keep=False)
    if duplicated.any():
        raise ValueError(
            f"sweep table has several rows for the same {' and '.join(keys)}: "
            "pass hue= for the other varied key or filter the table first"
        )
    groups: list[tuple[object, pd.DataFrame]] = (
        [(value, table[table[hue] == value]) for value in _ordered(table[hue])] if hue else [(None, table)]
    )
    fig = new_figure(1.0 + 2.8 * len(metrics))
    axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    for metric, ax in zip(metrics, axes):
        band = f"{metric}_lo" in table.columns and f"{metric}_hi" in table.columns
        # One replication gives intervals of zero width: nothing to shade.
        band = band and bool((table[f"{metric}_hi"] - table[f"{metric}_lo"]).abs().max() > 0)
        for k, (value, rows) in enumerate(groups):
            rows = rows.sort_values(x, kind="stable") if pd.api.types.is_numeric_dtype(rows[x]) else rows
            colour = f"C{k % 10}"
            label = f"{_short(hue)} = {value}" if hue else metric_label(metric)
            ax.plot(rows[x].to_numpy(), rows[metric].to_numpy(dtype=float), marker="o", markersize=4,
                    color=colour, label=label)
            if band:
                ax.fill_between(rows[x].to_numpy(), rows[f"{metric}_lo"].to_numpy(dtype=float),
                                rows[f"{metric}_hi"].to_numpy(dtype=float), color=colour, alpha=0.2, linewidth=0,
                                label="_interval" if hue else "interval")
        ax.set_ylabel(metric_label(metric))
        if is_fraction_metric(metric):
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_title(metric_label(metric) + (" (shaded: interval)" if band and hue else ""), loc="left",
                     fontsize="medium")
        ax.grid(True, color="#dddddd", linewidth=0.6)
        if hue or band:
            ax.legend(loc="best", fontsize="small", title=hue if hue else None, title_fontsize="small")
    axes[-1].set_xlabel(metric_label(x))
    fig.suptitle(title or f"Sweep over {x}")
    return fig


def sweep_heatmap(
    table: pd.DataFrame,
    x: str,
    y: str,
    metric: str,
    cmap: str = "YlOrRd",
    title: str | None = None,
) -> Figure:
    """*metric* over the grid of two varied keys, every cell annotated with its value.

    Columns are the sorted values of *x*, rows those of *y* (smallest at the bottom); a grid
    point missing from the table is a blank cell marked "–". The default colour map runs from
    pale (low) to dark red (high), as for error rates, latency and cost, where higher is worse.
    """
    _require(table, x, y, metric)
    if table.duplicated(subset=[x, y], keep=False).any():
        raise ValueError(f"sweep table has several rows for the same {x} and {y}: filter the table first")
    xs = _ordered(table[x])
    ys = _ordered(table[y])
    grid = (
        table.pivot(index=y, columns=x, values=metric).reindex(index=ys, columns=xs).to_numpy(dtype=float)
    )
    values = np.ma.masked_invalid(grid)
    fig = new_figure(max(3.6, 1.6 + 0.5 * len(ys)), width_in=min(16.0, max(7.0, 3.0 + 1.0 * len(xs))))
    ax = fig.add_subplot()
    finite = grid[np.isfinite(grid)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    norm = Normalize(vmin, vmax)
    image = ax.imshow(values, cmap=cmap, norm=norm, origin="lower", aspect="auto", interpolation="nearest")
    cmap_obj = image.get_cmap()
    for r in range(len(ys)):
        for c in range(len(xs)):
            v = grid[r, c]
            if np.isfinite(v):
                red, green, blue, _ = cmap_obj(norm(v))
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
                colour = "white" if dark else "black"
            else:
                colour = "#555555"
            ax.text(c, r, format_value(metric, v), ha="center", va="center", fontsize="small", color=colour)
    ax.set_xticks(np.arange(len(xs)), [str(v) for v in xs])
    ax.set_yticks(np.arange(len(ys)), [str(v) for v in ys])
    ax.set_xlabel(metric_label(x))
    ax.set_ylabel(metric_label(y))
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(metric_label(metric))
    if is_fraction_metric(metric):
        bar.formatter = PercentFormatter(1.0)
        bar.update_ticks()
    ax.set_title(title or f"{metric_label(metric)} over {_short(x)} and {_short(y)}")
    return fig


def sweep_figures(
    table: pd.DataFrame,
    keys: Sequence[str],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> dict[str, Figure]:
    """The figures of a sweep over *keys* (the varied columns, in grid order), by file name.

    One key: ``sweep``, every metric against it. Two keys: ``sweep`` against the first with a
    line per value of the second, and ``heatmap_<metric>`` per metric. More keys: one
    ``sweep_<i>`` per combination of the keys after the second (numbered from 1 in the
    table's order), each titled with the values it holds fixed.
    """
    keys = list(keys)
    if not keys:
        raise ValueError("a sweep varies at least one key")
    _require(table, *keys, *metrics)
    x, hue, rest = keys[0], (keys[1] if len(keys) > 1 else None), keys[2:]
    if not rest:
        figures = {"sweep": sweep_lines(table, x, metrics, hue=hue)}
        if hue is not None:
            for metric in metrics:
                figures[f"heatmap_{metric}"] = sweep_heatmap(table, x, hue, metric)
        return figures
    figures = {}
    combos = list(dict.fromkeys(table[rest].itertuples(index=False, name=None)))
    for i, combo in enumerate(combos, start=1):
        rows = table[(table[rest] == pd.Series(combo, index=rest)).all(axis=1)]
        fixed = ", ".join(f"{_short(k)} = {v}" for k, v in zip(rest, combo))
        figures[f"sweep_{i}"] = sweep_lines(rows, x, metrics, hue=hue, title=f"Sweep over {x} ({fixed})")
    return figures
