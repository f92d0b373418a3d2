"""nginx's ``limit_req``, computed exactly as ``ngx_http_limit_req_module.c`` computes it.

nginx is what many teams put in front of a service instead of API Gateway, and its
``limit_req`` is a *leaky bucket used as a meter*: for every key of a zone it keeps the
time of the last accepted request and how far ahead of the rate that key is (its
*excess*). This module reproduces that arithmetic so the model can say what nginx would
answer, with the same small interface as :class:`~simulator.gateway.buckets.TokenBucket`
(``ready(now)`` then ``take()``, see :class:`simulator.gateway.path.Level`).

Source read: nginx/nginx at 6460d898 (1.21.7, the code released as 1.22, which is what
Debian 12 ships as 1.22.1), ``src/http/modules/ngx_http_limit_req_module.c``.

Integers, not floats
--------------------
* ``limit_req_zone ... rate=Nr/s`` is stored as ``ctx->rate = rate * 1000 / scale``
  with ``scale`` 1 for ``r/s`` and 60 for ``r/m`` (``ngx_http_limit_req_zone``): an
  integer in milli-requests per second. ``1r/m`` is therefore 16/1000 r/s, not 1/60.
* ``burst=N`` is stored as ``limit->burst = burst * 1000`` and ``delay=D`` as
  ``limit->delay = delay * 1000``; ``nodelay`` sets ``delay = NGX_MAX_INT_T_VALUE / 1000``
  (``ngx_http_limit_req``). Without ``burst=`` the burst is 0.
* A key's node holds ``excess`` (milli-requests) and ``last`` (milliseconds).

One lookup (``ngx_http_limit_req_lookup``)
------------------------------------------
``now = ngx_current_msec``; for a key already in the zone::

    ms = (ngx_msec_int_t) (now - lr->last);
    if (ms < -60000) { ms = 1; } else if (ms < 0) { ms = 0; }
    excess = lr->excess - ctx->rate * ms / 1000 + 1000;
    if (excess < 0) { excess = 0; }
    if ((ngx_uint_t) excess > limit->burst) { return NGX_BUSY; }

The leak ``ctx->rate * ms / 1000`` is truncated on every accepted request, so slow
``r/m`` rates with frequent requests leak less than the rate says. A key not yet in the
zone gets ``excess = 0``. An accepted request stores ``lr->excess = excess`` and, ``if
(ms)``, ``lr->last = now``. So ``burst=N`` lets N + 1 requests through at one instant
(excess 0, 1000, ..., N*1000); with exact arithmetic the meter is the same as a token
bucket of capacity N + 1 refilled at the rate, which the tests check.

``ngx_current_msec`` is nginx's *cached* clock: ``ngx_time_update`` sets it (CLOCK_MONOTONIC,
``sec * 1000 + nsec / 1000000``) once per turn of the event loop, after ``epoll_wait``
returns, so every request handled in one turn sees the same millisecond. Here simulated
time is floored to the millisecond (:func:`to_ms`); requests at one simulated instant
share it.

Several ``limit_req`` in one location (``ngx_http_limit_req_handler``)
---------------------------------------------------------------------
The zones are looked up in the order of the directives. A zone whose key is empty is
skipped (``if (key.len == 0) continue;``). Every zone but the last one only *checks*
(``account == 0``: ``lr->count++; ctx->node = lr; return NGX_AGAIN;``), and the last one
checks and stores. The first zone that answers ``NGX_BUSY`` decides: the request gets
``limit_req_status`` (503 by default; 429 in our configurations) and
``ngx_http_limit_req_unlock`` only drops ``count`` on the zones already passed, so *a
rejected request changes no zone's state*. When every zone accepts,
``ngx_http_limit_req_account`` recomputes each earlier zone's excess at the same
``ngx_current_msec`` and stores it; the request is delayed by the largest
``(excess - limit->delay) * 1000 / ctx->rate`` milliseconds among the zones (0 with
``nodelay``). This is the model's default gateway rule (``behaviour.
rejected_requests_consume_tokens = false``): check every level, charge them only when all
of them admit the request.

A node that a non-last zone creates for a new key is given ``lr->last = 0``; accounting
it then computes ``0 - ctx->rate * now / 1000 + 1000``, which is 0 except in the first
minute or so after the machine booted (``now`` is the monotonic clock). It is taken as 0
here, like a new key in the last zone. Zones are assumed big enough that no node is
evicted early (``ngx_http_limit_req_expire`` only frees nodes idle for 60 s at excess 0,
or the oldest one when the zone's memory is full).

AWS rates in nginx
------------------
nginx rates are whole requests per second or per minute; :func:`nginx_rate` writes an
AWS rate as ``Nr/s`` when it is a whole number, else as the nearest whole ``Nr/m`` (at
least ``1r/m``), which is exact when ``rate * 60`` is a multiple of 3 (``N * 1000 / 60``
is then whole), e.g. 0.5 r/s = ``30r/m`` = 500. An AWS bucket of capacity B is
``burst=B-1 nodelay`` (:func:`nginx_burst`); a capacity of 0 refuses every request
(:class:`Closed`), which nginx can only say with ``return 429``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Closed",
    "LimitReq",
    "Verdict",
    "limit_req",
    "nginx_burst",
    "nginx_level",
    "nginx_rate",
    "parse_rate",
    "to_ms",
]

#: ``nodelay`` stores ``NGX_MAX_INT_T_VALUE / 1000`` as the delay (64-bit nginx).
NODELAY = (2**63 - 1) // 1000

#: Simulated times are floats: 0.3 s may be 0.29999999999999999 s. Anything within a
#: nanosecond of a millisecond boundary counts as on it.
_MS_TOLERANCE = 1e-6

_RATE = re.compile(r"^(\d+)(r/s|r/m)?$")


def to_ms(now_s: float) -> int:
    """Simulated seconds as nginx's ``ngx_current_msec``: whole milliseconds, floored."""
    return math.floor(now_s * 1000.0 + _MS_TOLERANCE)


