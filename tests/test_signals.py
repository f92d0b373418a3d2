"""SIGINT, SIGTERM, SIGHUP and SIGKILL leave no process behind.

Each case starts ``throttlesim validate`` (a local target, emulated or nginx) or
``throttlesim loadtest --processes 2``, waits for Locust to be sending, records every
descendant from /proc (pid, start time, process group, session), sends one signal to
the ``throttlesim`` process, and checks that within 5 s every recorded process is gone,
no process is left in their process groups or sessions, the target's port is closed,
and no attempt started more than a moment after the signal.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from loadtests.target.nginx import find_nginx

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
needs_locust = pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="Locust is not installed")

#: The requirement: every child stops within 5 s of the signal. The implementation's own
#: bound is 4 s (2 s for Locust, then 2 s for the target, before SIGKILL; both get
#: SIGTERM at once and usually stop in well under a second), which leaves a second for
#: a busy 2-core machine to schedule the exits.
STOP_WITHIN_S = 5.0
#: How long after the signal an attempt may still start: Locust gets SIGTERM at once and
#: SIGKILL after 2 s at most; 1 s more for a busy machine.
LAST_START_S = 3.0
#: Start-up bound: Python, the target and Locust start on a busy 2-core machine in
#: 5-15 s; a minute only guards against a hang.
START_WITHIN_S = 60.0
#: How long load runs before the signal: long enough for every process to be up.
LOAD_BEFORE_SIGNAL_S = 1.5

SCENARIO = """
name = "signals"
duration = "30s"
seed = 1
routes = [{ name = "GET /a", function = "f" }]
functions = [{ name = "f", duration = "5ms" }]
[[clients]]
name = "open"
routes = { "GET /a" = 1 }
arrivals = { process = "uniform", rate = 20 }
timeout = "2s"
"""


@dataclass(frozen=True)
class Proc:
    pid: int
    start: int  # clock ticks since boot: tells a pid from a later one with the same number
    pgid: int
    sid: int
    state: str
    cmdline: str


def _read(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return Proc(pid, int(fields[19]), int(fields[2]), int(fields[3]), fields[0], cmd.strip())


def _all() -> dict[int, tuple[Proc, int]]:
    """Every process: pid -> (what it is, its parent's pid)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            p = _read(int(entry))
            if p is not None:
                out[p.pid] = (p, ppid)
    return out


def _descendants(root: int) -> list[Proc]:
    procs = _all()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(procs[pid][0])
        todo += children.get(pid, [])
    return found


def _left(recorded: list[Proc]) -> list[Proc]:
    """Recorded processes still running, and any process in their groups or sessions.

    A zombie has stopped: it only waits for whoever adopted it to read its status.
    """
    groups = {p.pgid for p in recorded}
    sessions = {p.sid for p in recorded}
    mine = {(p.pid, p.start) for p in recorded}
    left = []
    for p, _ in _all().values():
        if p.state == "Z":
            continue
        if (p.pid, p.start) in mine or p.pgid in groups or p.sid in sessions:
            left.append(p)
    return left


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_for_load(proc: subprocess.Popen[str], start_json: Path) -> None:
    deadline = time.monotonic() + START_WITHIN_S
    while not start_json.exists():
        assert proc.poll() is None, f"throttlesim ended before the load started: {proc.stderr.read()}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the load did not start"
        time.sleep(0.1)
    t0 = json.loads(start_json.read_text())["t0_epoch_s"]
    time.sleep(max(0.0, t0 + LOAD_BEFORE_SIGNAL_S - time.time()))


def _last_start_epoch(log_dir: Path) -> float:
    """When the last logged attempt started (seconds since the epoch), from the workers' logs."""
    import pandas as pd

    t0 = json.loads((log_dir / "start.json").read_text())["t0_epoch_s"]
    latest = 0.0
    for path in log_dir.glob("attempts-w*.csv"):
        try:
            starts = pd.read_csv(path, usecols=["actual_start_s"])["actual_start_s"]
        except (ValueError, pd.errors.EmptyDataError):
            continue
        if len(starts):
            latest = max(latest, t0 + float(starts.max()))
    return latest


def _interrupt(cmd: list[str], log_dir: Path, sig: signal.Signals, *, expect: dict[str, int], local: bool) -> None:
    """Run *cmd*, send *sig* once load runs, check what is left. *expect*: how many of the
    recorded descendants name each string; *local*: the target is one of them (its port
    must close too)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    recorded: list[Proc] = []
    try:
        _wait_for_load(proc, log_dir / "start.json")
        recorded = _descendants(proc.pid)
        for what, n in expect.items():
            assert sum(what in p.cmdline for p in recorded) == n, (what, [p.cmdline for p in recorded])
        host = next(p.cmdline for p in recorded if "locust" in p.cmdline).split("--host ")[1].split()[0]
        port = int(host.rsplit(":", 1)[1])
        assert _port_open(port)
        sent_at = time.time()
        proc.send_signal(sig)
        deadline = time.monotonic() + STOP_WITHIN_S
        while time.monotonic() < deadline and (_left(recorded) or proc.poll() is None):
            time.sleep(0.05)
        left = _left(recorded)
        assert not left, f"after {sig.name}, {STOP_WITHIN_S:g} s: still running {[(p.pid, p.cmdline) for p in left]}"
        code = proc.wait(timeout=1)
        assert not local or not _port_open(port)
        assert _last_start_epoch(log_dir) < sent_at + LAST_START_S
        stderr = proc.stderr.read() if proc.stderr else ""  # type: ignore[union-attr]
        if sig == signal.SIGKILL:
            assert code == -signal.SIGKILL
        else:
            assert code == 128 + sig and stderr.strip().splitlines()[-1:] == ["throttlesim: interrupted"], stderr
    finally:
        for p in _left(recorded):
            os.kill(p.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        proc.wait()


SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]
TARGETS = ["emulated", pytest.param("nginx", marks=pytest.mark.skipif(find_nginx() is None, reason="no nginx"))]


@pytest.mark.realtime
@needs_locust
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_validate_leaves_no_process(tmp_path: Path, target: str, sig: signal.Signals) -> None:
    scenario = tmp_path / "signals.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "simulator.cli", "validate", str(scenario), "--target", target,
           "--out", str(out), "--seeds", "1"]
    expect = {"loadtests.target.serve": 1, "locust": 1} | ({"nginx -p": 1} if target == "nginx" else {})
    _interrupt(cmd, out / "loadtest", sig, expect=expect, local=True)


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.mark.realtime
@needs_locust
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_loadtest_with_forked_workers_leaves_no_process(tmp_path: Path, api: int, sig: signal.Signals) -> None:
    scenario = tmp_path / "signals.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "simulator.cli", "loadtest", str(scenario), "--host", f"http://127.0.0.1:{api}",
           "--out", str(out), "--processes", "2"]
    _interrupt(cmd, out, sig, expect={"locust": 3}, local=False)  # the master and 2 workers


def test_a_child_whose_parent_is_already_gone_ends_at_once() -> None:
    """The race :func:`die_with_parent` closes: a parent that died before the request."""
    from loadtests.children import die_with_parent

    for expected, code in ((os.getpid(), 0), (1, -signal.SIGKILL)):  # the right parent, then a wrong one
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            die_with_parent(expected)
            os._exit(0)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == code
