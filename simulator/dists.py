"""Distributions of durations: how long a handler runs, how long a cold start takes.

A distribution is a small object that knows how to draw samples (in
seconds) from a NumPy random generator and what its mean is. Scenario files name
them with ``kind``::

    duration = "120ms"                                          # fixed
    duration = { kind = "exponential", mean = "100ms" }
    duration = { kind = "lognormal", median = "80ms", p99 = "600ms" }
    duration = { kind = "uniform", low = "50ms", high = "150ms" }
    duration = { kind = "empirical", file = "durations.txt", unit = "ms" }
    duration = { kind = "sequence", file = "observed.txt", unit = "s" }  # in order, one per draw

The lognormal is given the way latency is usually reported, by its median and its
99th percentile; ``sigma = ln(p99 / median) / z(0.99)``.

The engine does not call ``sample`` once per request: a :class:`Draws` object pulls
blocks of samples from one named random stream and hands them out in order, so the
sequence of values a function sees depends only on the seed and on the order of its
invocations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Distribution",
    "Draws",
    "Empirical",
    "Exponential",
    "Fixed",
    "LogNormal",
    "Sequence",
    "Uniform",
]

#: z such that P(Z <= z) = 0.99 for a standard normal Z.
Z99 = 2.3263478740408408

#: How many samples a :class:`Draws` pulls from its stream at a time. Part of the
#: model's definition: changing it changes which value each request gets.
BLOCK = 1024


@runtime_checkable
class Distribution(Protocol):
    """What the engine needs of a distribution: samples in seconds and a mean."""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray: ...

    @property
    def mean(self) -> float: ...


@dataclass(frozen=True)
class Fixed:
    """Always the same value."""

    value_s: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value_s)

    @property
    def mean(self) -> float:
        return self.value_s


@dataclass(frozen=True)
class Exponential:
    """Exponential with the given mean (memoryless; the M in M/M/c)."""

    mean_s: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_s, n)

    @property
    def mean(self) -> float:
        return self.mean_s


@dataclass(frozen=True)
class LogNormal:
    """Lognormal given by its median and 99th percentile (``p99_s >= median_s``)."""

    median_s: float
    p99_s: float

    @property
    def mu(self) -> float:
        return math.log(self.median_s)

    @property
    def sigma(self) -> float:
        return math.log(self.p99_s / self.median_s) / Z99

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, n)

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)


@dataclass(frozen=True)
class Uniform:
    """Uniform on ``[low_s, high_s)``."""

    low_s: float
    high_s: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low_s, self.high_s, n)

    @property
    def mean(self) -> float:
        return (self.low_s + self.high_s) / 2


@dataclass(frozen=True)
class Empirical:
    """Resamples (with replacement) a set of measured values, e.g. Lambda REPORT durations."""

    values_s: tuple[float, ...]
    source: str = field(default="", compare=False)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        values = np.asarray(self.values_s)
        return values[rng.integers(0, len(values), n)]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values_s))


@dataclass
class Sequence:
    """Measured values handed out in their order, one per draw, from the first again after
    the last: replays the init and run times a real runtime observed, invocation by
    invocation. It ignores the random stream and keeps its place, so each stream needs its
    own (:meth:`simulator.scenario.SequenceDist.build` makes a new one each time)."""

    values_s: tuple[float, ...]
    source: str = field(default="", compare=False)
    position: int = field(default=0, compare=False)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        index = (self.position + np.arange(n)) % len(self.values_s)
        self.position += n
        return np.asarray(self.values_s)[index]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values_s))


class Draws:
    """Hands out samples of one distribution from one random stream, in order."""

    __slots__ = ("_dist", "_rng", "_buf", "_i")

    def __init__(self, dist: Distribution, rng: np.random.Generator) -> None:
        self._dist = dist
        self._rng = rng
        self._buf: list[float] = []
        self._i = 0

    def next(self) -> float:
        """The next sample, in seconds."""
        if self._i >= len(self._buf):
            self._buf = self._dist.sample(self._rng, BLOCK).tolist()
            self._i = 0
        value = self._buf[self._i]
        self._i += 1
        return value


class Uniforms(Draws):
    """Hands out U(0, 1) numbers from one random stream, in order (for coin flips)."""

    __slots__ = ()

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__(Uniform(0.0, 1.0), rng)
