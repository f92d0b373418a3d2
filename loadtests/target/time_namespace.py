"""nginx on a monotonic clock aligned with the wall clock's milliseconds.

``limit_req`` counts on ``ngx_current_msec``, CLOCK_MONOTONIC in whole milliseconds,
while the only absolute time nginx can report is ``$msec``, the wall clock
(CLOCK_REALTIME) in whole milliseconds, both read at the same turn of its event loop.
The two clocks differ by a constant C = wall - monotonic (it changes only when the wall
clock is stepped). With C = K + phi (K whole milliseconds, 0 <= phi < 1 ms), a request
at monotonic instant T gets ``$msec - ngx_current_msec`` = K, or K + 1 when the
fraction of T is at least 1 - phi. With phi anywhere in the middle, the wall
millisecond alone cannot say which monotonic millisecond limit_req used, and a
connection that carries only a few requests cannot say it either (see
loadtests.server_clock.on_monotonic_grid). A 1 ms error on the first request a zone
sees shifts every later decision of a zone that never drains by ``rate`` milli-requests,
enough to swap answers near the limit for the rest of the run.

Linux time namespaces (time_namespaces(7), Linux 5.6+) give a process tree its own
CLOCK_MONOTONIC offset. nginx is started in one whose offset makes phi a couple of
microseconds: then ``$msec - ngx_current_msec`` is K for all but about 0.2% of requests,
and every connection's offset is read exactly. Creating a time namespace needs
CAP_SYS_ADMIN (root, as in CI); elsewhere nginx runs on the plain clocks and the
validation falls back to estimating (the report says which).
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

__all__ = ["PHASE_TARGET_NS", "aligned_clock_offset_ns", "can_align_clock", "enter_time_namespace"]

CLONE_NEWTIME = 0x00000080
#: The wall clock's lead over nginx's monotonic clock, past a whole millisecond, that the
#: offset aims at: small enough that almost no request falls on the far side, larger than
#: the error of measuring the two clocks (~0.1 us here).
PHASE_TARGET_NS = 2_000


def _clock_pair_ns() -> tuple[int, int]:
    """(wall - monotonic) in ns, read as tightly as this process can, and the read's width."""
    best: tuple[int, int] | None = None
    for _ in range(200):
        m0 = time.monotonic_ns()
        w = time.time_ns()
        m1 = time.monotonic_ns()
        width = m1 - m0
        diff = w - (m0 + m1) // 2
        if best is None or width < best[1]:
            best = (diff, width)
    assert best is not None
    return best


def _own_monotonic_offset_ns() -> int:
    """This process's own time-namespace offset of CLOCK_MONOTONIC (0 in the initial one).
    A new namespace's offsets are counted from the initial namespace's clocks."""
    try:
        text = Path("/proc/self/timens_offsets").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("monotonic", "1"):
            return int(parts[1]) * 1_000_000_000 + int(parts[2])
    return 0


def aligned_clock_offset_ns(phase_ns: int = PHASE_TARGET_NS) -> int:
    """The CLOCK_MONOTONIC offset (ns, from the initial time namespace) that leaves the
    wall clock ahead of the shifted monotonic clock by whole milliseconds plus *phase_ns*."""
    diff, _width = _clock_pair_ns()
    # In the new namespace monotonic' = monotonic + extra, so wall - monotonic' = diff - extra.
    extra = (diff - phase_ns) % 1_000_000
    return _own_monotonic_offset_ns() + extra


def can_align_clock() -> bool:
    """Whether this process may create a time namespace (tried in a throwaway child)."""
    if not os.path.exists("/proc/self/timens_offsets") and not os.path.exists("/proc/self/ns/time"):
        return False
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            code = 0 if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWTIME) == 0 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def enter_time_namespace(offset_ns: int) -> None:
    """In the child before exec: a new time namespace with CLOCK_MONOTONIC shifted by
    *offset_ns*; the program exec'd next runs in it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWTIME) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWTIME) failed")
    seconds, nanoseconds = divmod(offset_ns, 1_000_000_000)
    with open("/proc/self/timens_offsets", "w", encoding="ascii") as fh:
        fh.write(f"monotonic {seconds} {nanoseconds}\n")
