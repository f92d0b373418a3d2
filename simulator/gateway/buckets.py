"""Token buckets, as API Gateway describes its throttles.

A bucket holds at most ``burst`` tokens and gains ``rate`` tokens per second,
continuously: ``tokens = min(burst, tokens + rate * dt)``. A request takes one token;
with less than one token left, it is throttled (429). A bucket starts full.

AWS's worked example (10,000 rps, burst 5,000): 10,000 requests in the first
millisecond get 5,000 through; 5,000 at t=0 and 5,000 more in the 101st millisecond
get 6,000 through, because 100 ms at 10,000 rps refilled 1,000 tokens.

The bucket is *lazy*: it refills only when asked about, so an idle bucket costs nothing
and the simulated clock stays the only clock. Time goes in as an argument.

Checking and taking are separate (``ready`` then ``take``) so that the gateway can
check every level before charging any of them.
"""

from __future__ import annotations

from simulator.rules import EPSILON, has_token, refill

__all__ = ["TokenBucket", "EPSILON"]


class TokenBucket:
    """A continuously refilled token bucket of capacity ``burst`` and refill ``rate``/s."""

    __slots__ = ("rate", "burst", "tokens", "last")

    def __init__(self, rate: float, burst: float) -> None:
        if rate < 0 or burst < 0:
            raise ValueError(f"rate and burst must be >= 0, got rate={rate}, burst={burst}")
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = 0.0

    def ready(self, now: float) -> bool:
        """Refill up to *now*; is there a whole token? (:func:`simulator.rules.refill`)"""
        self.tokens, self.last = refill(self.tokens, self.last, self.rate, self.burst, now)
        return has_token(self.tokens)

    def take(self) -> None:
        """Take one token (after :meth:`ready` said there is one)."""
        self.tokens -= 1.0

    def try_take(self, now: float) -> bool:
        """Take a token if there is one."""
        if self.ready(now):
            self.tokens -= 1.0
            return True
        return False

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}, burst={self.burst:g}, tokens={self.tokens:g} at t={self.last:g})"
