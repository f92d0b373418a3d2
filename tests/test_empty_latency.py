"""A run, or a client, that measured no latency says so: ``null``, not 0 ms."""

from __future__ import annotations

import math

import pytest

from simulator import load_scenario, simulate
from simulator.studies.sweep import headline


@pytest.mark.parametrize("engine,record", [("simpy", True), ("fast", True), ("fast", False)])
def test_a_client_that_sent_nothing_has_no_latency(engine, record):
    # The third client's open rate is 0, so it sends nothing.
    s = load_scenario("scenarios/http_api_routes.toml",
                      overrides={"duration": "2s", "clients.price-sync.arrivals": '{process="poisson", rate=0}'})
    summary = simulate(s, engine=engine, record=record).summary()
    late = summary["clients"]["price-sync"]
    assert late["requests"]["offered"] == 0
    assert set(late["latency_ms"].values()) == {None}
    assert late["requests"]["latency_ms"]["p99"] is None
    first = summary["clients"][s.clients[0].name]
    assert first["latency_ms"]["p50"] is not None and first["latency_ms"]["p50"] > 0


def test_a_sweep_row_without_latency_holds_nan():
    s = load_scenario("scenarios/http_api_routes.toml", overrides={"duration": "2s"})
    summary = simulate(s, engine="simpy").summary()
    summary["latency_ms"] = dict.fromkeys(summary["latency_ms"])
    row = headline(summary)
    assert math.isnan(row["p99_ms"]) and math.isnan(row["p50_ms"])
