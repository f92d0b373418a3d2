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

    A step in front of the integration that takes time (an authorizer) returns its own
    part as ``authorizer`` (a :class:`Call` of its own: its invocation, or the latency of
    a check without one) and, when the request goes on, ``then``: the integration call
    still to make, which the engine runs ``authorizer.latency_s`` later and whose cause,
    latency and invocation become the attempt's.
    """

    cause: int
    latency_s: float
    init_s: float = 0.0
    run_s: float = 0.0
    flags: int = 0
    function: int = -1
    authorizer: Call | None = None
    then: Callable[[], Call] | None = None


#: An attempt that never reached an integration.
NO_CALL = Call(0, 0.0)


class Host(Protocol):
    """What an integration may ask of the engine that runs it."""

    @property
    def now(self) -> float:
        """The simulated time."""

    @property
    def cache_key(self) -> int | str:
        """The cache key of the attempt being forwarded (used by
        :class:`~simulator.integrations.cache.CacheIntegration`)."""

    def at(self, delay_s: float, fn: Callable[[Any], None], priority: EventPriority = ...) -> None:
        """Call *fn* *delay_s* seconds from now (SimPy priority *priority*)."""

    def concurrency(self, now: float, function: int, busy: int) -> None:
        """Record that *function* has *busy* invocations in flight from *now*."""

    def provisioned(self, now: float, function: int, configured: int) -> None:
        """Record that *function* has *configured* provisioned concurrency from *now*."""


class Integration(Protocol):
    """A route's backend."""

    def call(self, now: float, limit_s: float, client: int = 0, identity: int = 0) -> Call:
        """Forward an admitted attempt of *client* (its index) at *now*; the gateway waits
        at most *limit_s*. *identity* is the client's identity the attempt presents (-1:
        none), for an authorizer in front."""
