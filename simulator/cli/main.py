"""The ``throttlesim`` command: a thin face over the public API.

Every error a user can cause ends in one line on stderr and a non-zero exit code:
2 for bad input (scenario, arguments, files), 128 + the signal's number when a signal
stops it (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).

The commands that drive real APIs (``serve``, ``loadtest``, ``validate``) live with the
load tests, which depend on the simulator and never the other way round: a package
adds commands by naming a ``register(subparsers)`` function under the
``throttlesim.commands`` entry point group (``loadtests`` does so in pyproject.toml).
Each command sets its handler with ``set_defaults(handler=...)``; a handler takes the
parsed arguments and returns the exit code.

Start-up is part of every command's time, so a command line that names one of the
simulator's own commands (``run``, ``cost``, ...) neither looks up nor loads the registered
ones; any other (``--help``, a registered command, a typo) loads them all, so that help
lists every command. Handlers import what only they need (the studies, the cost views).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import simulator
from simulator.cli.args import (
    Parser,
    atomic_output,
    check_output,
    check_plots_dir,
    check_rows,
    count,
    finite,
    interval,
    overrides,
    plot_args,
    positive_int,
    scale_args,
    seed,
    whole,
)
from simulator.cli.capacity import add_capacity_commands
from simulator.cost.metering import MEMORY_MB_MAX, MEMORY_MB_MIN
from simulator.engine.choice import compile_notice
from simulator.errors import ThrottlesimError
from simulator.limits import MAX_CONCURRENCY, MAX_DURATION_S
from simulator.scenario.scale import scale_scenario

__all__ = ["ENTRY_POINT_GROUP", "build_parser", "main"]

#: The entry point group other packages register their commands under.
ENTRY_POINT_GROUP = "throttlesim.commands"
#: The simulator's own commands: a command line that names one needs no registered command.
OWN_COMMANDS = frozenset({"run", "cost", "sweep", "plan", "quota", "warmup", "check"})


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``throttlesim`` parser: the simulator's commands and every registered one, unless
    *argv* (the arguments it is for) names one of :data:`OWN_COMMANDS` first."""
    parser = Parser(
        prog="throttlesim",
        description="Simulate traffic on an API Gateway + Lambda stack: 429s, 5XXs, latency, concurrency.",
    )
    parser.add_argument("--version", action="version", version=f"throttlesim {simulator.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = sub.add_parser("run", help="simulate a scenario and report what clients see")
    run.add_argument("scenario", help="scenario file (TOML)")
    run.add_argument("--seed", type=seed, help="random seed (default: the scenario's)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key, e.g. "
                     "functions.orders.memory_mb=1024 (repeatable)")
    run.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    run.add_argument("--records", metavar="FILE", help="write every attempt to FILE (.csv or .parquet)")
    run.add_argument("--timeseries", metavar="FILE", help="write CloudWatch-style metrics to FILE (CSV)")
    run.add_argument("--interval", type=interval, default=1.0, metavar="DURATION",
                     help="time-series interval, e.g. 1s (default) or 60s")
    plot_args(run)
    scale_args(run)
    run.add_argument("--engine", choices=["auto", "simpy", "fast"], default="auto",
                     help="auto (default): the fast engine when it supports the scenario, else SimPy; both give "
                          "the same records")
    run.add_argument("--no-records", action="store_true",
                     help="keep only bounded aggregates (fast engine): memory independent of the request count")
    run.set_defaults(handler=_run)

    cost = sub.add_parser(
        "cost", help="what a scenario's traffic costs, what-if variants side by side, or an analytic estimate",
        description="Price a simulated scenario (optionally against a variant made with --set), or estimate "
                    "a month analytically from averages with --api/--monthly-requests/--duration-ms/--memory-mb.")
    cost.add_argument("scenario", nargs="?", help="scenario file (TOML); omit for the analytic mode")
    cost.add_argument("--seed", type=seed, help="random seed (default: the scenario's)")
    cost.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key (repeatable)")
    scale_args(cost)
    cost.add_argument("--compare", action="store_true", help="show the scenario without and with --set side by side")
    cost.add_argument("--month", metavar="PATH:DAYS,...",
                      help="a month composed of several runs, e.g. peak.toml:1d,normal.toml:29d (the days add up "
                           "to 28-31); each part is scaled to its days and the month priced once")
    cost.add_argument("--free-tier", action="store_true", help="apply the monthly free tiers (off by default)")
    cost.add_argument("--no-init-billing", action="store_true", help="do not bill cold-start init (pre-Aug-2025 rule)")
    cost.add_argument("--json", action="store_true", help="print JSON instead of tables")
    cost.add_argument("--replications", type=positive_int, metavar="N",
                      help="run N seeds (seed, seed+1, ...) and report P5/P50/P95 of the monthly cost")
    cost.add_argument("--explain", action="store_true",
                      help="list the prices AWS does not confirm (the SCENARIO's Region, else us-east-1), with their "
                           "sources, and exit")
    cost.add_argument("--api", choices=["REST", "HTTP"], help="analytic mode: API type")
    cost.add_argument("--monthly-requests", type=count, help="analytic mode: requests per month, e.g. 50M")
    cost.add_argument("--duration-ms", type=finite(0, MAX_DURATION_S * 1000),
                      help="analytic mode: mean billed duration per invocation")
    cost.add_argument("--memory-mb", type=whole(MEMORY_MB_MIN, MEMORY_MB_MAX), help="analytic mode: function memory")
    cost.add_argument("--architecture", choices=["x86_64", "arm64"], default="x86_64")
    cost.add_argument("--provisioned-concurrency", type=whole(0, MAX_CONCURRENCY), default=0)
    cost.set_defaults(handler=_cost)

    if not argv or argv[0] not in OWN_COMMANDS:
        from importlib.metadata import entry_points

        for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
            entry_point.load()(sub)

    add_capacity_commands(sub)

    warmup = sub.add_parser("warmup", help="compile the fast engine once, ahead of the first run (about 20-60 s)")
    warmup.set_defaults(handler=_warmup)

    check = sub.add_parser("check", help="validate scenario files and say what is wrong")
    check.add_argument("scenarios", nargs="+", help="scenario files (TOML)")
    check.set_defaults(handler=_check)
    return parser


def _run(args: argparse.Namespace) -> int:
    scenario = scale_scenario(simulator.load_scenario(args.scenario, overrides=overrides(args.set), seed=args.seed),
                              args.scale)
    check_output("--records", args.records, (".csv", ".parquet"))
    check_output("--timeseries", args.timeseries, (".csv",))
    formats = check_plots_dir(args)
    if args.no_records and (args.records or formats):
        raise ThrottlesimError("--no-records keeps no per-attempt rows: drop --records/--plots, or --no-records")
    if args.timeseries or formats:
        check_rows("--interval", scenario.duration / args.interval)
    notice = compile_notice(scenario, args.engine)
    if notice:
        print(f"throttlesim: {notice}", file=sys.stderr, flush=True)
    result = simulator.simulate(scenario, engine=args.engine, record=not args.no_records)
    if result.engine_note:
        print(f"throttlesim: {result.engine_note}", file=sys.stderr)
    try:
        if args.records:
            with atomic_output(args.records) as tmp:
                result.write_records(tmp)
        if args.timeseries:
            with atomic_output(args.timeseries) as tmp:
                result.write_timeseries(tmp, args.interval)
        if formats:
            assert isinstance(result, simulator.Result)  # --no-records with --plots was refused above
            simulator.plots.save_figures(simulator.plots.run_figures(result, interval_s=args.interval), args.plots,
                                         formats)
    except OSError as exc:
        raise ThrottlesimError(f"cannot write {exc.filename}: {exc.strerror or exc}") from None  # e.g. a full disk
    if args.json:
        sys.stdout.write(result.to_json() + "\n")
    else:
        from simulator.cli.report import print_summary

        print_summary(result)
    return 0


def _cost(args: argparse.Namespace) -> int:
    from simulator.cli.cost import analytic, compare, explain, month, month_conflicts, replications, single

    if args.month is not None:
        if clash := month_conflicts(args):
            raise ThrottlesimError(f"throttlesim cost --month: cannot be combined with {clash}")
        return month(args, overrides(args.set))
    if args.explain:
        return explain(args, overrides(args.set))
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
        return compare(args, overrides(args.set))
    if args.replications:
        return replications(args, overrides(args.set))
    return single(args, overrides(args.set))


def _warmup(args: argparse.Namespace) -> int:
    """Run a one-second scenario on the fast engine, which compiles and caches it."""
    from simulator.engine.choice import fast_engine_cached

    reason = simulator.engine.fast_engine_unavailable()
    if reason is not None:
        raise ThrottlesimError(f"throttlesim warmup: {reason}")
    if fast_engine_cached():
        print("throttlesim: the fast engine is compiled and cached already")
        return 0
    print("throttlesim: compiling the fast engine once, about 20-60 s", file=sys.stderr, flush=True)
    tiny = {"name": "warmup", "duration": "1s", "routes": [{"name": "GET /", "function": "f"}],
            "functions": [{"name": "f", "duration": "10ms"}],
            "clients": [{"name": c, "routes": {"GET /": 1}, "arrivals": {"process": c, "rate": 5}}
                        for c in ("poisson", "uniform")]}
    simulator.simulate(simulator.parse_scenario(tiny, source="warmup"), engine="fast")
    print("throttlesim: the fast engine is compiled and cached" if fast_engine_cached() else
          "throttlesim: the fast engine compiled, but numba could not cache it (is its __pycache__ writable?)")
    return 0


def _check(args: argparse.Namespace) -> int:
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


def _signal_number(exc: KeyboardInterrupt) -> int:
    """The signal that stopped the run: the load tests name it in the interrupt (SIGTERM,
    SIGHUP); a plain Ctrl-C is SIGINT. The exit code is 128 plus its number, as a shell's."""
    import signal

    name = exc.args[0] if exc.args and isinstance(exc.args[0], str) else "SIGINT"
    try:
        return int(signal.Signals[name])
    except KeyError:
        return int(signal.SIGINT)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``throttlesim`` with *argv* (default: the process's arguments); the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except ThrottlesimError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print("throttlesim: interrupted", file=sys.stderr)
        return 128 + _signal_number(exc)
    except BrokenPipeError:
        return 0
    return code
