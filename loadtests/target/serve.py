"""Start a target for a scenario: ``python -m loadtests.target.serve SCENARIO --port P --gateway G``.

``--gateway emulated`` serves the model itself in real time, API Gateway and Lambda from
this process (:mod:`loadtests.target.emulated`), for testing the validation harness;
``--gateway nginx`` runs nginx in front of a Lambda runtime served from this process on
a free port (:mod:`loadtests.target.nginx`). Behind nginx the runtime is, by default,
the independent one (``--runtime independent``, :mod:`loadtests.target.lambda_runtime`:
worker processes and its own accounting; the scenario's authorizers are answered beside
it, :mod:`loadtests.target.lambda_authorizers`); ``--runtime model`` serves the model's own
function pools instead (:mod:`loadtests.target.runtime`), for scenarios without authorizers. When the target accepts
connections one line is printed, ``listening on http://127.0.0.1:P``; the target stops cleanly (nginx included)
on SIGTERM, SIGINT or SIGHUP, or by itself after ``--duration-limit`` seconds. ``--port 0``
picks a free port and prints it.

Bad input (a scenario that does not load, a port in use, no nginx) ends with one line on
stderr and exit status 2; nginx failing to start, with its last error line and status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import resource
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web

import simulator
from loadtests.target.clock import Clock
from loadtests.target.emulated import emulated_app
from loadtests.target.invocation_log import InvocationLog
from loadtests.target.lambda_runtime import LambdaRuntime, lambda_app
from loadtests.target.nginx import NginxError, find_nginx, key_error
from loadtests.target.nginx_server import NginxServer
from loadtests.target.runtime import FunctionRuntime, runtime_app
from simulator.errors import ScenarioError, ThrottlesimError
from simulator.scenario import Scenario

__all__ = ["fixed_concurrency_error", "main", "serve"]

GATEWAYS = ("emulated", "nginx")
RUNTIMES = ("independent", "model")


class ServeError(ThrottlesimError):
    """Input that the target cannot start with."""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_port(port: int) -> int:
    """*port*, or a free one for 0; :class:`ServeError` if something already listens there."""
    if port == 0:
        return free_port()
    if not 0 < port < 65536:
        raise ServeError(f"--port must be between 0 and 65535, got {port}")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ServeError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    return port


def serve(
    scenario: str | Scenario,
    *,
    port: int = 8000,
    gateway: str = "emulated",
    runtime: str | None = None,
    seed: int | None = None,
    duration_limit_s: float | None = None,
    overrides: dict[str, str] | None = None,
    ready: Callable[[str], None] = lambda line: print(line, flush=True),
    log_dir: str | Path | None = None,
    stage: str | None = None,
    max_environments: int = 256,
) -> None:
    """Serve *scenario* on 127.0.0.1:*port* until SIGTERM/SIGINT/SIGHUP or *duration_limit_s*.

    Raises :class:`~simulator.errors.ThrottlesimError` for bad input and
    :class:`~loadtests.target.nginx.NginxError` if nginx does not start. With *log_dir*,
    the function runtime behind nginx writes ``invocations.csv`` there
    (:mod:`loadtests.target.invocation_log`), and the independent runtime also
    ``runtime.jsonl`` (:mod:`loadtests.target.lambda_runtime`). With *stage* (nginx only), the target is an
    AWS-shaped stand-in for a deployed stage: routes under ``/STAGE/`` and nothing but API
    Gateway's wire format in its answers (:func:`loadtests.target.nginx.nginx_config`).
    """
    if stage is not None and (gateway != "nginx" or not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", stage)):
        raise ServeError(f"--stage {stage!r}: a stage name (letters, digits, _ and -) with --gateway nginx")
    if gateway not in GATEWAYS:
        raise ServeError(f"--gateway must be one of {', '.join(GATEWAYS)}, got {gateway!r}")
    runtime = runtime or ("model" if gateway == "emulated" else "independent")
    if runtime not in RUNTIMES:
        raise ServeError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if gateway == "emulated" and runtime != "model":
        raise ServeError("--gateway emulated serves the model's own runtime; "
                         "--runtime independent needs --gateway nginx")
    if max_environments < 1:
        raise ServeError(f"--max-environments must be at least 1, got {max_environments}")
    if log_dir is not None:
        try:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ServeError(f"--log-dir {log_dir}: {exc.strerror or exc}") from None
    source = scenario.name if isinstance(scenario, Scenario) else str(scenario)
    if not isinstance(scenario, Scenario):
        scenario = simulator.load_scenario(scenario, overrides=overrides)
    if scenario.backends and runtime != "independent":
        raise ServeError(f"{source}: backends: HTTP backends are served by the independent runtime only; "
                         "use --gateway nginx")
    if gateway == "nginx" and runtime != "independent" and scenario.authorizers:
        raise ServeError(f"{source}: authorizers: behind nginx, authorizers are served beside the independent "
                         "runtime only; leave out --runtime model")
    if gateway == "nginx" and (problem := key_error(scenario, source)):
        raise ServeError(problem)
    if problem := fixed_concurrency_error(scenario, source):
        raise ServeError(problem)
    if gateway == "nginx" and find_nginx() is None:
        raise ServeError("no nginx binary found (apt-get install nginx-light, or set THROTTLESIM_NGINX)")
    port = check_port(port)
    _raise_open_files_limit()
    asyncio.run(_serve(scenario, port, gateway, seed, duration_limit_s, ready, log_dir, stage,
                       runtime=runtime, max_environments=max_environments))


async def _serve(scenario: Scenario, port: int, gateway: str, seed: int | None,
                 duration_limit_s: float | None, ready: Callable[[str], None],
                 log_dir: str | Path | None = None, stage: str | None = None, *,
                 runtime: str = "independent", max_environments: int = 256) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    if duration_limit_s is not None:
        loop.call_later(duration_limit_s, stop.set)
    clock = Clock()
    nginx: NginxServer | None = None
    if gateway == "emulated":
        app = emulated_app(scenario, seed=seed, clock=clock)
        listen = port
    elif runtime == "model":
        model = FunctionRuntime(scenario, seed=seed, clock=clock)
        log = InvocationLog(Path(log_dir) / "invocations.csv") if log_dir is not None else None
        app = runtime_app(model, log)
        app.on_cleanup.append(lambda _: _close(model))
        listen = 0
    else:
        # Its provisioned environments start in runner.setup(), before anything listens.
        app = lambda_app(LambdaRuntime(scenario, seed=seed, clock=clock, max_environments=max_environments,
                                       log_dir=log_dir))
        listen = 0
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", listen, backlog=4096)
        try:
            await site.start()
        except OSError as exc:
            raise ServeError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        if gateway == "nginx":
            access_log = Path(log_dir).resolve() / "access.log" if log_dir is not None else None
            nginx = NginxServer(scenario, port=port, upstream_port=int(runner.addresses[0][1]), stage=stage,
                                access_log=access_log)
            nginx.start()
            if log_dir is not None:  # what the validation report should say of nginx's clock
                (Path(log_dir) / "nginx.json").write_text(json.dumps(
                    {"clock_aligned": nginx.clock_aligned, "clock_offset_ns": nginx.clock_offset_ns}) + "\n")
        ready(f"listening on http://127.0.0.1:{port}" + (f"/{stage}" if stage else ""))
        await stop.wait()
    finally:
        if nginx is not None:
            nginx.stop()
        await runner.cleanup()


async def _close(runtime: FunctionRuntime) -> None:
    runtime.close()


def _raise_open_files_limit() -> None:
    """Thousands of connections need thousands of file descriptors."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests.target.serve",
                                description="Serve a scenario's API on 127.0.0.1 in real time.")
    p.add_argument("scenario", help="scenario file (TOML)")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--gateway", choices=GATEWAYS, default="emulated",
                   help="emulated: the model served in real time, for testing the harness; "
                        "nginx: nginx limit_req in front of a Lambda runtime")
    p.add_argument("--runtime", choices=RUNTIMES, default=None,
                   help="behind nginx, the Lambda runtime: independent (worker processes, the default) or "
                        "model (the model's own function pools)")
    p.add_argument("--max-environments", type=int, default=256, metavar="N",
                   help="independent runtime: at most N worker processes on this host (default 256)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario key, as in throttlesim run")
    p.add_argument("--duration-limit", type=float, default=None, metavar="S",
                   help="stop by itself after S seconds")
    p.add_argument("--stage", default=None, metavar="NAME",
                   help="with --gateway nginx: serve routes under /NAME/ with nothing but API Gateway's wire format")
    p.add_argument("--log-dir", default=None, metavar="DIR",
                   help="behind nginx: the function runtime logs every invocation to DIR/invocations.csv (the "
                        "independent one also to DIR/runtime.jsonl, with its init and run times) and nginx every "
                        "request to DIR/access.log (API Gateway's JSON access-log shape)")
    return p


