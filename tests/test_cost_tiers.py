"""Billing invariants: tiered prices added over a month, continuous at every tier boundary,
and bills monotone in requests and duration (Hypothesis properties)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simulator.cost.bill import (
    LambdaUsage,
    analytic_monthly_cost,
    api_gateway_cost,
    lambda_cost,
)
from simulator.cost.pricing import load_prices
from simulator.cost.tiers import Tier, check_tiers, tiered_cost

PRICES = load_prices("us-east-1")


def test_tiered_cost_examples():
    tiers = [Tier(333, 3.50), Tier(1000, 2.80), Tier(math.inf, 2.38)]
    assert tiered_cost(0, tiers) == 0.0
    assert tiered_cost(400, tiers) == pytest.approx(1353.10)
    assert tiered_cost(100, tiers, already_used=300) == pytest.approx(33 * 3.50 + 67 * 2.80)
    assert tiered_cost(10, tiers, already_used=5000) == pytest.approx(23.80)
    assert tiered_cost(5, [(math.inf, 2.0)]) == 10.0


@st.composite
def tier_lists(draw):
    n = draw(st.integers(min_value=0, max_value=5))
    widths = draw(st.lists(st.floats(0.01, 1e6), min_size=n, max_size=n))
    prices = draw(st.lists(st.floats(0, 100), min_size=n + 1, max_size=n + 1))
    bounds = [*np.cumsum(widths).tolist(), math.inf]
    assume(all(b2 > b1 for b1, b2 in itertools.pairwise(bounds)))
    return check_tiers([Tier(float(b), p) for b, p in zip(bounds, prices, strict=True)])


amounts = st.floats(min_value=0, max_value=1e7)


@given(tiers=tier_lists(), a=amounts, b=amounts)
def test_tiered_cost_is_additive_over_the_month(tiers, a, b):
    together = tiered_cost(a + b, tiers)
    split = tiered_cost(a, tiers) + tiered_cost(b, tiers, already_used=a)
    assert split == pytest.approx(together, rel=1e-9, abs=1e-6)


@given(tiers=tier_lists(), data=st.data(), eps=st.floats(min_value=1e-9, max_value=1e-3))
def test_tiered_cost_is_continuous_at_every_boundary(tiers, data, eps):
    finite = [t.up_to for t in tiers[:-1]]
    assume(finite)
    boundary = data.draw(st.sampled_from(finite))
    assume(boundary - eps >= 0)
    jump = tiered_cost(boundary + eps, tiers) - tiered_cost(boundary - eps, tiers)
    top = max(t.price for t in tiers)
    assert 0 <= jump <= 2 * eps * top * (1 + 1e-6) + 1e-9 * tiered_cost(boundary, tiers)


TIERED_KEYS = [key for key in PRICES if PRICES[key].tiers is not None]


@given(key=st.sampled_from(TIERED_KEYS), data=st.data(), rel_eps=st.floats(min_value=1e-12, max_value=1e-6))
def test_price_file_items_are_continuous_at_every_boundary(key, data, rel_eps):
    item = PRICES[key]
    boundary = data.draw(st.sampled_from([t.up_to * item.scale for t in item.tiers[:-1]]))
    eps = boundary * rel_eps
    below, above = item.cost(boundary - eps), item.cost(boundary + eps)
    top = max(t.price for t in item.tiers) / item.scale
    assert 0 <= above - below <= 2 * eps * top * (1 + 1e-6) + 1e-12 * below


@settings(max_examples=60)
@given(
    api=st.sampled_from(["REST", "HTTP"]),
    r1=st.floats(0, 5e10),
    r2=st.floats(0, 5e10),
    duration=st.floats(0, 900_000),
    memory=st.integers(128, 10240),
    arch=st.sampled_from(["x86_64", "arm64"]),
    pc=st.integers(0, 50),
    free=st.booleans(),
)
def test_cost_is_monotone_in_requests(api, r1, r2, duration, memory, arch, pc, free):
    low, high = sorted((r1, r2))
    args = {"duration_ms": duration, "memory_mb": memory, "architecture": arch}
    args |= {"provisioned_concurrency": pc, "free_tier": free}
    c_low = analytic_monthly_cost(api, low, **args).total_usd
    c_high = analytic_monthly_cost(api, high, **args).total_usd
    assert c_high >= c_low - 1e-9 * max(1.0, c_high)


@settings(max_examples=60)
@given(
    api=st.sampled_from(["REST", "HTTP"]),
    requests=st.floats(0, 5e9),
    d1=st.floats(0, 900_000),
    d2=st.floats(0, 900_000),
    memory=st.integers(128, 10240),
    arch=st.sampled_from(["x86_64", "arm64"]),
    pc=st.integers(0, 50),
    free=st.booleans(),
)
def test_cost_is_monotone_in_duration(api, requests, d1, d2, memory, arch, pc, free):
    low, high = sorted((d1, d2))
    args = {"memory_mb": memory, "architecture": arch, "provisioned_concurrency": pc, "free_tier": free}
    c_low = analytic_monthly_cost(api, requests, low, **args).total_usd
    c_high = analytic_monthly_cost(api, requests, high, **args).total_usd
    assert c_high >= c_low - 1e-9 * max(1.0, c_high)


@given(a=st.floats(0, 3e10), b=st.floats(0, 3e10), free=st.booleans())
def test_api_gateway_bill_is_additive_over_the_month(a, b, free):
    whole = api_gateway_cost(rest_requests=a + b, free_tier=free).total_usd
    first = api_gateway_cost(rest_requests=a, free_tier=free).total_usd
    second = api_gateway_cost(rest_requests=b, free_tier=free, already_used={"rest_requests": a}).total_usd
    assert first + second == pytest.approx(whole, rel=1e-9, abs=1e-6)


@given(a=st.floats(0, 2e13), b=st.floats(0, 2e13), free=st.booleans(), arch=st.sampled_from(["x86_64", "arm64"]))
def test_lambda_bill_is_additive_over_the_month(a, b, free, arch):
    def usage(ms: float) -> LambdaUsage:
        return LambdaUsage(requests=ms / 100, billed_ms=ms, memory_mb=1024, architecture=arch)

    whole = lambda_cost(usage(a + b), free_tier=free).total_usd
    first = lambda_cost(usage(a), free_tier=free).total_usd
    second = lambda_cost(
        usage(b),
        free_tier=free,
        already_used_gb_s={arch: a / 1000},
        already_used_requests=a / 100,
    ).total_usd
    assert first + second == pytest.approx(whole, rel=1e-9, abs=1e-6)
