"""An execution environment as a process: the worker that runs one function's invocations.

AWS runs each execution environment as its own sandbox that goes through an **Init**
phase once (start the runtime, run the function's initialisation code), then serves one
invocation at a time, and stays up between invocations until Lambda stops it
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html). Here an
environment is an operating-system process:

* **Start-up.** A small *zygote* process (this module run as a script) forks a worker
  whenever the runtime asks for a new environment, so a cold start costs a real
  ``fork`` plus whatever the scheduler adds, then the worker sleeps the drawn ``init``
  time (its Init phase) before it runs the first invocation.
* **Invoke.** The handler sleeps the drawn duration, then fails if the drawn error coin
  says so. ``setitimer`` arms the function's ``timeout``: when it fires first, the
  handler is cut off there, as Lambda ends an invocation with "Task timed out".
* **Shutdown.** The runtime stops an idle worker by closing its command pipe; the worker
  reads end-of-file and exits. Workers and the zygote also die with their parent
  (``PR_SET_PDEATHSIG``), so nothing outlives the runtime.

Messages are fixed-size records. The runtime writes :data:`COMMAND` records
``(kind, init_s, duration_s, timeout_s, fail)`` to a worker's own pipe; every worker
writes :data:`REPORT` records ``(environment, pid, outcome, started, received, ready,
ended)`` to one pipe shared by all workers, which the runtime reads. Records are shorter
than ``PIPE_BUF``, so writes from different workers never interleave. Times are
``time.monotonic()``, one clock for every process of the machine.

This module imports the standard library only: the zygote starts in a few tens of
milliseconds, and each fork copies little.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import struct
import sys
import time

__all__ = ["COMMAND", "REPORT", "PREPARE", "INVOKE", "OK", "ERROR", "TIMEOUT", "READY", "zygote", "worker"]

#: Runtime -> worker: kind, init_s, duration_s, timeout_s, fail.
COMMAND = struct.Struct("<B7xddd?7x")
#: Worker -> runtime: environment, pid, outcome, started, received, ready, ended.
REPORT = struct.Struct("<IIB7xdddd")
#: Command kinds: run the Init phase only (provisioned environments), or invoke.
PREPARE, INVOKE = 1, 2
#: Report outcomes.
OK, ERROR, TIMEOUT, READY = 0, 1, 2, 3

_PR_SET_PDEATHSIG = 1
_PR_SET_TIMERSLACK = 29


class FunctionTimeout(Exception):
    """The function's timeout fired while its handler ran."""


class HandlerError(Exception):
    """The handler failed (the drawn error coin said so)."""


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _die_with(parent_pid: int) -> None:
    """SIGKILL this process when its parent dies (and now, if it already has)."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(0)


def handler(duration_s: float, fail: bool) -> None:
    """The function: it works for *duration_s*, then fails when told to."""
    time.sleep(duration_s)
    if fail:
        raise HandlerError("the function failed")


def _on_alarm(signum: int, frame: object) -> None:
    raise FunctionTimeout


def invoke(duration_s: float, timeout_s: float, fail: bool) -> int:
    """Run the handler under the function's timeout; the outcome (:data:`OK`, ...)."""
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            handler(duration_s, fail)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0.0)
    except FunctionTimeout:
        return TIMEOUT
    except HandlerError:
        return ERROR
    return OK


def _read_command(fd: int) -> tuple[int, float, float, float, bool] | None:
    data = b""
    while len(data) < COMMAND.size:
        chunk = os.read(fd, COMMAND.size - len(data))
        if not chunk:
            return None
        data += chunk
    return COMMAND.unpack(data)  # type: ignore[return-value]


def worker(environment: int, command_fd: int, report_fd: int, started: float) -> None:
    """Serve commands from *command_fd* until it closes; report each on *report_fd*."""
    signal.signal(signal.SIGALRM, _on_alarm)
    pid = os.getpid()
    initialised = False
    while (command := _read_command(command_fd)) is not None:
        kind, init_s, duration_s, timeout_s, fail = command
        received = time.monotonic()
        if not initialised:
            time.sleep(init_s)
            initialised = True
        ready = time.monotonic()
        outcome = READY if kind == PREPARE else invoke(duration_s, timeout_s, fail)
        try:
            os.write(report_fd, REPORT.pack(environment, pid, outcome, started, received, ready, time.monotonic()))
        except BrokenPipeError:
            return


def zygote(control_fd: int, report_fd: int, parent_pid: int) -> None:
    """Fork a worker for every request on *control_fd*: a 4-byte environment id with the
    read end of the worker's command pipe attached. Returns when the runtime hangs up."""
    _die_with(parent_pid)
    _prctl(_PR_SET_TIMERSLACK, 1)  # sleeps end within microseconds of their deadline
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runtime decides when to stop
    me = os.getpid()
    control = socket.socket(fileno=control_fd)
    while True:
        message, fds, _flags, _addr = socket.recv_fds(control, 16, 1)
        if not message or not fds:
            return
        (environment,) = struct.unpack("<I", message[:4])
        pid = os.fork()
        if pid == 0:
            started = time.monotonic()
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _die_with(me)
            try:
                worker(environment, fds[0], report_fd, started)
            finally:
                os._exit(0)
        os.close(fds[0])


if __name__ == "__main__":
    zygote(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
