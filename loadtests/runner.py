"""Running a load test: Locust in a subprocess, bounded in time, its attempt logs merged.

:func:`run_loadtest` is what ``throttlesim loadtest`` calls. It

1. refuses a host that is not on this machine (127.0.0.0/8, ``localhost``, ``::1``)
   unless ``allow_remote=True``, and a host that does not accept a TCP connection;
2. starts ``python -m locust --headless -f loadtests/locustfile.py`` (with
   ``--processes N`` for N workers) in a process group of its own, with the scenario,
   seed, duration and log directory in environment variables;
3. waits at most the test's own length (duration, then the drain bound of
   :func:`loadtests.plan.drain_bound_s`) plus a start-up grace, reporting progress to a
   callback; on overrun, Ctrl-C, SIGTERM or SIGHUP it ends the whole process group
   (SIGTERM, then SIGKILL), so no Locust process is left behind; if this process is
   killed outright, Locust's processes are signalled by Linux (:mod:`loadtests.children`);
4. merges the workers' attempt logs into ``attempts.csv`` (:mod:`loadtests.log`).

The output directory is checked with the rest of the input and made only once every
check has passed, in an existing parent only (:mod:`loadtests.outdir`).

Locust never follows a redirect: a 3XX answer is logged as that status, like any other
answer, so a server on this machine cannot send the load (and the ``x-api-key``) to
another host.

The test usually ends well before its bound: the locustfile quits as soon as every
request, retries included, has its answer.

Closed clients map onto Locust's single ``-u``/``-r`` like this: ``-u`` is the sum of
their ``users`` (each client's user class has that many as ``fixed_count``) and ``-r``
the same number, so Locust creates every user at once; each user then waits for its
own client's spawn schedule (``spawn_rate``), which is what the model simulates.

API keys: ``THROTTLESIM_API_KEY_<CLIENT>`` in the environment replaces a client's
``api_key`` (see :func:`loadtests.plan.api_key_variable`), so staging keys never
need to be written into a scenario file.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import pandas as pd

from loadtests.children import STOP_GRACE_S, popen_dying_with_parent, stop_group, stop_on_signals
from loadtests.log import merge_logs, read_log
from loadtests.outdir import check_out_dir, make_out_dir
from loadtests.plan import closed_clients, drain_bound_s, plan_arrivals
from simulator.errors import ThrottlesimError
from simulator.scenario.loader import load_scenario

__all__ = ["LoadTestError", "LoadTestProgress", "LoadTestRun", "check_host", "loadtest_command", "run_loadtest"]

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
#: Time Locust may take to start (imports, forking workers, connecting them).
STARTUP_GRACE_S = 30.0
#: Time between the common start being chosen and the start (distributed: 1 s).
_LEAD_S = 1.0
_STOP_WAIT_S = 5.0
_POLL_S = 0.2

Phase = Literal["starting", "running", "draining", "merging", "done"]


class LoadTestError(ThrottlesimError):
    """A load test could not run; the message is one line."""


@dataclass(frozen=True)
class LoadTestProgress:
    """Where a running load test is. ``elapsed_s`` counts from the common start."""

    phase: Phase
    elapsed_s: float
    duration_s: float
    attempts: int


@dataclass(frozen=True)
class LoadTestRun:
    """What a load test produced."""

    scenario: Path
    host: str
    seed: int
    duration_s: float
    processes: int
    out_dir: Path
    #: The merged attempt log (``attempts.csv``).
    log_path: Path
    worker_logs: tuple[Path, ...]
    #: Locust's own output (the summary tables, warnings).
    locust_output: Path
    #: Open-client arrivals in the plan, and how many were sent.
    planned: int
    sent: int
    attempts: int
    requests: int
    statuses: dict[int, int] = field(default_factory=dict)
    #: Arrivals that started more than ``late_threshold_ms`` after their planned time,
    #: arrivals that had to wait for a free slot in the in-flight pool, the worst lag.
    late: int = 0
    pool_waits: int = 0
    max_lag_ms: float = 0.0
    late_threshold_ms: float = 10.0
    exit_code: int = 0
    wall_s: float = 0.0

    def dataframe(self) -> pd.DataFrame:
        """The merged attempt log as a DataFrame (:func:`loadtests.log.read_log`)."""
        return read_log(self.log_path)


def check_host(host: str, *, allow_remote: bool = False, option: str = "--host") -> tuple[str, int]:
    """The (hostname, port) of an ``http(s)://`` URL that may be load-tested.

    Only loopback hosts are allowed unless *allow_remote*; names other than
    ``localhost`` are not resolved (a name is remote until proven otherwise). Errors name
    *option*, the command-line option the URL came from.
    """
    parts = urlsplit(host)
    if parts.scheme and parts.scheme not in ("http", "https") and "://" in host:
        raise LoadTestError(f"{option} {host!r}: the URL scheme {parts.scheme!r} is not supported; "
                            "use http:// or https://")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadTestError(f"{option} {host!r}: expected a URL such as http://127.0.0.1:8080")
    name = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise LoadTestError(f"{option} {host!r}: invalid port") from None
    if not allow_remote and not _is_loopback(name):
        raise LoadTestError(
            f"refusing to load-test {name}: not a loopback address (127.0.0.0/8, localhost, ::1); "
            "pass --allow-remote for an API you own"
        )
    return name, port


def _is_loopback(name: str) -> bool:
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_reachable(host: str, name: str, port: int) -> None:
    try:
        with socket.create_connection((name, port), timeout=3.0):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise LoadTestError(f"cannot reach {host}: {reason}") from None


class _Counter:
    """Counts rows appended to the workers' logs, reading only what is new."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.offsets: dict[Path, int] = {}
        self.lines = 0

    def rows(self) -> int:
        for path in self.out_dir.glob("attempts-w*.csv"):
            try:
                with open(path, "rb") as fh:
                    fh.seek(self.offsets.get(path, 0))
                    chunk = fh.read()
            except OSError:
                continue
            cut = chunk.rfind(b"\n") + 1
            self.offsets[path] = self.offsets.get(path, 0) + cut
            self.lines += chunk.count(b"\n", 0, cut)
        return max(0, self.lines - len(self.offsets))  # minus one header per file


