"""What one Locust process of a throttlesim load test keeps, and how it sends one request.

:mod:`loadtests.locustfile` is the file Locust loads: it holds the user classes and the event
listeners Locust looks for there. What they share lives here, so that it reads apart from
Locust's hooks:

* :class:`Settings`, the test as the runner described it in ``THROTTLESIM_*`` environment
  variables (the locustfile's docstring lists them): the scenario, the seed, how long to
  send, where to log, how many requests may be in flight, how long to drain, and the plan
  of arrivals (:mod:`loadtests.plan`);
* :class:`Process`, the state of one Locust process (a worker, or the only process): its
  part of the distributed test, one HTTP session per client, each client's retry policy
  and route chooser, the attempt log (:mod:`loadtests.log`), and the counts its summary
  reports;
* :func:`send_request`, one logical request: attempts at their times until the answer is
  final under the client's retry policy (:class:`simulator.traffic.clients.RetryPolicy`);
  each attempt is logged by the locustfile's ``events.request`` listener.

Redirects are never followed (:func:`no_redirects`): a 3XX is the attempt's answer, so the
load, and the ``x-api-key``, stay with the host under test.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtests.log import AttemptLog
from loadtests.plan import (
    DEFAULT_ATTEMPT_TIMEOUT_S,
    Arrival,
    CacheKeyChooser,
    IdentityTokens,
    RouteChooser,
    client_headers,
    closed_clients,
    drain_bound_s,
    plan_arrivals,
    request_body,
    route_request,
)
from loadtests.target.answers import CACHE_KEY_HEADER
from simulator.errors import ThrottlesimError
from simulator.rng import stream
from simulator.scenario import Client, Scenario
from simulator.scenario.loader import load_scenario
from simulator.traffic.clients import RetryPolicy

__all__ = ["LATE_S", "USER_INDEX_MESSAGE", "Process", "Settings", "attempt_timeout_s", "no_redirects",
           "send_request"]

#: An arrival that starts later than this after its planned time counts as late.
LATE_S = 0.010
#: The message a worker sends the master for the next number of a client's users, and the answer.
USER_INDEX_MESSAGE = "throttlesim_user_index"


def env_float(name: str, default: float) -> float:
    """The environment variable *name* as a number, or *default* when it is unset or blank."""
    text = os.environ.get(name, "").strip()
    return float(text) if text else default


@dataclass(frozen=True)
class Settings:
    """The load test as the runner set it in the environment."""

    scenario: Scenario
    duration_s: float
    log_dir: Path
    max_in_flight: int
    drain_s: float
    plan: list[Arrival]
    clients: dict[str, Client] = field(init=False)
    route_bytes: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "clients", {c.name: c for c in self.scenario.clients})
        object.__setattr__(self, "route_bytes", {r.name: r.request_bytes for r in self.scenario.routes})

    @property
    def seed(self) -> int:
        return self.scenario.seed

    @classmethod
    def from_environment(cls) -> Settings:
        """Read the ``THROTTLESIM_*`` variables; exit with a one-line message when the
        scenario is missing or invalid."""
        try:
            path = os.environ["THROTTLESIM_SCENARIO"]
        except KeyError:
            sys.exit("THROTTLESIM_SCENARIO is not set: the load test needs a scenario file")
        seed_text = os.environ.get("THROTTLESIM_SEED", "").strip()
        try:
            scenario = load_scenario(path, seed=int(seed_text) if seed_text else None)
        except ThrottlesimError as exc:
            sys.exit(str(exc))
        duration_s = env_float("THROTTLESIM_DURATION_S", scenario.duration)
        return cls(
            scenario=scenario,
            duration_s=duration_s,
            log_dir=Path(os.environ.get("THROTTLESIM_LOG_DIR", ".")),
            max_in_flight=max(1, int(env_float("THROTTLESIM_MAX_IN_FLIGHT", 1000))),
            drain_s=env_float("THROTTLESIM_DRAIN_S", drain_bound_s(scenario)),
            plan=plan_arrivals(scenario, duration_s=duration_s),
        )


def attempt_timeout_s(client: Client) -> float:
    """How long an attempt of *client* waits for its answer."""
    return client.timeout if client.timeout is not None else DEFAULT_ATTEMPT_TIMEOUT_S


def no_redirects(session: FastHttpSession) -> FastHttpSession:
    """*session* with no status counted as a redirect: a guard besides ``max_redirects=0``.
    (Locust's ``allow_redirects=False`` swaps this setting around each request, which
    concurrent requests on one session undo.)"""
    session.client.redirect_response_codes = frozenset()
    return session


class Process:
    """What one Locust process (a worker, or the only process) keeps during the test."""

    def __init__(self, environment: Environment, settings: Settings) -> None:
        self.environment = environment
        self.settings = settings
        runner = environment.runner
        self.is_master = isinstance(runner, MasterRunner)
        self.worker = int(getattr(runner, "worker_index", 0)) if isinstance(runner, WorkerRunner) else 0
        self.workers = max(1, int(env_float("THROTTLESIM_WORKERS", 1))) if isinstance(runner, WorkerRunner) else 1
        self.started = Event()
        self.t0 = 0.0
        self.log: AttemptLog | None = None
        suffix = () if self.worker == 0 else (f"worker{self.worker}",)
        self.retry = {name: RetryPolicy(c.retry, stream(settings.seed, "retry", name, *suffix))
                      for name, c in settings.clients.items()}
        self.choosers = {c.name: RouteChooser(c, settings.seed, *suffix) for c in closed_clients(settings.scenario)}
        self.cache_keys = {c.name: CacheKeyChooser(settings.scenario, c, settings.seed, *suffix)
                           for c in closed_clients(settings.scenario)}
        self.headers = {name: client_headers(c) for name, c in settings.clients.items()}
        self.tokens = IdentityTokens(settings.scenario, settings.seed, *suffix)
        self.sessions: dict[str, FastHttpSession] = {}
        self.active_users = 0
        self.user_seq: dict[str, int] = {}
        self.pending: dict[int, AsyncResult] = {}
        self.rid = 0
        self.counts = {"planned": 0, "sent": 0, "late": 0, "pool_waits": 0, "max_lag_ms": 0.0, "users": 0}
        self.done_workers = 0
        self.finished = False

    def begin(self, t0: float, workers: int | None = None) -> None:
        if self.started.is_set():
            return
        if workers is not None:
            self.workers = max(1, workers)
        self.t0 = t0
        if not self.is_master:
            self.log = AttemptLog(self.settings.log_dir / f"attempts-w{self.worker}.csv")
            for name in {a.client for a in self.settings.plan}:
                self.session(self.settings.clients[name])
        self.started.set()

    def wait_start(self) -> float:
        if not self.started.wait(timeout=30.0):
            self.begin(time.time())
        return self.t0

    def session(self, client: Client) -> FastHttpSession:
        s = self.sessions.get(client.name)
        if s is None:
            timeout_s = attempt_timeout_s(client)
            s = FastHttpSession(
                (self.environment.host or "").rstrip("/"),
                self.environment.events.request,
                user=None,
                concurrency=self.settings.max_in_flight,
                network_timeout=timeout_s,
                connection_timeout=timeout_s,
                max_retries=0,
                max_redirects=0,
            )
            self.sessions[client.name] = no_redirects(s)
        return s

    def user_index(self, client: str) -> int:
        """The next number of *client*'s users, counted over all workers (the master counts)."""
        runner = self.environment.runner
        if not isinstance(runner, WorkerRunner):
            j = self.user_seq.get(client, 0)
            self.user_seq[client] = j + 1
            return j
        self.rid += 1
        token = self.rid
        answer = self.pending[token] = AsyncResult()
        runner.send_message(USER_INDEX_MESSAGE, {"client": client, "token": token})
        try:
            return int(answer.get(timeout=10.0))
        finally:
            del self.pending[token]

    def summary(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "workers": self.workers,
            "attempts": self.log.rows if self.log else 0,
            "max_in_flight": self.settings.max_in_flight,
            "late_threshold_ms": LATE_S * 1000,
            **self.counts,
        }


