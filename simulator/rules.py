"""The rules both engines apply, written once.

The SimPy reference engine (:mod:`simulator.engine.reference`) and the compiled fast
engine (:mod:`simulator.engine.fast.loop`) must make the same decision for every
attempt, bit for bit: the differential test holds them to identical records. The
arithmetic they share lives here, as small functions of plain numbers with no state:
Python calls them as they are, and the fast engine compiles the very same functions
with numba and inlines them into its loop (``njit(inline="always")(rules.refill)`` in
:mod:`simulator.engine.fast.rules`), so a change here changes both engines at once.

* **Token buckets** (API Gateway's throttles): a bucket holds at most ``burst`` tokens
  and gains ``rate`` tokens per second continuously, ``tokens = min(burst, tokens + rate
  * dt)``; a request needs a whole token, with :data:`EPSILON` of slack for the floating
  point of the refill.
* **A function's own outcome**: past its ``timeout`` it is stopped there
  (``function_timeout``); else it ran its duration and failed or not.
* **The integration timeout**: when init plus run exceed it, the gateway answers at the
  timeout (``integration_timeout``) while the function runs on.
* **The client's timeout**: when the answer would come later, the client stops waiting
  at its timeout (``client_timeout``, no status).
"""

from __future__ import annotations

from simulator.outcomes import CLIENT_TIMEOUT, FUNCTION_ERROR, FUNCTION_TIMEOUT, INTEGRATION_TIMEOUT, OK

__all__ = ["EPSILON", "client_outcome", "function_outcome", "has_token", "integration_outcome", "refill"]

#: Tolerance for floating-point refill: a bucket with 0.9999999999 tokens has one.
EPSILON = 1e-9


def refill(tokens: float, last: float, rate: float, burst: float, now: float) -> tuple[float, float]:
    """A token bucket's ``(tokens, last)`` brought up to *now*. Time never goes back: at or
    before *last* the bucket is unchanged."""
    if now > last:
        tokens = tokens + rate * (now - last)
        if not tokens < burst:
            tokens = burst
        return tokens, now
    return tokens, last


def has_token(tokens: float) -> bool:
    """Whether a bucket holding *tokens* can give one (to :data:`EPSILON`)."""
    return tokens >= 1.0 - EPSILON


def function_outcome(duration_s: float, timeout_s: float, failed: bool) -> tuple[float, int]:
    """``(run_s, cause)`` of an invocation whose handler would take *duration_s*."""
    if duration_s > timeout_s:
        return timeout_s, FUNCTION_TIMEOUT
    return duration_s, (FUNCTION_ERROR if failed else OK)


def integration_outcome(busy_s: float, limit_s: float, cause: int) -> tuple[float, int]:
    """``(integration latency, cause)``: the gateway waits *busy_s* (init plus run) for the
    function's answer, or stops at the integration timeout *limit_s*."""
    if busy_s > limit_s:
        return limit_s, INTEGRATION_TIMEOUT
    return busy_s, cause


def client_outcome(latency_s: float, timeout_s: float, cause: int) -> tuple[float, int]:
    """``(latency, cause)`` as the client lives it: it stops waiting at *timeout_s*
    (``math.inf`` for a client without one)."""
    if latency_s > timeout_s:
        return timeout_s, CLIENT_TIMEOUT
    return latency_s, cause