def parse_rate(text: str) -> int:
    """A ``rate=`` value (``"2r/s"``, ``"30r/m"``) as nginx stores it: milli-requests per second.

    >>> parse_rate("2r/s"), parse_rate("1r/m"), parse_rate("30r/m")
    (2000, 16, 500)
    """
    m = _RATE.match(text.strip())
    if m is None or int(m.group(1)) <= 0:
        raise ValueError(f'invalid rate "{text}": nginx takes a whole number of r/s or r/m, at least 1')
    scale = 60 if m.group(2) == "r/m" else 1
    return int(m.group(1)) * 1000 // scale


def nginx_rate(rate_per_s: float) -> str:
    """The ``rate=`` value closest to an AWS rate (requests per second).

    Whole rates stay per second; others become the nearest whole number per minute,
    at least ``1r/m`` (nginx has no rate 0).
    """
    if rate_per_s < 0 or not math.isfinite(rate_per_s):
        raise ValueError(f"rate must be a finite number >= 0, got {rate_per_s}")
    if rate_per_s >= 1 and rate_per_s == int(rate_per_s):
        return f"{int(rate_per_s)}r/s"
    per_minute = max(1, round(rate_per_s * 60))
    if per_minute % 60 == 0:
        return f"{per_minute // 60}r/s"
    return f"{per_minute}r/m"


def nginx_burst(aws_burst: int) -> int:
    """nginx's ``burst=`` for an AWS bucket of capacity *aws_burst* (>= 1): one less."""
    return max(aws_burst - 1, 0)


