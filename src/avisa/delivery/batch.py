"""Coalescing many small database calls into one transaction each loop turn.

Concurrent senders each ask for one thing (re-check this appointment, record this
outcome); a `Batcher` gathers the requests made in one turn of the event loop and runs
them together as one call. One commit per batch instead of one per message is what keeps
delivery near the speed of the HTTP client.

The call runs on the loop itself, not in a thread: these statements take a millisecond
or two, and handing each to a pool thread cost more than it saved (the loop's every socket
call then waits for the GIL behind the thread; see docs/decisions.md D4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`await submit(item)` returns `fn([... item ...])`'s result for that item.

    `fn` takes a list of items and returns one result per item, in order. If it raises,
    every caller of that batch gets the exception. With `linger`, a batch waits that many
    (real) seconds for company before it runs: fewer, larger transactions for work that
    is not in a hurry.
    """

    def __init__(
        self, fn: Callable[[list[T]], Sequence[R]], *, max_batch: int = 500, linger: float = 0.0
    ) -> None:
        self.fn = fn
        self.max_batch = max_batch
        self.linger = linger
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Batcher({getattr(self.fn, '__name__', self.fn)!r})"

    async def submit(self, item: T) -> R:
        """Add `item` to the next batch and wait for its result."""
        return await self.enqueue(item)

    def enqueue(self, item: T) -> asyncio.Future[R]:
        """Add `item` to the next batch; its result comes in the returned future."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return future

    async def idle(self) -> None:
        """Wait until every item enqueued so far has been run."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        try:
            # Let the other senders of this loop turn (or of `linger` seconds) add theirs.
            await asyncio.sleep(self.linger)
            while self._pending:
                batch = self._pending[: self.max_batch]
                self._pending = self._pending[self.max_batch :]
                try:
                    results = self.fn([item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flusher = None
