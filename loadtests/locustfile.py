"""A Locust load test that sends a throttlesim scenario's traffic to a real API.

Run it through :func:`loadtests.runner.run_loadtest` (``throttlesim loadtest``), which
sets these environment variables and starts Locust as a subprocess:

``THROTTLESIM_SCENARIO``
    the scenario file (required).
``THROTTLESIM_SEED``
    the seed of the arrival plan (default: the scenario's).
``THROTTLESIM_DURATION_S``
    how long new requests are sent, in seconds (default: the scenario's ``duration``).
``THROTTLESIM_LOG_DIR``
    where each worker writes ``attempts-w<k>.csv`` and ``summary-w<k>.json``, and the
    test's start time goes to ``start.json`` (default: the current directory).
``THROTTLESIM_WORKERS``
    how many workers share the plan when no master tells them (default 1; a master
    sends the number of workers it started with).
``THROTTLESIM_MAX_IN_FLIGHT``
    the most open-client requests one worker keeps in flight (default 1000).
``THROTTLESIM_DRAIN_S``
    how long to wait, after the last arrival, for answers and retries
    (default: :func:`loadtests.plan.drain_bound_s`).
``THROTTLESIM_API_KEY_<CLIENT>``
    the ``x-api-key`` client ``<CLIENT>`` sends instead of the scenario's (the name in
    upper case, every other character than A-Z and 0-9 as ``_``: ``free-poller`` reads
    ``THROTTLESIM_API_KEY_FREE_POLLER``): real staging keys stay out of scenario files.

How the traffic is made:

* **Open clients** follow :mod:`loadtests.plan`. Each worker runs one scheduler
  greenlet that starts each of its planned arrivals at its planned time after the
  common start, in a greenlet of its own from a bounded pool, and never waits for an
  answer first: a slow API cannot slow the arrivals down (no coordinated omission).
  When the pool is full, the arrival waits for a free slot and is counted
  (``pool_waits`` in the worker's summary); its lag shows in the log.
* **Closed clients** are one ``FastHttpUser`` class each, with ``fixed_count`` users
  and Locust's matching ``wait_time``. Locust spawns every user at once (the runner
  passes ``-u`` = ``-r`` = all closed users); each user then sleeps until its own
  client's spawn schedule (user j at ``Waiter.spawn_time(j, spawn_rate)``, batches as
  Locust's dispatcher makes them), so each client keeps its own spawn rate although
  Locust has one. A user starts tasks while the test is within its duration.
* **Every attempt** sends the client's ``x-api-key``, its route's method and path (a
  JSON body of the route's ``request_bytes`` for POST, PUT and PATCH), ends at the
  client's ``timeout`` (status 0), and follows the client's retry policy
  (:class:`simulator.traffic.clients.RetryPolicy`, its retry quota kept per worker). Each attempt
  is logged by the ``events.request`` hook (:mod:`loadtests.log`).
* **Redirects are never followed** (:func:`~loadtests.locust_process.no_redirects`): a
  3XX is the attempt's answer and is logged with its status, so the load, and the
  ``x-api-key``, stay with the host under test.
* **The processes die with their parent**: a worker that Locust forks asks Linux for
  SIGTERM when the master dies (the master itself asked before it started, see
  :mod:`loadtests.children`), and Locust shuts down on SIGTERM.

This file holds what Locust looks for in a locustfile: the user classes and the event
listeners. The settings, one process's state and the sending of a request are in
:mod:`loadtests.locust_process`.

Distributed (``--processes N`` or ``--master``/``--worker``): the master picks the
common start and tells the workers; worker k sends every N-th planned arrival; each
worker reports when it has drained, and the master ends the test when all have.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from typing import Any, ClassVar

import gevent
from gevent.pool import Pool
from locust import FastHttpUser, User, between, constant, constant_pacing, constant_throughput, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from loadtests.children import die_with_parent
from loadtests.locust_process import (
    LATE_S,
    USER_INDEX_MESSAGE,
    Process,
    Settings,
    attempt_timeout_s,
    no_redirects,
    send_request,
)
from loadtests.log import answer_fields, server_fields
from loadtests.plan import Arrival, closed_clients, worker_share
from simulator.scenario import Client, ClosedArrivals, Scenario
from simulator.traffic.clients import Waiter

START_MESSAGE = "throttlesim_start"
DONE_MESSAGE = "throttlesim_done"
#: Time between choosing the common start and the start: lets every worker be ready.
LEAD_LOCAL_S = 0.25
LEAD_DISTRIBUTED_S = 1.0
#: The process that imported this file: Locust's master, which forks the workers after.
_LOADED_BY = os.getpid()


# ---------------------------------------------------------------------- the scenario

SETTINGS = Settings.from_environment()
SCENARIO: Scenario = SETTINGS.scenario
SEED: int = SETTINGS.seed
DURATION_S: float = SETTINGS.duration_s
LOG_DIR = SETTINGS.log_dir
MAX_IN_FLIGHT = SETTINGS.max_in_flight
DRAIN_S: float = SETTINGS.drain_s
PLAN: list[Arrival] = SETTINGS.plan
CLIENTS: dict[str, Client] = SETTINGS.clients


# ---------------------------------------------------------------------- one process

_P: Process | None = None


def _proc() -> Process:
    assert _P is not None, "the init event has not fired"
    return _P


# ---------------------------------------------------------------------- logging


@events.request.add_listener
def _log_attempt(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any = None,
    context: dict[str, Any] | None = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    meta = (context or {}).get("throttlesim")
    p = _P
    if meta is None or p is None or p.log is None:
        return
    status = int(getattr(response, "status_code", 0) or 0)
    body = getattr(response, "content", None) if status else None
    message, cause, cold = answer_fields(status, getattr(response, "headers", None), body, exception)
    actual = start_time if start_time is not None else time.time() - response_time / 1000
    p.log.write(
        intended_start_s=meta["intended"] - p.t0,
        actual_start_s=actual - p.t0,
        latency_ms=float(response_time),
        status=status,
        client=meta["client"],
        route=meta["route"],
        request_id=meta["request_id"],
        attempt=meta["attempt"],
        message=message,
        cause=cause,
        cold_start=cold,
        worker=p.worker,
        **server_fields(getattr(response, "headers", None) if status else None),
    )


# ---------------------------------------------------------------------- open clients


def _schedule(p: Process, share: list[Arrival]) -> Pool:
    """Start each arrival at its time; never wait for an answer (only for a pool slot)."""
    pool = Pool(MAX_IN_FLIGHT)
    p.counts["planned"] = len(share)
    for a in share:
        due = p.t0 + a.time_s
        wait_s = due - time.time()
        if wait_s > 0:
            gevent.sleep(wait_s)
        if pool.full():
            p.counts["pool_waits"] += 1
            pool.wait_available()
        lag_ms = (time.time() - due) * 1000
        p.counts["late"] += lag_ms > LATE_S * 1000
        p.counts["max_lag_ms"] = max(p.counts["max_lag_ms"], round(lag_ms, 3))
        client = CLIENTS[a.client]
        pool.spawn(send_request, p, client, p.session(client), a.route, f"{a.client}#{a.index}", due, a.cache_key)
        p.counts["sent"] += 1
    return pool


def _drive(p: Process) -> None:
    """A worker's test: its share of the plan, then wait for answers, then report done."""
    t0 = p.wait_start()
    # A worker that joined after the start (index >= workers) has no share of the plan.
    share = worker_share(PLAN, p.worker, p.workers) if p.worker < p.workers else []
    pool = _schedule(p, share)
    end = t0 + DURATION_S
    if time.time() < end:
        gevent.sleep(end - time.time())
    give_up = time.time() + DRAIN_S
    while p.active_users > 0 and time.time() < give_up:
        gevent.sleep(0.05)
    pool.join(timeout=max(0.0, give_up - time.time()))
    _finish(p)
    runner = p.environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(DONE_MESSAGE, {"worker": p.worker})
    elif runner is not None:
        gevent.spawn(runner.quit)


