"""Figures of a calibration: how well each fit matches the data it did not see, and the traffic.

* a quantile-quantile plot per fitted distribution: the held-out samples' quantiles against
  the fitted lognormal's, on log axes (points on the diagonal: the fit holds there);
* the request rate per minute of every replayed client, from the access logs.

Each function returns a matplotlib figure; :func:`calibration_figures` makes them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from simulator.stack.calibrate import Calibration
    from simulator.stack.fitting import Fit

__all__ = ["calibration_figures", "qq_figure", "rate_figure"]

_LEVELS = np.linspace(1, 99, 99)


def qq_figure(name: str, fit: Fit, samples_s: np.ndarray) -> Figure:
    from matplotlib.figure import Figure

    held_out = np.sort(samples_s)[1::2] if len(samples_s) >= 20 else np.sort(samples_s)
    observed = np.percentile(held_out, _LEVELS) * 1000
    fitted = np.array([fit.quantile(q) for q in _LEVELS]) * 1000
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.loglog(fitted, observed, ".", label="p1 ... p99")
    low, high = min(fitted.min(), observed.min()), max(fitted.max(), observed.max())
    ax.plot([low, high], [low, high], "-", color="grey", linewidth=0.8, label="agreement")
    ax.set_xlabel("fitted quantile (ms)")
    ax.set_ylabel("held-out quantile (ms)")
    ks = f", KS {fit.ks:.3f}" if fit.ks is not None else ""
    ax.set_title(f"{name}: {fit.n_held_out} held-out samples{ks}")
    ax.legend()
    return fig


def rate_figure(traces: dict[str, list[float]]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    end = max((max(t) for t in traces.values() if t), default=0.0)
    edges = np.arange(0.0, end + 60.0, 60.0)
    for name, times in sorted(traces.items()):
        counts, _ = np.histogram(times, bins=edges)
        ax.step(edges[:-1] / 60, counts / 60.0, where="post", label=name)
    ax.set_xlabel("minute of the logs")
    ax.set_ylabel("requests per second (minute average)")
    ax.set_title("Replayed traffic per client")
    ax.legend()
    return fig


def calibration_figures(cal: Calibration) -> dict[str, Figure]:
    figures = {f"qq_{name.replace('.', '_')}": qq_figure(name, fit, cal.samples[name])
               for name, fit in cal.fits.items() if name in cal.samples}
    if cal.traces:
        figures["rate_profile"] = rate_figure(cal.traces)
    return figures
