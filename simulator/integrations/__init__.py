"""Integrations: what a route calls once the gateway has let a request through.

API Gateway passes an admitted request to the route's *integration* and waits for its
answer, at most the integration timeout. Everything on the far side of that line is an
integration: a Lambda function (:mod:`simulator.integrations.lambda_function`), a Lambda
Web Function's endpoint (:mod:`simulator.integrations.web_function`) or an HTTP backend of
finite capacity (:mod:`simulator.integrations.http_backend`); a step in front of one (an
authorizer, a cache) is another class with the same one method.

The seam is narrow on purpose (the shape of httpx's transports): an integration is
anything with ``call(now, limit_s) -> Call``. It is asked at the instant the gateway
forwards the attempt, decides everything about it then (which is what keeps the engines
event-light), and schedules through its :class:`Host` only the moments that change shared
state later, such as an execution environment becoming free. A plain function that
returns a :class:`Call` stands in for one in tests.

The rule that turns a backend's busy time into the gateway's answer (its timeout) is
:func:`simulator.rules.integration_outcome`, shared with the fast engine.
"""

from simulator.integrations.base import Call, Host, Integration
from simulator.integrations.build import build_integrations
from simulator.integrations.http_backend import HttpBackendIntegration
from simulator.integrations.lambda_function import LambdaIntegration
from simulator.integrations.web_function import WebEndpoint

__all__ = ["Call", "Host", "HttpBackendIntegration", "Integration", "LambdaIntegration", "WebEndpoint",
           "build_integrations"]
