"""Starting, commanding and stopping the worker processes of the Lambda runtime.

:class:`Workers` is the runtime's side of the plumbing described in
:mod:`loadtests.target.lambda_worker`:

* one **zygote** process, started once with :mod:`subprocess` (a fresh interpreter that
  imports only the standard library), which forks a worker for each new execution
  environment. Forking from a small idle process costs about a millisecond, so the cold
  start a request sees is mostly the drawn init time, plus what a busy machine adds;
* for each worker, a **command pipe** (the runtime keeps the write end; the read end goes
  to the zygote over a Unix socket with ``SCM_RIGHTS`` and on to the worker by ``fork``);
* one **report pipe** that every worker writes to and the runtime reads, without
  blocking, whenever it wants to know which invocations have ended.

Closing a worker's command pipe stops it. :meth:`Workers.close` closes every pipe and
the zygote; the kernel kills whatever is left (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from loadtests.target import lambda_worker as lw

__all__ = ["Report", "Workers"]

_WORKER_SCRIPT = Path(lw.__file__).resolve()


@dataclass(frozen=True)
class Report:
    """What a worker said about one command; times on ``time.monotonic()``."""

    environment: int
    pid: int
    #: :data:`~loadtests.target.lambda_worker.OK`, ``ERROR``, ``TIMEOUT`` or ``READY``.
    outcome: int
    #: When the worker process began (right after its fork).
    started: float
    #: When it read the command.
    received: float
    #: When its Init phase was over (= ``received`` for a warm invocation).
    ready: float
    #: When the handler returned, failed or was cut off.
    ended: float


class Workers:
    """The zygote and the workers it forked, by environment id."""

    def __init__(self) -> None:
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.report_fd, report_w = os.pipe()
        os.set_blocking(self.report_fd, False)
        self.zygote = subprocess.Popen(
            [sys.executable, "-I", str(_WORKER_SCRIPT), str(theirs.fileno()), str(report_w), str(os.getpid())],
            pass_fds=(theirs.fileno(), report_w), stdin=subprocess.DEVNULL, close_fds=True,
        )
        theirs.close()
        os.close(report_w)
        self._commands: dict[int, int] = {}
        #: When each environment was asked for (monotonic), until its first report.
        self.requested: dict[int, float] = {}
        self._pending = b""

    @property
    def live(self) -> int:
        """Workers started and not stopped."""
        return len(self._commands)

    def start(self, environment: int) -> None:
        """Ask the zygote for a new worker for *environment*."""
        read, write = os.pipe()
        self.requested[environment] = time.monotonic()
        try:
            socket.send_fds(self._control, [struct.pack("<I", environment)], [read])
        finally:
            os.close(read)
        self._commands[environment] = write

    def send(self, environment: int, kind: int, init_s: float, duration_s: float, timeout_s: float,
             fail: bool) -> None:
        """Write one command to *environment*'s worker (it reads it when it is free)."""
        os.write(self._commands[environment], lw.COMMAND.pack(kind, init_s, duration_s, timeout_s, fail))

    def stop(self, environment: int) -> None:
        """Stop *environment*'s worker: it exits once it reads the end of its pipe."""
        fd = self._commands.pop(environment, None)
        self.requested.pop(environment, None)
        if fd is not None:
            os.close(fd)

    def drain(self) -> list[Report]:
        """Every report written so far, in the order the workers wrote them; never blocks."""
        chunks = [self._pending]
        while True:
            try:
                chunk = os.read(self.report_fd, 64 * lw.REPORT.size)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        data = b"".join(chunks)
        whole = len(data) - len(data) % lw.REPORT.size
        self._pending = data[whole:]
        return [Report(*fields) for fields in lw.REPORT.iter_unpack(data[:whole])]

    def alive(self) -> bool:
        return self.zygote.poll() is None

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop every worker and the zygote."""
        for environment in list(self._commands):
            self.stop(environment)
        self._control.close()
        try:
            self.zygote.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.zygote.kill()
            self.zygote.wait()
        os.close(self.report_fd)
