"""Studies: questions answered with many runs, or without any.

* :mod:`~simulator.studies.sweep`: a grid of ``--set`` variants, each over several seeds,
  with confidence intervals (``throttlesim sweep``);
* :mod:`~simulator.studies.planner`: the cheapest point of a sweep that meets every SLO
  (``throttlesim plan``);
* :mod:`~simulator.studies.quota_forecast` (with :mod:`~simulator.studies.quota_flows`):
  when each API key runs out of its usage-plan quota, from the rate profiles alone
  (``throttlesim quota``).
"""
