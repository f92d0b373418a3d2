"""The fast engine's supplies: random numbers and open arrivals, in bounded buffers,
made ahead on another core for long runs.

**Random streams.** The reference engine reads every stream through a
:class:`~simulator.dists.Draws`: blocks of :data:`~simulator.dists.BLOCK` samples drawn
with ``dist.sample(rng, BLOCK)``. :class:`Streams` draws the same blocks from the same
generators, several at a time, and copies them into a fixed ring buffer per stream
that the compiled loop reads (:func:`draw`). For the exponential, lognormal and uniform distributions one call
of ``k * BLOCK`` samples gives exactly the values of ``k`` calls of ``BLOCK`` (NumPy draws
each sample on its own); an empirical distribution (bounded integers, which NumPy buffers
within a call) is drawn block by block. A fixed distribution needs no buffer at all.

**Open arrivals.** :class:`Arrivals` holds each open client's arrival times in one region
of a flat array: all of them, or for very long runs the current chunk of
:func:`~simulator.engine.fast.inputs.arrival_chunks`.

**Made ahead.** In a long run NumPy's part (drawing the random numbers and the arrival
times) is about a third of the time, and none of it depends on what the loop does: a
stream is a sequence fixed by the seed, of which the loop only ever takes the next
values. So with a :class:`Worker` (a thread; the compiled loop holds no GIL, and NumPy
releases it while it draws) each stream's next part and each client's next chunk are
made while the loop runs, and when the loop runs out it finds them ready. The numbers
are the ones the run would draw anyway, in the same order: every stream has a generator
of its own, only one task at a time draws from it, and the worker runs its tasks in the
order they came. The only difference is that a part made ahead may go unused when the run
ends. Without a worker (:class:`Inline`, the default) a part is drawn when it is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
from numba import njit

from simulator.dists import BLOCK, Distribution, Exponential, Fixed, LogNormal, Uniform
from simulator.engine.fast.layout import BUDGET, T_O_RSTATE, T_O_SCONST, T_O_SVAL

__all__ = ["Arrivals", "Inline", "Maker", "Pending", "Streams", "Worker", "draw", "draw_blocks"]

#: Distributions whose samples NumPy draws one by one, so block boundaries do not matter.
_PER_SAMPLE = (Exponential, LogNormal, Uniform)

def draw_blocks(dist: Distribution, rng: np.random.Generator, n_blocks: int) -> np.ndarray:
    """The next *n_blocks* blocks of a :class:`~simulator.dists.Draws` of *dist* on *rng*."""
    if isinstance(dist, _PER_SAMPLE):
        return np.asarray(dist.sample(rng, n_blocks * BLOCK), dtype=np.float64)
    return np.concatenate([np.asarray(dist.sample(rng, BLOCK), dtype=np.float64) for _ in range(n_blocks)])


# --------------------------------------------------------------------------- who makes the next part


class Pending(Protocol):
    """A part being made: ``result()`` waits for it."""

    def result(self) -> Any: ...


class Maker(Protocol):
    """Where the next parts are made: :class:`Inline` or :class:`Worker`."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Pending: ...

    def close(self) -> None: ...


class _Later:
    """``fn(*args)``, computed the first time its result is asked for."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._fn: Callable[..., Any] | None = fn
        self._args = args
        self._value: Any = None

    def result(self) -> Any:
        if self._fn is not None:
            self._value = self._fn(*self._args)
            self._fn = None
        return self._value


class Inline:
    """Makes a part when it is needed, in the calling thread."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Pending:
        return _Later(fn, args)

    def close(self) -> None:
        pass


