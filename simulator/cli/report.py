"""The readable view of a run: a few tables, rendered with rich."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from simulator.cost.usage import monthly_basis
from simulator.outcomes import CAUSES, status_codes
from simulator.results import AggregateResult, Result

__all__ = ["print_summary"]


def _pct(n: int, total: int) -> str:
    return f"{100.0 * n / total:.2f}%" if total else "-"


def print_summary(result: Result | AggregateResult, console: Console | None = None) -> None:
    """Print the headline tables of *result*."""
    if console is None:
        console = Console()
        if not console.is_terminal or console.width < 110:
            console = Console(width=110)
    s = result.scenario
    d = result.summary()
    status_of = dict(zip(CAUSES, _statuses(result)))
    console.print(
        f"[bold]{s.name}[/bold]  {s.api.type} API, {s.duration:g} s simulated, seed {result.seed}, "
        f"{d['requests']['offered']:,} requests ({d['rates']['offered_rps']:g}/s), "
        f"{d['attempts']['total']:,} attempts"
    )

    t = Table(title="Outcomes", title_justify="left")
    t.add_column("cause")
    for k in ("status", "requests", "share", "attempts", "share"):
        t.add_column(k, justify="right")
    req = d["requests"]["outcomes"]
    att = d["attempts"]["causes"]
    n_req = d["requests"]["offered"]
    n_att = d["attempts"]["total"]
    for cause in CAUSES:
        if cause in req or cause in att:
            r = req.get(cause, 0)
            a = att.get(cause, 0)
            status = status_of[cause]
            t.add_row(cause, str(status) if status else "-", f"{r:,}", _pct(r, n_req), f"{a:,}", _pct(a, n_att))
    console.print(t)

    t = Table(title="Latency (ms)", title_justify="left")
    t.add_column("")
    for k in ("p50", "p90", "p95", "p99", "max", "mean"):
        t.add_column(k, justify="right")
    keys = ("p50", "p90", "p95", "p99", "max", "mean")
    t.add_row("per attempt", *(_ms(d["latency_ms"][k], n_att) for k in keys))
    rl = d["requests"]["latency_ms"]
    t.add_row("per request (with retries)", *(_ms(rl[k], n_req) for k in keys))
    console.print(t)

    if s.functions:
        _lambda_tables(console, d)
    if "backends" in d:
        _print_backends(d["backends"], console)
    if d.get("cache"):
        console.print(_cache_table(d["cache"]))

    cost = d.get("cost_usd")
    if cost:
        failed = sum(cost["failed_attempts"].values())
        console.print(
            f"Cost: ${cost['run_total']:,.4f} for the run, ${cost['monthly_total']:,.2f} a month "
            f"({monthly_basis(s)}; list prices, {s.account.region}, no free tier); "
            f"failed attempts cost ${failed:,.4f} of the run. "
            "Details: throttlesim cost."
        )
        _unpriced(console, s)

    t = Table(title="Clients", title_justify="left")
    for k in ("client", "requests", "ok", "429", "5XX", "other", "retries", "p50 ms", "p99 ms"):
        t.add_column(k, justify="left" if k == "client" else "right")
    for name, c in d["clients"].items():
        st = c["requests"]["status"]
        n = c["requests"]["offered"]
        ok = st.get("200", 0)
        s429 = st.get("429", 0)
        s5 = sum(v for k, v in st.items() if k.startswith("5"))
        t.add_row(
            name, f"{n:,}", _pct(ok, n), _pct(s429, n), _pct(s5, n), _pct(n - ok - s429 - s5, n),
            f"{c['attempts']['retries']:,}", _ms(c["latency_ms"]["p50"], n), _ms(c["latency_ms"]["p99"], n),
        )
    console.print(t)


def _lambda_table(functions: dict[str, dict[str, Any]]) -> Table:
    """Invocations, cold starts, throttles, errors and concurrency by function."""
    t = Table(title="Lambda", title_justify="left")
    t.add_column("function")
    for k in ("invocations", "cold starts", "throttles", "errors", "peak concurrency", "spillover"):
        t.add_column(k, justify="right")
    for name, f in functions.items():
        t.add_row(
            name, f"{f['invocations']:,}", f"{f['cold_starts']:,}", f"{f['throttles']:,}", f"{f['errors']:,}",
            f"{f['peak_concurrency']:,}",
            f"{f['provisioned_spillover']:,}" if f["provisioned_concurrency"] else "-",
        )
    return t


def _cache_table(cache: dict[str, dict[str, Any]]) -> Table:
    """The REST cache's hits, misses and hit ratio by cached route."""
    t = Table(title="REST cache", title_justify="left")
    for k in ("route", "hits", "misses", "hit ratio"):
        t.add_column(k, justify="left" if k == "route" else "right")
    for name, c in cache.items():
        t.add_row(name, f"{c['hits']:,}", f"{c['misses']:,}", _pct(c["hits"], c["hits"] + c["misses"]))
    return t


def _unpriced(console: Any, s: Any) -> None:
    """Say what the cost leaves out: Lambda Web Functions, whose rates the tables lack."""
    web = [f.name for f in s.functions if f.web is not None]
    if web:
        console.print(f"Not in the cost: the Lambda Web Functions {', '.join(web)} (their rates are not in "
                      "the price tables).")


