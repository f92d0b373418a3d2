"""Shared helpers: small scenarios built in code, with traffic at exact instants."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import simulator

BASE: dict[str, Any] = {
    "name": "test",
    "duration": "10s",
    "seed": 1,
    "api": {"type": "REST"},
    "routes": [{"name": "GET /x", "function": "f"}],
    "functions": [{"name": "f", "duration": "100ms", "init": "500ms", "timeout": "10s"}],
    "clients": [{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform", "rate": 1}}],
    "behaviour": {"gateway_overhead": "0ms"},
}


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


class Build:
    """``build(times=[...], **keys)``: a scenario whose one client sends at *times*."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.n = 0

    def trace(self, times: list[float], routes: list[str] | None = None) -> str:
        self.n += 1
        path = self.tmp / f"trace{self.n}.csv"
        rows = [f"{t!r},{routes[i] if routes else ''}" for i, t in enumerate(times)]
        path.write_text("time_s,route\n" + "\n".join(rows) + "\n")
        return str(path)

    def __call__(self, times: list[float] | None = None, **extra: Any) -> simulator.Scenario:
        data = merge(BASE, extra)
        if times is not None:
            data["clients"][0]["arrivals"] = {"process": "replay", "file": self.trace(times)}
        return simulator.parse_scenario(data, base_dir=self.tmp)


@pytest.fixture
def build(tmp_path: Path) -> Build:
    return Build(tmp_path)


def causes(result: simulator.Result) -> list[str]:
    return [r.cause for r in result.records()]


def timeline(result: simulator.Result) -> list[tuple[float, str, float]]:
    """(sent at, cause, latency) per attempt, rounded to the microsecond."""
    return [(round(r.time_s, 6), r.cause, round(r.latency_s, 6)) for r in result.records()]
