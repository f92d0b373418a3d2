"""Load tests that drive a real API with a scenario's traffic.

The simulator never imports Locust: Locust monkey-patches the process with gevent, so it
always runs as a subprocess (:mod:`loadtests.runner`).
"""