def fixed_concurrency_error(scenario: Scenario, source: str) -> str | None:
    """Why the local targets cannot serve *scenario*: their concurrency stays as it starts, and
    their authorizers answer after the throttles."""
    changing = [f.name for f in scenario.functions if f.changes_concurrency]
    if changing:
        return (f"{source}: functions.{changing[0]}: the local targets keep concurrency fixed, and this function's "
                "changes during the run (a schedule or provisioned_autoscaling); set fixed values with --set")
    if scenario.behaviour.provisioned_recycle_interval is not None:
        return (f"{source}: behaviour.provisioned_recycle_interval: the local targets never re-initialise "
                "provisioned environments; leave it out to serve this scenario")
    if scenario.behaviour.authorizer_before_throttles and scenario.authorizers:
        return (f"{source}: behaviour.authorizer_before_throttles: the local targets authorize after the throttles "
                "(nginx runs auth_request after limit_req); leave it off to serve this scenario")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    overrides = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"error: --set takes KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        overrides[key] = value
    try:
        serve(args.scenario, port=args.port, gateway=args.gateway, runtime=args.runtime, seed=args.seed,
              duration_limit_s=args.duration_limit, overrides=overrides or None, log_dir=args.log_dir,
              stage=args.stage, max_environments=args.max_environments)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ThrottlesimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except NginxError as exc:
        print(f"error: nginx: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
