"""Price tables: one TOML file per AWS Region, every number dated and sourced.

AWS publishes its prices per Region, and they change. So that a cost estimate can always say
which prices it used and where they come from, prices are not written in the code: they live in
``simulator/cost/data/<region>.toml``. Each item there carries its ``unit``, its ``source`` URL,
its ``effective_date`` and a ``confirmed`` flag that is false when the number comes only from
secondary sources or is derived (the official pricing tables are rendered with JavaScript, so
some numbers could not be read from AWS directly). :func:`unconfirmed_items` lists those for an
explanation view.

A Region is added by dropping a file next to ``us-east-1.toml``. Files are validated fully when
they are loaded: a malformed one raises :class:`PriceDataError` with a one-line message naming
the file and the offending key, rather than producing a wrong bill later.

>>> prices = load_prices("us-east-1")
>>> prices["lambda.requests"].value, prices["lambda.requests"].unit
(0.2, 'million requests')
>>> round(prices["lambda.requests"].cost(3_000_000), 2)
0.6
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import numbers
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any

from simulator.cost.tiers import Tier, check_tiers, tiered_cost

__all__ = [
    "ARCHITECTURES",
    "REQUIRED_ITEMS",
    "UNITS",
    "PriceDataError",
    "PriceItem",
    "PriceTable",
    "available_regions",
    "load_price_file",
    "load_prices",
    "unconfirmed_items",
]

#: Lambda instruction-set architectures that have their own duration prices.
ARCHITECTURES: tuple[str, ...] = ("x86_64", "arm64")

#: Units a price file may use: unit -> (base unit, base units in one unit).
#: Bills count quantities in base units (requests, not millions of requests).
UNITS: Mapping[str, tuple[str, float]] = MappingProxyType(
    {
        "request": ("request", 1.0),
        "million requests": ("request", 1e6),
        "message": ("message", 1.0),
        "million messages": ("message", 1e6),
        "connection minute": ("connection minute", 1.0),
        "million connection minutes": ("connection minute", 1e6),
        "GB-second": ("GB-second", 1.0),
        "GB": ("GB", 1.0),
        "GB-month": ("GB-month", 1.0),
        "hour": ("hour", 1.0),
    }
)

#: Items every price file must define, with the base unit each must be priced in.
REQUIRED_ITEMS: Mapping[str, str] = MappingProxyType(
    {
        "apigateway.rest.requests": "request",
        "apigateway.http.requests": "request",
        "apigateway.websocket.messages": "message",
        "apigateway.websocket.connection_minutes": "connection minute",
        "lambda.requests": "request",
        **{f"lambda.duration.{arch}": "GB-second" for arch in ARCHITECTURES},
        **{f"lambda.provisioned_concurrency.{arch}": "GB-second" for arch in ARCHITECTURES},
        **{f"lambda.provisioned_duration.{arch}": "GB-second" for arch in ARCHITECTURES},
        "lambda.ephemeral_storage": "GB-second",
        "cloudwatch_logs.ingestion.standard": "GB",
        "cloudwatch_logs.ingestion.infrequent_access": "GB",
        "data_transfer.out.internet": "GB",
        "free_tier.lambda.requests": "request",
        "free_tier.lambda.duration": "GB-second",
        "free_tier.apigateway.rest.requests": "request",
        "free_tier.apigateway.http.requests": "request",
        "free_tier.apigateway.websocket.messages": "message",
        "free_tier.apigateway.websocket.connection_minutes": "connection minute",
        "free_tier.data_transfer.out": "GB",
    }
)

#: Items that must say how many payload bytes make one billed unit.
_METERED_ITEMS = frozenset({"apigateway.http.requests", "apigateway.websocket.messages"})
#: Prefix of the REST cache items, each of which must give its ``size_gb``.
_CACHE_PREFIX = "apigateway.rest.cache."
#: Prefix of the items that are monthly allowances, not prices.
_FREE_TIER_PREFIX = "free_tier."

_TOP_LEVEL = ("region", "currency", "effective_date")
_ITEM_FIELDS = frozenset(
    {
        "value",
        "tiers",
        "unit",
        "source",
        "effective_date",
        "confirmed",
        "note",
        "metering_increment_bytes",
        "size_gb",
    }
)
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_KEY_PART_RE = re.compile(r"^[A-Za-z0-9_]+$")
_URL_RE = re.compile(r"^https?://\S+$")
_DATA_PACKAGE = "simulator.cost"
_DATA_DIR = "data"


class PriceDataError(ValueError):
    """A price file is missing or malformed. The message is one line naming the file and key."""

    def __init__(self, origin: str, key: str | None, problem: str) -> None:
        self.origin = origin
        self.key = key
        self.problem = problem
        where = f"{origin}: {key}" if key else origin
        super().__init__(re.sub(r"\s*[\r\n]+\s*", " ", f"{where}: {problem}"))


@dataclass(frozen=True)
class PriceItem:
    """One line of a price file: a flat price (*value*) or monthly volume *tiers* per *unit*.

    Items under ``free_tier.`` are monthly allowances: *value* is the number of *unit* given free.
    """

    key: str
    unit: str
    source: str
    effective_date: _dt.date
    confirmed: bool
    value: float | None = None
    tiers: tuple[Tier, ...] | None = None
    note: str | None = None
    metering_increment_bytes: int | None = None
    size_gb: float | None = None

    @property
    def base_unit(self) -> str:
        """The unit quantities are counted in when billing, e.g. ``"request"``."""
        return UNITS[self.unit][0]

    @property
    def scale(self) -> float:
        """How many base units one ``unit`` holds (1e6 for ``"million requests"``)."""
        return UNITS[self.unit][1]

    @property
    def is_allowance(self) -> bool:
        """True for free-tier items, whose *value* is a quantity rather than a price."""
        return self.key.startswith(_FREE_TIER_PREFIX)

    @property
    def allowance(self) -> float:
        """A free-tier item's monthly allowance, in base units."""
        if not self.is_allowance or self.value is None:
            raise ValueError(f"{self.key} is a price, not a free-tier allowance")
        return self.value * self.scale

    def cost(self, quantity: float, already_used: float = 0.0) -> float:
        """USD for *quantity* base units, after *already_used* base units earlier in the month."""
        if self.is_allowance:
            raise ValueError(f"{self.key} is a free-tier allowance, not a price")
        if self.tiers is not None:
            return tiered_cost(quantity / self.scale, self.tiers, already_used / self.scale)
        assert self.value is not None
        # A flat price is a single infinite tier; going through tiered_cost validates the input.
        return tiered_cost(quantity / self.scale, (Tier(math.inf, self.value),))


