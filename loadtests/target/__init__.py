"""Real HTTP targets on 127.0.0.1 that play a scenario's API in real time.

The model predicts what a scenario's traffic would get; a load test checks the
prediction against a real server. These servers are built from the same scenario file:

* :mod:`.runtime` plays the scenario's Lambda functions: real concurrency limits, cold
  starts that take the ``init`` time, handlers that sleep the ``duration``, errors and
  function timeouts, answered the way API Gateway's Lambda-proxy integration maps them.
* :mod:`.emulated` puts API Gateway in front of it, in the same process: API keys, usage
  plans, quotas, route/stage/account throttles and the integration timeout, with the
  model's own gateway code (:class:`simulator.gateway.path.Gateway`) on a real clock.
* :mod:`.nginx` writes an nginx configuration with ``limit_req`` zones in place of API
  Gateway's throttles and runs Debian's nginx in front of the function runtime.
* :mod:`.serve` starts one of them: ``python -m loadtests.target.serve SCENARIO --port P
  --gateway emulated|nginx``.

Every answer carries ``x-throttlesim-cause`` (a name from :data:`simulator.CAUSES`) and
``x-throttlesim-cold-start`` (``1`` or ``0``), so a load test can record why each
request got the status it got. The simulator never reads a clock; the real clock of
these servers lives here (:class:`.clock.Clock`).
"""
