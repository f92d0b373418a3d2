"""AWS Regions: which ones the simulator knows, and each one's default account throttle.

API Gateway throttles all the APIs of an account in one Region together (REST, HTTP and
WebSocket) with one token bucket. Its default size depends on the Region: 10,000 requests per
second with a burst of 5,000 in most Regions, 2,500 rps with a burst of 1,250 in the Regions
AWS opened recently. Source: the API Gateway quotas page,
https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html ("Throttle quota per
account, per Region across HTTP APIs, REST APIs, WebSocket APIs, and WebSocket callback APIs"),
which names the newer Regions: Cape Town, Milan, Jakarta, UAE, Hyderabad, Melbourne, Spain,
Zurich, Tel Aviv, Calgary, Malaysia, Thailand and Mexico Central.

A Region is *known* when it has a price table (``simulator/cost/data/<region>.toml``): a run is
priced after it is simulated, so a scenario in a Region without prices is refused when it is
loaded, before any simulation, rather than failing after it.

>>> default_account_throttle("eu-west-1")
(10000.0, 5000)
>>> default_account_throttle("eu-south-1")
(2500.0, 1250)
"""

from __future__ import annotations

from types import MappingProxyType

from simulator.cost.pricing import available_regions

__all__ = [
    "DEFAULT_ACCOUNT_THROTTLE",
    "NEWER_REGIONS",
    "NEWER_REGION_THROTTLE",
    "THROTTLE_SOURCE",
    "default_account_throttle",
    "known_regions",
]

#: Where the default account throttles come from.
THROTTLE_SOURCE = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"

#: The default account throttle in most Regions: (rate in requests per second, burst).
DEFAULT_ACCOUNT_THROTTLE: tuple[float, int] = (10000.0, 5000)

#: The default account throttle in the newer Regions below.
NEWER_REGION_THROTTLE: tuple[float, int] = (2500.0, 1250)

#: The Regions the quotas page gives the lower default, by code, with the name it uses.
NEWER_REGIONS = MappingProxyType({
    "af-south-1": "Cape Town",
    "eu-south-1": "Milan",
    "ap-southeast-3": "Jakarta",
    "me-central-1": "UAE",
    "ap-south-2": "Hyderabad",
    "ap-southeast-4": "Melbourne",
    "eu-south-2": "Spain",
    "eu-central-2": "Zurich",
    "il-central-1": "Tel Aviv",
    "ca-west-1": "Calgary",
    "ap-southeast-5": "Malaysia",
    "ap-southeast-7": "Thailand",
    "mx-central-1": "Mexico Central",
})


def default_account_throttle(region: str) -> tuple[float, int]:
    """AWS's default account throttle in *region*: (rate in requests per second, burst)."""
    return NEWER_REGION_THROTTLE if region in NEWER_REGIONS else DEFAULT_ACCOUNT_THROTTLE


def known_regions() -> tuple[str, ...]:
    """The Regions a scenario may name: those with a price table, sorted."""
    return available_regions()
