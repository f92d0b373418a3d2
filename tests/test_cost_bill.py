"""Billing arithmetic: AWS's worked examples, billing rules and validation (the invariants
are in tests/test_cost_tiers.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from simulator.cost.bill import (
    BYTES_PER_GB,
    CostBreakdown,
    CostLine,
    LambdaUsage,
    analytic_monthly_cost,
    api_gateway_cost,
    data_transfer_cost,
    gb_seconds,
    http_metered_requests,
    lambda_billed_ms,
    lambda_cost,
    logs_cost,
    provisioned_billed_seconds,
    websocket_metered_messages,
)
from simulator.cost.pricing import load_prices
from simulator.cost.tiers import Tier, tiered_cost

PRICES = load_prices("us-east-1")
KB = 1024


def cents(x: float) -> float:
    return round(x + 1e-12, 2)


def line(breakdown: CostBreakdown, item: str) -> CostLine:
    (found,) = [ln for ln in breakdown.lines if ln.item == item]
    return found


# --------------------------------------------------------------------------------------------
# AWS's published worked examples, to the cent
# --------------------------------------------------------------------------------------------


def test_lambda_example_512mb_3m_invocations_of_1s_with_free_tier():
    usage = LambdaUsage(requests=3_000_000, billed_ms=3_000_000 * 1000, memory_mb=512)
    bill = lambda_cost(usage, free_tier=True)
    duration = line(bill, "Duration (x86_64)")
    assert duration.quantity == pytest.approx(1_100_000)
    assert line(bill, "Duration (free tier)").quantity == pytest.approx(400_000)
    assert cents(duration.usd) == 18.33
    requests = line(bill, "Requests")
    assert requests.quantity == pytest.approx(2_000_000)
    assert cents(requests.usd) == 0.40
    assert cents(bill.total_usd) == 18.73


def test_lambda_example_128mb_30m_invocations_of_200ms_with_free_tier():
    billed = 30_000_000 * lambda_billed_ms(200.0)
    bill = lambda_cost(LambdaUsage(requests=30e6, billed_ms=billed, memory_mb=128), free_tier=True)
    assert line(bill, "Duration (x86_64)").quantity == pytest.approx(350_000)
    assert cents(line(bill, "Duration (x86_64)").usd) == 5.83
    assert cents(line(bill, "Requests").usd) == 5.80
    assert cents(bill.total_usd) == 11.63


def test_lambda_examples_through_analytic_mode():
    bill = analytic_monthly_cost("REST", 3e6, 1000, 512, free_tier=True)
    assert cents(bill.by_service()["Lambda"]) == 18.73
    bill = analytic_monthly_cost("HTTP", 30e6, 200, 128, free_tier=True)
    assert cents(bill.by_service()["Lambda"]) == 11.63


def test_lambda_without_free_tier_by_default():
    bill = lambda_cost(LambdaUsage(requests=3e6, billed_ms=3e9, memory_mb=512))
    # 1.5M GB-s x 0.0000166667 + 3 x 0.20
    assert bill.total_usd == pytest.approx(1_500_000 * 0.0000166667 + 0.60)
    assert not any("free tier" in ln.item for ln in bill.lines)


@pytest.mark.parametrize(
    ("requests", "usd"),
    [
        (333e6, 333 * 3.50),
        (400e6, 1353.10),  # 333 x 3.50 + 67 x 2.80
        (1000e6, 333 * 3.50 + 667 * 2.80),
        (2000e6, 333 * 3.50 + 667 * 2.80 + 1000 * 2.38),
        (21000e6, 333 * 3.50 + 667 * 2.80 + 19000 * 2.38 + 1000 * 1.51),
    ],
)
def test_rest_request_tiers(requests, usd):
    assert cents(api_gateway_cost(rest_requests=requests).total_usd) == cents(usd)


def test_http_513kb_is_metered_as_two():
    assert http_metered_requests(513 * KB) == 2
    assert http_metered_requests(512 * KB) == 1
    assert http_metered_requests(512 * KB + 1) == 2
    assert http_metered_requests(0) == 1
    assert http_metered_requests([1 * KB, 513 * KB, 1025 * KB, 0]) == 1 + 2 + 3 + 1
    assert http_metered_requests(np.array([[10, 20], [600 * KB, 1]])) == 1 + 1 + 2 + 1


def test_http_100m_requests_of_1kb_cost_100_dollars():
    metered = 100_000_000 * http_metered_requests(1 * KB)
    assert cents(api_gateway_cost(http_requests=metered).total_usd) == 100.00
    assert cents(analytic_monthly_cost("HTTP", 100e6, 100, 128).by_service()["API Gateway"]) == 100.00
    # Past the 300M tier: 300 x 1.00 + 100 x 0.90.
    assert cents(api_gateway_cost(http_requests=400e6).total_usd) == 390.00


def test_websocket_metering_and_prices():
    assert websocket_metered_messages(32 * KB) == 1
    assert websocket_metered_messages(33 * KB) == 2
    assert websocket_metered_messages([1, 64 * KB + 1]) == 1 + 3
    bill = api_gateway_cost(websocket_messages=2e9, websocket_connection_minutes=4e6)
    assert bill.total_usd == pytest.approx(1000 * 1.00 + 1000 * 0.80 + 4 * 0.25)


# --------------------------------------------------------------------------------------------
# Lambda billing rules
# --------------------------------------------------------------------------------------------


def test_billed_ms_rounds_up_to_whole_milliseconds():
    assert lambda_billed_ms(200.0) == 200
    assert lambda_billed_ms(200.000001) == 201
    assert lambda_billed_ms(200.4) == 201
    assert lambda_billed_ms(0.3) == 1
    assert lambda_billed_ms(0.0) == 0
    # Floating-point noise is not billed as an extra millisecond.
    assert lambda_billed_ms((0.1 + 0.2) * 1000) == 300
    assert lambda_billed_ms(200.0000000001) == 200
    out = lambda_billed_ms(np.array([200.0, 200.000001, 1.5, 899999.9999]))
    assert out.dtype == np.int64
    assert out.tolist() == [200, 201, 2, 900000]
    assert isinstance(lambda_billed_ms(3.2), int)


def test_gb_seconds():
    assert gb_seconds(1000, 1024) == 1.0
    assert gb_seconds(3e9, 512) == 1_500_000
    assert gb_seconds(6e9, 128) == 750_000


def test_provisioned_concurrency_rounds_up_to_five_minutes():
    assert provisioned_billed_seconds(0) == 0
    assert provisioned_billed_seconds(1) == 300
    assert provisioned_billed_seconds(300) == 300
    assert provisioned_billed_seconds(300.5) == 600
    assert provisioned_billed_seconds(7 * 60) == 600
    assert provisioned_billed_seconds(600.0000000001) == 600  # float noise, not a new block

    usage = LambdaUsage(
        requests=0,
        billed_ms=0,
        memory_mb=1024,
        provisioned_concurrency=10,
        provisioned_seconds=7 * 60,
    )
    pc = line(lambda_cost(usage), "Provisioned concurrency (x86_64)")
    assert pc.quantity == 600 * 10 * 1.0  # 10 environments x 1 GB x 10 minutes
    assert pc.usd == pytest.approx(6000 * 0.0000041667)


def test_provisioned_duration_and_spillover():
    usage = LambdaUsage(
        requests=2e6,
        billed_ms=1e9,  # spillover, on-demand rate
        memory_mb=2048,
        provisioned_concurrency=5,
        provisioned_seconds=3600,
        provisioned_billed_ms=2e9,  # served by provisioned environments
    )
    bill = lambda_cost(usage)
    assert line(bill, "Duration (x86_64)").usd == pytest.approx(2e6 * 0.0000166667)
    assert line(bill, "Provisioned duration (x86_64)").usd == pytest.approx(4e6 * 0.0000097222)
    assert line(bill, "Provisioned concurrency (x86_64)").usd == pytest.approx(3600 * 5 * 2 * 0.0000041667)
    assert line(bill, "Requests").usd == pytest.approx(0.40)


def test_free_tier_does_not_apply_to_a_function_with_provisioned_concurrency():
    pc = LambdaUsage(
        requests=3e6,
        billed_ms=3e9,
        memory_mb=512,
        provisioned_concurrency=1,
        provisioned_seconds=600,
        function="pc",
    )
    with_free = lambda_cost(pc, free_tier=True)
    assert with_free.total_usd == pytest.approx(lambda_cost(pc).total_usd)
    assert not any("free tier" in ln.item for ln in with_free.lines)
    # A sibling without provisioned concurrency gets the whole allowance.
    plain = LambdaUsage(requests=3e6, billed_ms=3e9, memory_mb=512, function="plain")
    both = lambda_cost([pc, plain], free_tier=True)
    free = [ln for ln in both.lines if "free tier" in ln.item]
    assert {ln.function for ln in free} == {"plain"}
    assert both.by_function()["plain"] == pytest.approx(18.73, abs=0.005)


def test_free_tier_is_shared_between_functions():
    a = LambdaUsage(requests=300_000, billed_ms=0.6e9, memory_mb=512, function="a")
    b = LambdaUsage(requests=300_000, billed_ms=0.6e9, memory_mb=512, architecture="arm64", function="b")
    bill = lambda_cost([a, b], free_tier=True)
    # 600k requests in all: all free. 0.6e9 ms at 0.5 GB is 300k GB-s each, 600k in all, of
    # which 400k are free, shared in proportion to use: 100k GB-s of each are billed.
    assert not any(ln.item == "Requests" for ln in bill.lines)
    assert line(bill, "Duration (x86_64)").quantity == pytest.approx(100_000)
    assert line(bill, "Duration (arm64)").quantity == pytest.approx(100_000)
    assert bill.total_usd == pytest.approx(100_000 * (0.0000166667 + 0.0000133334))


def test_arm64_is_cheaper_and_tiered_separately():
    x86 = lambda_cost(LambdaUsage(requests=1e6, billed_ms=1e9, memory_mb=1024))
    arm = lambda_cost(LambdaUsage(requests=1e6, billed_ms=1e9, memory_mb=1024, architecture="arm64"))
    assert line(arm, "Duration (arm64)").usd == pytest.approx(1e6 * 0.0000133334)
    assert arm.total_usd < x86.total_usd


def test_duration_tiers_apply_to_the_aggregate_of_functions():
    # Two functions of 4 billion GB-s each: 8 billion in all crosses the 6 billion tier.
    f = [LambdaUsage(requests=0, billed_ms=4e12, memory_mb=1024, function=name) for name in "ab"]
    bill = lambda_cost(f)
    expected = 6e9 * 0.0000166667 + 2e9 * 0.000015
    assert bill.total_usd == pytest.approx(expected)
    assert bill.by_function()["a"] == pytest.approx(expected / 2)


def test_month_position_moves_usage_into_later_tiers():
    usage = LambdaUsage(requests=0, billed_ms=2e12, memory_mb=1024)  # 2 billion GB-s
    bill = lambda_cost(usage, already_used_gb_s={"x86_64": 5e9})
    assert bill.total_usd == pytest.approx(1e9 * 0.0000166667 + 1e9 * 0.000015)
    # Usage of the other architecture does not move this one's tiers.
    assert lambda_cost(usage, already_used_gb_s={"arm64": 5e9}).total_usd == pytest.approx(2e9 * 0.0000166667)


def test_ephemeral_storage_above_512mb():
    base = LambdaUsage(requests=0, billed_ms=1e6, memory_mb=128)
    assert lambda_cost(base).by_item().get(("Lambda", "Ephemeral storage")) is None
    big = LambdaUsage(requests=0, billed_ms=1e6, memory_mb=128, ephemeral_storage_mb=10240)
    storage = line(lambda_cost(big), "Ephemeral storage")
    assert storage.quantity == pytest.approx(9.5 * 1000)  # 9.5 GB above 512 MB x 1000 s
    assert storage.usd == pytest.approx(9500 * 0.0000000309)


# --------------------------------------------------------------------------------------------
# API Gateway, logs, data transfer
# --------------------------------------------------------------------------------------------


def test_api_gateway_free_tier():
    bill = api_gateway_cost(rest_requests=1.5e6, free_tier=True)
    assert bill.total_usd == pytest.approx(0.5 * 3.50)
    assert line(bill, "REST requests (free tier)").quantity == 1e6
    # Free tier already consumed earlier in the month.
    used = api_gateway_cost(rest_requests=1.5e6, free_tier=True, already_used={"rest_requests": 2e6})
    assert used.total_usd == pytest.approx(1.5 * 3.50)
    ws = api_gateway_cost(websocket_messages=1e6, websocket_connection_minutes=750_000, free_tier=True)
    assert ws.total_usd == 0.0


def test_cache_billed_per_hour_and_never_free():
    bill = api_gateway_cost(cache_size_gb=1.6, cache_hours=730, free_tier=True, client="team-a")
    cache = line(bill, "Cache (1.6 GB)")
    assert cache.usd == pytest.approx(730 * 0.038)
    assert cache.client == "team-a"
    with pytest.raises(ValueError, match=r"cache_size_gb .*1\.6.*got 2\.0"):
        api_gateway_cost(cache_size_gb=2.0, cache_hours=1)
    with pytest.raises(ValueError, match="cache_hours"):
        api_gateway_cost(cache_hours=5)


def test_logs_and_data_transfer():
    assert logs_cost(4 * BYTES_PER_GB).total_usd == pytest.approx(2.00)
    assert logs_cost(4 * BYTES_PER_GB, log_class="infrequent_access").total_usd == pytest.approx(1.00)
    assert data_transfer_cost(50 * BYTES_PER_GB, free_tier=True).total_usd == 0.0
    assert data_transfer_cost(150 * BYTES_PER_GB, free_tier=True).total_usd == pytest.approx(50 * 0.09)
    assert data_transfer_cost(150 * BYTES_PER_GB).total_usd == pytest.approx(150 * 0.09)
    # Across the 10 TB (10,240 GB) tier boundary.
    tb11 = data_transfer_cost(11 * 1024 * BYTES_PER_GB).total_usd
    assert tb11 == pytest.approx(10240 * 0.09 + 1024 * 0.085)


def test_analytic_mode_composes_every_service():
    bill = analytic_monthly_cost(
        "REST", 10e6, 150, 256, request_bytes=2000, response_bytes=4 * KB, log_bytes_per_request=1000
    )
    assert list(bill.by_service()) == ["API Gateway", "Lambda", "CloudWatch Logs", "Data Transfer"]
    assert bill.by_service()["API Gateway"] == pytest.approx(35.0)
    assert bill.by_service()["Lambda"] == pytest.approx(2.0 + 10e6 * 0.15 * 0.25 * 0.0000166667)
    assert bill.by_service()["CloudWatch Logs"] == pytest.approx(10e9 / BYTES_PER_GB * 0.50)
    assert bill.by_service()["Data Transfer"] == pytest.approx(40 * KB * 1e6 / BYTES_PER_GB * 0.09)


def test_analytic_mode_with_provisioned_concurrency():
    # 26.28M requests of 1 s in 730 h is a mean concurrency of 10/3600 * 3600 = 10.
    month = 730 * 3600
    full = analytic_monthly_cost("HTTP", 10 * month, 1000, 1024, provisioned_concurrency=10)
    assert line(full, "Provisioned concurrency (x86_64)").quantity == pytest.approx(10 * month)
    assert line(full, "Provisioned duration (x86_64)").quantity == pytest.approx(10 * month)
    assert not any(ln.item == "Duration (x86_64)" for ln in full.lines)
    half = analytic_monthly_cost("HTTP", 10 * month, 1000, 1024, provisioned_concurrency=5)
    assert line(half, "Provisioned duration (x86_64)").quantity == pytest.approx(5 * month)
    assert line(half, "Duration (x86_64)").quantity == pytest.approx(5 * month)
    with_free = analytic_monthly_cost("HTTP", 10 * month, 1000, 1024, provisioned_concurrency=5, free_tier=True)
    assert with_free.by_service()["Lambda"] == pytest.approx(half.by_service()["Lambda"])


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def test_breakdown_addition_grouping_and_json():
    a = api_gateway_cost(rest_requests=1e6, client="c1")
    b = lambda_cost(LambdaUsage(requests=1e6, billed_ms=1e8, memory_mb=128, function="f"))
    c = logs_cost(BYTES_PER_GB)
    total = a + b + c
    assert total.total_usd == pytest.approx(a.total_usd + b.total_usd + c.total_usd)
    assert sum([a, b, c]) == total
    assert total.lines == a.lines + b.lines + c.lines
    assert list(total.by_service()) == ["API Gateway", "Lambda", "CloudWatch Logs"]
    assert total.by_item()[("Lambda", "Requests")] == pytest.approx(0.20)
    assert total.by_function()["f"] == pytest.approx(b.total_usd)
    d = total.to_dict()
    assert list(d) == ["currency", "total_usd", "by_service", "lines"]
    assert list(d["lines"][0]) == ["service", "item", "function", "client", "quantity", "unit", "usd", "price_key"]
    assert d["lines"][0]["client"] == "c1"
    assert json.loads(json.dumps(d)) == d
    assert json.dumps(total.to_dict()) == json.dumps((a + b + c).to_dict())
    assert d["total_usd"] == round(total.total_usd, 6)
    assert CostBreakdown().total_usd == 0.0


def test_to_dict_rounds_to_a_micro_dollar():
    bill = CostBreakdown((CostLine("Lambda", "Requests", 1.0, "request", 0.0000002),))
    assert bill.to_dict()["lines"][0]["usd"] == 0.0
    bill = CostBreakdown((CostLine("Lambda", "Requests", 1.0, "request", 1.23456789),))
    assert bill.to_dict()["total_usd"] == 1.234568


# --------------------------------------------------------------------------------------------
# Input validation: ValueError naming the argument and the bad value
# --------------------------------------------------------------------------------------------

BAD_CALLS = {
    "negative requests": (lambda: LambdaUsage(requests=-1, billed_ms=0, memory_mb=128), "requests", "-1"),
    "nan billed_ms": (lambda: LambdaUsage(requests=1, billed_ms=math.nan, memory_mb=128), "billed_ms", "nan"),
    "memory too small": (lambda: LambdaUsage(requests=1, billed_ms=1, memory_mb=127), "memory_mb", "127"),
    "memory too big": (lambda: gb_seconds(1, 10241), "memory_mb", "10241"),
    "memory not integral": (lambda: gb_seconds(1, 128.5), "memory_mb", "128.5"),
    "unknown architecture": (
        lambda: LambdaUsage(requests=1, billed_ms=1, memory_mb=128, architecture="x86"),
        "architecture",
        "'x86'",
    ),
    "ephemeral below 512": (
        lambda: LambdaUsage(requests=1, billed_ms=1, memory_mb=128, ephemeral_storage_mb=256),
        "ephemeral_storage_mb",
        "256",
    ),
    "negative duration": (lambda: lambda_billed_ms([1.0, -2.0]), "duration_ms", "-2.0"),
    "negative http size": (lambda: http_metered_requests(-5), "request_bytes", "-5"),
    "negative ws size": (lambda: websocket_metered_messages([1, -1]), "message_bytes", "-1"),
    "negative rest": (lambda: api_gateway_cost(rest_requests=-3), "rest_requests", "-3"),
    "bad already_used key": (lambda: api_gateway_cost(already_used={"rest": 1}), "already_used", "'rest'"),
    "negative logs": (lambda: logs_cost(-1), "ingested_bytes", "-1"),
    "unknown log class": (lambda: logs_cost(1, log_class="cold"), "log_class", "'cold'"),
    "negative transfer": (lambda: data_transfer_cost(-1.5), "bytes_out", "-1.5"),
    "bad api": (lambda: analytic_monthly_cost("GRPC", 1, 1, 128), "api", "'GRPC'"),
    "negative monthly requests": (lambda: analytic_monthly_cost("REST", -1, 1, 128), "monthly_requests", "-1"),
    "infinite duration": (lambda: analytic_monthly_cost("REST", 1, math.inf, 128), "duration_ms", "inf"),
    "analytic memory": (lambda: analytic_monthly_cost("REST", 1, 1, 20000), "memory_mb", "20000"),
    "analytic architecture": (
        lambda: analytic_monthly_cost("REST", 1, 1, 128, architecture="mips"),
        "architecture",
        "'mips'",
    ),
    "negative provisioned concurrency": (
        lambda: analytic_monthly_cost("REST", 1, 1, 128, provisioned_concurrency=-1),
        "provisioned_concurrency",
        "-1",
    ),
    "negative pc seconds": (lambda: provisioned_billed_seconds(-1), "configured_seconds", "-1"),
    "pc duration without pc": (
        lambda: LambdaUsage(requests=1, billed_ms=1, memory_mb=128, provisioned_billed_ms=5),
        "provisioned_billed_ms",
        "5",
    ),
    "negative already used gb-s": (
        lambda: lambda_cost(LambdaUsage(requests=1, billed_ms=1, memory_mb=128), already_used_gb_s={"arm64": -1}),
        "already_used_gb_s",
        "-1",
    ),
    "tiered negative quantity": (lambda: tiered_cost(-1, [Tier(math.inf, 1.0)]), "quantity", "-1"),
    "tiered negative already used": (
        lambda: tiered_cost(1, [Tier(math.inf, 1.0)], already_used=-2),
        "already_used",
        "-2",
    ),
    "tiers not increasing": (lambda: tiered_cost(1, [(5, 1.0), (5, 0.5), (math.inf, 0.1)]), "tiers[1].up_to", "5"),
    "tiers without infinite last": (lambda: tiered_cost(1, [(5, 1.0)]), "tiers[0].up_to", "5"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_input_is_rejected_with_a_message_naming_it(case):
    call, argument, value = BAD_CALLS[case]
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert argument in message
    assert value in message
