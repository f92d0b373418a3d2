"""The ``import``, ``export`` and ``calibrate`` commands, hooked into ``throttlesim`` by :func:`register`.

``simulator.cli`` calls :func:`register` with its sub-parsers; each command stores its
handler as ``args.handler`` (``set_defaults(handler=...)``), which ``main`` calls. Errors are
:class:`~simulator.errors.ThrottlesimError` s: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC
from typing import Any

from simulator.errors import ThrottlesimError

__all__ = ["register"]

IMPORT_EXAMPLES = """examples:
  throttlesim import template.yaml -o api.toml                 # SAM or CloudFormation, YAML or JSON
  throttlesim import template.yaml --api OrdersApi --param StageName=staging -o api.toml
  throttlesim import openapi.yaml --type HTTP -o api.toml       # OpenAPI 3 / Swagger 2 with API Gateway extensions
  terraform show -json plan.out > plan.json && throttlesim import plan.json -o api.toml
  throttlesim import --from account --region eu-west-1 --api orders -o api.toml   # read-only boto3 calls
"""

EXPORT_EXAMPLES = """examples:
  throttlesim export api.toml -o throttles.yaml                 # CloudFormation (also valid in a SAM template)
  throttlesim export api.toml --format terraform -o throttles.tf.json
  throttlesim export api.toml --set functions.orders.reserved_concurrency=400 -o chosen.yaml
"""


CALIBRATE_EXAMPLES = """examples:
  throttlesim calibrate api.toml --report-log orders=orders-reports.log -o calibrated.toml
  throttlesim calibrate api.toml --report-log orders=reports.json --access-log access.jsonl --key abc123=paid-shop \\
      --fit empirical --report calibration.json -o calibrated.toml
  throttlesim calibrate api.toml --metrics 2026-03-02T09:00Z/2026-03-02T10:00Z --api orders -o calibrated.toml