@dataclass(frozen=True, eq=False)
class PriceTable:
    """All price items of one Region, looked up by dotted key (``"lambda.duration.x86_64"``)."""

    region: str
    currency: str
    effective_date: _dt.date
    origin: str
    items: Mapping[str, PriceItem] = field(repr=False)

    def __getitem__(self, key: str) -> PriceItem:
        try:
            return self.items[key]
        except KeyError:
            raise KeyError(f"{self.origin}: no price item {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self.items

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def keys(self) -> tuple[str, ...]:
        """All item keys, in file order."""
        return tuple(self.items)

    def cache_sizes(self) -> dict[float, PriceItem]:
        """REST API cache items keyed by cache size in GB, smallest first."""
        found = {
            item.size_gb: item
            for key, item in self.items.items()
            if key.startswith(_CACHE_PREFIX) and item.size_gb is not None
        }
        return dict(sorted(found.items()))


def unconfirmed_items(table: PriceTable) -> tuple[PriceItem, ...]:
    """Items whose numbers are not confirmed from an AWS source, sorted by key."""
    return tuple(sorted((i for i in table.items.values() if not i.confirmed), key=lambda i: i.key))


def available_regions() -> tuple[str, ...]:
    """Regions that have a packaged price file, sorted."""
    folder = resources.files(_DATA_PACKAGE).joinpath(_DATA_DIR)
    return tuple(
        sorted(
            entry.name[: -len(".toml")]
            for entry in folder.iterdir()
            if entry.name.endswith(".toml") and entry.is_file()
        )
    )


@functools.cache
def load_prices(region: str = "us-east-1") -> PriceTable:
    """Load and validate the packaged price file for *region* (cached; the result is immutable)."""
    origin = f"{_DATA_PACKAGE.replace('.', '/')}/{_DATA_DIR}/{region}.toml"
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise PriceDataError(origin, None, f"{region!r} is not a Region name such as 'us-east-1'")
    resource = resources.files(_DATA_PACKAGE).joinpath(_DATA_DIR).joinpath(f"{region}.toml")
    if not resource.is_file():
        available = ", ".join(available_regions()) or "none"
        raise PriceDataError(origin, None, f"no price file for region {region!r} (available: {available})")
    table = _parse(resource.read_bytes(), origin)
    if table.region != region:
        raise PriceDataError(origin, "region", f"file is for region {table.region!r}, expected {region!r}")
    return table


def load_price_file(path: str | os.PathLike[str]) -> PriceTable:
    """Load and validate a price file from any *path* (for new Regions and for tests)."""
    origin = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise PriceDataError(origin, None, f"cannot read price file: {exc.strerror}") from None
    return _parse(data, origin)


# --------------------------------------------------------------------------------------------
# Parsing and validation
# --------------------------------------------------------------------------------------------


def _parse(data: bytes, origin: str) -> PriceTable:
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PriceDataError(origin, None, f"not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PriceDataError(origin, None, f"invalid TOML: {exc}") from None

    region = document.get("region")
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise PriceDataError(origin, "region", f"must be a Region name such as 'us-east-1', got {region!r}")
    currency = document.get("currency")
    if currency != "USD":
        raise PriceDataError(origin, "currency", f"must be 'USD', got {currency!r}")
    effective_date = _date(document.get("effective_date"), origin, "effective_date")

    items: dict[str, PriceItem] = {}
    for name, value in document.items():
        if name in _TOP_LEVEL:
            continue
        _check_key_part(name, name, origin)
        _walk(value, name, origin, items)

    for key, base_unit in REQUIRED_ITEMS.items():
        if key not in items:
            raise PriceDataError(origin, key, "required price item is missing")
        if items[key].base_unit != base_unit:
            accepted = " or ".join(repr(u) for u, (b, _) in UNITS.items() if b == base_unit)
            raise PriceDataError(origin, key, f"unit must be {accepted}, got {items[key].unit!r}")
    return PriceTable(
        region=region,
        currency=currency,
        effective_date=effective_date,
        origin=origin,
        items=MappingProxyType(items),
    )


def _walk(node: Any, key: str, origin: str, out: dict[str, PriceItem]) -> None:
    """Collect price items from a nested TOML table; a table with a non-table value is an item."""
    if not isinstance(node, dict):
        raise PriceDataError(origin, key, f"expected a table, got {type(node).__name__} {node!r}")
    if not node:
        raise PriceDataError(origin, key, "empty table")
    if all(isinstance(child, dict) for child in node.values()):
        for child_name, child in node.items():
            _check_key_part(child_name, f"{key}.{child_name}", origin)
            _walk(child, f"{key}.{child_name}", origin, out)
        return
    out[key] = _item(node, key, origin)


def _check_key_part(part: str, key: str, origin: str) -> None:
    # Dotted lookups stay unambiguous only if no key part itself contains a dot.
    if not _KEY_PART_RE.match(part):
        raise PriceDataError(origin, key, "key parts may use only letters, digits and '_'")


def _item(raw: dict[str, Any], key: str, origin: str) -> PriceItem:
    unknown = sorted(set(raw) - _ITEM_FIELDS)
    if unknown:
        raise PriceDataError(origin, key, f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(_ITEM_FIELDS))})")

    unit = raw.get("unit")
    if not isinstance(unit, str) or unit not in UNITS:
        raise PriceDataError(origin, key, f"unit must be one of {', '.join(UNITS)}; got {unit!r}")

    source = raw.get("source")
    if source is None:
        raise PriceDataError(origin, key, "missing 'source' (URL the number comes from)")
    if not isinstance(source, str) or not _URL_RE.match(source):
        raise PriceDataError(origin, key, f"source must be an http(s) URL, got {source!r}")

    if "effective_date" not in raw:
        raise PriceDataError(origin, key, "missing 'effective_date'")
    effective_date = _date(raw["effective_date"], origin, f"{key}.effective_date")

    confirmed = raw.get("confirmed")
    if not isinstance(confirmed, bool):
        raise PriceDataError(origin, key, f"'confirmed' must be true or false, got {confirmed!r}")

    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        raise PriceDataError(origin, key, f"'note' must be a string, got {note!r}")

    has_value, has_tiers = "value" in raw, "tiers" in raw
    if has_value == has_tiers:
        raise PriceDataError(origin, key, "give exactly one of 'value' or 'tiers'")
    value: float | None = None
    tiers: tuple[Tier, ...] | None = None
    if has_value:
        value = _non_negative(raw["value"], origin, f"{key}.value")
    else:
        if key.startswith(_FREE_TIER_PREFIX):
            raise PriceDataError(origin, key, "a free-tier allowance takes 'value', not 'tiers'")
        tiers = _tiers(raw["tiers"], origin, key)

    increment = raw.get("metering_increment_bytes")
    if key in _METERED_ITEMS and increment is None:
        raise PriceDataError(origin, key, "missing 'metering_increment_bytes'")
    if increment is not None:
        if key not in _METERED_ITEMS:
            raise PriceDataError(
                origin, key, "'metering_increment_bytes' is only used for HTTP API requests and WebSocket messages"
            )
        if isinstance(increment, bool) or not isinstance(increment, int) or increment <= 0:
            raise PriceDataError(
                origin, key, f"'metering_increment_bytes' must be a positive integer, got {increment!r}"
            )

    size_gb = raw.get("size_gb")
    is_cache = key.startswith(_CACHE_PREFIX)
    if is_cache and size_gb is None:
        raise PriceDataError(origin, key, "missing 'size_gb' for a cache item")
    if size_gb is not None:
        if not is_cache:
            raise PriceDataError(origin, key, f"'size_gb' is only used for {_CACHE_PREFIX}* items")
        size_gb = _non_negative(size_gb, origin, f"{key}.size_gb")
        if size_gb == 0:
            raise PriceDataError(origin, f"{key}.size_gb", "must be > 0")
    if is_cache and UNITS[unit][0] != "hour":
        raise PriceDataError(origin, key, f"a cache item is priced per 'hour', got {unit!r}")

    return PriceItem(
        key=key,
        unit=unit,
        source=source,
        effective_date=effective_date,
        confirmed=confirmed,
        value=value,
        tiers=tiers,
        note=note,
        metering_increment_bytes=increment,
        size_gb=size_gb,
    )


