"""Child processes that never outlive the run that started them.

A load test starts processes of its own: the target server (and nginx in front of it),
Locust's master and the workers it forks. Whatever ends the run, they end with it:

* **Ctrl-C, SIGTERM and SIGHUP** are handled alike. Inside :func:`stop_on_signals` each
  of them sends SIGTERM to every process group registered with :func:`track` at once,
  then raises :class:`KeyboardInterrupt` in the main thread, so the callers' ordinary
  clean-up (``except KeyboardInterrupt``, ``with`` blocks) waits for them and sends
  SIGKILL to whatever is left after :data:`STOP_GRACE_S`. A second signal during that
  clean-up does not interrupt it again.
* **SIGKILL of the parent** cannot be handled by the parent, so each child asks Linux to
  signal it when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGTERM)``,
  :func:`die_with_parent`), and checks that its parent did not die before it asked.
  Linux sends that signal when the *thread* that forked the child ends, not the
  process: :func:`run_loadtest <loadtests.runner.run_loadtest>` and
  :func:`run_validation <loadtests.validation.run_validation>` start their children from
  the thread that then waits for them, so that thread outlives them.

Every child runs in a session (and process group) of its own, so a terminal's Ctrl-C
reaches only the parent, and the parent can end a child with everything it forked
(``killpg``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = [
    "STOP_GRACE_S", "die_with_parent", "group_alive", "popen_dying_with_parent", "signal_group", "stop_group",
    "stop_on_signals", "track", "untrack",
]

#: How long an interrupted run lets each child stop by itself before SIGKILL. The
#: target and Locust get their SIGTERM at the same instant, so the whole clean-up takes
#: at most twice this (Locust first, then the target), well within 5 s.
STOP_GRACE_S = 2.0
#: The signals that stop a run as Ctrl-C does.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_PR_SET_PDEATHSIG = 1
_tracked: set[int] = set()
_lock = threading.Lock()
_state = {"depth": 0, "interrupted": False}


def _load_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return None


#: Looked up once, before any fork: the child only calls it.
_PRCTL = _load_prctl()


def die_with_parent(parent_pid: int | None = None, sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send *sig* to this process when its parent dies.

    Called in a child, either before exec (``preexec_fn=lambda: die_with_parent(pid)``)
    or first thing after it starts. If the parent is already gone (the parent is not
    *parent_pid*, or no longer the one it was before the request), the request would
    never fire: the process ends at once (SIGKILL, which no handler set before an exec
    can catch).
    """
    before = os.getppid()
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    after = os.getppid()
    if after != before or (parent_pid is not None and after != parent_pid):
        os.kill(os.getpid(), signal.SIGKILL)


def popen_dying_with_parent(cmd: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """:class:`subprocess.Popen` in a new session, signalled (SIGTERM) if this process dies,
    and tracked for :func:`stop_on_signals` until :func:`untrack`."""
    parent = os.getpid()
    proc: subprocess.Popen[Any] = subprocess.Popen(
        cmd, start_new_session=True, preexec_fn=lambda: die_with_parent(parent), **kwargs  # noqa: PLW1509
    )
    track(proc.pid)
    return proc


def track(pgid: int) -> None:
    """Send *pgid* SIGTERM when the run is interrupted (see :func:`stop_on_signals`)."""
    with _lock:
        _tracked.add(pgid)


def untrack(pgid: int) -> None:
    with _lock:
        _tracked.discard(pgid)


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: int) -> bool:
    """Whether any process is left in process group *pgid* (zombies count until reaped)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(proc: subprocess.Popen[Any], grace_s: float) -> None:
    """End *proc* and every process in its group: SIGTERM, then SIGKILL after *grace_s*."""
    pgid = proc.pid
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and (proc.poll() is None or group_alive(pgid)):
        time.sleep(0.02)
    if proc.poll() is None or group_alive(pgid):
        signal_group(pgid, signal.SIGKILL)
    proc.wait()
    untrack(pgid)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    with _lock:
        groups = list(_tracked)
    for pgid in groups:
        signal_group(pgid, signal.SIGTERM)
    if not _state["interrupted"]:
        _state["interrupted"] = True
        raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP stop the tracked children and raise
    :class:`KeyboardInterrupt` (once). Outside the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    if _state["depth"] == 0:
        _state["interrupted"] = False
    _state["depth"] += 1
    for sig in STOP_SIGNALS:
        signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        _state["depth"] -= 1
        if _state["depth"] == 0:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
