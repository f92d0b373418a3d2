"""The ``throttlesim`` command: a thin face over the public API.

Every error a user can cause ends in one line on stderr and a non-zero exit code:
2 for bad input (scenario, arguments, files), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, NoReturn, Sequence

from simulator.errors import ThrottlesimError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


def _interval(text: str) -> float:
    from simulator.units import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than 0s, got {text!r}")
    return value


def _whole(low: int) -> Callable[[str], int]:
    """An argument type for whole numbers >= *low*."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text!r}")
        return value

    return parse


_seed = _whole(0)
_positive_int = _whole(1)


def _count(text: str) -> float:
    from simulator.units import parse_count

    try:
        value = parse_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _overrides(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ThrottlesimError(f"--set {pair}: expected key.path=value")
        out[key.strip()] = value.strip()
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="throttlesim",
        description="Simulate traffic on an API Gateway + Lambda stack: 429s, 5XXs, latency, concurrency.",
    )
    from simulator import __version__

    parser.add_argument("--version", action="version", version=f"throttlesim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="simulate a scenario and report what clients see")
    run.add_argument("scenario", help="scenario file (TOML)")
    run.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key, e.g. "
                     "functions.orders.memory_mb=1024 (repeatable)")
    run.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    run.add_argument("--records", metavar="FILE", help="write every attempt to FILE (.csv or .parquet)")
    run.add_argument("--timeseries", metavar="FILE", help="write CloudWatch-style metrics to FILE (CSV)")
    run.add_argument("--interval", type=_interval, default=1.0, metavar="DURATION",
                     help="time-series interval, e.g. 1s (default) or 60s")
    _plot_args(run)
    run.add_argument("--engine", choices=["auto", "simpy", "fast"], default="auto",
                     help="auto (default): the fast engine when it supports the scenario, else SimPy; both give "
                          "the same records")
    run.add_argument("--no-records", action="store_true",
                     help="keep only bounded aggregates (fast engine): memory independent of the request count")

    cost = sub.add_parser(
        "cost", help="what a scenario's traffic costs, what-if variants side by side, or an analytic estimate",
        description="Price a simulated scenario (optionally against a variant made with --set), or estimate "
                    "a month analytically from averages with --api/--monthly-requests/--duration-ms/--memory-mb.")
    cost.add_argument("scenario", nargs="?", help="scenario file (TOML); omit for the analytic mode")
    cost.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    cost.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key (repeatable)")
    cost.add_argument("--compare", action="store_true", help="show the scenario without and with --set side by side")
    cost.add_argument("--free-tier", action="store_true", help="apply the monthly free tiers (off by default)")
    cost.add_argument("--no-init-billing", action="store_true", help="do not bill cold-start init (pre-Aug-2025 rule)")
    cost.add_argument("--json", action="store_true", help="print JSON instead of tables")
    cost.add_argument("--replications", type=_positive_int, metavar="N",
                      help="run N seeds (seed, seed+1, ...) and report P5/P50/P95 of the monthly cost")
    cost.add_argument("--explain", action="store_true",
                      help="list the prices AWS does not confirm, with their sources, and exit")
    cost.add_argument("--api", choices=["REST", "HTTP"], help="analytic mode: API type")
    cost.add_argument("--monthly-requests", type=_count, help="analytic mode: requests per month, e.g. 50M")
    cost.add_argument("--duration-ms", type=float, help="analytic mode: mean billed duration per invocation")
    cost.add_argument("--memory-mb", type=int, help="analytic mode: function memory")
    cost.add_argument("--architecture", choices=["x86_64", "arm64"], default="x86_64")
    cost.add_argument("--provisioned-concurrency", type=int, default=0)

    serve = sub.add_parser("serve", help="serve a scenario's API on 127.0.0.1 in real time, for load tests")
    serve.add_argument("scenario", help="scenario file (TOML)")
    serve.add_argument("--port", type=_whole(0), default=8000, help="port on 127.0.0.1 (0: any free port)")
    serve.add_argument("--gateway", choices=["emulated", "nginx"], default="emulated",
                       help="emulated: the model itself served in real time, for testing the harness; nginx: "
                            "Debian's nginx in front of a Lambda runtime")
    serve.add_argument("--runtime", choices=["independent", "model"],
                       help="behind nginx: the independent Lambda runtime (worker processes, the default) or the "
                            "model's own function pools")
    serve.add_argument("--runtime-log", metavar="FILE", help="independent runtime: one JSON line per invocation")
    serve.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    serve.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key (repeatable)")
    serve.add_argument("--duration-limit", type=_interval, metavar="DURATION", help="stop by itself after this long")

    lt = sub.add_parser("loadtest", help="send a scenario's traffic to a real API with Locust")
    lt.add_argument("scenario", help="scenario file (TOML)")
    lt.add_argument("--host", required=True, help="base URL, e.g. http://127.0.0.1:8000 or your staging stage")
    lt.add_argument("--duration", type=_interval, help="how long to send traffic (default: the scenario's)")
    lt.add_argument("--out", default="loadtest-out", metavar="DIR", help="where the attempt log goes")
    lt.add_argument("--processes", type=_positive_int, default=1, help="Locust worker processes")
    lt.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    lt.add_argument("--allow-remote", action="store_true", help="allow a host that is not on this machine")

    val = sub.add_parser("validate", help="load-test a real API and compare what it did with the model")
    val.add_argument("scenario", help="scenario file (TOML)")
    val.add_argument("--target", default="emulated", metavar="emulated|nginx|URL",
                     help="a local target started for the run, or the URL of a running API")
    val.add_argument("--duration", type=_interval, help="how long to send traffic (default: the scenario's)")
    val.add_argument("--out", default="validation-out", metavar="DIR")
    val.add_argument("--seeds", type=_positive_int, default=5, help="seeds of the traffic model for intervals")
    val.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    val.add_argument("--tolerance", action="append", metavar="NAME=VALUE",
                     help="override a tolerance: fraction_429, fraction_5xx (absolute), agreement (minimum), "
                          "latency_p50, latency_p95 (relative)")
    val.add_argument("--allow-remote", action="store_true", help="allow a URL that is not on this machine")
    val.add_argument("--overhead", choices=("measured", "scenario"), default="measured",
                     help="the gateway overhead the model uses on a local target: what the target measurably adds "
                          "to each answer beyond the function's time (default), or the scenario's")
    val.add_argument("--json", action="store_true", help="print the report as JSON")

    from simulator.cli_capacity import add_capacity_commands

    add_capacity_commands(sub)

    check = sub.add_parser("check", help="validate scenario files and say what is wrong")
    check.add_argument("scenarios", nargs="+", help="scenario files (TOML)")
    return parser


