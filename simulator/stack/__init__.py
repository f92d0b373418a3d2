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

The readers need the ``aws`` extra (``pip install 'throttlesim[aws]'``); ``import simulator``
never imports them.
"""

from __future__ import annotations

__all__: list[str] = []
