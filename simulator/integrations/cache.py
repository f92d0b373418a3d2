"""The REST API cache: a step in front of a route's integration.

With caching on for a stage, API Gateway "caches responses from your endpoint for a
specified time-to-live (TTL) period" and "responds to the request by looking up the
endpoint response from the cache instead of making a request to your endpoint"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-caching.html).
The model of one attempt on a cached route, keyed by the route and the request's cache
key (:mod:`simulator.traffic.cache_keys`):

* **hit**: the key has an entry that has not expired. The cache answers after
  ``hit_latency`` (no figure published; 0 s by default) with ``ok``, flagged
  :data:`~simulator.outcomes.CACHE_HIT`. The integration is not called: no Lambda
  concurrency, no Lambda throttling, no Lambda invocation billed.
* **miss**: the attempt goes on to the integration, flagged
  :data:`~simulator.outcomes.CACHE_MISS`. When the integration answers ``ok``, the
  answer is stored the moment it arrives (the attempt's time plus the integration
  latency) and expires TTL seconds later; a request at exactly the expiry is a miss.
  Attempts that miss while a fill is on its way all go to the integration (the model
  does not merge them), and each successful one fills the entry again.
* **What is stored.** AWS's page states no status filter. Every failure the model has
  (Lambda throttled, a function error or timeout, an integration timeout) is an answer
  API Gateway itself makes when the integration call failed, not an endpoint response,
  so none of them is stored: only ``ok`` fills the cache. (A backend's own non-2XX answer
  is another matter: a user report says API Gateway served a backend's 429 from the cache,
  https://exchangetuts.com/prevent-caching-of-non-200-responses-in-aws-api-gateway-1640428563668979;
  the model's functions answer 200 or fail, so it does not arise here.)

**Where the cache sits in the request path.** The cache settings belong to the method's
integration (the cache key parameters and namespace are set on the integration request,
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-integration-settings-integration-request.html),
and a hit replaces "making a request to your endpoint", so every check made for the method
request comes first: authorization (a Lambda authorizer may even supply the API key,
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-key-source.html),
the API key, the usage plan's throttle and quota, and the method, stage and account
throttles. A hit therefore takes throttle tokens and quota and is billed as an API call,
like any request the gateway admits. AWS publishes no single list of the steps; this
order is read from the pages above.

Not modelled: the cache's capacity as a limit (entries are never evicted before their TTL;
the capacity is what is billed), cache invalidation with ``Cache-Control: max-age=0``,
and the 1 MB limit on a cached response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator import outcomes as oc
from simulator import rules
from simulator.integrations.base import Call, Host, Integration

__all__ = ["CacheEntries", "CacheIntegration"]


class CacheEntries:
    """The stage's cache: when each entry, ``(route, key)``, expires."""

    def __init__(self) -> None:
        self.expires: dict[tuple[int, Any], float] = {}

    def fresh(self, entry: tuple[int, Any], now: float) -> bool:
        """Whether *entry* holds an answer at *now*."""
        return now < self.expires.get(entry, -1.0)

    def fill(self, entry: tuple[int, Any], now: float, ttl_s: float) -> None:
        """Store an answer for *entry* at *now*; it expires *ttl_s* later."""
        self.expires[entry] = now + ttl_s


class CacheIntegration:
    """The cache in front of one route's integration (*inner*).

    The key of the attempt being forwarded is the engine's ``host.cache_key``."""

    def __init__(self, inner: Integration, host: Host, entries: CacheEntries, route: int,
                 ttl_s: float, hit_latency_s: float) -> None:
        self.inner = inner
        self.host = host
        self.entries = entries
        self.route = route
        self.ttl_s = ttl_s
        self.hit_latency_s = hit_latency_s

    def call(self, now: float, limit_s: float, client: int = 0, identity: int = 0) -> Call:
        entry = (self.route, self.host.cache_key)
        if self.entries.fresh(entry, now):
            latency, cause = rules.integration_outcome(self.hit_latency_s, limit_s, oc.OK)
            return Call(cause, latency, flags=oc.CACHE_HIT)
        call = self.inner.call(now, limit_s, client, identity)
        if call.cause == oc.OK:
            self.host.at(call.latency_s, self._filler(entry))
        return call._replace(flags=call.flags | oc.CACHE_MISS)

    def _filler(self, entry: tuple[int, Any]) -> Callable[[Any], None]:
        def fill(_: Any) -> None:
            self.entries.fill(entry, self.host.now, self.ttl_s)

        return fill
