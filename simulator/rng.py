"""Named random streams.

Every source of randomness in a run (a client's arrivals, a function's durations,
a client's retry jitter...) has its own stream, derived from the scenario seed and
the stream's name. Adding a client or a function therefore does not change the
numbers any other part of the model draws, and two engines that name their
streams the same way see the same numbers.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stream"]


def stream(seed: int, *name: str) -> np.random.Generator:
    """The generator for stream ``name`` (e.g. ``("duration", "orders")``) under ``seed``."""
    key = zlib.crc32("/".join(name).encode("utf-8"))
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32, key])
