"""The interface every integration offers the engine, and what one call returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from simpy.events import EventPriority

__all__ = ["Call", "Host", "Integration", "NO_CALL"]


class Call(NamedTuple):
    """What one attempt's integration call came to, as the gateway sees it.

    ``latency_s`` is how long the gateway waited for the answer (at most the integration
    timeout); ``init_s`` and ``run_s`` are the function's cold-start init and run time
    (for an HTTP backend: no init, and its service time, waits left out); ``flags`` holds
    :data:`~simulator.outcomes.COLD` / :data:`~simulator.outcomes.PROVISIONED`;
    ``function`` is the index of the function invoked, or -1.
    """

    cause: int
    latency_s: float
    init_s: float = 0.0
    run_s: float = 0.0
    flags: int = 0
    function: int = -1


#: An attempt that never reached an integration.
NO_CALL = Call(0, 0.0)


class Host(Protocol):
    """What an integration may ask of the engine that runs it."""

    @property
    def now(self) -> float:
        """The simulated time."""

    def at(self, delay_s: float, fn: Callable[[Any], None], priority: EventPriority = ...) -> None:
        """Call *fn* *delay_s* seconds from now (SimPy priority *priority*)."""

    def concurrency(self, now: float, function: int, busy: int) -> None:
        """Record that *function* has *busy* invocations in flight from *now*."""


class Integration(Protocol):
    """A route's backend."""

    def call(self, now: float, limit_s: float) -> Call:
        """Forward an admitted attempt at *now*; the gateway waits at most *limit_s*."""
