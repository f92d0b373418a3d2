"""``throttlesim cost``: the price of a scenario, of a what-if variant, or of averages.

Three views over the same public API:

* a scenario: simulate it, then price the run and a month of it;
* ``--compare``: the scenario as written and with ``--set`` overrides, side by side, with
  the 429/5XX/latency figures that come with each cost (a cheaper setup that throttles
  more is not cheaper for the people calling the API);
* analytic: a month from averages alone, as Infracost does, without simulating.
"""

from __future__ import annotations

import json
import sys
from argparse import Namespace
from typing import Any

import numpy as np
from rich.table import Table

import simulator
from simulator.cli.args import console
from simulator.cost.bill import analytic_monthly_cost
from simulator.cost.month import compose_month, parse_month
from simulator.cost.pricing import load_prices, unconfirmed_items
from simulator.cost.usage import monthly_basis, run_cost
from simulator.errors import ThrottlesimError
from simulator.scenario.diff import differences, rest_only_features, traffic_keys, without_rest_only
from simulator.scenario.scale import scale_scenario

__all__ = ["analytic", "compare", "explain", "month", "month_conflicts", "replications", "single"]


def _priced(path: str, overrides: dict[str, str], args: Namespace, adapt: Any = None) -> dict[str, Any]:
    loaded = simulator.load_scenario(path, overrides=overrides, seed=args.seed, adapt=adapt)
    scenario = scale_scenario(loaded, args.scale)
    result = simulator.simulate(scenario)
    assert isinstance(result, simulator.Result)  # recorded
    summary = result.summary(cost=False)
    cost = run_cost(result, free_tier=args.free_tier, bill_init=not args.no_init_billing)
    return {"summary": summary, "cost": cost.to_dict(), "overrides": overrides, "scenario": scenario}


def _headline(p: dict[str, Any]) -> dict[str, float | None]:
    s = p["summary"]
    c = p["cost"]
    return {
        "monthly cost (USD)": c["monthly_total"],
        "run cost (USD)": c["run_total"],
        "failed attempts' cost (USD, run)": sum(c["failed_attempts"].values()),
        "429 fraction": s["rates"]["attempt_429_fraction"],
        "5XX fraction": s["rates"]["attempt_5xx_fraction"],
        "success fraction (requests)": s["rates"]["success_fraction"],
        "p50 latency (ms)": s["latency_ms"]["p50"],
        "p99 latency (ms)": s["latency_ms"]["p99"],
    }


def _delta(baseline: float | None, variant: float | None) -> float | None:
    """variant - baseline, None where either has no figure (a latency nothing measured)."""
    return None if baseline is None or variant is None else round(variant - baseline, 6)


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if "USD" in key:
        return f"${value:,.2f}" if abs(value) >= 1 else f"${value:,.6f}"
    if "fraction" in key:
        return f"{100 * value:.3f}%"
    return f"{value:,.1f}"


