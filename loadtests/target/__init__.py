"""Real HTTP targets on 127.0.0.1 that play a scenario's API in real time.

The model predicts what a scenario's traffic would get; a load test checks the
prediction against a real server. These servers are built from the same scenario file:

* :mod:`.lambda_runtime` is an independent Lambda runtime, written from AWS's rules and
  not from the model: each execution environment is a worker process
  (:mod:`.lambda_worker`, :mod:`.lambda_processes`), concurrency is its own accounting
  (:mod:`.lambda_limits`); answers are mapped the way API Gateway's Lambda-proxy
  integration maps them.
* :mod:`.runtime` serves the model's own Lambda pools on a real clock instead.
* :mod:`.emulated` is the model served in real time, for testing the validation harness:
  the model's gateway (:class:`simulator.gateway.path.Gateway`: API keys, usage plans,
  quotas, throttles, the integration timeout) in front of :mod:`.runtime`, one process.
* :mod:`.nginx` writes an nginx configuration with ``limit_req`` zones in place of API
  Gateway's throttles and runs Debian's nginx in front of a runtime (by default the
  independent one); a route with an authorizer asks :mod:`.lambda_authorizers`, served
  beside the independent runtime, through nginx's ``auth_request``
  (:mod:`.nginx_authorizers`).
* :mod:`.serve` starts one of them: ``python -m loadtests.target.serve SCENARIO --port P
  --gateway emulated|nginx [--runtime independent|model]``.

Every answer carries ``x-throttlesim-cause`` (a name from :data:`simulator.CAUSES`) and
``x-throttlesim-cold-start`` (``1`` or ``0``), so a load test can record why each
request got the status it got. The simulator never reads a clock; the real clock of
these servers lives here (:class:`.clock.Clock`).
"""
