"""Store reads off the event loop: the `OffLoop` dependency of the read routes.

Routes are `async def` and run on the event loop the manager's loop runs on,
so facade calls never race the loop. A read of a big queue is slow, though
(1,000 jobs: about 100 ms of SQL and ad decoding plus 150 ms writing the
answer on the loaded 2-core test machine), and done on the loop it stops the
scheduler for that long: a client polling `GET /api/jobs` in a loop cut a
1,000-job batch from 115 to 22 jobs/s.

The facade's store-only reads — `query`, `history`, `job_events` — are safe
to run in a worker thread: each checks out its own connection from the
engine's pool (SQLAlchemy engines are thread-safe; the SQLite connections are
opened with `check_same_thread=False`, as for the manager's own flush
thread), begins a deferred read transaction that in WAL mode sees the last
committed state and never blocks the single writer, touches no state of the
manager's loop, and returns ads built for this call (a cached cluster ad is
copied before it is changed). Routes hand such a read, with the writing of its
answer, to `OffLoop`; the other facade calls (the last cycle's analysis,
stats, userprio, slots, every change) stay on the loop.

At most `READ_THREADS` reads run at once, so a flood of polls waits its turn
instead of taking both cores from the loop.
Neighbours: `api.routes_jobs` and `api.routes_history` use it; `api.app`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Depends, Request

READ_THREADS: Final = 2
"""Reads running at once in worker threads (the machine the project targets has 2 cores)."""

T = TypeVar("T")


class OffLoop:
    """Runs a store-only read (and the writing of its answer) in a worker thread."""

    def __init__(self, limiter: CapacityLimiter) -> None:
        self._limiter = limiter

    async def __call__(self, read: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = functools.partial(read, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)


def off_loop(request: Request) -> OffLoop:
    state = request.app.state
    limiter = getattr(state, "read_limiter", None)
    if limiter is None:  # made on the loop, at the first read of this app
        limiter = state.read_limiter = CapacityLimiter(READ_THREADS)
    return OffLoop(limiter)


OffLoopDep = Annotated[OffLoop, Depends(off_loop)]