def _item_table(title: str, by_item: dict[str, Any], basis: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("service", "item", "quantity", "unit", "USD", "basis"):
        t.add_column(col, justify="right" if col in ("quantity", "USD") else "left")
    total = 0.0
    for service, items in by_item.items():
        for item, line in items.items():
            t.add_row(service, item, f"{line['quantity']:,.3f}", line["unit"], f"{line['usd']:,.6f}", basis)
            total += line["usd"]
    t.add_row("", "month total", "", "", f"{total:,.2f}", basis, end_section=True)
    return t


def single(args: Namespace, overrides: dict[str, str]) -> int:
    p = _priced(args.scenario, overrides, args)
    if args.json:
        sys.stdout.write(json.dumps({"scenario": p["summary"]["scenario"], **p["cost"]}, indent=2) + "\n")
        return 0
    out = console()
    c = p["cost"]
    out.print(f"[bold]{p['summary']['scenario']}[/bold]: run ${c['run_total']:,.6f}, "
              f"month ${c['monthly_total']:,.2f} ({c['monthly_method']})")
    out.print(_item_table("Monthly cost by item", c["monthly"], monthly_basis(p["scenario"])))
    failed = {k: v for k, v in c["failed_attempts"].items() if v}
    if failed:
        t = Table(title="What failed attempts cost (run)", title_justify="left")
        t.add_column("cause")
        t.add_column("USD", justify="right")
        for cause, usd in failed.items():
            t.add_row(cause, f"{usd:,.6f}")
        out.print(t)
    return 0


def _shown(value: Any) -> str:
    if value is None:
        return "(not set)"
    return f"{value:g}" if isinstance(value, float) else str(value)


def compare(args: Namespace, overrides: dict[str, str]) -> int:
    """The scenario as written against a variant, on the same traffic.

    An override of the traffic window or the traffic itself (``duration``, ``start``,
    ``seed``, ``clients.*``) applies to both sides: a what-if asks what a setting changes
    for a given load, and comparing a 15-minute baseline with a 6-minute variant would
    answer a different question. The first rows say what both sides share and exactly
    what differs (leaf by leaf, from the loaded scenarios); a variant that differs in
    nothing is refused in one line.
    """
    shared = {k: overrides[k] for k in traffic_keys(overrides)}
    base = _priced(args.scenario, shared, args)
    # A REST API turned into an HTTP API loses what only REST APIs have; say what, not refuse.
    variant = _priced(args.scenario, overrides, args, adapt=without_rest_only)
    lost = rest_only_features(base["scenario"]) if variant["scenario"].api.type == "HTTP" else []
    differs = differences(base["scenario"], variant["scenario"])
    if not differs:
        both = f" ({', '.join(shared)} change the traffic and apply to both sides)" if shared else ""
        raise ThrottlesimError(f"throttlesim cost --compare: the variant differs from the baseline in nothing{both}; "
                               "give a --set that changes a setting, e.g. functions.NAME.memory_mb=2048")
    hb, hv = _headline(base), _headline(variant)
    if args.json:
        out = {
            "scenario": base["summary"]["scenario"],
            "variant": {k: v for k, v in overrides.items() if k not in shared},
            "both_sides": {**shared, **({"--scale": args.scale} if args.scale != 1 else {})},
            "differs": {k: {"baseline": a, "variant": b} for k, a, b in differs},
            "rest_only_lost": {k: what for k, what in lost},
            "baseline": hb,
            "with_overrides": hv,
            "delta": {k: _delta(hb[k], hv[k]) for k in hb},
            "baseline_cost_usd": base["cost"],
            "variant_cost_usd": variant["cost"],
        }
        sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
        return 0
    t = Table(title=f"{base['summary']['scenario']}: baseline vs variant", title_justify="left")
    for col in ("figure", "baseline", "variant", "delta"):
        t.add_column(col, justify="left" if col == "figure" else "right")
    for k, a, b in differs:
        t.add_row(f"differs: {k}", _shown(a), _shown(b), "")
    for k, what in lost:
        t.add_row(f"REST only, not in the variant: {k}", "used", "(none)", what)
    same = [f"{k}={v}" for k, v in shared.items()] + ([f"--scale {args.scale:g}"] if args.scale != 1 else [])
    t.add_row("both sides", ", ".join(same) or "the scenario's traffic", "(same)", "", end_section=True)
    bases = (monthly_basis(base["scenario"]), monthly_basis(variant["scenario"]))
    for k in hb:
        label = k
        if k.startswith("monthly") and bases[0] == bases[1]:
            label = f"{k}, {bases[0]}"
        elif k.startswith("monthly"):
            label = f"{k}, {bases[0]} | {bases[1]}"
        b, v = hb[k], hv[k]
        t.add_row(label, _fmt(k, b), _fmt(k, v), _fmt(k, None if b is None or v is None else v - b))
    console().print(t)
    return 0


def analytic(args: Namespace) -> int:
    try:
        breakdown = analytic_monthly_cost(
            args.api, args.monthly_requests, args.duration_ms, args.memory_mb, args.architecture,
            provisioned_concurrency=args.provisioned_concurrency, free_tier=args.free_tier,
        )
    except ValueError as exc:
        raise ThrottlesimError(f"throttlesim cost: {exc}") from None
    d = breakdown.to_dict()
    if args.json:
        sys.stdout.write(json.dumps(d, indent=2) + "\n")
        return 0
    t = Table(title=f"Analytic month: {args.api}, {args.monthly_requests:,.0f} requests, {args.duration_ms:g} ms, "
                    f"{args.memory_mb} MB {args.architecture}", title_justify="left")
    for col in ("service", "item", "quantity", "unit", "USD"):
        t.add_column(col, justify="right" if col in ("quantity", "USD") else "left")
    for line in d["lines"]:
        t.add_row(line["service"], line["item"], f"{line['quantity']:,.3f}", line["unit"], f"{line['usd']:,.2f}")
    t.add_row("", "total", "", "", f"{d['total_usd']:,.2f}")
    console().print(t)
    return 0


def replications(args: Namespace, overrides: dict[str, str]) -> int:
    """Monthly cost across seeds: the spread that comes from the traffic's randomness alone."""
    loaded = simulator.load_scenario(args.scenario, overrides=overrides, seed=args.seed)
    first = loaded.seed
    runs = []
    for k in range(args.replications):
        args_k = Namespace(**{**vars(args), "seed": first + k})
        runs.append(_priced(args.scenario, overrides, args_k)["cost"]["monthly_total"])
    p5, p50, p95 = (float(round(v, 6)) for v in np.percentile(runs, [5, 50, 95]))
    out = {"replications": args.replications, "seeds": [first, first + args.replications - 1],
           "monthly_total_usd": {"p5": p5, "p50": p50, "p95": p95}, "runs": [round(r, 6) for r in runs]}
    if args.json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 0
    console().print(f"monthly cost over {args.replications} seeds ({first}..{first + args.replications - 1}): "
                     f"P5 ${p5:,.2f}  P50 ${p50:,.2f}  P95 ${p95:,.2f}  ({monthly_basis(loaded)})")
    return 0


def month_conflicts(args: Namespace) -> str | None:
    """The option ``--month`` cannot be combined with, if one was given."""
    if args.scenario is not None:
        return f"a SCENARIO ({args.scenario}); give every scenario in --month"
    for flag, value in (("--compare", args.compare), ("--replications", args.replications), ("--api", args.api),
                        ("--monthly-requests", args.monthly_requests), ("--explain", args.explain)):
        if value:
            return flag
    return None


def month(args: Namespace, overrides: dict[str, str]) -> int:
    """A month composed of several runs (:mod:`simulator.cost.month`): each part simulated,
    scaled to its share of the month, and the month priced once with the monthly tiers.
    ``--set``, ``--seed`` and ``--scale`` apply to every part."""
    try:
        spec = parse_month(args.month)
    except ValueError as exc:
        raise ThrottlesimError(f"throttlesim cost {exc}") from None
    results: dict[str, Any] = {}  # a scenario given twice is run once: the same seed gives the same run
    runs = []
    for path, share in spec:
        if path not in results:
            scenario = scale_scenario(simulator.load_scenario(path, overrides=overrides, seed=args.seed), args.scale)
            results[path] = simulator.simulate(scenario)
        runs.append((results[path], share))
    try:
        composed = compose_month(runs, labels=[path for path, _ in spec], free_tier=args.free_tier,
                                 bill_init=not args.no_init_billing)
    except ValueError as exc:
        raise ThrottlesimError(f"throttlesim cost --month: {exc}") from None
    if args.json:
        sys.stdout.write(json.dumps(composed.to_dict(), indent=2) + "\n")
        return 0
    out = console()
    both = [f"{k}={v}" for k, v in overrides.items()] + ([f"--scale {args.scale:g}"] if args.scale != 1 else [])
    t = Table(title=f"A composed month: {composed.days:g} days ({composed.days * 24:g} h)"
                    + (f", every part with {', '.join(both)}" if both else ""), title_justify="left")
    for col in ("part", "scenario", "share", "basis", "USD"):
        t.add_column(col, justify="right" if col in ("share", "USD") else "left")
    for p in composed.parts:
        t.add_row(p.label, p.scenario.name, f"{p.share_s / 86400:g} d", p.basis, f"{p.usd:,.2f}")
    t.add_row("month total", "", f"{composed.days:g} d", "tiers on the sum",
              f"{composed.total_usd:,.2f}", end_section=True)
    out.print(t)
    out.print(_item_table("The month by item", composed.to_dict()["monthly"], f"{composed.days:g}-day month"))
    out.print(f"A single run's monthly figure is \u00d7 730 h of that run; this month is {composed.days * 24:g} h "
              "made of the parts above (see simulator/cost/month.py).")
    return 0


def explain(args: Namespace, overrides: dict[str, str]) -> int:
    """The prices that AWS does not confirm, so a user knows which figures to check: those of
    the scenario's Region (``account.region``, after ``--set``), or of us-east-1 without one."""
    region = "us-east-1"
    if args.scenario is not None:
        region = simulator.load_scenario(args.scenario, overrides=overrides, seed=args.seed).account.region
    table = load_prices(region)
    items = unconfirmed_items(table)
    if args.json:
        sys.stdout.write(json.dumps([{"key": i.key, "unit": i.unit, "source": i.source, "note": i.note}
                                     for i in items], indent=2) + "\n")
        return 0
    t = Table(title=f"Prices not confirmed by AWS ({region})", title_justify="left")
    for col in ("key", "unit", "source / note"):
        t.add_column(col)
    for i in items:
        t.add_row(i.key, i.unit, i.source + (f"\n{i.note}" if i.note else ""))
    console().print(t)
    return 0
