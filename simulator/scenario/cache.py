"""The REST API cache's settings: the stage's cache, each method's override, the key laws.

API Gateway can keep a REST API stage's endpoint responses in a cache for a time to live
(TTL) and answer a request from there instead of calling the integration. The settings
mirror AWS's:

* ``[stage.cache]``: the stage's cache cluster (``capacity_gb``, one of the sizes AWS offers,
  :data:`CACHE_SIZES_GB`, billed by the hour while it exists; ``enabled = false`` means no
  cluster) and the default method settings: ``ttl`` (0 to 3,600 s, default 300 s; TTL 0 turns caching off),
  ``key_parameters`` and ``keys``.
* ``[routes.cache]``: a method's override of ``enabled``, ``ttl``, ``key_parameters`` and
  ``keys``. Without one, only ``GET`` methods are cached: "When you enable caching for a
  stage, only GET methods have caching enabled by default"
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-caching.html).
* The cache key is the route plus the values of its ``key_parameters``. How a route's
  requests spread over those values is traffic, so the scenario says it: ``keys`` (a
  :class:`CacheKeys`: how many distinct values, and their popularity, uniform or Zipf)
  on the stage or route, a client's own ``cache_keys``, or a replay trace's third column.
  A route without key parameters has one cache entry.
* ``hit_latency``: how long a hit takes to answer on top of the gateway's overhead. AWS
  publishes no figure, so the default is neutral: 0 s.

:func:`route_caches` turns all of this into each route's effective settings
(:class:`RouteCache`), or None where the route is not cached.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Literal, NamedTuple

from pydantic import BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from simulator.scenario.base import Duration, _as_tuple, _between, _Model

if TYPE_CHECKING:
    from simulator.scenario.schema import Scenario

__all__ = ["CACHE_SIZES_GB", "CacheKeys", "MethodCache", "RouteCache", "StageCache", "cache_size_gb", "route_caches"]

#: The cache sizes API Gateway offers (``cacheClusterSize``), in GB.
CACHE_SIZES_GB: tuple[float, ...] = (0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118.0, 237.0)

#: AWS's longest cache TTL, in seconds.
MAX_TTL_S = 3600.0

#: The most distinct cache keys a key law may name (the popularity table is this long).
MAX_CACHE_KEYS = 10_000_000


#: The request parameters whose values make up the cache key (``method.request.path.id``).
KeyParameters = Annotated[tuple[str, ...], BeforeValidator(_as_tuple)]


class CacheKeys(_Model):
    """How requests spread over a route's cache keys: ``count`` distinct key values with
    ``law`` popularity, ``"uniform"`` or ``"zipf"`` (key *k* = 1, 2, ... drawn with
    probability proportional to 1 / k ** ``exponent``)."""

    count: int = Field(default=1, ge=1, le=MAX_CACHE_KEYS)
    law: Literal["uniform", "zipf"] = "uniform"
    exponent: float = Field(default=1.0, gt=0, le=100)

    def probabilities(self) -> list[float]:
        """The probability of each key, 0 to ``count - 1``."""
        if self.law == "uniform":
            return [1.0 / self.count] * self.count
        weights = [(k + 1) ** -self.exponent for k in range(self.count)]
        total = math.fsum(weights)
        return [w / total for w in weights]


def _ttl(v: float) -> float:
    return _between(v, 0.0, MAX_TTL_S, " seconds")


class StageCache(_Model):
    """The stage's cache cluster and its default method settings."""

    capacity_gb: float
    enabled: bool = True
    ttl: Duration = 300.0
    key_parameters: KeyParameters = ()
    keys: CacheKeys = CacheKeys()
    hit_latency: Duration = 0.0

    @field_validator("capacity_gb")
    @classmethod
    def _size(cls, v: float) -> float:
        for size in CACHE_SIZES_GB:
            if math.isclose(v, size, rel_tol=1e-9):
                return size
        raise PydanticCustomError(
            "cache_size", "must be one of {sizes} (GB), got {got}",
            {"sizes": ", ".join(f"{s:g}" for s in CACHE_SIZES_GB), "got": f"{v:g}"},
        )

    @field_validator("ttl")
    @classmethod
    def _ttl_range(cls, v: float) -> float:
        return _ttl(v)

    @field_validator("hit_latency")
    @classmethod
    def _latency(cls, v: float) -> float:
        return _between(v, 0.0, 60.0, " seconds")


class MethodCache(_Model):
    """A route's override of the stage's cache settings (unset keys follow the stage)."""

    enabled: bool | None = None
    ttl: Duration | None = None
    key_parameters: KeyParameters | None = None
    keys: CacheKeys | None = None

    @field_validator("ttl")
    @classmethod
    def _ttl_range(cls, v: float | None) -> float | None:
        return None if v is None else _ttl(v)


class RouteCache(NamedTuple):
    """A cached route's effective settings."""

    ttl_s: float
    hit_latency_s: float
    key_parameters: tuple[str, ...]
    keys: CacheKeys


def route_caches(scenario: Scenario) -> list[RouteCache | None]:
    """Each route's effective cache settings (in scenario order), None where the route is
    not cached: no stage cache, caching disabled for the method, or a TTL of 0."""
    stage = scenario.stage.cache
    out: list[RouteCache | None] = []
    for route in scenario.routes:
        if stage is None or not stage.enabled or scenario.api.type != "REST":
            out.append(None)
            continue
        method = route.cache or MethodCache()
        enabled = method.enabled if method.enabled is not None else route.name.startswith("GET ")
        ttl = method.ttl if method.ttl is not None else stage.ttl
        if not enabled or ttl <= 0:
            out.append(None)
            continue
        params = method.key_parameters if method.key_parameters is not None else stage.key_parameters
        keys = method.keys if method.keys is not None else stage.keys
        out.append(RouteCache(ttl, stage.hit_latency, params, keys))
    return out


def cache_size_gb(scenario: Scenario) -> float | None:
    """The size of the stage's cache cluster in GB, billed for every hour it exists; None
    without one (``enabled = false`` deletes the cluster; an HTTP API never has one)."""
    stage = scenario.stage.cache
    if stage is None or not stage.enabled or scenario.api.type != "REST":
        return None
    return stage.capacity_gb
