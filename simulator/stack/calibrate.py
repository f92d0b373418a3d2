"""``throttlesim calibrate``: a scenario's guesses replaced by what AWS logged.

From each function's Lambda REPORT lines (:mod:`~simulator.stack.lambda_logs`):

* ``duration``: the run times of successful invocations, as a lognormal matched at median and
  p99 (:mod:`~simulator.stack.fitting`) or, with ``--fit empirical``, the samples themselves
  (written next to the new scenario);
* ``init``: the ``Init Duration`` of cold starts, the same way;
* ``error_rate``: the share of invocations whose status is ``error``; timeouts are reported
  (the model times a function out by its ``timeout``, not by a rate);
* a memory check: the reports' ``Memory Size`` against the scenario's, and the peak used;
* from the log streams (:mod:`~simulator.stack.environments`), reported: reuse gaps (the
  longest a lower bound for the idle timeout), environment lifetimes and peak concurrency; and
  ``behaviour.max_environment_lifetime``, the median life of the environments the streams show
  were retired (at least three across the functions; else it stays as it was, with a warning).

From API Gateway access logs (:mod:`~simulator.stack.access_logs`, see
:mod:`~simulator.stack.calibrate_traffic`): a replay trace per API key, the status and cause
mix, and the gateway's own overhead (response latency minus integration latency) as
``behaviour.gateway_overhead``.

From CloudWatch metrics (:mod:`~simulator.stack.metrics`): the observed per-minute series, written
next to the scenario to compare a run with, and, without access logs, the arrival-rate profile.

The result is a *new* scenario file (an existing file is kept unless forced) and a report:
sample sizes, the fit on held-out data (Kolmogorov-Smirnov distance, p50/p90/p99 errors).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulator.errors import ThrottlesimError
from simulator.stack import scenario_access
from simulator.stack.calibrate_traffic import apply_access_logs
from simulator.stack.environments import MIN_RETIREMENTS, environments
from simulator.stack.errors import StackError
from simulator.stack.fitting import Fit, FitKind, dist_spec, fit_lognormal
from simulator.stack.lambda_logs import Invocation, read_reports
from simulator.stack.metrics import apply_rate_profile
from simulator.stack.toml_dump import dumps

__all__ = ["Calibration", "calibrate", "write"]


@dataclass
class Calibration:
    """What a calibration found: the new scenario, data files to write, fits and warnings."""

    data: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    fits: dict[str, Fit] = field(default_factory=dict)
    #: The samples behind each fit (seconds), and each replayed client's request times (seconds from the start).
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    traces: dict[str, list[float]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {"fits": {name: {"n": f.n, "n_held_out": f.n_held_out, "median_ms": f.median_s * 1000,
                                "p99_ms": f.p99_s * 1000, "ks": f.ks, "quantile_errors": f.quantile_errors}
                         for name, f in self.fits.items()},
                **self.figures, "warnings": self.warnings}


def _function(cal: Calibration, fn: dict[str, Any], invocations: Sequence[Invocation], kind: FitKind,
              data_dir: str) -> None:
    name = str(fn["name"])
    ok = np.array([i.duration_ms / 1000 for i in invocations if i.status == "success"])
    if len(ok) == 0:
        raise StackError(name, "its REPORT lines hold no successful invocation to take durations from")
    fit = cal.fits[f"{name}.duration"] = fit_lognormal(ok)
    cal.samples[f"{name}.duration"] = ok
    fn["duration"], samples = dist_spec(fit, ok, kind, f"{data_dir}/{name}_duration_ms.txt")
    if samples:
        cal.files[f"{data_dir}/{name}_duration_ms.txt"] = samples
    inits = np.array([i.init_ms / 1000 for i in invocations if i.init_ms is not None])
    if len(inits):
        fit = cal.fits[f"{name}.init"] = fit_lognormal(inits)
        cal.samples[f"{name}.init"] = inits
        fn["init"], samples = dist_spec(fit, inits, kind, f"{data_dir}/{name}_init_ms.txt")
        if samples:
            cal.files[f"{data_dir}/{name}_init_ms.txt"] = samples
    else:
        cal.warnings.append(f"function {name}: no Init Duration in its REPORT lines; init stays as it was")
    errors = sum(i.status.startswith("error") for i in invocations)
    timeouts = sum(i.status == "timeout" for i in invocations)
    fn["error_rate"] = round(errors / len(invocations), 6)
    cal.figures.setdefault("functions", {})[name] = {
        "invocations": len(invocations), "errors": errors, "timeouts": timeouts, "cold_starts": int(len(inits)),
        "environments": environments(invocations)}
    sizes = {i.memory_mb for i in invocations if i.memory_mb is not None}
    if sizes and sizes != {fn.get("memory_mb", 128)}:
        cal.warnings.append(f"function {name}: the reports say Memory Size {sorted(sizes)} MB, the scenario "
                            f"{fn.get('memory_mb', 128)} MB")
    used = [i.max_memory_used_mb for i in invocations if i.max_memory_used_mb is not None]
    if used and sizes and max(used) >= 0.9 * min(sizes):
        cal.warnings.append(f"function {name}: peak memory used {max(used):g} MB is within 10% of its memory size")


def _lifetime(cal: Calibration) -> None:
    """``behaviour.max_environment_lifetime`` from the retirements the log streams show."""
    seen = [f["environments"] for f in cal.figures.get("functions", {}).values() if f["environments"]]
    if not seen:
        return  # the reports name no log streams
    lives = [x for figures in seen for x in figures["retired_lifetimes_s"]]
    if len(lives) < MIN_RETIREMENTS:
        cal.warnings.append(f"the log streams show {len(lives)} retired environments (at least {MIN_RETIREMENTS} "
                            f"needed); behaviour.max_environment_lifetime stays as it was")
        return
    median = float(np.median(lives))
    cal.data.setdefault("behaviour", {})["max_environment_lifetime"] = f"{median:.3f}s"
    cal.figures["max_environment_lifetime"] = {"retirements": len(lives), "median_s": round(median, 3),
                                               "min_s": min(lives), "max_s": max(lives)}


def calibrate(
    scenario_path: str | Path,
    *,
    reports: Mapping[str, Sequence[str]] | None = None,
    access_logs: Sequence[str] = (),
    keys: Mapping[str, str] | None = None,
    out: str | Path,
    fit: FitKind = "lognormal",
    metrics: Any = None,
) -> Calibration:
    """Calibrate *scenario_path* from log files and CloudWatch *metrics* (a frame of
    :func:`~simulator.stack.metrics.read_metrics`); nothing is written here (see :func:`write`)."""
    scenario_access.load_scenario(scenario_path)  # a bad scenario is reported as such, first
    data = tomllib.loads(Path(scenario_path).read_text(encoding="utf-8"))
    cal = Calibration(data=data)
    stem = Path(out).name.removesuffix(".toml")
    functions = {str(f["name"]): f for f in data.get("functions", [])}
    for name, paths in (reports or {}).items():
        if name not in functions:
            raise ThrottlesimError(f"--report-log {name}=...: the scenario has no function {name!r}; it has "
                                   f"{', '.join(functions)}")
        invocations: list[Invocation] = []
        for path in paths:
            log = read_reports(path)
            invocations += log.invocations
            cal.warnings += [w for w in [log.warning()] if w]
        _function(cal, functions[name], invocations, fit, f"{stem}_data")
    if reports:
        _lifetime(cal)
    if access_logs:
        apply_access_logs(cal, access_logs, keys or {}, fit, stem)
    if metrics is not None:
        cal.files[f"{stem}_observed.csv"] = metrics.to_csv(index=False)
        if not access_logs:
            apply_rate_profile(cal, metrics)
    return cal


def write(cal: Calibration, out: str | Path, header: list[str]) -> None:
    """Write the data files and the scenario, checked first in a temporary directory.

    The scenario is renamed into place last, so a failure leaves no partial scenario behind.
    """
    target = Path(out)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.resolve().parent))
    try:
        for name, text in cal.files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text, encoding="utf-8")
        (work / target.name).write_text(dumps(cal.data, header), encoding="utf-8")
        try:
            scenario_access.load_scenario(work / target.name)
        except scenario_access.ScenarioError as exc:
            first = str(exc).splitlines()[0].replace(str(work / target.name), str(out))
            raise ThrottlesimError(f"the calibrated scenario does not check: {first}") from None
        for name in cal.files:
            final = target.resolve().parent / name
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(work / name, final)
        os.replace(work / target.name, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
