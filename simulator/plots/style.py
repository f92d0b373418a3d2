"""Shared look of every figure: one colour per cause, labels with units, value formats.

A cause keeps its colour in every figure, so a reader who learned that brown is the
usage-plan quota in one chart reads it the same way in the next: 2XX in green, the gateway's
429 throttles in oranges (lighter for the narrower scope: usage plan, route, stage, account),
the quota in brown, Lambda and integration failures (5XX) in reds getting darker from
"Lambda throttled" to "integration timeout", ``403`` in grey and client timeouts (no
response) in purple. Status codes and status classes (``"429"``, ``"5XX"``) get the colour
of their family, so validation figures keyed by status match run figures keyed by cause.

Figures are built with the object-oriented :class:`matplotlib.figure.Figure` API and never
through ``pyplot``: nothing is registered in pyplot's global list of figures, no backend is
selected, and a figure that is dropped is simply garbage-collected. Saving goes through the
Agg (PNG) or SVG renderer directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from matplotlib.figure import Figure

from simulator.outcomes import CAUSES

__all__ = [
    "CAUSE_COLOURS",
    "format_usd",
    "format_value",
    "is_fraction_metric",
    "metric_label",
    "new_figure",
    "outcome_colour",
]

#: Colour of every cause in :data:`simulator.CAUSES`.
CAUSE_COLOURS: Mapping[str, str] = MappingProxyType(
    {
        "ok": "#2ca02c",
        "forbidden": "#8c8c8c",
        "unauthorized": "#bdbdbd",
        "access_denied": "#636363",
        "authorizer_error": "#e377c2",
        "throttled_usage_plan": "#fdae6b",
        "quota_exceeded": "#8c510a",
        "throttled_method": "#fd8d3c",
        "throttled_stage": "#e6550d",
        "throttled_account": "#a63603",
        "lambda_throttled": "#fb6a4a",
        "lambda_rate_throttled": "#fc9272",
        "function_error": "#de2d26",
        "function_timeout": "#a50f15",
        "backend_queue_full": "#f768a1",
        "backend_error": "#ae017e",
        "integration_timeout": "#67000d",
        "web_rate_limited": "#fec44f",
        "client_timeout": "#6a3d9a",
    }
)
if set(CAUSE_COLOURS) != set(CAUSES):  # a new cause needs a colour here
    raise RuntimeError(f"CAUSE_COLOURS misses {sorted(set(CAUSES) - set(CAUSE_COLOURS))}")

_FAMILY_COLOURS: Mapping[str, str] = MappingProxyType(
    {
        "2": "#2ca02c",
        "403": "#8c8c8c",
        "4": "#bdbdbd",
        "429": "#fd8d3c",
        "quota": "#8c510a",
        "5": "#de2d26",
        "0": "#6a3d9a",
    }
)
_OTHER = "#4c72b0"

#: Width of one figure, inches; at 100 dpi a figure is 1,000 pixels wide.
FIG_WIDTH_IN = 10.0


def new_figure(height_in: float = 5.0, width_in: float = FIG_WIDTH_IN) -> Figure:
    """A figure that lays itself out (titles, labels and outside legends never clip)."""
    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def outcome_colour(key: str) -> str:
    """The colour of a cause (``"quota_exceeded"``), status (``"504"``) or class (``"5XX"``).

    >>> outcome_colour("throttled_stage") == CAUSE_COLOURS["throttled_stage"]
    True
    >>> outcome_colour("5XX") == outcome_colour("502")
    True
    """
    if key in CAUSE_COLOURS:
        return CAUSE_COLOURS[key]
    k = key.strip().upper()
    if "QUOTA" in k:
        return _FAMILY_COLOURS["quota"]
    if k in ("403", "429"):
        return _FAMILY_COLOURS[k]
    if k in ("0", "NO_RESPONSE", "NO RESPONSE", "CLIENT_TIMEOUT"):
        return _FAMILY_COLOURS["0"]
    if len(k) == 3 and k[0] in "245" and (k[1:].isdigit() or k[1:] == "XX"):
        return _FAMILY_COLOURS[k[0]]
    return _OTHER


# --------------------------------------------------------------------------- metric names

_KNOWN_METRICS: Mapping[str, str] = MappingProxyType(
    {
        "rate_429": "429 fraction of attempts",
        "rate_429_quota": "429 (quota) fraction of attempts",
        "rate_5xx": "5XX fraction of attempts",
        "rate_4xx": "4XX fraction of attempts",
        "rate_2xx": "2XX fraction of attempts",
        "success_fraction": "success fraction of requests",
        "monthly_usd": "monthly cost (USD)",
        "run_usd": "run cost (USD)",
        "peak_concurrency": "peak concurrency (environments)",
        "cold_starts": "cold starts (count)",
        "lambda_throttles": "Lambda throttles (count)",
    }
)

_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_ms", "ms"),
    ("_usd", "USD"),
    ("_rps", "requests/s"),
    ("_mb", "MB"),
    ("_s", "s"),
)


def is_fraction_metric(name: str) -> bool:
    """Whether a metric is a fraction in [0, 1], shown as a percentage."""
    return name.startswith(("rate_", "fraction_")) or name.endswith("_fraction")


def metric_label(name: str) -> str:
    """An axis label with units for a sweep metric or a varied key.

    >>> metric_label("p99_ms")
    'p99 latency (ms)'
    >>> metric_label("functions.checkout.memory_mb")
    'functions.checkout.memory_mb (MB)'
    """
    if name in _KNOWN_METRICS:
        return _KNOWN_METRICS[name]
    head = name.rsplit(".", 1)[-1]
    if head.startswith("p") and head[1:].split("_")[0].isdigit() and head.endswith("_ms"):
        return f"{head[:-3]} latency (ms)" if head == name else f"{name} (ms)"
    if is_fraction_metric(head):
        return f"{name} (fraction)"
    for suffix, unit in _UNIT_SUFFIXES:
        if head.endswith(suffix):
            return f"{name} ({unit})"
    return name


def format_value(metric: str, value: float) -> str:
    """A cell or bar annotation: percentages for fractions, dollars for costs.

    >>> format_value("rate_429", 0.1234), format_value("monthly_usd", 14161.2), format_value("p99_ms", 253.76)
    ('12.3%', '$14,161', '254')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    v = float(value)
    if is_fraction_metric(metric.rsplit(".", 1)[-1]):
        return f"{v:.1%}" if abs(v) >= 0.001 or v == 0 else f"{v:.2%}"
    if metric.endswith("_usd"):
        return format_usd(v)
    if abs(v) >= 100 or v == int(v):
        return f"{v:,.0f}"
    return f"{v:.3g}"


def format_usd(usd: float) -> str:
    """Dollars with as many digits as the amount needs.

    >>> format_usd(1234.5), format_usd(3.754), format_usd(0.0012345), format_usd(0.0)
    ('$1,234', '$3.75', '$0.00123', '$0')
    """
    if usd == 0:
        return "$0"
    if abs(usd) >= 100:
        return f"${usd:,.0f}"
    if abs(usd) >= 1:
        return f"${usd:,.2f}"
    return f"${usd:.3g}"