def _finish(p: Process) -> None:
    if p.finished or p.is_master:
        return
    p.finished = True
    if p.log is not None:
        p.log.flush()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / f"summary-w{p.worker}.json").write_text(json.dumps(p.summary(), indent=1))


def _flusher(p: Process) -> None:
    while True:
        gevent.sleep(1.0)
        if p.log is not None:
            p.log.flush()


# ---------------------------------------------------------------------- Locust events


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    global _P
    if os.getpid() != _LOADED_BY:  # a worker forked by the master: end with it
        die_with_parent(_LOADED_BY)
    _P = p = Process(environment, SETTINGS)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(START_MESSAGE, lambda msg, **kw: p.begin(msg.data["t0"], msg.data["workers"]))

        def on_index(msg: Any, **kw: Any) -> None:
            pending = p.pending.get(msg.data["token"])
            if pending is not None:
                pending.set(msg.data["index"])

        runner.register_message(USER_INDEX_MESSAGE, on_index)
    elif isinstance(runner, MasterRunner):

        def on_index_request(msg: Any, **kw: Any) -> None:
            index = p.user_index(msg.data["client"])
            runner.send_message(USER_INDEX_MESSAGE, {"token": msg.data["token"], "index": index}, client_id=msg.node_id)

        runner.register_message(USER_INDEX_MESSAGE, on_index_request)

        def on_done(msg: Any, **kw: Any) -> None:
            p.done_workers += 1
            if p.done_workers >= p.workers:
                gevent.spawn(runner.quit)

        runner.register_message(DONE_MESSAGE, on_done)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    p = _proc()
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        workers = len(runner.clients.ready) + len(runner.clients.running) + len(runner.clients.spawning)
        t0 = time.time() + LEAD_DISTRIBUTED_S
        p.begin(t0, max(1, workers))
        _write_start(t0, p.workers)
        runner.send_message(START_MESSAGE, {"t0": t0, "workers": p.workers})
        return
    if not isinstance(runner, WorkerRunner):
        t0 = time.time() + LEAD_LOCAL_S
        p.begin(t0, 1)
        _write_start(t0, 1)
    gevent.spawn(_drive, p)
    gevent.spawn(_flusher, p)