def _stop_group(proc: subprocess.Popen[bytes], grace_s: float = _STOP_WAIT_S) -> None:
    """End Locust and every worker it forked (they share its process group, whose id is its pid).

    SIGTERM first (Locust shuts down and the workers flush their logs), SIGKILL for
    whatever is still there after *grace_s*.
    """
    stop_group(proc, grace_s)


def _last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    for ln in reversed(lines):
        if "Error" in ln or "error" in ln or ln.startswith(("/", "THROTTLESIM")):
            return ln
    return lines[-1] if lines else ""


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_loadtest(
    scenario_path: str | Path,
    host: str,
    *,
    duration_s: float | None = None,
    out_dir: str | Path,
    processes: int = 1,
    seed: int | None = None,
    allow_remote: bool = False,
    progress: Callable[[LoadTestProgress], None] | None = None,
) -> LoadTestRun:
    """Send *scenario_path*'s traffic to *host* with Locust; see the module docstring."""
    name, port = check_host(host, allow_remote=allow_remote)
    host = host.rstrip("/")  # routes' paths start with "/"; a stage path (".../prod") stays
    if processes < 1:
        raise LoadTestError(f"processes must be >= 1, got {processes}")
    scenario = load_scenario(scenario_path, seed=seed)
    run_s = scenario.duration if duration_s is None else float(duration_s)
    if not run_s > 0:
        raise LoadTestError(f"duration must be longer than 0s, got {duration_s}")
    if importlib.util.find_spec("locust") is None:
        raise LoadTestError("load tests need Locust: pip install locust")
    check_out_dir(out_dir)
    _check_reachable(host, name, port)

    out, _created = make_out_dir(out_dir)
    stale_files = [*out.glob("attempts-w*.csv"), *out.glob("summary-w*.json"), out / "start.json", out / "attempts.csv"]
    for stale in stale_files:
        stale.unlink(missing_ok=True)
    drain_s = drain_bound_s(scenario)
    users = sum(c.arrivals.users for c in closed_clients(scenario))  # type: ignore[union-attr]
    run_time_s = math.ceil(_LEAD_S + run_s + drain_s + 5.0)
    cmd = _locust_command(host, run_time_s, users, processes)
    env = _locust_env(scenario_path, scenario.seed, run_s, out, processes, drain_s)
    locust_output = out / "locust.log"
    counter = _Counter(out)
    began = time.monotonic()
    exit_code = _run_locust(cmd, env, out, locust_output, run_s, _wall_bound_s(run_time_s), counter, progress)

    worker_logs = tuple(sorted(out.glob("attempts-w*.csv")))
    if not worker_logs:
        detail = _last_line(locust_output)
        detail = f": {detail}" if detail else ""
        raise LoadTestError(f"Locust exited with code {exit_code} before sending anything{detail}")
    if progress is not None:
        progress(LoadTestProgress("merging", run_s, run_s, counter.rows()))
    log_path = out / "attempts.csv"
    attempts = merge_logs(worker_logs, log_path)
    df = read_log(log_path)
    summaries = [json.loads(p.read_text()) for p in sorted(out.glob("summary-w*.json"))]
    run = LoadTestRun(
        scenario=Path(scenario_path),
        host=host,
        seed=scenario.seed,
        duration_s=run_s,
        processes=processes,
        out_dir=out,
        log_path=log_path,
        worker_logs=worker_logs,
        locust_output=locust_output,
        planned=len(plan_arrivals(scenario, duration_s=run_s)),
        sent=sum(int(s.get("sent", 0)) for s in summaries),
        attempts=attempts,
        requests=int((df["attempt"] == 1).sum()),
        statuses={int(k): int(v) for k, v in df["status"].value_counts().sort_index().items()},
        late=sum(int(s.get("late", 0)) for s in summaries),
        pool_waits=sum(int(s.get("pool_waits", 0)) for s in summaries),
        max_lag_ms=max((float(s.get("max_lag_ms", 0.0)) for s in summaries), default=0.0),
        late_threshold_ms=float(summaries[0].get("late_threshold_ms", 10.0)) if summaries else 10.0,
        exit_code=exit_code,
        wall_s=time.monotonic() - began,
    )
    if progress is not None:
        progress(LoadTestProgress("done", run_s, run_s, attempts))
    return run


