"""Results: what a run produced, and the figures that follow from it.

* :mod:`~simulator.results.recorder`: the :class:`Recorder` an engine writes one row per
  attempt and per request into;
* :mod:`~simulator.results.records`: the :class:`Result` that holds those rows and derives
  counts, latency percentiles, Lambda figures and the summary from them;
* :mod:`~simulator.results.aggregate`: :class:`AggregateResult`, the same figures from
  bounded tallies when a fast-engine run keeps no rows (``record=False``);
* :mod:`~simulator.results.timeseries`: CloudWatch-style metrics per interval.
"""

from __future__ import annotations

from simulator.results.aggregate import AggregateResult, RecordsNotKept
from simulator.results.recorder import Recorder
from simulator.results.records import PERCENTILES, AttemptRecord, RequestRecord, Result

__all__ = ["PERCENTILES", "AggregateResult", "AttemptRecord", "RecordsNotKept", "Recorder", "RequestRecord", "Result"]