def _write_start(t0: float, workers: int) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    info = {"t0_epoch_s": t0, "duration_s": DURATION_S, "drain_s": DRAIN_S, "workers": workers, "seed": SEED}
    (LOG_DIR / "start.json").write_text(json.dumps(info, indent=1))


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    if _P is not None:
        _finish(_P)


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    if _P is not None:
        _finish(_P)
        if _P.log is not None:
            _P.log.close()


# ---------------------------------------------------------------------- closed clients


def _wait_time(spec: Any) -> Callable[[Any], float]:
    if spec.kind == "constant":
        return constant(spec.time)
    if spec.kind == "between":
        return between(spec.min, spec.max)
    if spec.kind == "constant_pacing":
        return constant_pacing(spec.time)
    return constant_throughput(spec.rate)


class ClosedUser(FastHttpUser):
    """A Locust user of one closed client; subclassed per client below."""

    abstract = True
    max_retries = 0
    max_redirects = 0
    client_name: ClassVar[str] = ""
    spawn_rate: ClassVar[float] = 1.0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        no_redirects(self.client)

    def on_start(self) -> None:
        p = _proc()
        p.active_users += 1
        p.counts["users"] += 1
        self._counted = True
        self._tasks_sent = 0
        # Users of a client are spread over the workers; they are numbered across all of them.
        self.user_index = p.user_index(self.client_name)
        t0 = p.wait_start()
        spawn_at = t0 + Waiter.spawn_time(self.user_index, self.spawn_rate)
        if time.time() < spawn_at:
            gevent.sleep(spawn_at - time.time())
        # constant_pacing counts the first task from the user's start.
        self._cp_last_run = time.perf_counter()
        self._cp_last_wait_time = 0.0

    def on_stop(self) -> None:
        if getattr(self, "_counted", False):
            self._counted = False
            _proc().active_users -= 1

    @task
    def send(self) -> None:
        p = _proc()
        now = time.time()
        if now - p.t0 >= DURATION_S:
            raise StopUser()
        client = CLIENTS[self.client_name]
        request_id = f"{client.name}@w{p.worker}u{self.user_index}#{self._tasks_sent}"
        self._tasks_sent += 1
        route = p.choosers[client.name].pick()
        send_request(p, client, self.client, route, request_id, now, p.cache_keys[client.name].pick(route))


def _class_name(client: str, i: int) -> str:
    return f"Closed{i}_" + re.sub(r"\W", "_", client)


for _i, _c in enumerate(closed_clients(SCENARIO)):
    _arr = _c.arrivals
    assert isinstance(_arr, ClosedArrivals)
    _name = _class_name(_c.name, _i)
    globals()[_name] = type(
        _name,
        (ClosedUser,),
        {
            "__module__": __name__,
            "abstract": False,
            "fixed_count": _arr.users,
            "wait_time": _wait_time(_arr.wait),
            "client_name": _c.name,
            "spawn_rate": _arr.spawn_rate,
            "network_timeout": attempt_timeout_s(_c),
            "connection_timeout": attempt_timeout_s(_c),
        },
    )

if not closed_clients(SCENARIO):

    class NoClosedClients(User):
        """Locust needs a user class; with no closed clients this one does nothing."""

        fixed_count = 1

        @task
        def stop(self) -> None:
            raise StopUser()
