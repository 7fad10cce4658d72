"""Reconciling: backend events (started, exited, start failed, lost) folded into the queue.

One reader task per backend takes each batch of events and applies it to the
live queue at once: a job's exit goes through its own policy
(`manager.policy`: complete, requeue for a retry, or hold), a freed claim
runs its next job; the store transitions follow at the next flush.

Neighbours: `manager.flushing` (the pass that commits them),
`manager.recovery` (feeds it the events of a restart), `backends.base`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence

from skyflock.backends.base import (
    BackendEvent,
    ExecutionBackend,
    JobExited,
    JobLost,
    JobStarted,
    JobStartFailed,
)
from skyflock.manager import policy, userlog
from skyflock.manager.dispatching import SHORT_RUN
from skyflock.manager.flushing import Flushing
from skyflock.manager.loop_state import PendingWrites
from skyflock.manager.snapshot import (
    DISPATCHING,
    HELD,
    IDLE,
    NONE,
    REMOVED,
    RUNNING,
    VACATING,
    ClaimInfo,
    LiveJob,
    core_claim,
)
from skyflock.store import LogEntry

log = logging.getLogger(__name__)


class Reconciling(Flushing):
    """Backend events -> live queue + pending store transitions."""

    async def _reader(self, backend: ExecutionBackend) -> None:
        while not self._stopping:
            try:
                events = await backend.events(None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cluster %s: reading events failed", backend.name)
                await asyncio.sleep(1.0)
                continue
            if not events:
                continue
            try:
                await self.absorb(backend, events)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cluster %s: handling %d events failed", backend.name, len(events))

    async def reconcile(self, backend: ExecutionBackend, events: Sequence[BackendEvent]) -> None:
        """Fold events in and commit them at once (used by recovery)."""
        await self.absorb(backend, events)
        async with self.lock:
            await self._flush_locked()

    async def absorb(self, backend: ExecutionBackend, events: Sequence[BackendEvent]) -> None:
        """Fold a batch of backend events into the live queue; the store follows at the flush."""
        self.stats.event_batches += 1
        self.stats.events += len(events)
        now = self.clock()
        batch = self._pending
        freed: list[tuple[LiveJob, ClaimInfo, bool]] = []
        for event in events:
            job = self.live.get(event.job_id)
            if job is None:
                continue
            try:
                if isinstance(event, JobStarted):
                    self._on_started(backend, job, event, batch, now)
                elif isinstance(event, JobExited):
                    self._on_exit(job, event, batch, freed)
                elif isinstance(event, JobStartFailed):
                    self._on_start_failed(job, event, batch, freed)
                elif isinstance(event, JobLost):
                    self._on_lost(job, event, batch, freed)
            except Exception:
                log.exception("cluster %s: cannot handle %r", backend.name, event)
        await self._reuse(freed, now)
        self._want_flush()

    def _on_started(
        self,
        backend: ExecutionBackend,
        job: LiveJob,
        event: JobStarted,
        batch: PendingWrites,
        now: float,
    ) -> None:
        self._unstage(job)
        if job.status == IDLE and job.substate == DISPATCHING:
            if job.claim is not None and job.claim.running is None:
                job.claim.running = job
                job.run_started = time.monotonic()
            handle = handle_text(event)
            batch.started[job.id] = handle
            job.handle = handle
            job.started_at = event.started_at
            job.num_starts += 1
            self.live.set_state(job, RUNNING, NONE)
            slot = job.claim.slot_id if job.claim is not None else None
            self._user_log(job, "start", lambda: userlog.executing(job.id, now, slot))
            paths = backend.log_paths(job.id)
            batch.logs.append(LogEntry(job.id, "stdout", paths.stdout, 0, backend.name, now))
            batch.logs.append(LogEntry(job.id, "stderr", paths.stderr, 0, backend.name, now))
        elif job.substate == VACATING:  # removed or held before its start was seen
            backend.cancel(job.id, "removed" if job.status == REMOVED else "held", 0)

    def _unstage(self, job: LiveJob) -> None:
        """A staged job has been reported on: it is no longer waiting in its claim's queue."""
        if job.id in self.staged:
            self.staged.discard(job.id)
            if job.claim is not None:
                with contextlib.suppress(ValueError):
                    job.claim.queue.remove(job)

    def _free(
        self,
        job: LiveJob,
        batch: PendingWrites,
        freed: list[tuple[LiveJob, ClaimInfo, bool]],
        reusable: bool,
    ) -> None:
        claim = job.claim
        if job.status == RUNNING and job.started_at is not None:
            ran = core_claim(job)
            if ran is not None:
                self.ended.append((ran, self.clock()))
        if claim is not None and claim.running is job:
            claim.running = None
            if job.run_started is not None:
                claim.short_runs = time.monotonic() - job.run_started < SHORT_RUN
            freed.append((job, claim, reusable and not job.no_reuse))
        batch.runs[job.id] = job.num_starts
        self.specs.pop(job.id, None)

    def _on_exit(
        self,
        job: LiveJob,
        event: JobExited,
        batch: PendingWrites,
        freed: list[tuple[LiveJob, ClaimInfo, bool]],
    ) -> None:
        own_end = event.reason in (None, "memory", "walltime", "adopted")
        if job.status == RUNNING and (job.substate == NONE or own_end):
            self._apply_exit(job, event, batch, freed)
            return
        if job.status == RUNNING:  # preempted (Running/vacating) and stopped
            why = "preempted" + (f": {event.detail}" if event.detail else "")
            batch.evicted.setdefault(why, []).append(job.id)
            now = self.clock()
            self._user_log(job, "evict", lambda: userlog.evicted(job.id, now, why))
            self._free(job, batch, freed, reusable=False)
            job.claim = None
            self.live.set_state(job, IDLE, NONE)
            self.trigger()
            return
        if job.substate in (VACATING, DISPATCHING):  # held or removed while it ran
            batch.vacated.append(job.id)
            self._free(job, batch, freed, reusable=False)
            self._settle_vacated(job)

    def _apply_exit(
        self,
        job: LiveJob,
        event: JobExited,
        batch: PendingWrites,
        freed: list[tuple[LiveJob, ClaimInfo, bool]],
    ) -> None:
        code = event.exit_code
        sig = event.signal
        ad = job.ad
        job.completions += 1
        ad["ExitBySignal"] = sig is not None
        if sig is not None:
            ad["ExitSignal"] = sig
        elif "ExitSignal" in ad:
            del ad["ExitSignal"]
        if code is not None and sig is None:
            ad["ExitCode"] = code
        elif "ExitCode" in ad:  # a signal death has none (as in HTCondor's ads)
            del ad["ExitCode"]
        ad["NumJobCompletions"] = job.completions
        ad["NumJobStarts"] = job.num_starts
        outcome = policy.exit_outcome(
            ad, exit_code=code, signal=sig, reason=event.reason, detail=event.detail
        )
        value = (code, sig) if sig is not None else (code if code is not None else 0)
        now = self.clock()
        self._free(job, batch, freed, reusable=True)
        job.claim = None
        if isinstance(outcome, policy.Complete):
            batch.completed[job.id] = value
            self._user_log(job, "complete", lambda: userlog.terminated(job.id, now, code, sig))
            self.live.set_state(job, 4, NONE)
            self.live.discard(job.id)
        elif isinstance(outcome, policy.Requeue):
            why = (
                "exit code or signal counted against max_retries; the job will run again"
                if outcome.retry
                else "on_exit_remove is false; the job will run again"
            )
            batch.retried.setdefault(why, {})[job.id] = value
            self._user_log(job, "retry", lambda: userlog.requeued(job.id, now, code, sig))
            self.live.set_state(job, IDLE, NONE)
            self.trigger()
        elif isinstance(outcome, policy.Hold):
            key = (outcome.reason, outcome.code, outcome.subcode)
            batch.held.setdefault(key, []).append(job.id)
            self._user_log(job, "hold", lambda: userlog.held(job.id, now, *key))
            self._mark_held(job.id, outcome.reason, outcome.code, outcome.subcode, self.clock())
            self.live.set_state(job, HELD, NONE)

    def _on_start_failed(
        self,
        job: LiveJob,
        event: JobStartFailed,
        batch: PendingWrites,
        freed: list[tuple[LiveJob, ClaimInfo, bool]],
    ) -> None:
        self._unstage(job)
        self._free(job, batch, freed, reusable=True)
        if job.status == IDLE and job.substate == DISPATCHING:
            code = int(
                policy.START_FAILURE_CODES.get(
                    event.stage, policy.HoldCode.FAILED_TO_CREATE_PROCESS
                )
            )
            reason = f"Cannot start the job: {event.why}"
            batch.held.setdefault((reason, code, 0), []).append(job.id)
            now = self.clock()
            self._user_log(job, "hold", lambda: userlog.held(job.id, now, reason, code, 0))
            self._mark_held(job.id, reason, code, 0, self.clock())
            job.claim = None
            self.live.set_state(job, HELD, NONE)
        elif job.substate == VACATING:
            batch.vacated.append(job.id)
            self._settle_vacated(job)

    def _on_lost(
        self,
        job: LiveJob,
        event: JobLost,
        batch: PendingWrites,
        freed: list[tuple[LiveJob, ClaimInfo, bool]],
    ) -> None:
        why = f"lost: {event.why}"
        self._unstage(job)  # dropped before it started: the claim goes on without it
        self._free(job, batch, freed, reusable=False)
        if (job.status == RUNNING and job.substate == NONE) or job.status == RUNNING:
            batch.evicted.setdefault(why, []).append(job.id)
            now = self.clock()
            self._user_log(job, "evict", lambda: userlog.evicted(job.id, now, why))
            job.claim = None
            self.live.set_state(job, IDLE, NONE)
        elif job.status == IDLE and job.substate == DISPATCHING:
            batch.unmatched.setdefault(why, []).append(job.id)
            job.claim = None
            self.live.set_state(job, IDLE, NONE)
        elif job.substate == VACATING:
            batch.vacated.append(job.id)
            self._settle_vacated(job)
        self.trigger()


def handle_text(event: JobStarted) -> str:
    """The store's `handle` of a started process: what `recover` needs after a restart."""
    return json.dumps(
        {
            "pid": event.pid,
            "pgid": event.pgid,
            "started_at": event.started_at,
            "process_start": event.process_start,
            "boot_id": event.boot_id,
            "process_key": getattr(event, "process_key", ""),
        },
        separators=(",", ":"),
    )
