"""An HTTP integration (``HTTP``, ``HTTP_PROXY``, over the internet or a ``VPC_LINK``) to a
backend of finite capacity: a container service, an ALB in front of N tasks, a service
bound by its database pool.

**The queueing rule.** The backend has ``workers`` that each serve one request at a time.
A request that finds every worker busy waits, first come first served; a worker that
finishes takes the longest-waiting request. Each request's service time is drawn from the
backend's ``service_time`` distribution when the request arrives. A request is refused
(``backend_queue_full``, 503 by default, 502 with ``behaviour.backend_queue_full_status``)
when it would have to wait and ``queue_limit`` requests are waiting already, or when the
backend already holds ``connection_limit`` requests (in service plus waiting). With
Poisson arrivals and exponential service this is the M/M/c queue (no limits) or the
M/M/c/K queue (``K = workers + queue_limit``), which the tests check against Erlang's
formulas.

**Why no events are needed.** Under FIFO, a request's start time is known the moment it
arrives: every earlier request has already claimed its worker, and no later one can
overtake it. So the integration keeps, per backend, a heap of the times at which each
worker becomes free: the arriving request starts at ``max(now, earliest free time)`` and
that worker is free again at start plus service. Queue slots are counted with a second
heap holding each waiting request's start time (a slot is held until then), and
connections with a third holding each request's departure. Nothing is scheduled on the
engine; the attempt is decided at the instant the gateway forwards it, like every other.

**Timeouts.** The gateway waits at most the integration timeout for wait plus service
(:func:`simulator.rules.integration_outcome`): past it the client gets the gateway's
timeout answer (504 on a REST API) while the backend keeps working. A request in service
keeps its worker until its service ends: an HTTP server does not learn that the client
left until it writes the answer. A request still *waiting* when the gateway gives up is
served all the same by default (``abandoned_in_queue = "served"``: a server's accept
queue or listen backlog cannot tell), or dropped from the queue at that moment
(``"skipped"``), as a proxy that queues requests itself does (nginx's and Angie's
upstream ``queue`` removes requests whose client closed the connection).

**Errors.** With ``error_rate``, a served request answers with an error
(``backend_error``, 500, passed through by a proxy integration) with that probability.

Every accepted request is logged in the :class:`~simulator.results.Recorder` (arrival,
backend, start and end of service, and what became of it) so that the
results can report utilization, queue length and waits without any extra events.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from simulator import outcomes as oc
from simulator import rules
from simulator.dists import Draws, Uniforms
from simulator.integrations.base import Call
from simulator.rng import stream

if TYPE_CHECKING:
    from simulator.results.records import Recorder
    from simulator.scenario.schema import Backend

__all__ = ["HttpBackendIntegration"]


class HttpBackendIntegration:
    """A backend with FIFO workers, shared by every route that names it."""

    def __init__(self, spec: Backend, index: int, seed: int, recorder: Recorder | None = None) -> None:
        self.spec = spec
        self.index = index
        self.recorder = recorder
        self.service = Draws(spec.service_time.build(), stream(seed, "backend", spec.name, "service"))
        self.coin = Uniforms(stream(seed, "backend", spec.name, "error"))
        #: When each worker is next free (a heap; 0 at the start: all idle).
        self.free_at = [0.0] * spec.workers
        #: When each waiting request leaves the queue (its start, or its abandonment).
        self.waiting: list[float] = []
        #: When each request held (in service or waiting) leaves the backend.
        self.held: list[float] = []

    def _expire(self, now: float) -> None:
        for heap in (self.waiting, self.held):
            while heap and heap[0] <= now:
                heapq.heappop(heap)

    def _refuses(self, now: float, start: float) -> bool:
        """Whether a request arriving at *now* that would start at *start* is refused."""
        limit = self.spec.connection_limit
        if limit is not None and len(self.held) >= limit:
            return True
        queue_limit = self.spec.queue_limit
        return start > now and queue_limit is not None and len(self.waiting) >= queue_limit

    def call(self, now: float, limit_s: float, client: int = 0, identity: int = 0) -> Call:
        self._expire(now)
        start = max(now, self.free_at[0])
        if self._refuses(now, start):
            return Call(oc.BACKEND_QUEUE_FULL, 0.0)
        gave_up_at = now + limit_s
        if start > gave_up_at and self.spec.abandoned_in_queue == "skipped":
            heapq.heappush(self.waiting, gave_up_at)
            heapq.heappush(self.held, gave_up_at)
            self._log(now, gave_up_at, gave_up_at, oc.SKIPPED)
            return Call(oc.INTEGRATION_TIMEOUT, limit_s)
        service = self.service.next()
        failed = self.coin.next() < self.spec.error_rate
        end = start + service
        heapq.heapreplace(self.free_at, end)
        if start > now:
            heapq.heappush(self.waiting, start)
        heapq.heappush(self.held, end)
        latency, cause = rules.integration_outcome(end - now, limit_s, oc.BACKEND_ERROR if failed else oc.OK)
        self._log(now, start, end, oc.SERVED_AFTER_TIMEOUT if cause == oc.INTEGRATION_TIMEOUT else oc.ANSWERED)
        return Call(cause, latency, 0.0, service)

    def _log(self, now: float, start: float, end: float, state: int) -> None:
        if self.recorder is not None:
            self.recorder.backend_request(now, self.index, start, end, state)
