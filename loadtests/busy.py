"""Busy loops beside a run: every core kept at 100% by a spinning process.

A validation is only worth something if it holds on the machine a user has, which is
rarely idle: a laptop with a browser open, a CI runner with other jobs. :func:`busy_cores`
starts one spinning process per core (or as many as asked) and stops them on exit, so a
test or a benchmark can run a validation with every core busy beside it::

    with busy_cores():
        run = run_validation(...)

The loops are plain Python processes at the default priority, competing with the target,
nginx and Locust for the same cores. Each asks Linux to kill it when the process that
started it dies (``PR_SET_PDEATHSIG``), so none outlives an interrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["busy_cores"]

_SPIN = """
import ctypes, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass
sys.stdout.write("spinning\\n"); sys.stdout.flush()
while True:
    pass
"""


@contextmanager
def busy_cores(n: int | None = None) -> Iterator[list[int]]:
    """Keep *n* cores (default: all of them) busy while the block runs; yields the pids."""
    count = (os.cpu_count() or 1) if n is None else n
    procs: list[subprocess.Popen[str]] = []
    try:
        for _ in range(count):
            p = subprocess.Popen([sys.executable, "-c", _SPIN], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            procs.append(p)
        for p in procs:  # each is spinning before the block starts
            assert p.stdout is not None
            p.stdout.readline()
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for p in procs:
            p.wait()
            if p.stdout is not None:
                p.stdout.close()