def _print_backends(backends: dict[str, Any], console: Console) -> None:
    """The HTTP backends' table: load, the line of waiting requests, refusals and timeouts."""
    t = Table(title="HTTP backends", title_justify="left")
    t.add_column("backend")
    for k in ("workers", "requests", "busy", "waits/s", "wait p99 ms", "queue max", "refused", "after timeout"):
        t.add_column(k, justify="right")
    for name, b in backends.items():
        t.add_row(
            name, f"{b['workers']:,}", f"{b['requests']:,}", f"{100 * b['utilization']:.1f}%", f"{b['waits_per_s']:g}",
            _ms(b["wait_ms"]["p99"], b["requests"]), f"{b['queue_length_max']:,}", f"{b['refused']:,}",
            f"{b['served_after_timeout']:,}",
        )
    console.print(t)


def _lambda_tables(console: Console, d: dict[str, Any]) -> None:
    """The Lambda table, and the authorizers' when the scenario has any."""
    t = Table(title="Lambda", title_justify="left")
    t.add_column("function")
    for k in ("invocations", "cold starts", "throttles", "errors", "peak concurrency", "spillover"):
        t.add_column(k, justify="right")
    for name, f in d["lambda"].items():
        t.add_row(
            name, f"{f['invocations']:,}", f"{f['cold_starts']:,}", f"{f['throttles']:,}", f"{f['errors']:,}",
            f"{f['peak_concurrency']:,}",
            f"{f['provisioned_spillover']:,}" if f["provisioned_concurrency"] else "-",
        )
    console.print(t)
    if "authorizers" not in d:
        return
    t = Table(title="Authorizers", title_justify="left")
    t.add_column("authorizer")
    for k in ("checked", "invocations", "cache hits", "401", "403", "500"):
        t.add_column(k, justify="right")
    for name, a in d["authorizers"].items():
        t.add_row(name, *(f"{a[k]:,}" for k in ("checked", "invocations", "cache_hits", "unauthorized",
                                               "access_denied", "authorizer_errors")))
    console.print(t)


def _ms(value: float | None, count: int) -> str:
    """A latency for a table: ``n/a`` when nothing was measured (the summary holds None then)."""
    return f"{value:,.1f}" if count and value is not None else "n/a"


def _statuses(result: Result | AggregateResult) -> Any:
    return status_codes(result.scenario)


def print_validation(run: Any, console: Console | None = None) -> None:
    """Predicted against observed, with each check's tolerance and verdict."""
    if console is None:
        console = Console()
        if not console.is_terminal or console.width < 110:
            console = Console(width=110)
    r = run.report
    console.print(f"[bold]validation[/bold] against {run.target} ({run.host}): {r.n_observed:,} attempts observed; "
                  f"files in {run.out_dir}")
    parts = getattr(r, "parts", None)
    if parts:
        own = [k for k, v in parts.items() if v.startswith("independent")]
        served = [k for k, v in parts.items() if v == "model"]
        absent = [k for k, v in parts.items() if v == "absent"]
        console.print("checked against an implementation of its own: " + (", ".join(own) or "nothing"))
        if served:
            console.print("served by the model's own code (this checks the harness, not these rules): "
                          + ", ".join(served))
        if absent:
            console.print("not served by this target: " + ", ".join(absent))
    t = Table(title="Status classes (fraction of attempts)", title_justify="left")
    for col in ("class", "predicted", "observed"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for cls, pred in r.fractions["predicted"].items():
        obs = r.fractions["observed"][cls]
        if pred or obs:
            t.add_row(cls, f"{100 * pred:.2f}%", f"{100 * obs:.2f}%")
    console.print(t)
    t = Table(title="Checks", title_justify="left")
    for col in ("figure", "predicted", "observed", "error", "tolerance", "model 95% interval", ""):
        t.add_column(col, justify="left" if col in ("figure", "") else "right")
    for c in r.checks:
        interval = f"[{c.interval[0]:.4f}, {c.interval[1]:.4f}]" if c.interval else ""
        verdict = "[green]ok[/green]" if c.ok else "[red]outside[/red]"
        if c.kind == "min":  # a share of paired attempts: one figure, held to a minimum
            t.add_row(c.name, "", f"{c.observed:.4f}", "", f">= {c.tolerance:g}", interval, verdict)
        else:
            t.add_row(c.name, f"{c.predicted:.4f}", f"{c.observed:.4f}", f"{c.error:.4f}", f"{c.tolerance:g}",
                      interval, verdict)
    console.print(t)
    overhead = getattr(r, "overhead", None)
    if overhead:
        m = overhead.get("measured")
        measured = (f"measured on the target {m['p50_ms']:g} ms median, {m['p95_ms']:g} ms p95 "
                    f"({m['n']:g} successful attempts)") if m else "not measured (the target reports no function times)"
        if overhead.get("used") == "measured":
            use = "the measured one is used"
        elif m:
            use = f'the scenario\'s is used; suggested: behaviour.gateway_overhead = "{m["p50_ms"]:g}ms"'
        else:
            use = "the scenario's is used"
        console.print(f"gateway overhead: scenario {overhead.get('scenario')}; {measured}; {use}")
    console.print(f"cold starts: predicted {r.cold_starts['predicted']:g}, observed {r.cold_starts['observed']:g} "
                  f"(on the {r.cold_starts.get('attempts', 0):g} attempts whose answer says); "
                  f"per-second 429 mean abs error {r.series['429']['mean_abs_error']:g}, "
                  f"5XX {r.series['5xx']['mean_abs_error']:g}")
    if getattr(r, "indistinguishable", None):
        console.print("causes read from the answers alone; these answer alike and are counted together: "
                      + "; ".join(r.indistinguishable))
    console.print("[green]within tolerance[/green]" if r.ok else "[red]outside tolerance[/red]")
