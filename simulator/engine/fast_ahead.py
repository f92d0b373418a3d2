"""Random draws and arrival times made ahead, on a second core, while the compiled loop runs.

A fast-engine run spends about a quarter of its time making its inputs: NumPy draws the
random streams' blocks and the open clients' arrival times whenever the compiled loop
runs low. None of that depends on what the loop does: a stream's values are the same
sequence however it is cut into blocks (:func:`~simulator.engine.fast_inputs.draw_blocks`),
and a client's arrival chunks come in a fixed order. So one worker thread can make the
next piece of every stream and the next chunk of every client while the loop (compiled
``nogil``) works on the current one, and hand them over when the loop asks. The values
are bit for bit the ones made on demand; only *when* they are made changes.

Each stream and each chunked client keeps one request in flight on the worker, so the
worker (a single thread, which runs requests in the order they were made) always
advances a generator from one place, in order. The worker lives as long as one run
(:class:`Ahead` is a context manager) and is used only where a second core is there to
run it: ``THROTTLESIM_PREFETCH`` (``auto``, the default: when the machine has more than
one core and the run is big enough to gain; ``on``; ``off``) decides.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from simulator.dists import BLOCK, Distribution
from simulator.errors import ThrottlesimError

__all__ = ["Ahead", "StreamAhead", "ChunksAhead", "prefetch_wanted", "PREFETCH_ENV", "PREFETCH_ABOVE"]

#: The environment variable that turns making inputs ahead on or off.
PREFETCH_ENV = "THROTTLESIM_PREFETCH"
#: ``auto`` makes inputs ahead for runs expecting more attempts than this.
PREFETCH_ABOVE = 200_000


def prefetch_wanted(expected_attempts: int) -> bool:
    """Whether a run expecting *expected_attempts* should make its inputs ahead."""
    value = os.environ.get(PREFETCH_ENV, "auto").strip().lower() or "auto"
    if value not in ("auto", "on", "off"):
        raise ThrottlesimError(f"{PREFETCH_ENV}: must be auto, on or off, got {value!r}")
    if value != "auto":
        return value == "on"
    return (os.cpu_count() or 1) > 1 and expected_attempts > PREFETCH_ABOVE


class Ahead:
    """The worker thread of one run."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="throttlesim-inputs")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class StreamAhead:
    """One random stream's next values, drawn *chunk_blocks* blocks at a time on the worker."""

    def __init__(self, draw: Callable[[Distribution, np.random.Generator, int], np.ndarray], dist: Distribution,
                 rng: np.random.Generator, ahead: Ahead, chunk_blocks: int) -> None:
        self._draw, self._dist, self._rng, self._ahead = draw, dist, rng, ahead
        self._chunk = max(1, chunk_blocks)
        self._ready: deque[np.ndarray] = deque()
        self._have = 0
        self._pending: Future[np.ndarray] | None = None
        self._ask()

    def _ask(self) -> None:
        self._pending = self._ahead.submit(self._draw, self._dist, self._rng, self._chunk)

    def take_into(self, out: np.ndarray) -> None:
        """Fill *out* (a whole number of blocks) with the stream's next values."""
        need = len(out)
        assert need % BLOCK == 0
        while self._have < need:
            assert self._pending is not None
            got = self._pending.result()
            self._ready.append(got)
            self._have += len(got)
            self._ask()
        i = 0
        while i < need:
            head = self._ready[0]
            m = min(len(head), need - i)
            out[i:i + m] = head[:m]
            if m == len(head):
                self._ready.popleft()
            else:
                self._ready[0] = head[m:]
            i += m
        self._have -= need


class ChunksAhead(Iterator[np.ndarray]):
    """An iterator of arrival chunks whose next item is always being made on the worker."""

    def __init__(self, chunks: Iterator[np.ndarray], ahead: Ahead) -> None:
        self._chunks = chunks
        self._ahead = ahead
        self._pending: Future[Any] = ahead.submit(next, chunks, None)

    def __next__(self) -> np.ndarray:
        item = self._pending.result()
        if item is None:
            raise StopIteration
        self._pending = self._ahead.submit(next, self._chunks, None)
        return item
