"""``throttlesim validate``: run a scenario against a real API and hold the model to it.

1. Start the target when it is local (``emulated`` or ``nginx``, on a free 127.0.0.1 port,
   as a subprocess that stops by itself), or use the given URL.
2. Send the scenario's traffic with Locust (:mod:`loadtests.runner`) and read the
   per-attempt log.
3. Predict (a) the observed arrivals replayed through the model, and (b) the scenario's
   own traffic over several seeds, for intervals (:mod:`simulator.validate`). Against the
   nginx target the model uses nginx's limit_req arithmetic
   (``behaviour.throttle_algorithm = "nginx_limit_req"``), and the replay gives each
   invocation the init and run time the independent Lambda runtime observed
   (:mod:`loadtests.observed_times`), so that the model's throttle and cold-start
   decisions are checked against the runtime's.
4. Compare, write ``validation.json``, ``per_second.csv`` and figures, and say whether
   every figure is within its tolerance.

Everything is checked before anything starts (the scenario, ``--target``, what nginx
cannot hold, ``--out``), and ``--out`` is made only then, in an existing parent
(:mod:`loadtests.outdir`). Ctrl-C, SIGTERM and SIGHUP stop the target and Locust within
a few seconds, and they stop by themselves if this process is killed
(:mod:`loadtests.children`).

Default tolerances: 429 and 5XX fractions within 0.5 percentage points of observed
(1 point against nginx, whose 1 ms clock and integer rates the model only mirrors),
per-request status agreement at least 98%, p50 and p95 latency within 10%.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.access_log import AccessLog, read_access_log
from loadtests.children import STOP_GRACE_S, popen_dying_with_parent, stop_group, stop_on_signals
from loadtests.outdir import check_out_dir, make_out_dir, removed_if_refused
from loadtests.server_clock import has_server_clock, on_server_clock
from simulator.errors import ThrottlesimError
from simulator.scenario.cache import route_caches

__all__ = ["ValidationRun", "run_validation", "TARGETS"]

TARGETS = ("emulated", "nginx")

#: The per-request agreement asked of a URL that says nothing of when it received each
#: request (no access log): the replay then runs on the load generator's send times, and
#: a request sent within a few milliseconds of a limit can land on either side of it
#: (lambda_concurrency through the AWS-shaped stand-in's URL: 0.928 on an idle machine).
CLIENT_CLOCK_AGREEMENT = 0.90

#: Where the model's gateway overhead comes from on a local target.
OVERHEAD_CHOICES = ("measured", "scenario")

#: What a run against each kind of target checks. ``independent``: an implementation that
#: is not the model's code decides it (so the run tests the model's rule);
#: ``model``: the target serves the model's own code in real time (the run tests the
#: harness, the clocks and the replay, not the rule); ``absent``: the target has no such
#: part. Keys are the parts of the request path.
TARGET_PARTS: dict[str, dict[str, str]] = {
    "emulated": {
        "API keys": "model", "usage-plan throttles": "model", "usage-plan quotas": "model",
        "route, stage and account throttles": "model", "integration timeouts": "model",
        "Lambda concurrency and throttles": "model", "cold starts": "model", "function errors and timeouts": "model",
        "REST cache": "model", "authorizers": "model",
        "HTTP backends": "absent",
    },
    "nginx": {
        "API keys": "independent (nginx map)", "usage-plan throttles": "independent (nginx limit_req)",
        "usage-plan quotas": "absent", "route, stage and account throttles": "independent (nginx limit_req)",
        "integration timeouts": "independent (nginx proxy_read_timeout)",
        "Lambda concurrency and throttles": "independent (Lambda runtime's own accounting)",
        "cold starts": "independent (a worker process started per environment)",
        "function errors and timeouts": "independent (the worker's handler and timer; error draws from the model's "
                                        "stream)",
        "REST cache": "independent (nginx proxy_cache; validity in whole seconds)",
        "authorizers": "independent (nginx auth_request; the authorizer server's own result cache and policy, its "
                       "function on the Lambda runtime)",
        "HTTP backends": "independent (an asyncio server with worker slots and a FIFO line; service draws from "
                         "the model's stream)",
    },
    "url": {
        "API keys": "independent", "usage-plan throttles": "independent", "usage-plan quotas": "independent",
        "route, stage and account throttles": "independent", "integration timeouts": "independent",
        "Lambda concurrency and throttles": "independent", "cold starts": "independent",
        "function errors and timeouts": "independent", "REST cache": "independent", "authorizers": "independent",
        "HTTP backends": "independent",
    },
}

#: Tolerances that differ by target (the rest are simulator.validate.DEFAULT_TOLERANCES).
TARGET_TOLERANCES: dict[str, dict[str, float]] = {
    "emulated": {"fraction_429": 0.005, "fraction_5xx": 0.005},
    "nginx": {"fraction_429": 0.01, "fraction_5xx": 0.01},
}


@dataclass
class ValidationRun:
    report: Any  # simulator.validate.ValidationReport
    out_dir: Path
    target: str
    host: str
    files: dict[str, Path]

    @property
    def ok(self) -> bool:
        return bool(self.report.ok)


#: How long a target that finished its work may take to stop (nginx included) before SIGKILL.
_TARGET_STOP_S = 5.0


class _Target:
    """A local target server as a subprocess in a session of its own, started on entry and
    always stopped on exit; Linux signals it if this process dies (:mod:`loadtests.children`)."""

    def __init__(self, scenario: Path, gateway: str, limit_s: float, overrides: Mapping[str, str],
                 log_dir: Path | None = None) -> None:
        self.cmd = [sys.executable, "-m", "loadtests.target.serve", str(scenario), "--port", "0",
                    "--gateway", gateway, "--duration-limit", repr(limit_s)]
        if log_dir is not None:
            self.cmd += ["--log-dir", str(log_dir)]
        for key, value in overrides.items():
            self.cmd += ["--set", f"{key}={value}"]
        self.proc: subprocess.Popen[str] | None = None
        self.host = ""

    def __enter__(self) -> _Target:
        self.proc = popen_dying_with_parent(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline().strip()
            if not line.startswith("listening on "):
                err = (self.proc.stderr.read() if self.proc.stderr else "").strip().splitlines()
                raise ThrottlesimError(f"the target did not start: {err[-1] if err else line or 'no output'}")
        except BaseException as exc:
            self.stop(STOP_GRACE_S if isinstance(exc, KeyboardInterrupt) else _TARGET_STOP_S)
            raise
        self.host = line[len("listening on "):]
        return self

    def stop(self, grace_s: float = _TARGET_STOP_S) -> None:
        """SIGTERM to the target's process group, SIGKILL after *grace_s*."""
        if self.proc is not None:
            stop_group(self.proc, grace_s)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        interrupted = exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
        self.stop(STOP_GRACE_S if interrupted else _TARGET_STOP_S)