"""


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ThrottlesimError(f"{option} {item}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def register(sub: Any) -> None:
    """Add ``import``, ``export`` and ``calibrate`` to *sub* (the ``throttlesim`` sub-parsers)."""
    raw = argparse.RawDescriptionHelpFormatter
    imp = sub.add_parser(
        "import", help="write a scenario from a SAM/CloudFormation template, an OpenAPI file or a Terraform plan "
                       "(e.g. throttlesim import template.yaml -o api.toml)",
        description="Read an API's stage, routes, usage plans and functions from a template and write a scenario "
                    "that passes throttlesim check; every value says where it came from, PLACEHOLDER marks what no "
                    "template holds. Needs the aws extra: pip install 'throttlesim[aws]'.",
        epilog=IMPORT_EXAMPLES, formatter_class=raw)
    imp.add_argument("source", nargs="?", help="template (YAML or JSON), OpenAPI file, or terraform show -json output "
                                               "(none with --from account)")
    imp.add_argument("-o", "--out", metavar="FILE", help="scenario file to write (default: print it)")
    imp.add_argument("--from", dest="source_kind", choices=["cloudformation", "sam", "openapi", "terraform", "account"],
                     help="what SOURCE is (default: detected); account: read the API from AWS with boto3, "
                          "read-only, credentials as the AWS CLI finds them")
    imp.add_argument("--param", action="append", metavar="NAME=VALUE", help="a template parameter (repeatable)")
    imp.add_argument("--api", metavar="NAME", help="the API to import when the template has several")
    imp.add_argument("--stage", metavar="NAME", help="the stage to import when the API has several")
    imp.add_argument("--region", default="us-east-1", help="value of AWS::Region (default us-east-1)")
    imp.add_argument("--type", dest="api_type", choices=["REST", "HTTP"], default="REST",
                     help="OpenAPI files only: the API type (default REST)")
    imp.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    imp.set_defaults(handler=_import)

    exp = sub.add_parser(
        "export", help="write a scenario's limits as CloudFormation YAML or Terraform JSON "
                       "(e.g. throttlesim export api.toml -o throttles.yaml)",
        description="Write the scenario's throttles, usage plans (keys as placeholders, never values), integration "
                    "timeouts and reserved/provisioned concurrency as infrastructure code; account limits, which no "
                    "template sets, are printed as the Service Quotas requests to make.",
        epilog=EXPORT_EXAMPLES, formatter_class=raw)
    exp.add_argument("scenario", help="scenario file (TOML)")
    exp.add_argument("-o", "--out", metavar="FILE", help="file to write (default: print it)")
    exp.add_argument("--format", choices=["cloudformation", "terraform"],
                     help="default: from FILE's name (.tf.json is terraform), else cloudformation")
    exp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key (repeatable)")
    exp.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    exp.set_defaults(handler=_export)

    cal = sub.add_parser(
        "calibrate", help="fill a scenario's durations, cold starts, error rates and traffic from AWS's logs "
                          "(e.g. throttlesim calibrate api.toml --report-log orders=reports.log -o calibrated.toml)",
        description="Fit each function's run and init durations and error rate to its Lambda REPORT lines (text or "
                    "JSON), and turn API Gateway JSON access logs into replay traces per API key and the gateway's "
                    "own overhead. Writes a new scenario and reports sample sizes and the fit on held-out data.",
        epilog=CALIBRATE_EXAMPLES, formatter_class=raw)
    cal.add_argument("scenario", help="scenario file (TOML), e.g. one written by throttlesim import")
    cal.add_argument("-o", "--out", metavar="FILE", required=True, help="the calibrated scenario to write")
    cal.add_argument("--report-log", action="append", metavar="FUNCTION=FILE",
                     help="a function's REPORT lines (FILE alone when the scenario has one function; repeatable)")
    cal.add_argument("--access-log", action="append", metavar="FILE", help="API Gateway JSON access log (repeatable)")
    cal.add_argument("--key", action="append", metavar="KEY_ID=CLIENT", help="replay an API key id's requests as a "
                     "client of the scenario (repeatable)")
    cal.add_argument("--metrics", metavar="START/END", help="also read CloudWatch metrics of the API and its "
                     "functions for this UTC interval (e.g. 2026-03-02T09:00Z/2026-03-02T10:00Z) with boto3: the "
                     "observed per-minute series, and the arrival rate when there are no access logs")
    cal.add_argument("--api", metavar="NAME", help="with --metrics: the REST API's name or HTTP API's id "
                     "(default: the scenario's name up to its last '-')")
    cal.add_argument("--region", default="us-east-1", help="with --metrics: the AWS Region (default us-east-1)")
    cal.add_argument("--fit", choices=["lognormal", "empirical"], default="lognormal",
                     help="lognormal matched at median and p99 (default), or the measured samples")
    cal.add_argument("--report", metavar="FILE", help="also write the calibration report as JSON")
    cal.add_argument("--plots", metavar="DIR", help="write quantile-quantile plots of the fits and the replayed "
                                                    "rate profile (PNG) to DIR")
    cal.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    cal.set_defaults(handler=_calibrate)


def _refuse_existing(path: str | None, force: bool) -> None:
    """Refuse an output file before any work: one that exists (without --force), or one that
    could not be written (a directory, a missing or read-only directory)."""
    import os
    from pathlib import Path

    if not path:
        return
    target = Path(path)
    if target.is_dir():
        raise ThrottlesimError(f"{path}: is a directory; give a file name")
    if target.exists() and not force:
        raise ThrottlesimError(f"{path}: exists; give another name or --force to overwrite it")
    parent = target.resolve().parent
    if not parent.is_dir():
        raise ThrottlesimError(f"{path}: the directory does not exist")
    if not os.access(parent, os.W_OK):
        raise ThrottlesimError(f"{path}: the directory is not writable")


def _import(args: argparse.Namespace) -> int:
    from simulator.stack.importer import import_stack, write_atomic

    _refuse_existing(args.out, args.force)
    kind = {"sam": "cloudformation"}.get(args.source_kind, args.source_kind)
    if (args.source is None) != (kind == "account"):
        raise ThrottlesimError("throttlesim import: give a SOURCE file, or --from account without one")
    result = import_stack(args.source or "account", source=kind, params=_pairs(args.param, "--param"), api=args.api,
                          stage=args.stage, region=args.region, api_type=args.api_type)
    for finding in result.findings:
        print(f"finding: {finding}", file=sys.stderr)
    if args.out:
        write_atomic(args.out, result.text)
        print(f"{args.out}: written; {result.placeholders} PLACEHOLDER values (traffic, durations, cold starts) are "
              "guesses to replace", file=sys.stderr)
    else:
        sys.stdout.write(result.text)
    return 0


def _export(args: argparse.Namespace) -> int:
    from simulator.stack import scenario_access
    from simulator.stack.importer import write_atomic

    _refuse_existing(args.out, args.force)
    scenario = scenario_access.load_scenario(args.scenario, overrides=_pairs(args.set, "--set"))
    fmt = args.format or ("terraform" if (args.out or "").endswith(".tf.json") else "cloudformation")
    if fmt == "terraform":
        from simulator.stack.export_tf import export_terraform as export
    else:
        from simulator.stack.export_cfn import export_cloudformation as export
    text, quota_requests = export(scenario)
    for line in quota_requests:
        print(f"service quotas: {line}", file=sys.stderr)
    if args.out:
        write_atomic(args.out, text)
        print(f"{args.out}: written ({fmt})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _report_logs(items: list[str] | None, scenario: str) -> dict[str, list[str]]:
    from simulator.stack import scenario_access

    out: dict[str, list[str]] = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep:
            functions = scenario_access.load_scenario(scenario).functions
            if len(functions) != 1:
                raise ThrottlesimError(f"--report-log {item}: the scenario has {len(functions)} functions; "
                                       "write FUNCTION=FILE")
            name, path = functions[0].name, item
        out.setdefault(name, []).append(path)
    return out


def _metrics(args: argparse.Namespace) -> Any:
    from datetime import datetime

    from simulator.stack import scenario_access
    from simulator.stack.errors import require_extra
    from simulator.stack.metrics import read_metrics

    require_extra("boto3")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    first, sep, last = args.metrics.partition("/")
    start: datetime | None
    end: datetime | None
    try:
        start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (first, last))
    except ValueError:
        start = end = None
    if not sep or start is None or end is None or start.tzinfo is None or end <= start:
        raise ThrottlesimError(f"--metrics {args.metrics}: expected START/END in UTC, e.g. "
                               "2026-03-02T09:00Z/2026-03-02T10:00Z, END after START")
    scenario = scenario_access.load_scenario(args.scenario)
    api = args.api or scenario.name.rsplit("-", 1)[0]
    try:
        return read_metrics(boto3.client("cloudwatch", region_name=args.region), api_type=scenario.api.type, api=api,
                            stage=scenario.api.stage, functions=[f.name for f in scenario.functions],
                            start=start.astimezone(UTC), end=end.astimezone(UTC))
    except (BotoCoreError, ClientError) as exc:
        raise ThrottlesimError(f"cloudwatch {args.region}: {str(exc).splitlines()[0]}") from None


def _calibrate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from simulator.stack.calibrate import calibrate, write
    from simulator.stack.importer import write_atomic

    if Path(args.out).resolve() == Path(args.scenario).resolve():
        raise ThrottlesimError(f"-o {args.out}: that is the input scenario; give a new file name")
    _refuse_existing(args.out, args.force)
    _refuse_existing(args.report, args.force)
    if not args.report_log and not args.access_log and not args.metrics:
        raise ThrottlesimError("throttlesim calibrate: give --report-log, --access-log and/or --metrics")
    cal = calibrate(args.scenario, reports=_report_logs(args.report_log, args.scenario),
                    access_logs=args.access_log or [], keys=_pairs(args.key, "--key"), out=args.out, fit=args.fit,
                    metrics=_metrics(args) if args.metrics else None)
    sources = [f"REPORT lines of {name}: {', '.join(paths)}"
               for name, paths in _report_logs(args.report_log, args.scenario).items()]
    sources += [f"access log {p}" for p in args.access_log or []]
    write(cal, args.out, [f"Calibrated from {args.scenario} by throttlesim calibrate ({args.fit} fits), from:",
                          *sources])
    if args.report:
        write_atomic(args.report, json.dumps(cal.report(), indent=2) + "\n")
    if args.plots:
        from simulator.plots import save_figures
        from simulator.stack.calibrate_plots import calibration_figures

        save_figures(calibration_figures(cal), args.plots, ("png",))
    print(f"{'fit':<28} {'n':>7} {'held out':>8} {'median ms':>10} {'p99 ms':>10} {'KS':>6} {'p50 err':>8} "
          f"{'p90 err':>8} {'p99 err':>8}")
    for name, fit in cal.fits.items():
        errors = [f"{fit.quantile_errors[q]:+8.1%}" if q in fit.quantile_errors else f"{'-':>8}"
                  for q in ("p50", "p90", "p99")]
        ks = f"{fit.ks:6.3f}" if fit.ks is not None else f"{'-':>6}"
        print(f"{name:<28} {fit.n:>7} {fit.n_held_out:>8} {fit.median_s * 1000:>10.2f} {fit.p99_s * 1000:>10.2f} "
              f"{ks} {' '.join(errors)}")
    for name, figures in cal.figures.get("functions", {}).items():
        print(f"{name}: {figures['invocations']} invocations, {figures['errors']} errors, {figures['timeouts']} "
              f"timeouts, {figures['cold_starts']} cold starts")
        env = figures.get("environments")
        if env:
            gap = env["longest_reuse_gap_s"]
            print(f"{name}: {env['environments']} environments (log streams), peak concurrency "
                  f"{env['peak_concurrency']}, longest lifetime {env['longest_lifetime_s']:.0f} s"
                  + (f", longest reuse gap {gap:.1f} s (the idle timeout is at least that)" if gap else ""))
    for warning in cal.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.out}: written", file=sys.stderr)
    return 0
