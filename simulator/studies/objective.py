"""What a plan optimises, and how noise and errors decide between close candidates.

:func:`simulator.studies.planner.plan` keeps the grid points that meet every SLO; the
*objective* then picks one of them:

``minimize cost`` (the default)
    The lowest **cost at full service** among the points with the fewest errors (below):
    the monthly cost divided by the success fraction, i.e. the cost per successful request
    times every request offered. Throttled requests are free (API Gateway does not bill its
    429s, Lambda does not bill throttled invokes) and reserved concurrency costs nothing, so
    a setting that fails more requests bills fewer of them; compared on the raw monthly
    cost, the setting that refuses the most traffic looks cheapest.
``minimize value`` (or ``minimize KEY``)
    The smallest value of the varied setting (e.g. the least reserved concurrency that
    meets the SLOs, leaving the most for other functions); ``value`` needs exactly one
    varied key, else name it.
``maximize headroom``
    The largest *headroom*: the smallest slack over the SLOs (the binding constraint's
    margin, see :mod:`simulator.studies.planner`), i.e. the point furthest from breaking.

**Errors before dollars.** Among the passing points, only those whose error rate is not
significantly above the most reliable point's compete on cost: a point whose 95% error
interval lies wholly above the interval of the point with the fewest errors is ranked after
every point that does not. Throttled requests cost nothing and fail requests to expensive
routes (checkout) more than to cheap ones (product pages), so even per served request a
failing setting can look cheaper; the SLOs say which error rate is acceptable, the objective
never buys dollars with errors. (To trade errors for cost, tighten or loosen the SLO.)

**Ties under noise.** Two costs are a tie when they differ by less than twice the standard
error of their difference, ``|a - b| < 2 * sqrt(se_a ** 2 + se_b ** 2)``. With
replications the standard error of a point is the sample standard deviation of its runs'
costs at full service over ``sqrt(n)``; with one run it is the count noise of the run,
``cost / sqrt(successful requests)`` (a Poisson count's relative error), since one run
says nothing about its own spread. Every equally reliable candidate tied with the cheapest is a contender;
among contenders **fewer errors** wins, then the lower cost, then the earlier grid point.
For ``minimize value`` and ``maximize headroom`` equal values are the ties, broken the same
way. So a candidate that fails more requests never wins on a cost difference that noise
could explain, and never wins because failures are unbilled.

**Errors and their interval.** The *error rate* is the fraction of requests not answered
with success in the end (``1 - success_fraction``, retries included). Its 95% interval is
the replications' Student-t interval (the sweep's ``success_fraction_lo``/``_hi``) with
several replications, and with one run the Wilson score interval over the run's requests,
which takes requests as independent and so understates the spread when failures come in
bursts (as throttling does): run replications to see the real spread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

__all__ = [
    "TIE_STANDARD_ERRORS",
    "Objective",
    "check_objective",
    "parse_objective",
    "pick",
    "served_cost",
    "wilson_interval",
]

#: Costs closer than this many standard errors of their difference are ties.
TIE_STANDARD_ERRORS = 2.0

Goal = Literal["cost", "value", "headroom"]


@dataclass(frozen=True)
class Objective:
    """What to optimise among the passing points: ``cost``, ``value`` (of :attr:`key`), ``headroom``."""

    goal: Goal
    #: The varied key whose value is minimised (``goal == "value"`` only).
    key: str | None = None

    @property
    def text(self) -> str:
        if self.goal == "headroom":
            return "maximize headroom"
        return f"minimize {self.key}" if self.goal == "value" else "minimize cost"

    @property
    def rule(self) -> str:
        """The rule in a sentence, for the report."""
        errors = "ties broken by fewer errors, then lower cost, then grid order"
        if self.goal == "cost":
            return ("lowest cost at full service (monthly cost / success fraction) among the points whose error "
                    "interval reaches down to the most reliable point's; costs within "
                    f"{TIE_STANDARD_ERRORS:g} standard errors of the cheapest are ties, {errors}")
        if self.goal == "value":
            return f"smallest {self.key}; {errors}"
        return f"largest headroom (least slack over the SLOs); {errors}"


def parse_objective(minimize: str | None, maximize: str | None, varied: Sequence[str]) -> Objective:
    """The objective from ``--minimize`` / ``--maximize`` (default: minimize cost).

    *minimize* is ``cost``, ``value`` (needs exactly one varied key) or a varied key;
    *maximize* is ``headroom``. Anything else raises a one-line :class:`ValueError`.
    """
    if minimize is not None and maximize is not None:
        raise ValueError("give --minimize or --maximize, not both")
    if maximize is not None:
        if maximize.strip() != "headroom":
            raise ValueError(f"--maximize {maximize}: the only thing to maximize is headroom")
        return Objective("headroom")
    what = (minimize or "cost").strip()
    if what == "cost":
        return Objective("cost")
    if what == "value":
        if len(varied) != 1:
            raise ValueError(f"--minimize value: {len(varied)} keys vary; name the one to minimize, "
                             f"e.g. --minimize {varied[0] if varied else 'KEY'}")
        return Objective("value", varied[0])
    if what in varied:
        return Objective("value", what)
    raise ValueError(f"--minimize {minimize}: expected cost, value or a varied key ({', '.join(varied)})")


def check_objective(objective: Objective, vary: Mapping[str, Sequence[Any]]) -> None:
    """Refuse, in one line, a ``minimize KEY`` whose key is not varied or whose values are not numbers."""
    if objective.goal != "value":
        return
    if objective.key is None or objective.key not in vary:
        raise ValueError(f"--minimize {objective.key}: not a varied key ({', '.join(vary)})")
    bad = [v for v in vary[objective.key] if isinstance(v, bool) or not isinstance(v, (int, float))]
    if bad:
        raise ValueError(f"--minimize {objective.key}: its values must be numbers, got {bad[0]!r}")


def wilson_interval(errors: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion *errors* / *n* (``(0, 1)`` when *n* is 0)."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    p = min(max(errors / n, 0.0), 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def served_cost(costs: Sequence[float], successes: Sequence[float], requests: Sequence[float]) -> tuple[float, float]:
    """Cost at full service of one point and its standard error, from its runs' monthly
    costs, success fractions and request counts (see the module docstring)."""
    per_run = [c / s if s > 0 else math.inf for c, s in zip(costs, successes)]
    n = len(per_run)
    mean = math.fsum(per_run) / n
    if not math.isfinite(mean):
        return math.inf, 0.0
    if n > 1:
        var = math.fsum((v - mean) ** 2 for v in per_run) / (n - 1)
        return mean, math.sqrt(var / n)
    served = requests[0] * successes[0]
    return mean, mean / math.sqrt(served) if served > 0 else 0.0


def pick(points: Sequence[Any], objective: Objective) -> list[Any]:
    """The passing *points* in the objective's order, best first (see the module docstring).

    Each point needs ``index``, ``overrides``, ``served_usd``, ``served_se``, ``error_rate``
    and ``headroom``."""
    if not points:
        return []
    if objective.goal == "cost":
        fewest = min(points, key=lambda p: (p.error_rate, p.served_usd, p.index))
        reliable = [p for p in points if p.error_interval[0] <= fewest.error_interval[1]]
        cheapest = min(reliable, key=lambda p: (p.served_usd, p.index))

        def tied(p: Any) -> bool:
            gap = p.served_usd - cheapest.served_usd
            return gap == 0 or gap < TIE_STANDARD_ERRORS * math.hypot(p.served_se, cheapest.served_se)

        contenders = sorted((p for p in reliable if tied(p)), key=lambda p: (p.error_rate, p.served_usd, p.index))
        others = sorted((p for p in reliable if not tied(p)), key=lambda p: (p.served_usd, p.index))
        worse = sorted((p for p in points if p not in reliable), key=lambda p: (p.error_rate, p.served_usd, p.index))
        return contenders + others + worse
    if objective.goal == "value":
        return sorted(points, key=lambda p: (float(p.overrides[objective.key]), p.error_rate, p.served_usd, p.index))
    return sorted(points, key=lambda p: (-p.headroom, p.error_rate, p.served_usd, p.index))