def _plot_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plots", metavar="DIR", help="write figures (PNG) to DIR")
    parser.add_argument("--svg", action="store_true", help="with --plots: also write SVG")


def _check_plots_dir(args: argparse.Namespace) -> tuple[str, ...]:
    if not args.plots:
        return ()
    path = Path(args.plots)
    if path.exists() and not path.is_dir():
        raise ThrottlesimError(f"--plots {args.plots}: is a file; give a directory")
    if not path.resolve().parent.is_dir():
        raise ThrottlesimError(f"--plots {args.plots}: the parent directory does not exist")
    return ("png", "svg") if args.svg else ("png",)


def _check_output(option: str, value: str | None, suffixes: tuple[str, ...]) -> None:
    """Refuse an output file we could not write, before spending time on the run."""
    if value is None:
        return
    path = Path(value)
    if path.is_dir():
        raise ThrottlesimError(f"{option} {value}: is a directory; give a file name")
    if not path.resolve().parent.is_dir():
        raise ThrottlesimError(f"{option} {value}: the directory does not exist")
    if path.suffix not in suffixes:
        raise ThrottlesimError(f"{option} {value}: use a file name ending in {' or '.join(suffixes)}")
    if path.suffix == ".parquet":
        import importlib.util

        if not any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")):
            raise ThrottlesimError(f"{option} {value}: writing Parquet needs pyarrow (pip install pyarrow); "
                                   "or use a .csv file")


