"""The figure of a run's HTTP backends: how busy the workers were and how long the line.

One panel per backend (``[[backends]]``): the share of workers busy in each interval
(``BackendUtilization``, left axis) and the longest line of waiting requests in it
(``BackendQueueLength``, right axis), with the backend's ``queue_limit`` when it has one.
A line that grows while utilization sits at 1.0 is a backend that cannot keep up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from simulator.plots.style import new_figure

if TYPE_CHECKING:
    from simulator.results import Result

__all__ = ["backend_queues"]


def backend_queues(result: Result, interval_s: float = 1.0) -> Figure:
    """Utilization and queue length of each HTTP backend per interval."""
    backends = result.scenario.backends
    ts = result.timeseries(interval_s)
    n = len(ts["time_s"])
    edges = np.arange(n + 1) * interval_s
    fig = new_figure(1.2 + 2.6 * max(1, len(backends)))
    axes = fig.subplots(max(1, len(backends)), 1, sharex=True, squeeze=False)[:, 0]
    for b, ax in zip(backends, axes):
        busy = ts[f"BackendUtilization[{b.name}]"]
        line = ts[f"BackendQueueLength[{b.name}]"]
        ax.plot(edges, np.append(busy, busy[-1]), drawstyle="steps-post", color="#1f77b4", linewidth=1.5,
                label="utilization (mean per interval)")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("share of workers busy")
        right = ax.twinx()
        right.plot(edges, np.append(line, line[-1]), drawstyle="steps-post", color="#d62728", linewidth=1.2,
                   label="queue length (max per interval)")
        if b.queue_limit is not None:
            right.axhline(b.queue_limit, color="#d62728", linestyle="--", linewidth=1.0, label="queue_limit")
        right.set_ylim(0, max(1, int(line.max()) if n else 1, b.queue_limit or 0) * 1.1)
        right.set_ylabel("requests waiting")
        ax.set_title(f"{b.name}: {b.workers} workers, peak line {int(line.max()) if n else 0:,}")
        handles = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize="small")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"HTTP backends: {result.scenario.name} (seed {result.seed})")
    return fig
