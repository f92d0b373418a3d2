"""The rules both engines apply (:mod:`simulator.rules`), compiled from the same source the
reference engine calls, and inlined where the compiled loop uses them.
"""

from __future__ import annotations

from numba import njit

from simulator import rules

__all__ = ["client_outcome", "function_outcome", "has_token", "integration_outcome", "refill"]

refill = njit(inline="always")(rules.refill)
has_token = njit(inline="always")(rules.has_token)
function_outcome = njit(inline="always")(rules.function_outcome)
integration_outcome = njit(inline="always")(rules.integration_outcome)
client_outcome = njit(inline="always")(rules.client_outcome)


