"""Load never follows a redirect: a 3XX is logged as the attempt's answer.

A server on 127.0.0.1 answers every route with a redirect (301, 302, 307, 308) to a
second loopback server that counts what reaches it. ``throttlesim loadtest`` runs for
2 s against the first; the second must see nothing (no request, so no ``x-api-key``),
and the attempt log must hold each route's own 3XX status, for open clients (Locust's
scheduler) and closed ones (Locust users) alike.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from loadtests.log import read_log

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="Locust is not installed"),
]

#: route path -> the redirect status the first server answers with.
CODES = {"/r301": 301, "/r302": 302, "/r307": 307, "/r308": 308}
KEY = "k-redirect-secret-0000000000"


class _Sink(BaseHTTPRequestHandler):
    """The server redirects point at: counts every request and keeps its headers."""

    seen: list[dict[str, str]] = []
    lock = threading.Lock()

    def _any(self) -> None:
        with _Sink.lock:
            _Sink.seen.append(dict(self.headers.items()))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    do_GET = do_POST = _any  # noqa: N815 (http.server's names)

    def log_message(self, *args: Any) -> None:
        pass


def _redirector(sink_url: str) -> type[BaseHTTPRequestHandler]:
    class Redirect(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(CODES.get(self.path, 308))
            self.send_header("location", f"{sink_url}/landed{self.path}")
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = _any  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    return Redirect


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def servers() -> Iterator[tuple[str, list[dict[str, str]]]]:
    _Sink.seen = []
    sink, sink_url = _serve(_Sink)
    redirect, url = _serve(_redirector(sink_url))
    yield url, _Sink.seen
    for server in (redirect, sink):
        server.shutdown()
        server.server_close()


SCENARIO = f"""
name = "redirects"
duration = "2s"
seed = 3
routes = [
  {{ name = "GET /r301", function = "f" }}, {{ name = "GET /r302", function = "f" }},
  {{ name = "GET /r307", function = "f" }}, {{ name = "POST /r308", function = "f" }},
]
functions = [{{ name = "f", duration = "5ms" }}]
[[clients]]
name = "open"
api_key = "{KEY}"
routes = {{ "GET /r301" = 1, "GET /r302" = 1, "GET /r307" = 1, "POST /r308" = 1 }}
arrivals = {{ process = "uniform", rate = 20 }}
retry = {{ mode = "fixed", delay = "10ms", max_attempts = 2, on = [429] }}
timeout = "2s"
[[clients]]
name = "users"
api_key = "{KEY}"
routes = {{ "GET /r307" = 1 }}
arrivals = {{ process = "closed", users = 1, spawn_rate = 1, wait = {{ kind = "constant", time = "200ms" }} }}
timeout = "2s"
"""


def test_loadtest_records_redirects_and_never_follows_them(servers: Any, tmp_path: Path) -> None:
    url, seen = servers
    scenario = tmp_path / "redirects.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "simulator.cli", "loadtest", str(scenario), "--host", url, "--out", str(out)]
    # Bounded: a 2 s test plus Locust's start; 120 s only guards against a hang on a busy machine.
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert seen == [], f"{len(seen)} requests followed a redirect to the second server"
    df = read_log(out / "attempts.csv")
    opened = df[df["client"] == "open"]
    assert len(opened) == 40  # 20 rps for 2 s, one attempt each: a 3XX is not retried
    by_route = opened.groupby("route")["status"].agg(set).to_dict()
    assert by_route == {"GET /r301": {301}, "GET /r302": {302}, "GET /r307": {307}, "POST /r308": {308}}
    users = df[df["client"] == "users"]
    assert len(users) >= 5 and set(users["status"]) == {307}
    assert "307: " in done.stdout and "308: " in done.stdout
