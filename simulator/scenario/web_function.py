"""``functions[].web``: a Lambda Web Function's endpoint settings (see
:mod:`simulator.integrations.web_function` for how the model runs them)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from simulator.limits import MAX_COUNT
from simulator.scenario.base import Duration, _Model

__all__ = ["WEB_RATE_LIMITS", "WebFunction"]


#: The endpoint ``rateLimit`` values AWS accepts: 0 (reject every request), 100 to 1,000 in
#: steps of 100, 2,000 to 10,000 in steps of 1,000 (CfnWebFunctionEndpoint ThrottleConfig).
WEB_RATE_LIMITS = (0, *range(100, 1001, 100), *range(2000, 10001, 1000))


class WebFunction(_Model):
    """A Lambda Web Function's endpoint: environments that each serve many requests at once.

    ``max_concurrency_per_environment`` (1 to 128, default 64) and ``max_environments`` (2 to
    10,000, none by default) are AWS's settings; ``rate_limit`` is the endpoint's optional
    request rate. What AWS leaves open is named: ``rate_burst`` (the bucket behind
    ``rate_limit``; default one second of it) and ``scale_in_after_idle`` (how long an idle
    environment stays; default none: environments stay for the run).
    See :mod:`simulator.integrations.web_function` for the rules and their sources.
    """

    max_concurrency_per_environment: int = Field(default=64, ge=1, le=128)
    max_environments: int | None = Field(default=None, ge=2, le=10000)
    rate_limit: float | None = None
    rate_burst: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    scale_in_after_idle: Duration | None = None

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, v: float | None) -> float | None:
        if v is not None and v not in WEB_RATE_LIMITS:
            raise PydanticCustomError(
                "web_rate", "must be 0, 100 to 1000 in steps of 100, or 2000 to 10000 in steps of 1000 "
                "(the values AWS accepts), got {got}", {"got": v})
        return v