def run_validation(
    scenario_path: str | Path,
    *,
    target: str = "emulated",
    duration_s: float | None = None,
    out_dir: str | Path = "validation-out",
    seeds: int = 5,
    seed: int | None = None,
    tolerances: Mapping[str, float] | None = None,
    allow_remote: bool = False,
    plots: bool = True,
    progress: Callable[[Any], None] | None = None,
    overhead: str = "measured",
    access_log: str | Path | None = None,
) -> ValidationRun:
    """Load-test *target* with the scenario's traffic and compare with the model.

    *overhead* says what the model takes as the gateway's own time on a local target:
    ``"measured"`` (the default) draws from what the target added to each successful
    answer beyond the function's time (:func:`simulator.validate.measured_overhead`);
    ``"scenario"`` keeps ``behaviour.gateway_overhead``. Against a URL the scenario's
    value is used and a measured one, when the API reports function times, is suggested.

    *access_log* is the API's own JSON access log of the run (:mod:`loadtests.access_log`):
    each attempt is then replayed at the instant the gateway logged it, and the gateway's
    overhead is read from it (suggested, for a URL).
    """
    import simulator

    if overhead not in OVERHEAD_CHOICES:
        raise ThrottlesimError(f"overhead: expected one of {', '.join(OVERHEAD_CHOICES)}, got {overhead!r}")

    path = Path(scenario_path)
    out = Path(out_dir)
    scenario = simulator.load_scenario(path, seed=seed)
    overrides: dict[str, str] = {}
    if duration_s is not None:
        overrides["duration"] = f"{duration_s!r}s"
    local = target in TARGETS
    model_overrides = dict(overrides)
    if target == "nginx":
        model_overrides["behaviour.throttle_algorithm"] = "nginx_limit_req"
    _check_target(target, path, scenario, allow_remote)
    check_out_dir(out_dir)
    if access_log is not None and Path(access_log).is_dir():
        raise ThrottlesimError(f"--access-log {access_log}: is a directory, not an access-log file")
    tol = {**TARGET_TOLERANCES.get(target, TARGET_TOLERANCES["nginx"]), **(tolerances or {})}

    def load(host: str) -> Any:
        from loadtests.runner import run_loadtest

        return run_loadtest(path, host, duration_s=duration_s, out_dir=out / "loadtest", seed=seed,
                            allow_remote=allow_remote, progress=progress)

    run_s = duration_s if duration_s is not None else scenario.duration
    target_overrides = {**overrides, **({"seed": str(seed)} if seed is not None else {})}
    host, loadtest = _load_test(path, target, out_dir, run_s, target_overrides, load)

    observed = _observed(loadtest.log_path, out, access_log)
    if observed.empty:
        raise ThrottlesimError(f"{loadtest.log_path}: the load test recorded no attempts")
    if "agreement" not in (tolerances or {}) and not has_server_clock(observed):
        tol["agreement"] = min(tol.get("agreement", 1.0), CLIENT_CLOCK_AGREEMENT)
    measured, replay_overrides = _from_observation(observed, scenario, target, overhead, out, model_overrides)
    report, groups = _compare(path, observed, out, replay_overrides, model_overrides, seed, seeds, tol)
    report.overhead = {
        "scenario": _describe_dist(scenario.behaviour.gateway_overhead),
        "measured": measured.to_dict() if measured is not None else None,
        "used": "measured" if "behaviour.gateway_overhead" in model_overrides else "scenario",
    }
    used = {"REST cache": any(rc is not None for rc in route_caches(scenario)),
            "authorizers": any(scenario.route_authorizer(r) is not None for r in scenario.routes)}
    report.parts = {k: v for k, v in TARGET_PARTS[target if local else "url"].items() if used.get(k, True)}
    files = _write_report(report, out, loadtest.log_path, plots, {
        "scenario": scenario.name, "target": target, "host": host, "tolerances": tol,
        "gateway_overhead": report.overhead, "parts_checked": report.parts,
        "causes_from": "answers" if groups is not None else "target", **_nginx_clock(out / "target" / "nginx.json"),
        "indistinguishable_causes": report.indistinguishable or []})
    return ValidationRun(report, out, target, host, files)


