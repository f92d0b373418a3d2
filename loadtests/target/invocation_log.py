"""The function runtime's own record of every invocation, one CSV row each.

Behind nginx a client does not always see the runtime's answer: when the integration
timeout fires, nginx answers 504 itself and the runtime's headers (when it received the
request, how long the function ran, whether it was a cold start) never reach the client.
The runtime still knows them. nginx passes its request id to the runtime
(``x-throttlesim-request-id``) and returns the same id to the client as API Gateway's
request-id header, so :func:`read_invocations` lets validation fill in what the client
could not see, by joining on that id.

A runtime writes one :class:`InvocationLog` row per invocation as it starts it, with the
``x-throttlesim-*`` headers its answer will carry.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from loadtests.target.answers import CAUSE_HEADER, COLD_START_HEADER, FUNCTION_MS_HEADER, RECEIVED_HEADER

__all__ = ["COLUMNS", "INVOCATION_REQUEST_ID_HEADER", "InvocationLog", "read_invocations"]

#: The request header that carries the gateway's request id to the runtime.
INVOCATION_REQUEST_ID_HEADER = "x-throttlesim-request-id"

#: Columns of ``invocations.csv`` and the answer headers they are copied from.
COLUMNS: dict[str, str] = {
    "request_id": INVOCATION_REQUEST_ID_HEADER,
    "function_received_s": RECEIVED_HEADER,
    "function_ms": FUNCTION_MS_HEADER,
    "cold_start": COLD_START_HEADER,
    "cause": CAUSE_HEADER,
}


class InvocationLog:
    """Appends one row per invocation to *path*; :meth:`close` when the server stops.

    The runtime writes the row when the invocation starts, with the headers its answer
    will carry: an invocation still running when the server stops is logged too.
    """

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = open(p, "w", newline="", encoding="utf-8")  # noqa: SIM115 - open for the server's life
        self._w = csv.writer(self._fh)
        self._w.writerow(COLUMNS)

    def write(self, request_id: str, headers: Mapping[str, str]) -> None:
        """Log the invocation of gateway request *request_id* whose answer carries *headers*."""
        if request_id and not self._fh.closed:
            self._w.writerow([request_id, *(headers.get(h, "") for h in list(COLUMNS.values())[1:])])

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def read_invocations(path: str | Path) -> Any:
    """``invocations.csv`` as a DataFrame indexed by request id (empty when absent)."""
    import pandas as pd

    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return pd.DataFrame(columns=list(COLUMNS)[1:], index=pd.Index([], name="request_id"))
    df = pd.read_csv(p, dtype={"request_id": str, "cause": str})
    return df.drop_duplicates("request_id", keep="last").set_index("request_id")
