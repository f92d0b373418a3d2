"""Price data files: the packaged table's contents, and validation of malformed files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from importlib import resources
from pathlib import Path

import pytest

from simulator.cost.pricing import (
    REQUIRED_ITEMS,
    PriceDataError,
    PriceItem,
    available_regions,
    load_price_file,
    load_prices,
    unconfirmed_items,
)
from simulator.cost.tiers import Tier

PACKAGED = resources.files("simulator.cost").joinpath("data").joinpath("us-east-1.toml").read_text("utf-8")


@pytest.fixture(scope="module")
def prices():
    return load_prices("us-east-1")


# --------------------------------------------------------------------------------------------
# The packaged table
# --------------------------------------------------------------------------------------------


def test_header(prices):
    assert prices.region == "us-east-1"
    assert prices.currency == "USD"
    assert isinstance(prices.effective_date, dt.date)
    assert "us-east-1" in available_regions()


def test_every_item_is_sourced_and_dated(prices):
    assert len(prices) >= len(REQUIRED_ITEMS)
    for key in prices:
        item = prices[key]
        assert item.key == key
        assert re.match(r"^https?://\S+$", item.source), key
        assert isinstance(item.effective_date, dt.date), key
        assert isinstance(item.confirmed, bool), key
        assert (item.value is None) != (item.tiers is None), key


def test_required_items_present(prices):
    for key, base_unit in REQUIRED_ITEMS.items():
        assert prices[key].base_unit == base_unit


def test_api_gateway_prices(prices):
    rest = prices["apigateway.rest.requests"]
    assert rest.unit == "million requests"
    assert rest.tiers == (
        Tier(333, 3.50),
        Tier(1000, 2.80),
        Tier(20000, 2.38),
        Tier(math.inf, 1.51),
    )
    http = prices["apigateway.http.requests"]
    assert http.tiers == (Tier(300, 1.00), Tier(math.inf, 0.90))
    assert http.metering_increment_bytes == 524288
    ws = prices["apigateway.websocket.messages"]
    assert ws.tiers == (Tier(1000, 1.00), Tier(math.inf, 0.80))
    assert ws.metering_increment_bytes == 32 * 1024
    assert prices["apigateway.websocket.connection_minutes"].value == 0.25
    sizes = prices.cache_sizes()
    assert list(sizes) == [0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118.0, 237.0]
    assert sizes[1.6].value == 0.038
    assert sizes[237.0].value == 3.8


def test_lambda_prices(prices):
    assert prices["lambda.requests"].value == 0.20
    assert prices["lambda.duration.x86_64"].tiers == (
        Tier(6e9, 0.0000166667),
        Tier(15e9, 0.000015),
        Tier(math.inf, 0.0000133334),
    )
    assert prices["lambda.duration.arm64"].tiers == (
        Tier(7.5e9, 0.0000133334),
        Tier(18.75e9, 0.0000120001),
        Tier(math.inf, 0.0000106667),
    )
    assert prices["lambda.provisioned_concurrency.x86_64"].value == 0.0000041667
    assert prices["lambda.provisioned_concurrency.arm64"].value == 0.0000033334
    assert prices["lambda.provisioned_duration.x86_64"].value == 0.0000097222
    assert prices["lambda.provisioned_duration.arm64"].value == 0.0000077778
    assert prices["lambda.ephemeral_storage"].value == 0.0000000309


def test_free_tier_allowances(prices):
    assert prices["free_tier.lambda.requests"].allowance == 1_000_000
    assert prices["free_tier.lambda.duration"].allowance == 400_000
    assert prices["free_tier.apigateway.rest.requests"].allowance == 1_000_000
    assert prices["free_tier.apigateway.http.requests"].allowance == 1_000_000
    assert prices["free_tier.apigateway.websocket.messages"].allowance == 1_000_000
    assert prices["free_tier.apigateway.websocket.connection_minutes"].allowance == 750_000
    assert prices["free_tier.data_transfer.out"].allowance == 100
    with pytest.raises(ValueError, match="allowance"):
        prices["free_tier.lambda.requests"].cost(1)
    with pytest.raises(ValueError, match="not a free-tier allowance"):
        _ = prices["lambda.requests"].allowance


def test_unconfirmed_items_match_the_reference(prices):
    keys = {item.key for item in unconfirmed_items(prices)}
    assert keys == {
        "apigateway.rest.cache.gb_0_5",
        "apigateway.rest.cache.gb_6_1",
        "apigateway.rest.cache.gb_13_5",
        "apigateway.rest.cache.gb_28_4",
        "apigateway.rest.cache.gb_58_2",
        "apigateway.rest.cache.gb_118",
        "apigateway.rest.cache.gb_237",
        "apigateway.websocket.messages",
        "lambda.duration.arm64",
        "lambda.provisioned_concurrency.arm64",
        "lambda.provisioned_duration.arm64",
        "cloudwatch_logs.ingestion.standard",
        "cloudwatch_logs.ingestion.infrequent_access",
        "data_transfer.out.internet",
    }
    listed = [item.key for item in unconfirmed_items(prices)]
    assert listed == sorted(listed)


def test_item_cost_counts_in_base_units(prices):
    # 0.20 per million requests, quantities given in requests.
    assert prices["lambda.requests"].cost(3_000_000) == pytest.approx(0.60)
    assert prices["apigateway.rest.requests"].cost(400e6) == pytest.approx(1353.10)
    # 100M requests after 300M already used: all in the 0.90 tier.
    assert prices["apigateway.http.requests"].cost(100e6, already_used=300e6) == pytest.approx(90.0)


def test_table_is_immutable(prices):
    with pytest.raises(TypeError):
        prices.items["lambda.requests"] = prices["lambda.requests"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        prices["lambda.requests"].value = 0.0  # type: ignore[misc]


def test_unknown_key_names_it(prices):
    with pytest.raises(KeyError, match=r"lambda\.nope"):
        prices["lambda.nope"]


def test_load_prices_is_cached():
    assert load_prices("us-east-1") is load_prices("us-east-1")


def test_packaged_file_loads_by_path(tmp_path, prices):
    path = tmp_path / "copy.toml"
    path.write_text(PACKAGED, "utf-8")
    table = load_price_file(path)
    assert dict(table.items) == dict(prices.items)
    assert table.origin == str(path)


# --------------------------------------------------------------------------------------------
# Unknown Regions and malformed files
# --------------------------------------------------------------------------------------------


def test_unknown_region():
    with pytest.raises(PriceDataError) as info:
        load_prices("eu-nowhere-9")
    message = str(info.value)
    assert "eu-nowhere-9.toml" in message
    assert "us-east-1" in message  # lists what is available
    assert "\n" not in message


@pytest.mark.parametrize("region", ["../us-east-1", "US-EAST-1", "", "us_east_1"])
def test_bad_region_name(region):
    with pytest.raises(PriceDataError, match="Region name"):
        load_prices(region)


LAMBDA_REQUESTS = """[lambda.requests]
unit = "million requests"
value = 0.20
source = "https://aws.amazon.com/lambda/pricing/"
"""

REST_TIERS = """    { up_to = 333, price = 3.50 },      # first 333 million
    { up_to = 1000, price = 2.80 },     # next 667 million"""


