"""The ``[[authorizers]]`` of a scenario, and the identities each client presents to them.

An *authorizer* decides, before API Gateway calls a route's integration, whether the
caller may call it. A route names one with ``authorizer = "name"`` (or inherits the
stage's ``authorizer``; ``"NONE"`` opts a route out). Its ``type`` is AWS's:

* ``TOKEN`` (REST) and ``REQUEST`` (REST and HTTP): a **Lambda authorizer**. Its
  ``function`` is an ordinary ``[[functions]]`` entry (memory, durations, cold starts,
  reserved concurrency, from the same account pool). Its answer (Allow or Deny) is
  cached for ``result_ttl`` (AWS's ``authorizerResultTtlInSeconds``: 0 to 3,600 s, default
  300 s, 0 turns the cache off), keyed by the token (``TOKEN``) or the identity sources
  (``REQUEST``); ``deny_share`` is the fraction of identities whose policy is Deny.
* ``COGNITO_USER_POOLS`` (REST only), ``JWT`` (HTTP only) and ``AWS_IAM`` (both): no
  function; they add ``latency`` to every request they check. AWS publishes no figure
  for it, so the default is ``"0ms"`` (neutral): set it from a measurement.

Which type exists on which API follows the ``x-amazon-apigateway-authorizer`` reference
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authorizer.html):
REST APIs take ``token`` and ``request``, HTTP APIs ``request`` and ``jwt``; Cognito user
pool authorizers are a REST API authorizer type.

A client's ``[clients.identities]`` says what it presents: ``count`` distinct tokens (or
sets of identity sources), which one each attempt uses (``pick = "uniform"``), and
``without_token``, the share of attempts that carry none (API Gateway answers those 401
without calling the authorizer).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from simulator.limits import MAX_COUNT
from simulator.scenario.base import Duration, _between, _Model

__all__ = ["LAMBDA_AUTHORIZERS", "NO_AUTHORIZER", "Authorizer", "Identities"]

#: The authorizer types that invoke a Lambda function.
LAMBDA_AUTHORIZERS = frozenset({"TOKEN", "REQUEST"})

#: A route's ``authorizer`` value that opts it out of the stage's default authorizer.
NO_AUTHORIZER = "NONE"

#: AWS's bounds of ``authorizerResultTtlInSeconds`` and its default (API_Authorizer reference,
#: https://docs.aws.amazon.com/apigateway/latest/api/API_Authorizer.html).
MAX_RESULT_TTL_S = 3600.0
DEFAULT_RESULT_TTL_S = 300.0


class Authorizer(_Model):
    name: str
    type: Literal["TOKEN", "REQUEST", "COGNITO_USER_POOLS", "JWT", "AWS_IAM"]
    #: The Lambda function (a ``[[functions]]`` name) of a TOKEN or REQUEST authorizer.
    function: str | None = None
    #: How long an Allow or Deny is cached per identity; 0 s turns the cache off.
    result_ttl: Duration = DEFAULT_RESULT_TTL_S
    #: The fraction of a client's identities whose policy is Deny (403).
    deny_share: float = 0.0
    #: How long the gateway waits for a Lambda authorizer; None: only its function's own
    #: timeout. Time a non-Lambda authorizer adds: ``latency``.
    timeout: Duration | None = None
    latency: Duration = 0.0

    @field_validator("result_ttl")
    @classmethod
    def _ttl(cls, v: float) -> float:
        v = _between(v, 0.0, MAX_RESULT_TTL_S, " seconds")
        if v != int(v):
            raise PydanticCustomError("range", "must be a whole number of seconds, got {got}", {"got": f"{v:g}s"})
        return v

    @field_validator("deny_share")
    @classmethod
    def _share(cls, v: float) -> float:
        return _between(v, 0.0, 1.0)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise PydanticCustomError("range", "must be longer than 0s")
        return v

    @model_validator(mode="after")
    def _function(self) -> Authorizer:
        if self.type in LAMBDA_AUTHORIZERS and self.function is None:
            raise PydanticCustomError("authorizer", "a {type} authorizer needs a function", {"type": self.type})
        if self.type not in LAMBDA_AUTHORIZERS and self.function is not None:
            raise PydanticCustomError("authorizer", "a {type} authorizer invokes no function; remove function",
                                      {"type": self.type})
        return self

    @property
    def invokes_lambda(self) -> bool:
        return self.type in LAMBDA_AUTHORIZERS


class Identities(_Model):
    """The tokens (or identity sources) one client presents."""

    #: How many distinct identities the client's requests carry.
    count: int = Field(default=1, ge=1, le=MAX_COUNT)
    #: How an attempt picks its identity: uniformly among ``count``.
    pick: Literal["uniform"] = "uniform"
    #: The share of attempts sent without a token or identity sources (401).
    without_token: float = 0.0

    @field_validator("without_token")
    @classmethod
    def _share(cls, v: float) -> float:
        return _between(v, 0.0, 1.0)