def _non_negative(value: Any, origin: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise PriceDataError(origin, key, f"must be a finite number >= 0, got {value!r}")
    return float(value)


def _tiers(raw: Any, origin: str, key: str) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        raise PriceDataError(origin, f"{key}.tiers", "must be a non-empty array of tables")
    parsed: list[Tier] = []
    for index, entry in enumerate(raw):
        where = f"{key}.tiers[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"up_to", "price"}:
            raise PriceDataError(origin, where, "must be a table with exactly 'up_to' and 'price'")
        up_to = entry["up_to"]
        if up_to == "inf":
            bound = math.inf
        elif isinstance(up_to, str):
            raise PriceDataError(origin, f"{where}.up_to", f'must be a number or "inf", got {up_to!r}')
        else:
            bound = _non_negative(up_to, origin, f"{where}.up_to")
        price = _non_negative(entry["price"], origin, f"{where}.price")
        parsed.append(Tier(bound, price))
    try:
        return check_tiers(parsed)
    except ValueError as exc:
        raise PriceDataError(origin, f"{key}.tiers", str(exc)) from None


def _date(value: Any, origin: str, key: str) -> _dt.date:
    if isinstance(value, _dt.datetime):
        raise PriceDataError(origin, key, f"must be a date such as 2025-01-31, not a date-time {value!r}")
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            pass
    if value is None:
        raise PriceDataError(origin, key, "missing date")
    raise PriceDataError(origin, key, f"must be a date such as 2025-01-31, got {value!r}")
