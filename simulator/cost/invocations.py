"""What Lambda bills for the invocations recorded in a run's attempt columns.

An attempt may make up to two invocations: its route's function (the ``function``,
``flags``, ``init_s`` and ``run_s`` columns) and, behind a Lambda authorizer, the
authorizer's function (the ``authorizer_*`` columns). Both are billed by the same rule
(see :mod:`simulator.cost.usage`): an invocation Lambda ran (not throttled) is one request,
and its run (plus, on an on-demand cold start, its init when *bill_init*) rounded up to
1 ms is its billed duration, at the provisioned rate when a provisioned environment
served it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from simulator import outcomes as oc
from simulator.cost.bill import lambda_billed_ms
from simulator.outcomes import PROVISIONED

Cube = npt.NDArray[np.float64]

__all__ = ["authorizer_cubes", "invocation_weights"]


def invocation_weights(
    function: npt.NDArray[np.int64],
    cause: npt.NDArray[np.int64],
    flags: npt.NDArray[np.int64],
    init_s: npt.NDArray[np.float64],
    run_s: npt.NDArray[np.float64],
    bill_init: bool,
    priced: npt.NDArray[np.bool_] | None = None,
) -> dict[str, npt.NDArray[np.float64]]:
    """Per attempt, the billed ``requests``, ``on_demand_ms``, ``provisioned_ms`` and
    ``billed_ms`` of one invocation column set (*function* -1: none; *cause*: the
    invocation's, where a Lambda refusal means Lambda did not run it). *priced*, per
    function, is False for functions left out of the cost (Lambda Web Functions)."""
    ran = (function >= 0) & ~np.isin(cause, oc.LAMBDA_REFUSAL_CODES)
    if priced is not None:
        ran &= np.append(priced, False)[function]
    provisioned = ran & ((flags & PROVISIONED) != 0)
    on_demand = ran & ~provisioned
    seconds = run_s + (init_s if bill_init else 0.0) * on_demand
    billed_ms = np.where(ran, lambda_billed_ms(np.where(ran, seconds, 0.0) * 1000.0), 0).astype(np.float64)
    return {
        "requests": ran.astype(np.float64),
        "on_demand_ms": np.where(on_demand, billed_ms, 0.0),
        "provisioned_ms": np.where(provisioned, billed_ms, 0.0),
        "billed_ms": billed_ms,
    }


def authorizer_cubes(a: Any, client: npt.NDArray[np.int64], cause: npt.NDArray[np.int64], bill_init: bool,
                     shape: tuple[int, int, int], priced: npt.NDArray[np.bool_] | None = None) -> dict[str, Cube]:
    """The Lambda authorizers' invocations (a second invocation an attempt may make), summed
    per (authorizer function, the attempt's client, its gateway cause), whether the request
    went on or not; empty without authorizer invocations."""
    function = np.asarray(a["authorizer_function"], dtype=np.int64)
    if not np.any(function >= 0):
        return {}
    weights = invocation_weights(function, np.asarray(a["authorizer_cause"], dtype=np.int64),
                                 np.asarray(a["authorizer_flags"], dtype=np.int64),
                                 np.asarray(a["authorizer_init_s"], dtype=np.float64),
                                 np.asarray(a["authorizer_run_s"], dtype=np.float64), bill_init, priced)
    n_f, n_c, n_k = shape
    cell = (np.maximum(function, 0) * n_c + client) * n_k + cause
    return {kind: np.asarray(np.bincount(cell, weights=w, minlength=n_f * n_c * n_k), dtype=np.float64).reshape(shape)
            for kind, w in weights.items()}
