"""Write-behind: the loop's queued transitions committed in one store transaction per pass.

Backend events and claim refills change the live queue at once and queue
their store transitions in `LoopState._pending`; the flusher commits them
every `flush_interval` seconds through `store.jobs.apply` (one transaction)
in a worker thread, so the event loop keeps starting jobs meanwhile. A cycle
or a user action takes the lock and flushes first, so it acts on the
committed state.

Neighbours: `manager.dispatching` (refills and starts after a commit),
`store.batch` (the transaction).
"""

from __future__ import annotations

import asyncio
import logging
import time

from skyflock.manager.dispatching import Dispatching
from skyflock.manager.loop_state import PendingWrites
from skyflock.manager.snapshot import ClaimInfo
from skyflock.manager.userlog import committed_entries, write_entries
from skyflock.store import JobBatch

log = logging.getLogger(__name__)


class Flushing(Dispatching):
    """The write-behind pass."""

    _in_flight: asyncio.Task[None] | None = None
    """The last write pass; `stop` waits for it (bounded) before the store is closed."""

    async def _flusher(self) -> None:
        while not self._stopping:
            await self._flush_wanted.wait()
            await asyncio.sleep(self.settings.flush_interval)
            self._flush_wanted.clear()
            try:
                async with self.lock:
                    await self._flush_locked()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing job transitions to the store failed")
                await asyncio.sleep(0.5)

    async def flush(self) -> None:
        async with self.lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        """Commit every queued transition and the claims' refills (the lock is held)."""
        await self._settle_write_pass()
        refills = list(self._refill.values())
        self._refill.clear()
        if self._stopping:
            refills = []  # no new matches while stopping: nothing would start them
        for claim in refills:
            if claim.released:
                continue
            matches = self._fill(claim)
            self._pending.matches.extend(matches)
            if claim.running is None and not claim.queue:
                self._release(claim)
        batch, self._pending = self._pending, PendingWrites()
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(
            self._write_pass(batch, refills), name="write-pass"
        )
        self._in_flight = task
        await asyncio.shield(task)

    async def _settle_write_pass(self) -> None:
        """Wait for the store calls and the write pass whose callers were cancelled
        (by `stop`) to end."""
        if self._store_calls:
            await asyncio.wait(set(self._store_calls))
        task = self._in_flight
        if task is not None and not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                raise
            except Exception:  # its own caller is gone: report it here
                log.exception("writing job transitions to the store failed")

    async def _write_pass(self, batch: PendingWrites, refills: list[ClaimInfo]) -> None:
        """The commit and what follows it, as one task: cancelling the caller that awaits
        it (`stop` cancels the flusher) leaves it to finish, so a commit is never cut off
        from its acknowledgement to the starter."""
        started = time.perf_counter()
        moved_matches = await asyncio.to_thread(self._write, batch, self.clock())
        self.stats.flushes += 1
        self.stats.flush_seconds += time.perf_counter() - started
        if batch.runs:  # their ends are committed: the starter may forget their exits
            for backend in self.backends.values():
                acknowledge = getattr(backend, "acknowledge", None)
                if acknowledge is not None:
                    acknowledge(batch.runs)
        if batch.matches:
            self._after_match(batch.matches, moved_matches)
            # Stopping: the committed matches stay Idle/dispatching with nothing started;
            # recovery finds no process for them and puts them back to Idle.
            for claim in [] if self._stopping else refills:
                await self._start_next(claim)
                if claim.running is None and not claim.queue and not claim.released:
                    self._release(claim)
        self._changed.set()

    def _write(self, batch: PendingWrites, now: float) -> tuple[str, ...]:
        """The one store transaction of a flush (runs in a worker thread)."""
        done = self.store.jobs.apply(
            JobBatch(
                started=batch.started,
                logs=batch.logs,
                completed=batch.completed,
                retried=batch.retried,
                held=batch.held,
                evicted=batch.evicted,
                unmatched=batch.unmatched,
                vacated=batch.vacated,
                matches=batch.matches,
            ),
            now=now,
        )
        for action, job_id, message in done.refused:
            log.warning("store refused %s of job %s: %s", action, job_id, message)
        self.stats.completed += len(done.moved("complete"))
        if batch.user_log:
            write_entries(committed_entries(batch.user_log, done.moved))
        return done.moved("match")
