"""``throttlesim serve``, ``loadtest`` and ``validate``: the commands that drive real APIs.

The load tests depend on the simulator, never the other way round, so these commands
are registered from here: pyproject.toml names :func:`register` under the
``throttlesim.commands`` entry point group, and ``throttlesim`` (:mod:`simulator.cli.main`)
adds every command registered there. This module stays light: each handler imports the
server stack, Locust's runner or the validation only when its command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from simulator.cli.args import interval, positive_int, seed, whole
from simulator.cli.report import print_validation
from simulator.errors import ThrottlesimError
from simulator.validate import DEFAULT_TOLERANCES

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``serve``, ``loadtest`` and ``validate`` to ``throttlesim``'s subcommands *sub*."""
    serve = sub.add_parser("serve", help="serve a scenario's API on 127.0.0.1 in real time, for load tests")
    serve.add_argument("scenario", help="scenario file (TOML)")
    serve.add_argument("--port", type=whole(0), default=8000, help="port on 127.0.0.1 (0: any free port)")
    serve.add_argument("--gateway", choices=["emulated", "nginx"], default="emulated",
                       help="emulated: the model's own API Gateway and Lambda served in real time, in one "
                            "process (for testing the harness); nginx: Debian's nginx in front of a Lambda "
                            "runtime")
    serve.add_argument("--runtime", choices=["independent", "model"],
                       help="behind nginx: the independent Lambda runtime (worker processes, the default) or the "
                            "model's own function pools")
    serve.add_argument("--seed", type=seed, help="random seed (default: the scenario's)")
    serve.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key (repeatable)")
    serve.add_argument("--duration-limit", type=interval, metavar="DURATION", help="stop by itself after this long")
    serve.add_argument("--stage", metavar="NAME",
                       help="with --gateway nginx: an AWS-shaped stand-in for a deployed stage, routes under /NAME/ "
                            "and nothing but API Gateway's wire format in its answers")
    serve.add_argument("--log-dir", metavar="DIR",
                       help="behind nginx: the function runtime logs every invocation to DIR/invocations.csv (the "
                            "independent one also to DIR/runtime.jsonl) and nginx every request to DIR/access.log "
                            "(API Gateway's JSON access-log shape)")
    serve.set_defaults(handler=_serve)

    lt = sub.add_parser("loadtest", help="send a scenario's traffic to a real API with Locust")
    lt.add_argument("scenario", help="scenario file (TOML)")
    lt.add_argument("--host", required=True, help="base URL, e.g. http://127.0.0.1:8000 or your staging stage")
    lt.add_argument("--duration", type=interval, help="how long to send traffic (default: the scenario's)")
    lt.add_argument("--out", default="loadtest-out", metavar="DIR", help="where the attempt log goes")
    lt.add_argument("--processes", type=positive_int, default=1, help="Locust worker processes")
    lt.add_argument("--seed", type=seed, help="random seed (default: the scenario's)")
    lt.add_argument("--allow-remote", action="store_true", help="allow a host that is not on this machine")
    lt.set_defaults(handler=_loadtest)

    val = sub.add_parser("validate", help="load-test a real API and compare what it did with the model")
    val.add_argument("scenario", help="scenario file (TOML)")
    val.add_argument("--target", default="emulated", metavar="emulated|nginx|URL",
                     help="emulated: the model itself served in real time (tests the harness, not the model); "
                          "nginx: Debian's nginx decides keys, throttles and integration timeouts, an independent "
                          "Lambda runtime (worker processes) concurrency, cold starts and function timeouts; "
                          "URL: a running API (your staging stage)")
    val.add_argument("--duration", type=interval, help="how long to send traffic (default: the scenario's)")
    val.add_argument("--out", default="validation-out", metavar="DIR")
    val.add_argument("--seeds", type=positive_int, default=5, help="seeds of the traffic model for intervals")
    val.add_argument("--seed", type=seed, help="random seed (default: the scenario's)")
    val.add_argument("--tolerance", action="append", metavar="NAME=VALUE",
                     help="override a tolerance: fraction_429, fraction_5xx (absolute), agreement (minimum), "
                          "latency_p50, latency_p95 (relative)")
    val.add_argument("--allow-remote", action="store_true", help="allow a URL that is not on this machine")
    val.add_argument("--overhead", choices=("measured", "scenario"), default="measured",
                     help="the gateway overhead the model uses on a local target: what the target measurably adds "
                          "to each answer beyond the function's time (default), or the scenario's")
    val.add_argument("--access-log", metavar="FILE",
                     help="the API's JSON access log of the run (requestId, requestTimeEpoch, status, error.message, "
                          "responseLatency, integrationLatency): replay on the gateway's clock, measure its overhead")
    val.add_argument("--json", action="store_true", help="print the report as JSON")
    val.set_defaults(handler=_validate)


def _serve(args: argparse.Namespace) -> int:
    from loadtests.target.serve import main as serve_main

    argv = [args.scenario, "--port", str(args.port), "--gateway", args.gateway]
    if args.runtime is not None:
        argv += ["--runtime", args.runtime]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    for item in args.set or []:
        argv += ["--set", item]
    if args.duration_limit is not None:
        argv += ["--duration-limit", repr(args.duration_limit)]
    if args.stage is not None:
        argv += ["--stage", args.stage]
    if args.log_dir is not None:
        argv += ["--log-dir", args.log_dir]
    return serve_main(argv)


def _loadtest(args: argparse.Namespace) -> int:
    from loadtests.runner import loadtest_command

    return loadtest_command(args.scenario, args.host, duration_s=args.duration, out_dir=args.out,
                            processes=args.processes, seed=args.seed, allow_remote=args.allow_remote)


def _validate(args: argparse.Namespace) -> int:
    from loadtests.validation import run_validation

    tolerances: dict[str, float] = {}
    for item in args.tolerance or []:
        key, sep, value = item.partition("=")
        if not sep or key not in DEFAULT_TOLERANCES:
            raise ThrottlesimError(f"--tolerance {item}: expected NAME=VALUE with NAME one of "
                                   f"{', '.join(DEFAULT_TOLERANCES)}")
        try:
            tolerances[key] = float(value)
        except ValueError:
            raise ThrottlesimError(f"--tolerance {item}: {value!r} is not a number") from None
    run = run_validation(args.scenario, target=args.target, duration_s=args.duration, out_dir=args.out,
                         seeds=args.seeds, seed=args.seed, tolerances=tolerances, allow_remote=args.allow_remote,
                         overhead=args.overhead, access_log=args.access_log)
    if args.json:
        sys.stdout.write(run.files["report"].read_text(encoding="utf-8"))
    else:
        print_validation(run)
    return 0 if run.ok else 1