def _load_test(path: Path, target: str, out_dir: str | Path, run_s: float, target_overrides: dict[str, str],
               load: Callable[[str], Any]) -> tuple[str, Any]:
    """Make ``--out`` (every check has passed), start the local target if there is one, and
    run *load* against it or the URL; the host and the load test's result."""
    made, created = make_out_dir(out_dir)
    with stop_on_signals(), removed_if_refused(made, created):
        if target not in TARGETS:
            return target, load(target)
        # The target outlives the load test by a margin, then stops by itself whatever happens.
        with _Target(path, target, run_s + 120.0, target_overrides, log_dir=Path(out_dir) / "target") as t:
            return t.host, load(t.host)


def _from_observation(observed: Any, scenario: Any, target: str, overhead: str, out: Path,
                      model_overrides: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """What the observation tells the model: the gateway overhead the target measured (set in
    *model_overrides* when a local target's is used) and the replay's overrides, which pair
    each attempt with its own measured overhead and, on the nginx target, add the
    independent runtime's own init and run times."""
    from simulator.validate import measured_overhead, paired_overhead

    local = target in TARGETS
    measured = measured_overhead(observed)
    if measured is not None and local and overhead == "measured":
        model_overrides["behaviour.gateway_overhead"] = measured.override(out / "replay" / "overhead_ms.txt")
    replay_overrides = dict(model_overrides)
    if "behaviour.gateway_overhead" in model_overrides:  # measured: the replay pairs each attempt with its own
        paired = paired_overhead(observed, scenario, out / "replay" / "overhead_paired_ms.txt")
        if paired is not None:
            replay_overrides["behaviour.gateway_overhead"] = paired
    runtime_log = out / "target" / "runtime.jsonl"
    if local and target == "nginx" and runtime_log.exists():
        # The independent runtime's own init and run times, in invocation order (see
        # loadtests.observed_times): the replay then checks its decisions, not its timers.
        from loadtests.observed_times import observed_time_overrides

        replay_overrides.update(observed_time_overrides(runtime_log, scenario, out / "replay"))
    backend_log = out / "target" / "backends.jsonl"
    if local and target == "nginx" and backend_log.exists():
        from loadtests.observed_times import observed_backend_overrides

        replay_overrides.update(observed_backend_overrides(backend_log, scenario, out / "replay"))
    return measured, replay_overrides


def _compare(path: Path, observed: Any, out: Path, replay_overrides: dict[str, Any], model_overrides: dict[str, Any],
             seed: int | None, seeds: int, tol: dict[str, float]) -> tuple[Any, dict[str, str] | None]:
    """The model's predictions (the replay of the observed attempts with *replay_overrides*,
    and *seeds* runs of the scenario's own traffic with *model_overrides*) against the
    observation; causes are read from the answers when the API said none."""
    import simulator
    from simulator.validate import causes_from_answers, compare, replay_scenario

    replay = simulator.simulate(replay_scenario(path, observed, out / "replay", overrides=replay_overrides, seed=seed))
    base = simulator.load_scenario(path, overrides=model_overrides, seed=seed)
    runs = [simulator.simulate(base, seed=base.seed + k) for k in range(seeds)]
    groups: dict[str, str] | None = None
    if not observed["cause"].fillna("").astype(str).str.len().any():
        # The API said nothing of causes (a deployed stage): read them from the answers.
        observed, groups = causes_from_answers(observed, base)
    report = compare(observed, replay, runs, tolerances=tol, cause_groups=groups)
    report.indistinguishable = sorted({g for g in groups.values() if "|" in g}) if groups is not None else None
    return report, groups


def _observed(log_path: Path, out: Path, access_log: str | Path | None) -> Any:
    """The attempt log, completed from the runtime's invocation log and the API's access log,
    on the clock of the server that decided."""
    from loadtests.log import read_log

    observed = with_invocations(read_log(log_path), out / "target" / "invocations.csv")
    if access_log is not None:
        observed = with_access_log(observed, read_access_log(access_log))
    return on_server_clock(observed)


def _write_report(report: Any, out: Path, log_path: Path, plots: bool, head: dict[str, Any]) -> dict[str, Path]:
    """``validation.json`` (*head* first, then the report), ``per_second.csv`` and the figures."""
    files = {"report": out / "validation.json", "per_second": out / "per_second.csv", "log": log_path}
    files["report"].write_text(json.dumps({**head, **report.to_dict()}, indent=2) + "\n", encoding="utf-8")
    report.per_second.to_csv(files["per_second"], index=False)
    if plots:
        files.update(_plots(report, out / "plots"))
    return files


def _nginx_clock(path: Path) -> dict[str, str]:
    """What the report says of nginx's clock: aligned to the wall clock's milliseconds (its
    own time namespace), or plain (connections with few requests are then estimated)."""
    try:
        aligned = json.loads(path.read_text(encoding="utf-8")).get("clock_aligned")
    except (OSError, ValueError):
        return {}
    plain = "plain (no time namespace: a connection's offset may be estimated)"
    return {"nginx_clock": "aligned" if aligned else plain}


def _describe_dist(spec: Any) -> str:
    """A scenario distribution in milliseconds: ``"10 ms"``, ``"lognormal median=80 ms p99=600 ms"``."""
    data = dict(spec.model_dump())
    kind = data.pop("kind", "")
    parts = {k: (f"{v * 1000:g} ms" if isinstance(v, float) else str(v)) for k, v in data.items()
             if k != "values_s" and v is not None}
    if kind == "fixed":
        return parts.get("value", "")
    return " ".join([kind, *(f"{k}={v}" for k, v in parts.items())])


def with_access_log(observed: Any, log: AccessLog) -> Any:
    """The attempt log on the gateway's clock: each attempt joined (on the request id it got
    back) with its access-log line, which gives when the gateway received it
    (``server_received_s``, whole milliseconds), its message when the client read none,
    and the gateway's own overhead (``gateway_overhead_ms``)."""
    import numpy as np

    if "aws_request_id" not in observed:
        return observed
    ids = observed["aws_request_id"].astype("string").fillna("")
    rows = log.rows
    out = observed.copy()
    received = ids.map(rows["request_time_s"]).astype(float).to_numpy()
    have = ~np.isnan(received)
    server = out["server_received_s"].to_numpy(dtype=float) if "server_received_s" in out else np.full(len(out), np.nan)
    out["server_received_s"] = np.where(have, received, server)
    message = out["message"].fillna("").astype(str) if "message" in out else ids.where(ids == "", "")
    logged = ids.map(rows["log_message"]).fillna("").astype(str)
    out["message"] = message.where(message != "", logged).astype("string")
    out["gateway_overhead_ms"] = (ids.map(rows["response_latency_ms"]).astype(float)
                                  - ids.map(rows["integration_latency_ms"]).astype(float))
    return out


def with_invocations(observed: Any, path: Path) -> Any:
    """The attempt log with what the function runtime logged for requests whose answer the
    client did not get from it (nginx's own 504s): when the runtime received them, how long
    the function ran, and whether it was a cold start, joined on the gateway's request id."""
    from loadtests.target.invocation_log import read_invocations

    runtime = read_invocations(path)
    if runtime.empty or "aws_request_id" not in observed:
        return observed
    ids = observed["aws_request_id"].astype("string").fillna("")
    out = observed.copy()
    for column in ("function_received_s", "function_ms", "cold_start"):
        if column not in out or column not in runtime:
            continue
        known = ids.map(runtime[column]).where(ids != "")
        missing = out[column].isna()
        out.loc[missing, column] = known[missing].astype(out[column].dtype) if len(known[missing]) else known[missing]
    return out


def _check_target(target: str, path: Path, scenario: Any, allow_remote: bool) -> None:
    """Refuse a ``--target`` that cannot be validated against, before anything starts."""
    from loadtests.runner import check_host
    from loadtests.target.nginx import find_nginx, key_error

    if target not in TARGETS:
        if "://" not in target:
            raise ThrottlesimError(f"--target {target!r}: expected {' or '.join(TARGETS)}, "
                                   "or the URL of an API such as http://127.0.0.1:8080")
        check_host(target, allow_remote=allow_remote, option="--target")
        return
    from loadtests.target.serve import fixed_concurrency_error

    if problem := fixed_concurrency_error(scenario, str(path)):
        raise ThrottlesimError(problem)
    if target != "nginx":
        if scenario.backends:
            raise ThrottlesimError(f"{path}: backends: the emulated target has no HTTP backends; validate them "
                                   "against --target nginx")
        return
    if any(p.quota is not None for p in scenario.usage_plans):
        raise ThrottlesimError(f"{path}: usage_plans: nginx has no usage-plan quotas; validate quotas against "
                               "--target emulated or your API")
    problem = key_error(scenario, str(path))
    if problem is not None:
        raise ThrottlesimError(problem)
    if find_nginx() is None:
        raise ThrottlesimError("--target nginx: no nginx binary found (apt-get install nginx-light, "
                               "or set THROTTLESIM_NGINX)")


def _plots(report: Any, folder: Path) -> dict[str, Path]:
    from simulator.plots import save_figures, validation_fractions, validation_series

    ps = report.per_second
    predicted = ps[["time_s"]].assign(**{"429": ps["predicted_429"], "5XX": ps["predicted_5xx"]})
    observed = ps[["time_s"]].assign(**{"429": ps["observed_429"], "5XX": ps["observed_5xx"]})
    intervals = {c.name.replace("fraction_", ""): c.interval for c in report.checks if c.interval}
    figures = {
        "validation_series": validation_series(predicted, observed, metrics=("429", "5XX")),
        "validation_fractions": validation_fractions(
            report.fractions["predicted"], report.fractions["observed"],
            intervals or None,
        ),
    }
    paths = save_figures(figures, folder)
    return {p.stem: p for p in paths}