def _locust_command(host: str, run_time_s: int, users: int, processes: int) -> list[str]:
    """Locust's command line: headless, every closed user spawned at once, bounded in time."""
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
        "-t", f"{run_time_s}s", "-u", str(users), "-r", str(max(1, users)),
        "--only-summary", "--exit-code-on-error", "0",
    ]  # fmt: skip
    if processes > 1:
        # The master's RPC socket on loopback and a free port, not Locust's default *:5557
        # (every interface, and taken while another run's master still holds it).
        port = _free_port()
        cmd += ["--processes", str(processes), "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                "--master-host", "127.0.0.1", "--master-port", str(port)]
    return cmd


def _locust_env(scenario_path: str | Path, seed: int, run_s: float, out: Path, processes: int,
                drain_s: float) -> dict[str, str]:
    """The environment the locustfile reads (its module docstring lists the variables),
    without the ``LOCUST_*`` settings of the caller's, which would change the command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    root = str(LOCUSTFILE.parent.parent)
    env.update(
        THROTTLESIM_SCENARIO=str(Path(scenario_path).resolve()),
        THROTTLESIM_SEED=str(seed),
        THROTTLESIM_DURATION_S=repr(run_s),
        THROTTLESIM_LOG_DIR=str(out),
        THROTTLESIM_WORKERS=str(processes),
        THROTTLESIM_DRAIN_S=repr(drain_s),
        PYTHONPATH=os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p),
    )
    return env


def _run_locust(cmd: list[str], env: dict[str, str], out: Path, locust_output: Path, run_s: float, bound_s: float,
                counter: _Counter, progress: Callable[[LoadTestProgress], None] | None) -> int:
    """Run Locust in *out* until it ends or *bound_s* passes, reporting progress; its exit code."""
    began = time.monotonic()
    with stop_on_signals(), open(locust_output, "wb") as sink:
        # Its own process group (ended as a whole), signalled if this process dies.
        proc = popen_dying_with_parent(cmd, cwd=out, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                       stderr=subprocess.STDOUT)
        try:
            t0: float | None = None
            while proc.poll() is None:
                if time.monotonic() - began > bound_s:
                    _stop_group(proc)
                    raise LoadTestError(f"load test did not end within {bound_s:.0f}s; stopped (see {locust_output})")
                if t0 is None:
                    t0 = _read_t0(out)
                if progress is not None:
                    elapsed = 0.0 if t0 is None else max(0.0, time.time() - t0)
                    phase: Phase = "starting" if t0 is None else ("running" if elapsed < run_s else "draining")
                    progress(LoadTestProgress(phase, elapsed, run_s, counter.rows()))
                time.sleep(_POLL_S)
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP (loadtests.children)
            _stop_group(proc, STOP_GRACE_S)
            _merge(out)  # keep what was sent before the interruption
            raise
        except BaseException:
            _stop_group(proc, STOP_GRACE_S)
            raise
        _stop_group(proc)  # a forked worker outliving the master; forgets the group
    return proc.returncode if proc.returncode is not None else -1


def _wall_bound_s(run_time_s: float) -> float:
    """The longest a test may take, start-up and shut-down included, before it is stopped."""
    return STARTUP_GRACE_S + run_time_s + 10.0


def _merge(out: Path) -> None:
    logs = sorted(out.glob("attempts-w*.csv"))
    if logs:
        merge_logs(logs, out / "attempts.csv")


def _read_t0(out: Path) -> float | None:
    try:
        return float(json.loads((out / "start.json").read_text())["t0_epoch_s"])
    except (OSError, ValueError, KeyError):
        return None


def loadtest_command(
    scenario_path: str | Path,
    host: str,
    *,
    duration_s: float | None = None,
    out_dir: str | Path = "loadtest-out",
    processes: int = 1,
    seed: int | None = None,
    allow_remote: bool = False,
) -> int:
    """``throttlesim loadtest``: run with a progress bar on stderr, then a short summary.

    Errors are :class:`LoadTestError` (a :class:`~simulator.errors.ThrottlesimError`: one
    line, exit code 2 in the CLI); Ctrl-C stops Locust and propagates.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    err = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[attempts]:,} attempts"),
        TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,  # a bar only on a terminal
    ) as bar:  # fmt: skip
        task_id = bar.add_task("starting Locust", total=None, attempts=0)

        def show(p: LoadTestProgress) -> None:
            total = None if p.phase == "starting" else p.duration_s
            completed = min(p.elapsed_s, p.duration_s)
            bar.update(task_id, description=p.phase, total=total, completed=completed, attempts=p.attempts)

        run = run_loadtest(scenario_path, host, duration_s=duration_s, out_dir=out_dir, processes=processes,
                           seed=seed, allow_remote=allow_remote, progress=show)  # fmt: skip
    out = Console(soft_wrap=True)
    statuses = ", ".join(f"{code}: {n:,}" for code, n in run.statuses.items())
    out.print(f"{run.scenario} -> {run.host}: {run.duration_s:g} s, seed {run.seed}, {run.processes} worker(s)")
    out.print(f"{run.requests:,} requests, {run.attempts:,} attempts ({statuses})")
    out.print(
        f"open arrivals: {run.sent:,} of {run.planned:,} sent, {run.late:,} later than {run.late_threshold_ms:g} ms, "
        f"worst lag {run.max_lag_ms:.1f} ms, {run.pool_waits:,} waited for a free slot"
    )
    out.print(f"attempt log: {run.log_path}  Locust output: {run.locust_output}")
    if run.exit_code != 0:
        err.print(f"Locust exited with code {run.exit_code} (see {run.locust_output})")
        return 1
    return 0
