"""The fast engine: the reference model, compiled, event for event.

Run it with :func:`simulator.simulate` (``engine="fast"``); :mod:`.engine` holds
:class:`~.engine.FastEngine` and what the engine does not model (:func:`~.engine.unsupported`).

The reference engine (:mod:`simulator.engine.reference`) is the definition of the model;
this engine runs the same model tens of times faster by replacing
SimPy's Python objects with arrays and its event loop with a loop compiled by numba
(:mod:`simulator.engine.fast.loop`). It gives the *same* result, attempt for attempt:
the same random numbers reach the same requests, and simultaneous events happen in the
same order. That is what makes it trustworthy, and ``tests/test_engine_differential.py``
checks it by comparing every attempt record of both engines on a corpus of scenarios.

Same random numbers
-------------------
Every named stream (:mod:`simulator.rng`) is drawn in blocks of
:data:`~simulator.dists.BLOCK` samples from the same generator as the reference's
:class:`~simulator.dists.Draws`, and consumed one value at a time in event order
(:mod:`simulator.engine.fast.streams`). Open arrivals are
:func:`~simulator.traffic.arrivals.open_arrival_times` (in chunks for very long runs,
:mod:`simulator.engine.fast.inputs`).

Same order: SimPy's event ids
-----------------------------
SimPy processes events in ``(time, priority, event id)`` order, where the id counts
every ``schedule`` call. The engine keeps a heap with the same key and gives an id to
exactly the events the reference schedules, in the same order:

1. **Process starts.** Before the run, one ``Initialize`` event (priority URGENT, at
   t = 0) per process, in scenario order: one per open or replay client, one per closed
   user (in user order, only those spawned before the end). They get ids 0, 1, ...
2. **Open arrivals.** An open client sends every arrival whose time ``t`` is not after
   ``now`` at once, in order; for the next one it schedules a timeout at
   ``now + (t - now)`` (exactly SimPy's arithmetic, which can differ from ``t`` in the
   last bit). When its trace ends its process ends, which uses an id. (These timeouts
   wait in a small heap of their own, at most one per client, and the loop takes
   whichever of the two heap tops comes first by the same key: the order is the
   same as with one heap.)
3. **Attempts.** An invoked function schedules its environment's release at
   ``now + init + run`` with priority URGENT: releases at *t* come before anything else
   at *t*, so a request at *t* can reuse the environment. Then the client's side is
   scheduled: with a retry policy, the response (NORMAL, at ``now + latency``); without,
   for a closed user only, the moment the response triggers the user's ``done`` event.
4. **Responses.** A response either schedules the retry (at ``now + backoff``) or ends
   the request; a closed user's ``done.succeed()`` is itself scheduled (NORMAL, at
   ``now``), so the user resumes one event later, after any events already scheduled
   for that instant.
5. **Closed users.** A user that resumes computes its ``wait_time``; a positive wait is
   a timeout (NORMAL), zero loops at once; a user that finds ``now >= duration`` ends its
   process (an id). A user spawned after 0 first waits for a spawn timeout.

Within one event, things happen in the reference's statement order (the gateway, the
overhead draw, the Lambda pool, the function's draws, then the scheduling above), so each
stream is consumed in the same order as well. Every process start, timeout, response and
``done`` gets its id exactly when the reference schedules it, including the ones
whose callbacks do nothing (a process ending), so ids compare as SimPy's do.

What it does not run: ``behaviour.throttle_algorithm = "nginx_limit_req"``
(:func:`~.engine.unsupported` says so, and ``engine="auto"`` then runs the SimPy engine).

Speed
-----
Everything the loop calls is inlined into one compiled function
(:mod:`simulator.engine.fast.loop`), which works on a few flat arrays
(:mod:`simulator.engine.fast.layout`). The modules are the model's parts:
:mod:`.gateway` (buckets, quotas, the chain), :mod:`.lambda_function` and
:mod:`.functions` (the invocation, the environments' pool, request-rate buckets),
:mod:`.attempt` (one attempt end to end), :mod:`.clients` (routes, retries, closed users'
waits), :mod:`.tallies` (records and bounded aggregates), :mod:`.heap` (SimPy's event
order), :mod:`.rules` (the rules both engines share, compiled); :mod:`.inputs` and
:mod:`.streams` make what the loop reads. The event heap is 4-ary, picks children by
time without branches, and holds releases (most of its events) without an event slot.
numba caches the compiled loop on disk (``cache=True``): the first run on a machine
compiles for about half a minute, later processes load it in well under a second.

A run expecting more than :data:`~.engine.AHEAD_ABOVE` attempts makes its random numbers and
arrival times in a second thread while the loop runs (the loop holds no GIL): about a
third of a long run's time, taken off the wall clock on a machine with a core to spare,
and the numbers are the same (:mod:`simulator.engine.fast.streams`).

Bounded memory
--------------
With ``record=False`` nothing is kept per request: counters by client and cause, a
latency histogram (:data:`~simulator.engine.fast.layout.HIST_SUB` bins per power of two),
one-second time-series bins and the billing quantities. The result is an
:class:`~simulator.results.aggregate.AggregateResult`. Random numbers, arrivals and the event
heap live in bounded buffers; when one runs low the compiled loop returns and resumes.
"""
