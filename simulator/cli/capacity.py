"""``throttlesim sweep``, ``plan`` and ``quota``: capacity planning from the command line.

Thin faces over :mod:`simulator.studies.sweep`, :mod:`simulator.studies.planner` and
:mod:`simulator.studies.quota_forecast`, the same functions notebooks call. Each handler
imports its study when it runs: building the parser for ``throttlesim run`` loads none.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from simulator.cli.args import (
    atomic_output,
    check_output,
    check_plots_dir,
    console,
    interval,
    overrides,
    plot_args,
    positive_int,
    scale_args,
    seed,
    whole,
)
from simulator.errors import ThrottlesimError
from simulator.limits import MAX_WORKERS
from simulator.scenario import load_scenario
from simulator.scenario.scale import scale_scenario

__all__ = ["add_capacity_commands"]


def add_capacity_commands(sub: Any) -> None:
    """Add ``sweep``, ``plan`` and ``quota`` to the subcommands *sub*."""
    vary_help = "a key and its values: KEY=V1,V2,... or KEY=START:STOP:STEP (repeatable; the grid is every combination)"
    sweep = sub.add_parser("sweep", help="run a scenario over a grid of what-ifs, several seeds each")
    plan = sub.add_parser("plan", help="the best configuration of a grid that meets every SLO (by default the cheapest "
                                       "per served request)")
    for p in (sweep, plan):
        p.add_argument("scenario", help="scenario file (TOML)")
        p.add_argument("--vary", action="append", required=True, metavar="KEY=VALUES", help=vary_help)
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a scenario key at every point (repeatable), as for run")
        p.add_argument("--replications", type=positive_int, default=1, metavar="N",
                       help="seeds per point (seed, seed+1, ...); > 1 adds 95%% confidence intervals")
        p.add_argument("--seed", type=seed, help="first seed (default: the scenario's)")
        p.add_argument("--dask", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://scheduler:8786")
        p.add_argument("--workers", type=whole(1, MAX_WORKERS), metavar="N",
                       help="local processes (default: one per CPU)")
        p.add_argument("--out", metavar="FILE", help="write the table to FILE (.csv or .parquet)")
        p.add_argument("--json", action="store_true", help="print JSON instead of tables")
        plot_args(p)
        scale_args(p)
    sweep.set_defaults(handler=_sweep)
    plan.set_defaults(handler=_plan)
    plan.add_argument("--slo", action="append", required=True, metavar="METRIC<THRESHOLD",
                      help="a service-level objective, e.g. rate_5xx<0.001 or p99<800ms (repeatable)")
    goal = plan.add_mutually_exclusive_group()
    goal.add_argument("--minimize", metavar="cost|value|KEY",
                      help="what to minimize among the passing points: cost (default: monthly cost / success "
                           "fraction, among the points as reliable as the most reliable one; costs within 2 standard "
                           "errors are ties broken by fewer errors), value (the one varied setting) or a varied KEY")
    goal.add_argument("--maximize", metavar="headroom", choices=["headroom"],
                      help="headroom: the point furthest from breaking an SLO")
    quota = sub.add_parser("quota", help="when each API key runs out of its usage-plan quota")
    quota.add_argument("scenario", help="scenario file (TOML)")
    quota.add_argument("--horizon", metavar="DURATION", type=interval,
                       help="forecast every period up to this long after start, e.g. 90d")
    quota.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a scenario key (repeatable), e.g. usage_plans.paid.quota.limit=5000000")
    quota.add_argument("--growth", metavar="RATE", type=_growth,
                       help="traffic growth, e.g. 10%%/month (30 days), 0.5%%/day, 2%%/week, 20%%/year: the load of "
                            "day j after start is (1 + rate) ** (j / days per unit) times the scenario's")
    quota.add_argument("--exact", action="store_true", help="simulate the first period instead (short periods only)")
    quota.add_argument("--seed", type=seed, help="seed of the --exact run (default: the scenario's)")
    quota.add_argument("--json", action="store_true", help="print JSON instead of a table")
    scale_args(quota)
    quota.add_argument("--show-keys", action="store_true",
                       help="print API keys in full (by default each is its first characters and a hash: paid…#3fa2)")
    quota.set_defaults(handler=_quota)


def _growth(text: str) -> str:
    from simulator.studies.growth import parse_growth

    try:
        parse_growth(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("growth: ")) from None
    return text


def _grid_run(args: argparse.Namespace, slos: list[Any] | None, objective: Any = None) -> Any:
    from concurrent.futures import ProcessPoolExecutor

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    from simulator.studies.planner import plan
    from simulator.studies.sweep import parse_vary_flags, run_sweep

    try:
        vary = parse_vary_flags(args.vary)
    except ValueError as exc:
        raise ThrottlesimError(str(exc)) from None
    fixed = overrides(args.set)
    if both := sorted(set(fixed) & set(vary)):
        raise ThrottlesimError(f"--set {both[0]}: the key is also given to --vary; give it once")
    check_output("--out", args.out, (".csv", ".parquet"))
    formats = check_plots_dir(args)
    if args.dask:
        try:
            from distributed import Client
        except ImportError:
            raise ThrottlesimError("--dask needs dask.distributed (pip install 'throttlesim[cluster]')") from None
        try:
            executor: Any = Client(args.dask, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ThrottlesimError(f"--dask {args.dask}: cannot reach the scheduler ({exc})") from None
    else:
        executor = ProcessPoolExecutor(max_workers=args.workers) if args.workers else None
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    try:
        err = Console(stderr=True)
        # Only a terminal shows a live bar; elsewhere it would leave an empty line on stderr.
        with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task("simulating", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            kwargs = dict(replications=args.replications, seed=args.seed, executor=executor, progress=progress,
                          overrides=fixed, scale=args.scale)
            result: Any
            if slos is not None:
                result = plan(args.scenario, slos, vary, objective=objective, **kwargs)
            else:
                result = run_sweep(args.scenario, vary, **kwargs)
    finally:
        if executor is not None:
            executor.close() if args.dask else executor.shutdown()
    sweep = result.sweep if slos is not None else result
    if formats:
        from simulator.plots import save_figures, sweep_figures

        try:
            save_figures(sweep_figures(sweep.table, list(sweep.vary)), args.plots, formats)
        except OSError as exc:
            raise ThrottlesimError(f"cannot write {exc.filename}: {exc.strerror}") from None
    if args.out:
        with atomic_output(args.out) as tmp:
            (sweep.to_parquet if args.out.endswith(".parquet") else sweep.to_csv)(tmp)
    return result


def _sweep(args: argparse.Namespace) -> int:
    from simulator.studies.sweep import render_sweep

    result = _grid_run(args, None)
    if args.json:
        sys.stdout.write(result.table.to_json(orient="records", indent=2) + "\n")
    else:
        console().print(render_sweep(result))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from simulator.studies.objective import check_objective, parse_objective
    from simulator.studies.planner import parse_slo, render_plan
    from simulator.studies.sweep import parse_vary_flags

    try:
        slos = [parse_slo(text) for text in args.slo]
        vary = parse_vary_flags(args.vary)
        objective = parse_objective(args.minimize, args.maximize, list(vary))
        check_objective(objective, vary)
    except ValueError as exc:
        raise ThrottlesimError(str(exc)) from None
    result = _grid_run(args, slos, objective)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        out = console()
        for item in render_plan(result):
            out.print(item)
    return 0 if result.best is not None else 1


def _quota(args: argparse.Namespace) -> int:
    from simulator.studies.quota_forecast import forecast_quotas, render_forecasts

    scenario = scale_scenario(load_scenario(args.scenario, overrides=overrides(args.set) or None), args.scale)
    try:
        forecasts = forecast_quotas(scenario, horizon=args.horizon, exact=args.exact, seed=args.seed,
                                    growth=args.growth)
    except ValueError as exc:
        raise ThrottlesimError(f"throttlesim quota: {exc}") from None
    if args.json:
        sys.stdout.write(json.dumps([f.to_dict(show_keys=args.show_keys) for f in forecasts], indent=2) + "\n")
        return 0
    if not forecasts:
        print(f"{args.scenario}: no API key is in a usage plan with a quota", file=sys.stderr)
        return 0
    out = console()
    out.print(render_forecasts(forecasts, show_keys=args.show_keys))
    for note in sorted({n for f in forecasts for n in f.notes}):
        out.print(f"note: {note}")
    if not args.exact:
        grows = f", growing {args.growth} compounded daily" if args.growth else ""
        out.print(f"Expected values from the rate profile, traffic repeating every duration{grows}; "
                  "retries and stage/account throttles not modelled (see simulator/studies/quota_forecast.py).")
    return 0
