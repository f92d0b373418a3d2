"""Figures of runs, validations and sweeps, as matplotlib :class:`~matplotlib.figure.Figure`\\ s.

Every function takes the project's public result objects and returns a new figure; nothing
is drawn on screen and nothing is left in ``pyplot``'s global state (figures are built with
the object-oriented API, so a figure nobody keeps is simply freed). :func:`save_figures`
writes them to files::

    import simulator
    from simulator import plots

    result = simulator.simulate(simulator.load_scenario("scenarios/flash_sale.toml"), seed=1)
    figures = plots.run_figures(result)          # outcomes, lambda_concurrency, latency, latency_cdf, cost
    plots.save_figures(figures, "out/", formats=("png", "svg"))

In a notebook a returned figure displays itself. The three families:

* **a run** (:mod:`simulator.plots.run`): outcomes per interval stacked by cause with the
  offered rate, Lambda concurrency against reserved/provisioned/unreserved limits with cold
  starts, latency percentiles over time and as a CDF, and the cost by billed item;
* **a validation** (:mod:`simulator.plots.validation`): predicted vs observed series, and
  outcome shares with the model's confidence intervals;
* **a sweep** (:mod:`simulator.plots.sweep`): metric vs parameter lines with bands, and a
  heatmap over two parameters.

Causes have one colour everywhere (:data:`CAUSE_COLOURS`). This module needs matplotlib,
which the simulator itself does not.
"""

from __future__ import annotations

try:
    import matplotlib  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("simulator.plots needs matplotlib: pip install 'throttlesim[plots]'") from exc

from simulator.plots.run import (
    cost_breakdown,
    lambda_concurrency,
    latency_cdf,
    latency_over_time,
    outcomes_over_time,
    run_figures,
)
from simulator.plots.save import save_figures
from simulator.plots.style import CAUSE_COLOURS, outcome_colour
from simulator.plots.sweep import sweep_figures, sweep_heatmap, sweep_lines
from simulator.plots.validation import validation_fractions, validation_series

__all__ = [
    "CAUSE_COLOURS",
    "cost_breakdown",
    "lambda_concurrency",
    "latency_cdf",
    "latency_over_time",
    "outcome_colour",
    "outcomes_over_time",
    "run_figures",
    "save_figures",
    "sweep_figures",
    "sweep_heatmap",
    "sweep_lines",
    "validation_fractions",
    "validation_series",
]
