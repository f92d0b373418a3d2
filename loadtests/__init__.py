"""Load tests that drive a real API with a scenario's traffic.

This package never imports :mod:`simulator`'s engines into a Locust process and the
simulator never imports Locust: Locust monkey-patches the process with gevent, so it
always runs as a subprocess.
"""