class LimitReq:
    """One key of one ``limit_req`` zone, with the ``limit_req`` directive's burst and delay."""

    __slots__ = ("_excess", "_ms", "_now", "burst", "delay", "delay_ms", "excess", "last", "rate")

    def __init__(self, rate: str | int, burst: int = 0, *, nodelay: bool = False, delay: int = 0) -> None:
        #: ``ctx->rate``: milli-requests per second.
        self.rate = parse_rate(rate) if isinstance(rate, str) else int(rate)
        if self.rate <= 0:
            raise ValueError(f"rate must be >= 1 milli-request per second, got {rate}")
        if burst < 0 or delay < 0:
            raise ValueError(f"burst and delay must be >= 0, got burst={burst}, delay={delay}")
        #: ``limit->burst`` and ``limit->delay``, in milli-requests.
        self.burst = burst * 1000
        self.delay = (NODELAY if nodelay else delay) * 1000
        #: The node: ``lr->excess`` (milli-requests) and ``lr->last`` (ms); no node yet: None.
        self.excess = 0
        self.last: int | None = None
        #: How long nginx held the last accepted request, in ms (0 with ``nodelay``).
        self.delay_ms = 0
        self._excess = 0
        self._ms = 0
        self._now = 0

    def lookup(self, now_ms: int) -> tuple[int, int]:
        """``(excess, ms)`` that a request at *now_ms* would have; changes nothing."""
        if self.last is None:
            return 0, 1  # a new node: excess 0, and ``last`` is set to now when stored
        ms = now_ms - self.last
        if ms < -60000:
            ms = 1
        elif ms < 0:
            ms = 0
        excess = self.excess - self.rate * ms // 1000 + 1000
        return max(0, excess), ms

    def ready(self, now: float) -> bool:
        """Would a request at *now* (seconds) pass this zone? Changes nothing."""
        self._now = to_ms(now)
        self._excess, self._ms = self.lookup(self._now)
        return self._excess <= self.burst

    def take(self) -> None:
        """Store the request :meth:`ready` just accepted (``lr->excess``, ``lr->last``)."""
        self.commit(self._now, self._excess, self._ms)

    def commit(self, now_ms: int, excess: int, ms: int) -> None:
        self.excess = excess
        if ms:
            self.last = now_ms
        self.delay_ms = (excess - self.delay) * 1000 // self.rate if excess > self.delay else 0

    def __repr__(self) -> str:
        return (f"LimitReq(rate={self.rate}/1000 r/s, burst={self.burst // 1000}, excess={self.excess}, "
                f"last={self.last})")


class Closed:
    """A limit that refuses everything (an AWS throttle with burst 0)."""

    __slots__ = ()

    def ready(self, now: float) -> bool:
        return False

    def take(self) -> None:  # pragma: no cover - never ready
        raise AssertionError("a closed limit admits nothing")


def nginx_level(rate: float, burst: int) -> LimitReq | Closed:
    """The nginx limit an AWS throttle ``{rate, burst}`` becomes: ``burst=B-1 nodelay``.

    Same signature as :class:`~simulator.gateway.buckets.TokenBucket`, so a gateway can
    be built with nginx's arithmetic in place of AWS's buckets.
    """
    if burst <= 0:
        return Closed()
    return LimitReq(nginx_rate(rate), nginx_burst(burst), nodelay=True)


@dataclass(frozen=True)
class Verdict:
    """What ``ngx_http_limit_req_handler`` decided for one request."""

    #: Position (in the list given to :func:`limit_req`) of the zone that refused it.
    rejected_by: int | None
    #: How long the accepted request is held before nginx goes on, in ms.
    delay_ms: int = 0

    @property
    def passed(self) -> bool:
        return self.rejected_by is None


def limit_req(limits: Sequence[LimitReq | None], now: float) -> Verdict:
    """One request at *now* through a location's ``limit_req`` directives, in order.

    ``None`` stands for a zone whose key is empty for this request (skipped). The first
    zone that refuses decides and no zone changes; otherwise every zone stores the
    request and the delay is the largest of theirs.
    """
    now_ms = to_ms(now)
    passed: list[tuple[LimitReq, int, int]] = []
    for i, zone in enumerate(limits):
        if zone is None:
            continue
        excess, ms = zone.lookup(now_ms)
        if excess > zone.burst:
            return Verdict(i)
        passed.append((zone, excess, ms))
    delay_ms = 0
    for zone, excess, ms in passed:
        zone.commit(now_ms, excess, ms)
        delay_ms = max(delay_ms, zone.delay_ms)
    return Verdict(None, delay_ms)
