"""Settings whose default depends on other settings: the account throttle and the gateway overhead.

Most defaults are constants in :mod:`simulator.scenario.schema`. Two are per Region, endpoint or
API type, and this module works them out once the scenario has been validated (:func:`resolve`,
called by the loader), so that the engines read plain values:

**The account throttle** (``account.throttle``), when the scenario does not give it, is

1. AWS's default for the Region (:func:`simulator.scenario.regions.default_account_throttle`:
   10,000 rps and burst 5,000, or 2,500 and 1,250 in the newer Regions), then
2. for a REST API whose longest integration timeout *T* is above 29 s, that default times
   29 / *T*, rate and burst alike (the burst rounded down, at least 1).

Step 2 is this simulator's rule, not AWS text. AWS says only that raising the integration
timeout above 29 s (Regional and private REST APIs, since June 2024) "might require a reduction
in your account-level throttle quota limit"
(https://aws.amazon.com/about-aws/whats-new/2024/06/amazon-api-gateway-integration-timeout-limit-29-seconds/).
The one figure published is a re:Post question quoting "approximately 967 RPS" for a 300 s
timeout (https://repost.aws/questions/QUlDTc_17EQ_mOJAhR3LHNDw), which is
10,000 x 29 / 300 = 966.7: the product of rate and timeout (how many requests can be in
flight at once) kept at its 29 s value. The burst is scaled likewise because AWS derives the
burst from the rate quota ("The burst quota is determined by the API Gateway service team based
on the overall RPS quota for the account in the Region", limits.html). An account throttle
written in the scenario is taken as what AWS granted and is used as written: it is the override.

**The gateway overhead** (``behaviour.gateway_overhead``), when not given, is off (0 ms) for
both API types, as :data:`GATEWAY_OVERHEAD_DEFAULTS` says: AWS publishes no figure for the time a
REST API adds, and for HTTP APIs only bounds (the general-availability post,
https://aws.amazon.com/blogs/compute/building-better-apis-http-apis-now-generally-available/:
"up to 60% reduction in latency" against REST APIs, and "99% of all requests (p99) have less than
10 ms of additional latency from HTTP API"); no published measurement isolates either (those found
time whole requests with different backends). A bound or a ratio is not a value, so the default is
neutral and the overhead is a setting to measure: ``calibrate`` fits it from access logs
(``responseLatency - integrationLatency``) and ``validate`` measures it on a target.

>>> long_timeout_throttle(10000.0, 5000, 300.0)
(966.6666666666666, 483)
"""

from __future__ import annotations

import math
from types import MappingProxyType

from simulator.scenario.regions import default_account_throttle
from simulator.scenario.schema import Account, Behaviour, FixedDist, Scenario, Throttle

__all__ = [
    "GATEWAY_OVERHEAD_DEFAULTS",
    "LONG_TIMEOUT_ABOVE_S",
    "account_throttle_basis",
    "long_timeout_throttle",
    "longest_integration_timeout_s",
    "resolve",
]

#: Integration timeouts above this (REST APIs) lower the default account throttle.
LONG_TIMEOUT_ABOVE_S = 29.0

#: The default gateway overhead per API type, as a duration string: off for both, since AWS
#: gives no value for either (only an HTTP API bound and ratio, see above).
GATEWAY_OVERHEAD_DEFAULTS = MappingProxyType({"REST": "0ms", "HTTP": "0ms"})


def longest_integration_timeout_s(s: Scenario) -> float:
    """The longest integration timeout of the API: its default's, or a route's."""
    return max([s.api.integration_timeout_s, *(s.integration_timeout_s(r) for r in s.routes)])


def long_timeout_throttle(rate: float, burst: int, timeout_s: float) -> tuple[float, int]:
    """An account throttle of *rate* and *burst* lowered for a *timeout_s* integration timeout:
    both times 29 / *timeout_s* when the timeout is above 29 s (the burst rounded down, at least 1)."""
    if timeout_s <= LONG_TIMEOUT_ABOVE_S:
        return rate, burst
    factor = LONG_TIMEOUT_ABOVE_S / timeout_s
    return rate * factor, max(1, math.floor(burst * factor))


def _default_throttle(s: Scenario) -> tuple[float, int]:
    rate, burst = default_account_throttle(s.account.region)
    if s.api.type == "REST":
        rate, burst = long_timeout_throttle(rate, burst, longest_integration_timeout_s(s))
    return rate, burst


def account_throttle_basis(s: Scenario) -> str:
    """Where a loaded scenario's account throttle comes from, in a sentence."""
    if "throttle" in s.account.model_fields_set:
        return "account.throttle as written in the scenario"
    rate, burst = default_account_throttle(s.account.region)
    basis = f"AWS's default in {s.account.region} ({rate:,.0f} rps, burst {burst:,})"
    longest = longest_integration_timeout_s(s)
    if s.api.type == "REST" and longest > LONG_TIMEOUT_ABOVE_S:
        basis += f" x 29/{longest:g} for the {longest:g} s integration timeout"
    return basis


def resolve(s: Scenario) -> Scenario:
    """*s* with the account throttle and gateway overhead it leaves unset worked out."""
    account = s.account
    if "throttle" not in account.model_fields_set:
        rate, burst = _default_throttle(s)
        values = {**dict(account), "throttle": Throttle(rate=rate, burst=burst)}
        account = Account.model_construct(_fields_set=set(account.model_fields_set), **values)
    behaviour = s.behaviour
    if "gateway_overhead" not in behaviour.model_fields_set:
        overhead = FixedDist.model_validate({"kind": "fixed", "value": GATEWAY_OVERHEAD_DEFAULTS[s.api.type]})
        values = {**dict(behaviour), "gateway_overhead": overhead}
        behaviour = Behaviour.model_construct(_fields_set=set(behaviour.model_fields_set), **values)
    if account is s.account and behaviour is s.behaviour:
        return s
    return s.model_copy(update={"account": account, "behaviour": behaviour})
