"""The resolved description (:mod:`simulator.engine.resolved`): both engines take their
status codes, gateway chains, route facts and client facts from it, the fast engine's
tables are a packing of it, and no throttling state is shared between two runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import simulator
from simulator import outcomes, rng
from simulator.engine.fast.layout import LEVEL_BUCKET, LEVEL_QUOTA, MAX_CHAIN
from simulator.engine.reference import ReferenceEngine
from simulator.engine.resolved import Resolved, resolve
from simulator.gateway.quota import QuotaCounter

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def usage_plans() -> simulator.Scenario:
    """Four clients, two usage plans with quotas, a method throttle, a client without a key."""
    return simulator.load_scenario(SCENARIOS / "rest_usage_plans.toml", overrides={"duration": "5s"})


def packed_chains(r: Resolved) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The resolved chains packed as the fast engine's tables should hold them: each
    distinct level numbered by kind in order of first appearance (client, route, level)."""
    C, R = len(r.clients), len(r.routes)
    length = np.zeros((C, R), dtype=np.int64)
    kind = np.zeros((C, R, MAX_CHAIN), dtype=np.int64)
    index = np.zeros((C, R, MAX_CHAIN), dtype=np.int64)
    cause = np.zeros((C, R, MAX_CHAIN), dtype=np.int64)
    seen: dict[int, tuple[int, int]] = {}
    counts = {LEVEL_BUCKET: 0, LEVEL_QUOTA: 0}
    for c, client in enumerate(r.clients):
        for k, chain in enumerate(client.chains):
            if chain is None:
                length[c, k] = -1
                continue
            length[c, k] = len(chain)
            for j, (level, why) in enumerate(chain):
                if id(level) not in seen:
                    kd = LEVEL_QUOTA if isinstance(level, QuotaCounter) else LEVEL_BUCKET
                    seen[id(level)] = (kd, counts[kd])
                    counts[kd] += 1
                kind[c, k, j], index[c, k, j] = seen[id(level)]
                cause[c, k, j] = why
    return length, kind, index, cause


def test_the_reference_engine_runs_the_resolved_chains_and_status_codes() -> None:
    s = usage_plans()
    engine = ReferenceEngine(s, s.seed)
    r = engine.resolved
    assert engine.gateway is r.gateway
    assert engine.status is r.status_codes
    for c, rc in zip(engine.clients, r.clients, strict=True):
        assert all(a is b for a, b in zip(c.chains, rc.chains, strict=True))
        assert c.cum_weights == (rc.route_indices, rc.cumulative_weights)
        assert c.timeout_s == rc.timeout_s
        assert c.route_timeout == [route.integration_timeout_s for route in r.routes]
    # The client without an API key is refused by the gateway on every route.
    assert [rc.chains for rc in r.clients if rc.spec.api_key is None] == [(None, None)]


def test_the_fast_engine_packs_the_resolved_description() -> None:
    pytest.importorskip("numba")
    from simulator.engine.fast.engine import FastEngine

    s = usage_plans()
    engine = FastEngine(s, s.seed)
    r, x = engine.resolved, engine.x
    length, kind, index, cause = packed_chains(r)
    np.testing.assert_array_equal(x["chain_len"], length)
    np.testing.assert_array_equal(x["chain_kind"], kind)
    np.testing.assert_array_equal(x["chain_idx"], index)
    np.testing.assert_array_equal(x["chain_cause"], cause)
    assert x["status"].tolist() == list(r.status_codes)
    assert x["route_fn"].tolist() == [route.function for route in r.routes]
    assert x["route_timeout"].tolist() == [route.integration_timeout_s for route in r.routes]
    for c, rc in enumerate(r.clients):
        n = len(rc.route_indices)
        assert x["c_routes"][c, :n].tolist() == list(rc.route_indices)
        assert x["c_cum"][c, :n].tolist() == list(rc.cumulative_weights)
        assert x["c_timeout"][c] == rc.timeout_s
    # The two free keys' quotas and buckets are their own; the fast engine holds copies of
    # the resolved quota counters, in order of first appearance.
    quotas = [level for rc in r.clients for chain in rc.chains if chain for level, _ in chain
              if isinstance(level, QuotaCounter)]
    distinct = list({id(q): q for q in quotas}.values())
    assert len(distinct) == 3
    assert [q.limit for q in x["quotas"]] == [q.limit for q in distinct]
    assert all(a is not b for a, b in zip(x["quotas"], distinct, strict=True))


def test_resolved_facts_follow_the_scenario() -> None:
    s = usage_plans()
    r = resolve(s, 7)
    assert r.status_codes == tuple(outcomes.status_codes(s))
    assert [route.name for route in r.routes] == ["GET /orders", "POST /orders"]
    assert [route.function for route in r.routes] == [0, 0]
    assert [route.integration_timeout_s for route in r.routes] == [29.0, 29.0]
    paid = r.clients[2]
    assert paid.route_indices == (0, 1) and paid.cumulative_weights == (0.9, 1.0)
    assert paid.timeout_s == math.inf
    # A key's usage-plan throttle is one bucket for all its routes; the account's is one for all.
    get, post = paid.chains
    assert get is not None and post is not None
    assert get[0][0] is post[1][0]
    assert get[-1][0] is r.clients[0].chains[0][-1][0]  # type: ignore[index]
    assert r.stream("routes", paid.name).random() == rng.stream(7, "routes", paid.name).random()


def test_two_runs_never_share_throttling_state() -> None:
    s = usage_plans()
    a, b = resolve(s, 1), resolve(s, 1)
    levels_a = {id(level) for rc in a.clients for chain in rc.chains if chain for level, _ in chain}
    levels_b = {id(level) for rc in b.clients for chain in rc.chains if chain for level, _ in chain}
    assert levels_a and not levels_a & levels_b
    rates_a = {id(bucket) for rate in a.request_rates for bucket in rate.buckets}
    rates_b = {id(bucket) for rate in b.request_rates for bucket in rate.buckets}
    assert not rates_a & rates_b
    # And the description itself cannot be changed.
    with pytest.raises(AttributeError):
        a.status_codes = ()  # type: ignore[misc]