def _edit(old: str, new: str) -> str:
    assert PACKAGED.count(old) == 1, old
    return PACKAGED.replace(old, new)


MALFORMED = {
    "missing source": (
        _edit(LAMBDA_REQUESTS, LAMBDA_REQUESTS.replace('source = "https://aws.amazon.com/lambda/pricing/"\n', "")),
        "lambda.requests",
        "source",
    ),
    "source not a URL": (
        _edit(
            LAMBDA_REQUESTS, LAMBDA_REQUESTS.replace('"https://aws.amazon.com/lambda/pricing/"', '"the pricing page"')
        ),
        "lambda.requests",
        "URL",
    ),
    "negative price": (
        _edit(LAMBDA_REQUESTS, LAMBDA_REQUESTS.replace("0.20", "-0.20")),
        "lambda.requests.value",
        ">= 0",
    ),
    "negative tier price": (
        _edit(REST_TIERS, REST_TIERS.replace("price = 2.80", "price = -2.80")),
        "apigateway.rest.requests.tiers[1].price",
        ">= 0",
    ),
    "tiers not increasing": (
        _edit(REST_TIERS, REST_TIERS.replace("up_to = 1000", "up_to = 300")),
        "apigateway.rest.requests.tiers",
        "increasing",
    ),
    "last tier finite": (
        _edit('    { up_to = "inf", price = 1.51 },', "    { up_to = 1e9, price = 1.51 },"),
        "apigateway.rest.requests.tiers",
        "infinite",
    ),
    "tier with a typo": (
        _edit(REST_TIERS, REST_TIERS.replace("up_to = 1000", "upto = 1000")),
        "apigateway.rest.requests.tiers[1]",
        "up_to",
    ),
    "value and tiers both": (
        _edit(
            '[apigateway.rest.requests]\nunit = "million requests"\n',
            '[apigateway.rest.requests]\nunit = "million requests"\nvalue = 3.5\n',
        ),
        "apigateway.rest.requests",
        "exactly one",
    ),
    "unknown field": (
        _edit(LAMBDA_REQUESTS, LAMBDA_REQUESTS + "confimred = true\n"),
        "lambda.requests",
        "confimred",
    ),
    "unknown unit": (
        _edit(LAMBDA_REQUESTS, LAMBDA_REQUESTS.replace('"million requests"', '"requests"')),
        "lambda.requests",
        "unit",
    ),
    "wrong unit for a required item": (
        _edit(LAMBDA_REQUESTS, LAMBDA_REQUESTS.replace('"million requests"', '"GB"')),
        "lambda.requests",
        "request",
    ),
    "confirmed not a bool": (
        _edit(
            'effective_date = 2026-11-25\nconfirmed = true\nnote = "Same price for x86_64',
            'effective_date = 2026-11-25\nconfirmed = "yes"\nnote = "Same price for x86_64',
        ),
        "lambda.requests",
        "confirmed",
    ),
    "bad item date": (
        _edit(
            'effective_date = 2026-11-25\nconfirmed = true\nnote = "Same price for x86_64',
            'effective_date = "last year"\nconfirmed = true\nnote = "Same price for x86_64',
        ),
        "lambda.requests.effective_date",
        "date",
    ),
    "missing item date": (
        _edit(
            'effective_date = 2026-11-25\nconfirmed = true\nnote = "Same price for x86_64',
            'confirmed = true\nnote = "Same price for x86_64',
        ),
        "lambda.requests",
        "effective_date",
    ),
    "missing required item": (
        _edit(LAMBDA_REQUESTS, LAMBDA_REQUESTS.replace("[lambda.requests]", "[lambda.requests_renamed]")),
        "lambda.requests",
        "missing",
    ),
    "missing metering increment": (
        _edit("metering_increment_bytes = 524288\n", ""),
        "apigateway.http.requests",
        "metering_increment_bytes",
    ),
    "cache item without size": (
        _edit("size_gb = 0.5\n", ""),
        "apigateway.rest.cache.gb_0_5",
        "size_gb",
    ),
    "dotted key part": (
        _edit("[apigateway.rest.cache.gb_0_5]", '[apigateway.rest.cache."0.5"]'),
        "apigateway.rest.cache.0.5",
        "key parts",
    ),
    "free tier with tiers": (
        _edit(
            '[free_tier.data_transfer.out]\nunit = "GB"\nvalue = 100\n',
            '[free_tier.data_transfer.out]\nunit = "GB"\ntiers = [{ up_to = "inf", price = 0 }]\n',
        ),
        "free_tier.data_transfer.out",
        "value",
    ),
    "wrong currency": (
        _edit('currency = "USD"', 'currency = "EUR"'),
        "currency",
        "USD",
    ),
    "missing region": (
        _edit('region = "us-east-1"\n', ""),
        "region",
        "Region name",
    ),
    "TOML syntax error": (
        _edit("[lambda.requests]", "[lambda.requests"),
        "invalid TOML",
        "line",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_file_gives_one_line_error_naming_file_and_key(tmp_path: Path, case: str):
    text, key, problem = MALFORMED[case]
    path = tmp_path / "xx-test-1.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(PriceDataError) as info:
        load_price_file(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert key in message
    assert problem in message
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path: Path):
    path = tmp_path / "absent.toml"
    with pytest.raises(PriceDataError, match=r"absent\.toml: cannot read"):
        load_price_file(path)


def test_a_new_region_file_is_accepted(tmp_path: Path):
    text = PACKAGED.replace('region = "us-east-1"', 'region = "eu-west-1"')
    path = tmp_path / "eu-west-1.toml"
    path.write_text(text, "utf-8")
    table = load_price_file(path)
    assert table.region == "eu-west-1"
    assert isinstance(table["lambda.requests"], PriceItem)
