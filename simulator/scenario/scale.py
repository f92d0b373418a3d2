"""Scaling a scenario's offered load: "the same day, at three times the traffic".

:func:`scale_scenario` multiplies every client's offered load by a factor and leaves
everything else (the API, the functions, the window, the seed) as it was. It is the one
implementation behind ``--scale X`` on every command, applied to the loaded scenario, so
that each command scales the same way:

* *open* clients: the ``rate`` (a number, or every point of a profile) is multiplied, and
  each burst's ``count`` is multiplied and rounded to the nearest whole request (a burst
  that rounds to no request is removed); ``at`` and ``over`` are kept;
* *closed* clients: ``users`` is multiplied and rounded to the nearest whole user, and
  ``spawn_rate`` is multiplied too, so the ramp takes as long as before; the waits are
  kept, so each user's pace is unchanged. A client that would round to no user is refused;
* *replay* clients: the trace is thinned or duplicated deterministically, never
  randomly. Request *i* of the time-ordered trace is sent ``floor((i + 1) * X) -
  floor(i * X)`` times, its copies spread evenly between its own time and the next
  request's (the last request's copies at its own time). At ``X = 3`` every request
  becomes three; at ``X = 0.5`` every second request is kept. The trace's time span is
  kept, so its rate, not its duration, changes.

A factor of exactly 1 returns the scenario itself. A result beyond the limits of
:mod:`simulator.limits` is refused with one line naming the client and the key.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulator.errors import ScenarioError
from simulator.limits import MAX_BURST_COUNT, MAX_RATE_PER_S, MAX_USERS
from simulator.scenario.clients import Burst, Client, ClosedArrivals, OpenArrivals, ReplayArrivals
from simulator.scenario.schema import Scenario

__all__ = ["MAX_SCALE", "MAX_SCALED_TRACE_ROWS", "scale_scenario", "scaled_trace"]

#: The largest factor ``--scale`` accepts (and the smallest is its inverse).
MAX_SCALE = 1000.0
#: The most requests a scaled replay trace may hold.
MAX_SCALED_TRACE_ROWS = 20_000_000


def _whole(value: float) -> int:
    """*value* rounded to the nearest whole number, halves up (never banker's rounding)."""
    return math.floor(value + 0.5)


def _check(source: str, key: str, value: float, high: float, what: str) -> float:
    if value > high:
        raise ScenarioError(source, [(key, f"scaled to {value:g} {what}, more than the limit of {high:g}")])
    return value


def scaled_trace(times: tuple[float, ...], routes: tuple[str, ...], factor: float
                 ) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """A replay trace with *factor* times the requests (see the module docstring)."""
    n = len(times)
    if n == 0:
        return times, routes
    t = np.asarray(times, dtype=float)
    copies = np.diff(np.floor(np.arange(n + 1) * factor)).astype(np.int64)
    which = np.repeat(np.arange(n), copies)
    first = np.repeat(np.cumsum(copies) - copies, copies)
    k = np.arange(len(which)) - first
    gap = np.append(np.diff(t), 0.0)
    new_times = t[which] + k * gap[which] / copies[which]
    return tuple(float(x) for x in new_times), tuple(routes[i] for i in which)


def _open(a: OpenArrivals, factor: float, source: str, key: str) -> OpenArrivals:
    if isinstance(a.rate, (int, float)):
        rate: Any = _check(source, f"{key}.rate", a.rate * factor, MAX_RATE_PER_S, "requests per second")
    else:
        rate = [(t, _check(source, f"{key}.rate", r * factor, MAX_RATE_PER_S, "requests per second"))
                for t, r in a.rate]
    bursts: list[Burst] = []
    for i, b in enumerate(a.bursts):
        count = _whole(b.count * factor)
        _check(source, f"{key}.bursts.{i}.count", count, MAX_BURST_COUNT, "requests")
        if count >= 1:
            bursts.append(b.model_copy(update={"count": count}))
    return a.model_copy(update={"rate": rate, "bursts": bursts})


def _closed(a: ClosedArrivals, factor: float, source: str, key: str) -> ClosedArrivals:
    users = _whole(a.users * factor)
    if users < 1:
        raise ScenarioError(source, [(f"{key}.users", f"{a.users} users x {factor:g} rounds to no user; "
                                                      "give a larger --scale or more users")])
    _check(source, f"{key}.users", users, MAX_USERS, "users")
    spawn_rate = _check(source, f"{key}.spawn_rate", a.spawn_rate * factor, MAX_RATE_PER_S, "users per second")
    return a.model_copy(update={"users": users, "spawn_rate": spawn_rate})


def _replay(a: ReplayArrivals, factor: float, source: str, key: str) -> ReplayArrivals:
    _check(source, f"{key}.file", len(a.times) * factor, MAX_SCALED_TRACE_ROWS, "requests")
    times, routes = scaled_trace(a.times, a.routes, factor)
    return a.model_copy(update={"times": times, "routes": routes})


def scale_scenario(scenario: Scenario, factor: float, source: str = "--scale") -> Scenario:
    """*scenario* with every client's offered load multiplied by *factor* (> 0)."""
    if not (math.isfinite(factor) and 1 / MAX_SCALE <= factor <= MAX_SCALE):
        raise ScenarioError(source, [("", f"the factor must be between {1 / MAX_SCALE:g} and {MAX_SCALE:g}, "
                                          f"got {factor!r}")])
    if factor == 1:
        return scenario
    clients: list[Client] = []
    for c in scenario.clients:
        key = f"clients.{c.name}.arrivals"
        a = c.arrivals
        if isinstance(a, OpenArrivals):
            scaled: Any = _open(a, factor, source, key)
        elif isinstance(a, ClosedArrivals):
            scaled = _closed(a, factor, source, key)
        else:
            scaled = _replay(a, factor, source, key)
        clients.append(c.model_copy(update={"arrivals": scaled}))
    return scenario.model_copy(update={"clients": clients})
