"""The scenario layer, as this package uses it.

Loading and validating scenario files is the scenario layer's job; this package only calls
it, always through the names imported here, so that a move of the scenario modules changes
one line.
"""

from __future__ import annotations

from simulator.errors import ScenarioError
from simulator.scenario import load_scenario, parse_scenario

__all__ = ["ScenarioError", "load_scenario", "parse_scenario"]