class Worker:
    """Makes parts ahead, in one thread of its own, in the order they were asked for."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="throttlesim-ahead")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        """Stop: drop what has not started, wait for what has."""
        self._pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- random streams


class Streams:
    """Every named random stream of a run, as rows of one buffer array.

    Each row is a ring of :attr:`cap` values (a power of two): ``rpos`` counts the values
    the loop took from it and ``rlen`` the values put in it, both only ever grow, and
    value *p* is at ``p % cap``. A stream's values arrive in *parts* of whole blocks, up
    to a ring each, made by *maker*: the part being copied from and, asked for as soon as
    that one is taken, the next. So the numbers take at most three times the rings'
    memory (*max_total* values in all)."""

    def __init__(self, sources: list[tuple[Distribution, np.random.Generator] | None], max_total: int = 1 << 23,
                 expected_draws: int = 0, maker: Maker | None = None) -> None:
        self.sources = sources
        self.maker: Maker = maker or Inline()
        live = [s for s in sources if s is not None and not isinstance(s[0], Fixed)]
        per = max(2, min(64, (max_total // BLOCK) // max(1, len(live))))
        per = 1 << (per.bit_length() - 1)  # a power of two, like BLOCK: the buffers are rings
        self.cap = per * BLOCK
        if self.cap & (self.cap - 1):  # pragma: no cover - BLOCK is a power of two
            raise ValueError(f"the random-number rings need a power-of-two length, not {self.cap}")
        n = len(sources)
        self.const = np.zeros(n, dtype=np.int64)
        self.value = np.full(n, np.nan)
        # Blocks in each stream's next part: doubling from a size that suits the run's
        # expected number of draws (few parts for long runs, little waste for short ones).
        first = min(per // 2, max(1, expected_draws // (8 * BLOCK)))
        self.blocks = np.full(n, first, dtype=np.int64)
        self.part: list[np.ndarray] = [np.zeros(0)] * n  # the part being copied from
        self.taken = np.zeros(n, dtype=np.int64)  # values of it already copied
        self.copied = np.zeros(n, dtype=np.int64)  # values copied into the ring in all
        self.ahead: list[Pending | None] = [None] * n  # the next part
        for i, src in enumerate(sources):
            if src is None:
                self.const[i] = 1
            elif isinstance(src[0], Fixed):
                self.const[i] = 1
                self.value[i] = float(src[0].value_s)
            else:
                self._ask(i)

    def _ask(self, s: int) -> None:
        """Ask for stream *s*'s next part."""
        dist, rng = self.sources[s]  # type: ignore[misc]
        self.ahead[s] = self.maker.submit(draw_blocks, dist, rng, int(self.blocks[s]))
        self.blocks[s] = min(2 * self.blocks[s], self.cap // BLOCK)

    def buffers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(self.sources)
        return np.empty((n, self.cap)), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)

    def refill(self, rb: np.ndarray, rpos: np.ndarray, rlen: np.ndarray) -> int:
        """Top up every drawn-from stream whose ring is less than half full, to at least
        half (the rest of the current part, then new parts while under half, as room
        allows); return how many draws are now safe whatever streams they come from (the
        fewest left in one)."""
        budget = 1 << 62
        cap = self.cap
        for s, src in enumerate(self.sources):
            if self.const[s] or src is None:
                continue
            if rlen[s] - rpos[s] < cap // 2:
                while True:
                    part, at = self.part[s], int(self.taken[s])
                    if at == len(part):
                        if rlen[s] - rpos[s] >= cap // 2:
                            break
                        part = self.part[s] = self.ahead[s].result()  # type: ignore[union-attr]
                        at = 0
                        self._ask(s)
                    k = min(len(part) - at, cap - int(rlen[s] - rpos[s]))
                    if k == 0:  # the ring is full
                        break
                    # The ring's free room starts after its last value, and may wrap around.
                    start = int(rlen[s]) % cap
                    head = min(k, cap - start)
                    rb[s, start:start + head] = part[at:at + head]
                    rb[s, :k - head] = part[at + head:at + k]
                    self.taken[s] = at + k
                    self.copied[s] += k
                    rlen[s] += k
                if self.taken[s] == len(self.part[s]):
                    self.part[s] = np.zeros(0)  # used up: let it go
                    self.taken[s] = 0
            budget = min(budget, int(rlen[s] - rpos[s]))
        return budget

    def used(self, rpos: np.ndarray, rlen: np.ndarray) -> np.ndarray:
        """How many values the run took from each stream."""
        return self.copied - (rlen - rpos)


