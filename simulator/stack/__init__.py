"""Bring your own API: a stack's templates in, a scenario out, and chosen settings back.

A team already holds the truth about its API in its infrastructure code. This package
reads that code and writes a scenario, and writes a scenario's settings back as code:

* :mod:`~simulator.stack.template` decodes a CloudFormation or SAM template (YAML with
  short-form tags, or JSON) with cfn-lint's decoder, which keeps every key's line, and
  runs the SAM transform offline, so only plain CloudFormation (and OpenAPI bodies) remain;
* :mod:`~simulator.stack.intrinsics` evaluates ``Ref``, ``Sub``, ``Join``, ``Select``,
  ``If``, ``FindInMap`` and ``GetAtt`` far enough to link resources to each other;
* :mod:`~simulator.stack.cloudformation` and :mod:`~simulator.stack.openapi` read the API,
  its stage, routes, usage plans, keys and functions into a :class:`~simulator.stack.model.Stack`,
  where every value carries where it came from (``template.yaml:27``, or "documented default");
* :mod:`~simulator.stack.findings` lists settings users get wrong in real life;
* :mod:`~simulator.stack.scenario_toml` writes the stack as a scenario file, each value with
  a comment naming its source, and what no template holds (traffic, durations, cold starts)
  as marked placeholders;
* :mod:`~simulator.stack.export_cfn` and :mod:`~simulator.stack.export_tf` go the other way:
  a scenario's limits as CloudFormation YAML or Terraform JSON.

and from AWS's logs and metrics back to a scenario:

* :mod:`~simulator.stack.calibrate` fits durations, cold starts and error rates to Lambda
  REPORT lines, turns API Gateway access logs into replay traces and the gateway's overhead,
  and CloudWatch metrics into rate profiles; :mod:`~simulator.stack.render_logs` writes a run's
  records as those logs, to check the calibration against a known truth.

The public names below are loaded on first use: the readers need the ``aws`` extra
(``pip install 'throttlesim[aws]'``), and ``import simulator`` never imports them::

    import simulator

    imported = simulator.stack.import_stack("template.yaml")     # .text, .findings, .placeholders
    cal = simulator.stack.calibrate("api.toml", reports={"orders": ["reports.log"]}, out="calibrated.toml")
    simulator.stack.write_calibration(cal, "calibrated.toml", ["from reports.log"])
    template_yaml, quota_requests = simulator.stack.export_cloudformation(simulator.load_scenario("calibrated.toml"))
"""

from __future__ import annotations

import importlib
from typing import Any

#: Each public name and the module (and attribute) it comes from.
_PUBLIC = {
    "import_stack": ("importer", "import_stack"),
    "read_source": ("importer", "read_source"),
    "write_atomic": ("importer", "write_atomic"),
    "calibrate": ("calibrate", "calibrate"),
    "write_calibration": ("calibrate", "write"),
    "calibration_figures": ("calibrate_plots", "calibration_figures"),
    "export_cloudformation": ("export_cfn", "export_cloudformation"),
    "export_terraform": ("export_tf", "export_terraform"),
    "report_lines": ("render_logs", "report_lines"),
    "access_log_lines": ("render_logs", "access_log_lines"),
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        module, attribute = _PUBLIC[name]
        return getattr(importlib.import_module(f"simulator.stack.{module}"), attribute)
    raise AttributeError(f"module 'simulator.stack' has no attribute {name!r}")
