"""Which route a request takes: its method and path against the scenario's route names.

A route name is API Gateway's route key, ``"METHOD /path"``: ``GET /orders``,
``ANY /orders`` (any method) or ``$default`` (whatever matches nothing else). Path
segments in braces are parameters: ``{id}`` matches one segment, ``{proxy+}`` the rest of
the path. A route with the request's own method wins over an ``ANY`` route, a path
without parameters over one with them, and all of them over ``$default``; among routes
of the same kind the first in the scenario wins.

The same rules are written as an nginx ``map`` by :mod:`loadtests.target.nginx`, so the
two gateways pick the same route for the same request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from simulator.scenario import Route

__all__ = ["RouteTable", "path_pattern"]

_PARAM = re.compile(r"\{([^{}/]+)\}")


def path_pattern(path: str, *, escape: str = "python") -> str:
    """The regular expression (without anchors) that a route path matches.

    ``escape="pcre"`` writes literal characters other than letters, digits, ``/``, ``_``
    and ``-`` as ``\\x{hh}``, which PCRE reads and nginx's quoted strings keep as they are.
    """
    out = []
    pos = 0
    for m in _PARAM.finditer(path):
        out.append(_literal(path[pos : m.start()], escape))
        out.append(".+" if m.group(1).endswith("+") else "[^/]+")
        pos = m.end()
    out.append(_literal(path[pos:], escape))
    return "".join(out)


def _literal(text: str, escape: str) -> str:
    if escape == "python":
        return re.escape(text)
    return "".join(c if c.isalnum() or c in "/_-" else f"\\x{{{ord(c):02x}}}" for c in text)


def route_parts(route: Route) -> tuple[str, str]:
    """``(method, path)`` of a route; ``("", "")`` for ``$default``."""
    if route.name == "$default":
        return "", ""
    method, path = route.name.split(" ", 1)
    return method, path


class RouteTable:
    """Matches ``(method, path)`` to a route, with API Gateway's precedence."""

    def __init__(self, routes: Sequence[Route]) -> None:
        entries: list[tuple[tuple[bool, bool], str, re.Pattern[str], Route]] = []
        self.default: Route | None = None
        for route in routes:
            method, path = route_parts(route)
            if not method:
                self.default = route
                continue
            rank = (method == "ANY", bool(_PARAM.search(path)))
            entries.append((rank, method, re.compile(path_pattern(path) + r"\Z"), route))
        entries.sort(key=lambda e: e[0])
        self._entries = [(method, pattern, route) for _, method, pattern, route in entries]

    def match(self, method: str, path: str) -> Route | None:
        for want, pattern, route in self._entries:
            if (want == "ANY" or want == method) and pattern.match(path):
                return route
        return self.default