def send_request(p: Process, client: Client, session: Any, route: str, request_id: str, intended: float,
                 cache_key: str = "") -> None:
    """One logical request (asking for *cache_key* on a cached route): attempts until the
    answer is final under the retry policy."""
    method, path = route_request(route)
    body = request_body(method, p.settings.route_bytes.get(route, 1024))
    policy = p.retry[client.name]
    headers = p.headers[client.name]
    if cache_key:
        headers = {**headers, CACHE_KEY_HEADER: cache_key}
    p.rid += 1
    rid = p.rid
    n = 1
    while True:
        wait_s = intended - time.time()
        if wait_s > 0:
            gevent.sleep(wait_s)
        meta = {"client": client.name, "route": route, "request_id": request_id, "attempt": n, "intended": intended}
        context = {"throttlesim": meta}
        attempt_headers = p.tokens.headers(client.name, route, headers)
        started = time.time()
        try:
            response = session.request(method, path, name=route, headers=attempt_headers, data=body,
                                       context=context)
        except Exception as exc:  # not a network failure (those come back as status 0): log it, stop
            p.environment.events.request.fire(
                request_type=method, name=route, response_time=(time.time() - started) * 1000, response_length=0,
                response=None, context=context, exception=exc, start_time=started,
            )  # fmt: skip
            policy.finished(rid, 0)
            return
        status = int(getattr(response, "status_code", 0) or 0)
        delay = policy.next_delay(rid, n, status)
        if delay is None:
            policy.finished(rid, status)
            return
        n += 1
        intended = time.time() + delay