def _run(args: argparse.Namespace) -> int:
    import simulator

    scenario = simulator.load_scenario(args.scenario, overrides=_overrides(args.set), seed=args.seed)
    _check_output("--records", args.records, (".csv", ".parquet"))
    _check_output("--timeseries", args.timeseries, (".csv",))
    formats = _check_plots_dir(args)
    if args.no_records and (args.records or formats):
        raise ThrottlesimError("--no-records keeps no per-attempt rows: drop --records/--plots, or --no-records")
    result = simulator.simulate(scenario, engine=args.engine, record=not args.no_records)
    if result.engine_note:
        print(f"throttlesim: {result.engine_note}", file=sys.stderr)
    try:
        if args.records:
            result.write_records(args.records)
        if args.timeseries:
            result.write_timeseries(args.timeseries, args.interval)
        if formats:
            from simulator.plots import run_figures, save_figures

            save_figures(run_figures(result, interval_s=args.interval), args.plots, formats)
    except OSError as exc:
        raise ThrottlesimError(f"cannot write {exc.filename}: {exc.strerror}") from None  # e.g. a full disk
    if args.json:
        sys.stdout.write(result.to_json() + "\n")
    else:
        from simulator.report import print_summary

        print_summary(result)
    return 0


def _cost(args: argparse.Namespace) -> int:
    from simulator.cost_report import analytic, compare, explain, replications, single

    if args.explain:
        return explain(args)
    analytic_keys = (args.api, args.monthly_requests, args.duration_ms, args.memory_mb)
    if args.scenario is None:
        if any(k is None for k in analytic_keys):
            raise ThrottlesimError("throttlesim cost: give a SCENARIO, or all of --api, --monthly-requests, "
                                   "--duration-ms and --memory-mb for the analytic mode")
        return analytic(args)
    if any(k is not None for k in analytic_keys):
        raise ThrottlesimError("throttlesim cost: --api/--monthly-requests/--duration-ms/--memory-mb are for the "
                               "analytic mode, without a SCENARIO")
    if args.compare:
        if not args.set:
            raise ThrottlesimError("throttlesim cost --compare: give the variant with one or more --set KEY=VALUE")
        return compare(args, _overrides(args.set))
    if args.replications:
        return replications(args, _overrides(args.set))
    return single(args, _overrides(args.set))


def _serve(args: argparse.Namespace) -> int:
    # Imported here so that `run` and `cost` never load the server stack.
    from loadtests.target.serve import main as serve_main

    argv = [args.scenario, "--port", str(args.port), "--gateway", args.gateway]
    if args.runtime is not None:
        argv += ["--runtime", args.runtime]
    if args.runtime_log is not None:
        argv += ["--runtime-log", args.runtime_log]
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    for item in args.set or []:
        argv += ["--set", item]
    if args.duration_limit is not None:
        argv += ["--duration-limit", repr(args.duration_limit)]
    return serve_main(argv)


def _validate(args: argparse.Namespace) -> int:
    from loadtests.validation import run_validation
    from simulator.validate import DEFAULT_TOLERANCES

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
                         overhead=args.overhead)
    if args.json:
        sys.stdout.write(run.files["report"].read_text(encoding="utf-8"))
    else:
        from simulator.report import print_validation

        print_validation(run)
    return 0 if run.ok else 1


def _check(args: argparse.Namespace) -> int:
    import simulator

    failed = 0
    for path in args.scenarios:
        try:
            s = simulator.load_scenario(path)
        except simulator.ScenarioError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
        else:
            print(f"{path}: ok ({s.name}: {len(s.clients)} clients, {len(s.routes)} routes, "
                  f"{len(s.functions)} functions)")
    return 2 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "check":
            return _check(args)
        if args.command == "cost":
            return _cost(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "loadtest":
            from loadtests.runner import loadtest_command

            return loadtest_command(args.scenario, args.host, duration_s=args.duration, out_dir=args.out,
                                    processes=args.processes, seed=args.seed, allow_remote=args.allow_remote)
        if args.command == "validate":
            return _validate(args)
        from simulator.cli_capacity import run_capacity_command

        code = run_capacity_command(args)
        if code is not None:
            return code
    except ThrottlesimError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("throttlesim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
