"""Fitting measured durations: a lognormal matched at the median and p99, judged on held-out data.

The scenario format describes a lognormal by its median and 99th percentile, so that is how one
is fitted: the sample median and p99 of the *training* half (every other sample, in log order,
so the split needs no random numbers). The other half judges the fit: the Kolmogorov-Smirnov
distance (the largest gap between its empirical CDF and the lognormal's CDF) and the relative
errors of the fitted p50, p90 and p99 against its own. An empirical distribution (the samples
themselves) is the alternative when the shape is far from lognormal; :func:`dist_spec` writes
either as a scenario value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from simulator.dists import Z99

__all__ = ["Fit", "FitKind", "dist_spec", "fit_lognormal"]

FitKind = Literal["lognormal", "empirical"]

_QUANTILES = (50, 90, 99)


@dataclass(frozen=True)
class Fit:
    """A lognormal (or fixed, when the p99 equals the median) fitted to *n* samples, in seconds."""

    median_s: float
    p99_s: float
    n: int
    n_held_out: int
    ks: float | None
    quantile_errors: dict[str, float] = field(default_factory=dict)

    @property
    def fixed(self) -> bool:
        """A point mass: the p99 equals the median (to a millionth, below the logs' resolution)."""
        return self.p99_s <= self.median_s * (1 + 1e-6)

    def quantile(self, q: float) -> float:
        if self.fixed:
            return self.median_s
        sigma = math.log(self.p99_s / self.median_s) / Z99
        return self.median_s * math.exp(sigma * _z(q / 100.0))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        if self.fixed:
            return (x >= self.median_s * (1 - 1e-6)).astype(float)
        sigma = math.log(self.p99_s / self.median_s) / Z99
        z = (np.log(np.maximum(x, 1e-300)) - math.log(self.median_s)) / (sigma * math.sqrt(2.0))
        return 0.5 * (1.0 + np.vectorize(math.erf)(z))


def _z(p: float) -> float:
    """The standard normal quantile (bisection on erf: exact enough, no SciPy)."""
    low, high = -10.0, 10.0
    for _ in range(100):
        mid = (low + high) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _ks(fit: Fit, held_out: np.ndarray) -> float:
    x = np.sort(held_out)
    n = len(x)
    if fit.fixed:  # a point mass: the share of samples on either side of it (rounding noise ignored)
        below = np.mean(x < fit.median_s * (1 - 1e-6))
        above = np.mean(x > fit.median_s * (1 + 1e-6))
        return float(max(below, above))
    model = fit.cdf(x)
    above_cdf = np.arange(1, n + 1) / n - model
    below_cdf = model - np.arange(0, n) / n
    return float(max(above_cdf.max(), below_cdf.max()))


def fit_lognormal(samples_s: np.ndarray | list[float]) -> Fit:
    """Fit on every other sample (all of them below 20), judge on the rest."""
    x = np.sort(np.asarray(samples_s, dtype=float))
    if len(x) == 0:
        raise ValueError("no samples to fit")
    train, test = (x[0::2], x[1::2]) if len(x) >= 20 else (x, x[:0])
    median, p99 = (float(np.percentile(train, q)) for q in (50, 99))
    fit = Fit(median_s=median, p99_s=max(p99, median), n=len(x), n_held_out=len(test), ks=None)
    if len(test) == 0 or median <= 0:
        return fit
    errors = {f"p{q}": fit.quantile(q) / float(np.percentile(test, q)) - 1.0 for q in _QUANTILES}
    return Fit(median_s=fit.median_s, p99_s=fit.p99_s, n=fit.n, n_held_out=len(test), ks=_ks(fit, test),
               quantile_errors=errors)


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000, 3):g}ms"


def dist_spec(fit: Fit, samples_s: np.ndarray, kind: FitKind, file: str) -> tuple[dict[str, Any] | str, str | None]:
    """The scenario value for a fitted distribution, and the samples file it needs (if any)."""
    if kind == "empirical":
        return {"kind": "empirical", "file": file, "unit": "ms"}, "\n".join(
            f"{v * 1000:.3f}" for v in samples_s) + "\n"
    if fit.fixed:
        return _ms(fit.median_s), None
    return {"kind": "lognormal", "median": _ms(fit.median_s), "p99": _ms(fit.p99_s)}, None
