"""A bounded pool for the CPU-bound work, with admission control in front of it.

A request takes a slot *before* its body is read; there are `workers + queue` slots. When none is free
the request gets 503 with Retry-After at once, so memory stays bounded by the slot count times the size
limit, never by how many clients connect. The slot is held until the job's thread has finished, even if
the client went away meanwhile, so abandoned jobs cannot pile up behind the pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from anonymizer import BusyError

T = TypeVar("T")


class Ticket:
    """One admitted request: runs its jobs on the pool and remembers the last one still running."""

    def __init__(self, pool: WorkerPool) -> None:
        self._pool = pool
        self._pending: concurrent.futures.Future[Any] | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        future = self._pool.executor.submit(fn, *args)
        self._pending = future
        return await asyncio.wrap_future(future)

    def _release_when_done(self, release: Callable[[], None]) -> None:
        future = self._pending
        if future is None or future.done() or future.cancel():
            release()
            return
        loop = asyncio.get_running_loop()

        def release_on_loop(_: concurrent.futures.Future[Any]) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(release)

        future.add_done_callback(release_on_loop)


class WorkerPool:
    """`workers` threads share the loaded models; at most `workers + queue` requests are admitted."""

    def __init__(self, workers: int, queue: int) -> None:
        self.workers = workers
        self.capacity = workers + queue
        self.admitted = 0
        self.executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="anonymizer-worker")

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[Ticket]:
        """A slot for one request, or BusyError. Only ever called on the event loop, so no lock."""
        if self.admitted >= self.capacity:
            raise BusyError(f"all {self.workers} workers are busy and the queue is full; try again shortly")
        self.admitted += 1
        ticket = Ticket(self)
        try:
            yield ticket
        finally:
            ticket._release_when_done(self._release)

    def _release(self) -> None:
        self.admitted -= 1

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