# --------------------------------------------------------------------------- the loop's side


@njit(inline="always")
def draw(fixed_i, fixed_f, state_i, randoms, s):  # type: ignore[no-untyped-def]
    """The next value of stream *s* (a :class:`~simulator.dists.Draws`' ``next()``).
    Each stream's buffer is a ring (its length a power of two): position *p* counts every
    value taken, and the value is at ``p % length``."""
    if fixed_i[fixed_i[T_O_SCONST] + s]:
        return fixed_f[fixed_i[T_O_SVAL] + s]
    o = fixed_i[T_O_RSTATE] + 2 * s
    p = state_i[o]
    state_i[o] = p + 1
    state_i[BUDGET] -= 1
    return randoms[s, p & (randoms.shape[1] - 1)]


# --------------------------------------------------------------------------- arrivals


class Arrivals:
    """The arrival buffers of the open clients: one region of one flat array each.

    *sources* maps a client to its ``(times, routes)`` arrays, or to an iterator of
    chunks of times with a ``max_len`` (the most one chunk holds)."""

    def __init__(self, sources: dict[int, Any], n_clients: int, maker: Maker | None = None) -> None:
        self.sources = sources
        self.maker: Maker = maker or Inline()
        self.off = np.zeros(n_clients, dtype=np.int64)
        sizes = np.zeros(n_clients, dtype=np.int64)
        for c, src in sources.items():
            sizes[c] = len(src[0]) if isinstance(src, tuple) else src.max_len
        self.off[1:] = np.cumsum(sizes)[:-1]
        self.t = np.zeros(int(sizes.sum()) + 1)
        self.r = np.full(int(sizes.sum()) + 1, -1, dtype=np.int64)
        self.pos = np.zeros(n_clients, dtype=np.int64)
        self.len = np.zeros(n_clients, dtype=np.int64)
        self.more = np.zeros(n_clients, dtype=np.int64)
        self._ahead: dict[int, Pending] = {}  # a chunked client's next chunk
        for c, src in sources.items():
            if isinstance(src, tuple):
                times, routes = src
                o = self.off[c]
                self.t[o:o + len(times)] = times
                self.r[o:o + len(times)] = routes
                self.len[c] = len(times)
            else:
                self._ahead[c] = self.maker.submit(next, src, None)
                self.load(c)

    def bind(self, view: np.ndarray) -> None:
        """Keep the per-client state (offset, position, length, more) in *view*
        (clients x 4, inside the engine's state array) from now on."""
        view[:, 0], view[:, 1], view[:, 2], view[:, 3] = self.off, self.pos, self.len, self.more
        self.off, self.pos, self.len, self.more = view[:, 0], view[:, 1], view[:, 2], view[:, 3]

    def load(self, c: int) -> None:
        """Put client *c*'s next chunk in its region (its previous one is used up)."""
        src: Iterator[np.ndarray] = self.sources[c]
        chunk = self._ahead.pop(c).result() if c in self._ahead else None
        while chunk is not None and len(chunk) == 0:
            chunk = next(src, None)
        o = self.off[c]
        n = 0 if chunk is None else len(chunk)
        if chunk is not None:
            self.t[o:o + n] = chunk
        self.pos[c] = 0
        self.len[c] = n
        # Whether there is a chunk after this one is known only once it is made: the
        # loop asks again at the end of this one, and finds out then.
        self.more[c] = 1 if chunk is not None else 0
        if chunk is not None:
            self._ahead[c] = self.maker.submit(next, src, None)
