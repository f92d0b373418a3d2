"""Running nginx with the configuration :mod:`loadtests.target.nginx` writes.

:class:`NginxServer` starts Debian's nginx (``nginx-light``) in the foreground as one process
(``master_process off``: one event loop and one clock decide every request, as the model
assumes), with its prefix, pid file, logs and temp directories in a temporary directory of its
own, and waits until it accepts connections on 127.0.0.1. Where Linux allows it, nginx runs in
a time namespace whose monotonic clock is aligned with the wall clock's milliseconds
(:mod:`loadtests.target.time_namespace`), so that validation can read which millisecond
``limit_req`` counted each request on. nginx is asked to die with the process that started it
(:mod:`loadtests.children`), and :meth:`NginxServer.stop` removes everything it wrote.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from loadtests.children import die_with_parent
from loadtests.target.nginx import TEMP_DIRS, NginxError, find_nginx, nginx_config
from loadtests.target.time_namespace import aligned_clock_offset_ns, can_align_clock, enter_time_namespace
from simulator.scenario import Scenario

__all__ = ["NginxServer"]


class NginxServer:
    """Debian's nginx in the foreground with :func:`nginx_config`, stopped on :meth:`stop`.

    Everything it writes (configuration, pid file, error log, temp files) lives in a
    temporary directory that :meth:`stop` removes. nginx runs as one process
    (``master_process off``), so one event loop and one clock handle every request, as
    the model assumes; it is asked to die with the process that started it.
    """

    def __init__(self, scenario: Scenario, *, port: int, upstream_port: int, binary: str | None = None,
                 align_clock: bool = True, stage: str | None = None, access_log: Path | None = None) -> None:
        self.stage = stage
        self.access_log = access_log
        self.scenario = scenario
        self.port = port
        self.upstream_port = upstream_port
        self.binary = binary or find_nginx()
        self.prefix: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        #: Whether nginx runs with its monotonic clock aligned to the wall clock's
        #: milliseconds (see :func:`aligned_clock_offset_ns`); set by :meth:`start`.
        self.clock_aligned = False
        #: The CLOCK_MONOTONIC offset nginx runs with, when aligned.
        self.clock_offset_ns: int | None = None
        self._align = align_clock

    def start(self, timeout_s: float = 10.0) -> None:
        """Write the configuration, start nginx, and return once it accepts connections."""
        if self.binary is None:
            raise NginxError("no nginx binary found (apt-get install nginx-light, or set THROTTLESIM_NGINX)")
        self.prefix = Path(tempfile.mkdtemp(prefix="throttlesim-nginx-"))
        for what in TEMP_DIRS:
            (self.prefix / "temp" / what).mkdir(parents=True)
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        connections = max(256, min(4096, (hard if hard != resource.RLIM_INFINITY else 65536) // 2 - 64))
        conf = self.prefix / "nginx.conf"
        conf.write_text(nginx_config(self.scenario, port=self.port, upstream_port=self.upstream_port,
                                     prefix=self.prefix, worker_connections=connections, stage=self.stage,
                                     access_log=self.access_log))
        log = self.prefix / "error.log"
        offset_ns = aligned_clock_offset_ns() if self._align and can_align_clock() else None
        self.clock_aligned = offset_ns is not None
        self.clock_offset_ns = offset_ns
        parent = os.getpid()

        def child() -> None:
            die_with_parent(parent)
            if offset_ns is not None:
                enter_time_namespace(offset_ns)

        self.process = subprocess.Popen(
            [self.binary, "-p", f"{self.prefix}/", "-c", str(conf), "-e", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            preexec_fn=child,  # noqa: PLW1509 - the target starts nginx before any thread
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                message = self.last_error() or f"nginx exited with status {self.process.returncode}"
                self.stop()
                raise NginxError(message)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise NginxError(f"nginx did not listen on 127.0.0.1:{self.port} within {timeout_s:g} s")

    def last_error(self) -> str:
        """The last line nginx wrote to its error log."""
        if self.prefix is None or not (self.prefix / "error.log").exists():
            return ""
        lines = (self.prefix / "error.log").read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop nginx (fast shutdown, then SIGKILL) and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.prefix is not None:
            shutil.rmtree(self.prefix, ignore_errors=True)
            self.prefix = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
