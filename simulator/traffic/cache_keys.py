"""Which cache key a request asks for: draws from a key law, or a replay trace's column.

A cached REST route's requests name a cache key: the route plus the values of its key
parameters (a product id, a page number). The scenario says how those values are spread
(:class:`~simulator.scenario.cache.CacheKeys`): ``count`` distinct values, equally
popular (``uniform``) or Zipf-distributed, key *k* = 1, 2, ... with probability
proportional to ``1 / k ** exponent``, the usual shape of catalogue popularity.

Each logical request draws its key once, when it starts; its retries ask for the same
key. The draws of a client on a route come from their own named stream
(``("cache_keys", client, route)``), so adding a cache, or a cached route, leaves every
other stream's numbers as they were. A replay trace may give each row's key in a third
column; a key there that reads as a whole number ``k`` is key ``k`` of the law's range,
any other text a key of its own.
"""

from __future__ import annotations

import bisect
import itertools

import numpy as np

from simulator.dists import Uniforms
from simulator.scenario.cache import CacheKeys

__all__ = ["KeyDraws", "trace_key"]

CacheKey = int | str


class KeyDraws:
    """Hands out the keys of one client's requests on one route, in order."""

    __slots__ = ("cum", "coin", "count")

    def __init__(self, law: CacheKeys, rng: np.random.Generator) -> None:
        self.count = law.count
        self.coin = Uniforms(rng)
        # Cumulative probabilities; the last is forced to 1 so rounding never runs past it.
        cum = list(itertools.accumulate(law.probabilities()))
        cum[-1] = 1.0
        self.cum = cum

    def next(self) -> int:
        """The next request's key, 0 to ``count - 1``."""
        if self.count == 1:
            return 0
        return min(bisect.bisect_right(self.cum, self.coin.next()), self.count - 1)


def trace_key(text: str) -> CacheKey:
    """A replay trace's key cell as a cache key: a whole number is that key of the law's
    range, any other text is a key of its own."""
    try:
        return int(text)
    except ValueError:
        return text
