"""Back-pressure on event pushes: a worker takes what it can store in time, and says when to come back.

Each HQ worker handles a few batches at once (its *slots*: the work is mostly Python under one
GIL, so more threads only fight over it) and lets a few more wait for a slot (its *queue*).
A push that finds slots and queue full, or that waited `wait_s` without a slot, is answered
`503` with `Retry-After` at once, instead of waiting tens of seconds in a queue nobody bounds
while its bench's HTTP client times out. The bench waits that long and sends the same batch
again (sync/client.py): nothing is lost, and the batch is stored once (idempotent on seq).

The answer also closes the connection: a bench's keep-alive connection stays on one worker, and
uvicorn's workers accept connections unevenly, so one can have twice the benches of another. The
bench's next connection goes to whichever worker accepts it first: usually one with time to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

ENV_SLOTS = "DOCKSTATION_HQ_BATCH_SLOTS"
ENV_QUEUE = "DOCKSTATION_HQ_BATCH_QUEUE"
ENV_WAIT = "DOCKSTATION_HQ_BATCH_WAIT"
SLOTS = 2
QUEUE = 24
WAIT_S = 5.0
RETRY_AFTER_S = 1  # whole seconds (the header's unit); the bench adds jitter


class Busy(Exception):
    """Every slot is taken and the queue is full (or the wait ran out): answer 503, Retry-After."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"HQ is busy: send this batch again in {retry_after} s")
        self.retry_after = retry_after


class BatchSlots:
    """`slots` batches at once per worker, at most `queue` waiting, none waiting over `wait_s`."""

    def __init__(self, slots: int = SLOTS, queue: int = QUEUE, wait_s: float = WAIT_S,
                 retry_after: int = RETRY_AFTER_S) -> None:
        if slots < 1 or queue < 0 or wait_s <= 0:
            raise ValueError("batch slots need slots >= 1, queue >= 0 and a wait above 0 s")
        self.slots, self.queue, self.wait_s, self.retry_after = slots, queue, wait_s, retry_after
        self._free = asyncio.Semaphore(slots)
        self.waiting = 0
        self.refused = 0  # answered 503 since start (this worker)

    @property
    def full(self) -> bool:
        """Every slot is taken."""
        return self._free.locked()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the body of the `async with`; Busy when there is none to be had in time."""
        if self.full and self.waiting >= self.queue:
            self.refused += 1
            raise Busy(self.retry_after)
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait_s):
                await self._free.acquire()
        except TimeoutError:
            self.refused += 1
            raise Busy(self.retry_after) from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._free.release()
