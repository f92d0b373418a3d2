"""Traffic: what clients send and how they behave.

* :mod:`~simulator.traffic.arrivals`: when open clients' requests arrive (rate profiles,
  Poisson or evenly spaced arrivals, bursts);
* :mod:`~simulator.traffic.clients`: how closed (Locust-style) users pace themselves, how
  clients retry, and how a request picks its route.

Both engines and the load tests draw on these, so the model and the load test send the
same traffic.
"""
