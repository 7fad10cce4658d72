"""The manager's asyncio cycle: negotiate, dispatch, vacate, reconcile, account, police.

`ManagerLoop` runs these tasks on the server's event loop:

- the negotiator: waits for a trigger (a submit, a released claim, a release)
  or the negotiation interval, coalesces triggers arriving within `debounce`
  seconds, then runs one cycle: fold the running claims into the accounting
  (`core.fairshare.account`, persisted), build the `Snapshot` from the live
  queue and the backends' capacity, `core.negotiate`, vacate the preemption
  victims (store first: Running/vacating with a "preempted" event, then
  `cancel`; the eviction back to Idle follows when the process is gone), and
  dispatch the matches (store first: Idle/dispatching, then `start`);
- one reader per backend: folds each batch of backend events into the live
  queue at once (a job's exit goes through its own policy, `manager.policy`)
  and queues the store transitions they imply;
- the flusher: commits the queued transitions in one write pass — a few
  transactions per pass, one per kind of transition (started, completed,
  retried, held, evicted, vacated, matched), each writing its events in the
  same transaction, plus the log index — in a worker thread, so the event
  loop keeps starting jobs while the database works;
- the periodic sweep: `periodic_hold`/`periodic_release`/`periodic_remove` of
  every queued job, every `periodic_interval` seconds.

Claims are reused as HTCondor's schedd does: when a job ends, the next idle
job of the same submitter that fits the claim runs on it without a
negotiation cycle (bounded by `claim_worklife`). A claim whose jobs run
briefly keeps up to `prefetch` further jobs matched to it (committed to the
store as Idle/dispatching before any of them starts), so a stream of short
jobs runs back to back while their bookkeeping is written in batches.

Order and durability: a job starts only after its match is committed; every
other transition is committed by the next flush (tens of milliseconds). A
crash in between loses nothing: recovery finds the process, or the exit
record its supervising shell wrote (`manager.supervise`), or puts the job back
to Idle. User actions and cycles take the store lock and flush first, so they
always act on the committed state.

Neighbours: `manager.snapshot` (live queue), `manager.dispatch` (ad ->
LaunchSpec), `manager.policy`, `manager.supervise`, `manager.recovery`,
`store.Store`, `backends.base` (the port).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyflock.backends.base import (
    BackendEvent,
    CancelReason,
    ExecutionBackend,
    JobExited,
    JobLost,
    JobStarted,
    JobStartFailed,
    LaunchSpec,
)
from skyflock.classad import ClassAd, symmetric_match
from skyflock.core.carve import request_of
from skyflock.core.fairshare import account
from skyflock.core.model import AccountingState, Match, Plan
from skyflock.core.negotiate import negotiate
from skyflock.manager import policy
from skyflock.manager.dispatch import DispatchError, launch_spec, vacate_grace
from skyflock.manager.settings import ServerSettings
from skyflock.manager.snapshot import (
    DISPATCHING,
    HELD,
    IDLE,
    NONE,
    REMOVED,
    RUNNING,
    VACATING,
    ClaimInfo,
    ClusterView,
    LiveJob,
    LiveQueue,
    slot_id_of,
)
from skyflock.manager.supervise import exit_record_path, supervised
from skyflock.store import JobBatch, LogEntry, Store

log = logging.getLogger(__name__)

REUSE_SCAN = 64
"""Idle jobs of the submitter looked at when a claim asks for more work."""
SHORT_RUN = 1.0
"""A job that ran less than this many seconds makes its claim prefetch."""


def signal_exit_code(signal: int) -> int:
    """The exit code recorded for a job killed by `signal` (as a shell reports it)."""
    return 128 + signal


@dataclass(slots=True)
class CycleStats:
    cycles: int = 0
    last_duration: float = 0.0
    last_matches: int = 0
    total_matches: int = 0
    reused_claims: int = 0
    preemptions: int = 0
    completed: int = 0
    event_batches: int = 0
    events: int = 0
    flushes: int = 0
    flush_seconds: float = 0.0


@dataclass(slots=True)
class _Batch:
    """Store transitions waiting for the next flush, in the order they must be applied."""

    started: dict[str, str] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)
    completed: dict[str, int] = field(default_factory=dict)
    retried: dict[str, dict[str, int]] = field(default_factory=dict)
    """reason -> job -> exit code."""
    held: dict[tuple[str, int, int], list[str]] = field(default_factory=dict)
    """(reason, code, subcode) -> jobs whose process is gone."""
    evicted: dict[str, list[str]] = field(default_factory=dict)
    vacated: list[str] = field(default_factory=list)
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    matches: list[Match] = field(default_factory=list)
    runs: dict[str, int] = field(default_factory=dict)
    """job -> run number whose exit record goes once its end is committed."""

    def __bool__(self) -> bool:
        return bool(
            self.started
            or self.completed
            or self.retried
            or self.held
            or self.evicted
            or self.vacated
            or self.unmatched
            or self.matches
        )


@dataclass(frozen=True, slots=True)
class Moved:
    """Jobs a user action changed, and those it refused with why."""

    moved: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]


class ManagerLoop:
    """The scheduler proper. `Manager` (the facade) owns one and calls into it."""

    def __init__(
        self,
        store: Store,
        backends: Mapping[str, ExecutionBackend],
        clusters: Mapping[str, ClusterView],
        settings: ServerSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.backends = dict(backends)
        self.clusters = dict(clusters)
        self.settings = settings
        self.config = settings.negotiator
        self.clock = clock
        self.live = LiveQueue()
        self.accounting = AccountingState()
        self.plan: Plan = Plan()
        self.plan_time: float | None = None
        self.stats = CycleStats()
        self.run_dir = settings.data_dir / "run"
        self.specs: dict[str, LaunchSpec] = {}
        """The launch of every job matched to a claim and not yet ended."""
        self.lock = asyncio.Lock()
        """Held by whoever writes job state to the store (flush, cycle, user actions)."""
        self._pending = _Batch()
        self._refill: dict[int, ClaimInfo] = {}
        self._trigger = asyncio.Event()
        self._flush_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._accounting_saved = 0.0
        self._changed = asyncio.Event()
        self._slot_ads: dict[str, ClassAd] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def load(self) -> None:
        """Read the queue and the accounting from the store (before recovery)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.live.load(self.store.jobs.query())
        for job in self.live.claimed.values():
            job.matched = True
            if job.claim is not None:
                job.claim.submitter = job.submitter
                if job.status == RUNNING or job.substate == VACATING:
                    job.claim.running = job
        self.accounting = self.store.accounting.load()
        self.refresh_capacity()

    def start_tasks(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._negotiator(), name="negotiator"))
        self._tasks.append(loop.create_task(self._flusher(), name="flusher"))
        self._tasks.append(loop.create_task(self._periodic(), name="periodic"))
        for backend in self.backends.values():
            self._tasks.append(
                loop.create_task(self._reader(backend), name=f"events-{backend.name}")
            )
        self.trigger()

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        async with self.lock:
            await self._flush_locked()
        with contextlib.suppress(Exception):
            self.store.accounting.save(self.accounting)

    def trigger(self) -> None:
        """Ask for a negotiation cycle soon (coalesced with others within `debounce`)."""
        self._trigger.set()

    async def wait_changed(self, timeout: float) -> None:
        """Wait until the queue changes (a flush committed something), or `timeout`."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    # -- capacity ----------------------------------------------------------------------------

    def refresh_capacity(self) -> None:
        for name, backend in self.backends.items():
            view = self.clusters[name]
            try:
                view.offers = list(backend.capacity())
                view.healthy, view.message = True, ""
            except Exception as exc:  # a backend that cannot answer is unhealthy, not fatal
                view.healthy, view.message = False, f"capacity: {exc}"
                log.warning("cluster %s: %s", name, view.message)

    # -- negotiation -------------------------------------------------------------------------

    async def _negotiator(self) -> None:
        interval = max(0.01, self.config.interval)
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._trigger.wait(), interval)
            if self.settings.debounce > 0:
                await asyncio.sleep(self.settings.debounce)
            self._trigger.clear()
            try:
                await self.cycle()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("negotiation cycle failed")

    async def cycle(self) -> Plan:
        """One negotiation cycle; returns its plan."""
        async with self.lock:
            await self._flush_locked()
            started = time.perf_counter()
            now = self.clock()
            self.refresh_capacity()
            self.accounting = account(self.accounting, self.live.claims(), now, self.config)
            if now - self._accounting_saved >= 5.0:
                await asyncio.to_thread(self.store.accounting.save, self.accounting)
                self._accounting_saved = now
            snapshot = self.live.snapshot(self.clusters, self.accounting)
            plan = (
                negotiate(snapshot, self.config, now, seed=self.stats.cycles)
                if snapshot.idle
                else Plan()
            )
            self.plan, self.plan_time = plan, now
            if plan.preemptions:
                await self._vacate(plan, now)
            pairs: list[tuple[LiveJob, ClaimInfo]] = []
            for m in plan.matches:
                if m.preempts:
                    continue  # runs once its victims are gone, in a later cycle
                job = self.live.get(m.job_id)
                if job is None or job.status != IDLE or job.substate != NONE:
                    continue
                claim = ClaimInfo(
                    m.cluster, m.slot_id, m.cpus, m.memory, m.disk, m.gpus, now, job.submitter
                )
                pairs.append((job, claim))
            await self._match_and_start(pairs, now)
            self.stats.cycles += 1
            self.stats.last_matches = len(pairs)
            self.stats.total_matches += len(pairs)
            self.stats.last_duration = time.perf_counter() - started
            return plan

    async def _vacate(self, plan: Plan, now: float) -> None:
        by_reason: dict[str, list[str]] = {}
        for p in plan.preemptions:
            text = f"preempted ({p.reason}) for job {p.for_job}"
            if p.detail:
                text = f"{text}: {p.detail}"
            by_reason.setdefault(text, []).append(p.job_id)
        for reason, ids in by_reason.items():
            result = await asyncio.to_thread(self.store.jobs.preempt, ids, reason, now=now)
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is None:
                    continue
                job.no_reuse = True
                self.live.set_state(job, RUNNING, VACATING)
                self._cancel(job, "vacated")
                self.stats.preemptions += 1

    # -- dispatch ----------------------------------------------------------------------------

    def _prepare(self, job: LiveJob, claim: ClaimInfo) -> str | None:
        """Build the job's launch for `claim`; returns why not when it cannot run."""
        try:
            spec = launch_spec(job.ad, job.id, memory_limit_mib=claim.memory or None)
        except DispatchError as exc:
            return f"Cannot start the job: {exc}"
        if self.settings.exit_records:
            spec = supervised(spec, exit_record_path(self.run_dir, job.id, job.num_starts + 1))
        self.specs[job.id] = spec
        return None

    def _reserve(self, job: LiveJob, claim: ClaimInfo) -> Match:
        """Put an Idle job in `claim`'s queue (its match still to be committed)."""
        job.claim = claim
        job.matched = False
        job.no_reuse = False
        self.live.set_state(job, IDLE, DISPATCHING)
        claim.queue.append(job)
        return Match(
            job_id=job.id,
            slot_id=claim.slot_id,
            cluster=claim.cluster,
            cpus=claim.cpus,
            memory=claim.memory,
            disk=claim.disk,
            gpus=claim.gpus,
            submitter=job.submitter,
        )

    async def _match_and_start(
        self, pairs: Sequence[tuple[LiveJob, ClaimInfo]], now: float
    ) -> None:
        """Commit the matches (lock held), then start each claim's first job."""
        bad: dict[str, list[str]] = {}
        matches: list[Match] = []
        for job, claim in pairs:
            why = self._prepare(job, claim)
            if why is not None:
                bad.setdefault(why, []).append(job.id)
                continue
            matches.append(self._reserve(job, claim))
        for reason, ids in bad.items():
            code = int(policy.HoldCode.FAILED_TO_CREATE_PROCESS)
            held = await asyncio.to_thread(self.store.jobs.hold, ids, reason, code, now=now)
            for job_id in held.moved:
                self._mark_held(job_id, reason, code, 0, now)
                self._to_state(job_id, HELD)
        if matches:
            result = await asyncio.to_thread(self.store.jobs.match, matches, now=now)
            self._after_match(matches, result.moved)
        for _, claim in pairs:
            await self._start_next(claim)

    def _after_match(self, matches: Sequence[Match], moved: Sequence[str]) -> None:
        committed = set(moved)
        for m in matches:
            job = self.live.get(m.job_id)
            if job is None:
                continue
            if m.job_id in committed:
                job.matched = True
            else:  # refused by the store: forget the reservation
                if job.claim is not None:
                    with contextlib.suppress(ValueError):
                        job.claim.queue.remove(job)
                self.specs.pop(job.id, None)
                job.claim = None
                self.live.set_state(job, job.status, NONE)

    async def _start_next(self, claim: ClaimInfo) -> None:
        """Start the claim's next matched job, if the claim is free."""
        while claim.running is None and claim.queue:
            job = claim.queue[0]
            if not job.matched:
                return  # its match is being committed; the flush starts it
            claim.queue.popleft()
            if job.status != IDLE or job.substate != DISPATCHING or job.claim is not claim:
                continue  # removed or held while it waited
            spec = self.specs.get(job.id)
            if spec is None:
                continue
            backend = self.backends.get(claim.cluster)
            if backend is None:
                continue
            claim.running = job
            job.run_started = time.monotonic()
            try:
                await backend.start(spec)
            except Exception as exc:  # the port reports failures as events; be safe anyway
                log.exception("cluster %s: start of job %s failed", claim.cluster, job.id)
                claim.running = None
                self._pending.unmatched.setdefault(f"start failed: {exc}", []).append(job.id)
                job.claim = None
                self.live.set_state(job, IDLE, NONE)
                self._want_flush()
                continue
            return

    # -- backend events ----------------------------------------------------------------------

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
        batch: _Batch,
        now: float,
    ) -> None:
        if job.status == IDLE and job.substate == DISPATCHING:
            if job.claim is not None and job.claim.running is None:
                job.claim.running = job
            handle = handle_text(event)
            batch.started[job.id] = handle
            job.handle = handle
            job.started_at = event.started_at
            job.num_starts += 1
            self.live.set_state(job, RUNNING, NONE)
            paths = backend.log_paths(job.id)
            batch.logs.append(LogEntry(job.id, "stdout", paths.stdout, 0, backend.name, now))
            batch.logs.append(LogEntry(job.id, "stderr", paths.stderr, 0, backend.name, now))
        elif job.substate == VACATING:  # removed or held before its start was seen
            backend.cancel(job.id, "removed" if job.status == REMOVED else "held", 0)

    def _free(
        self,
        job: LiveJob,
        batch: _Batch,
        freed: list[tuple[LiveJob, ClaimInfo, bool]],
        reusable: bool,
    ) -> None:
        claim = job.claim
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
        batch: _Batch,
        freed: list[tuple[LiveJob, ClaimInfo, bool]],
    ) -> None:
        own_end = event.reason in (None, "memory", "walltime", "adopted")
        if job.status == RUNNING and (job.substate == NONE or own_end):
            self._apply_exit(job, event, batch, freed)
            return
        if job.status == RUNNING:  # preempted (Running/vacating) and stopped
            why = "preempted" + (f": {event.detail}" if event.detail else "")
            batch.evicted.setdefault(why, []).append(job.id)
            self._free(job, batch, freed, reusable=False)
            job.claim = None
            self.live.set_state(job, IDLE, NONE)
            self.trigger()
            return
        if job.substate in (VACATING, DISPATCHING):  # held or removed while it ran
            batch.vacated.append(job.id)
            self._free(job, batch, freed, reusable=False)
            self._settle_vacated(job)

    def _settle_vacated(self, job: LiveJob) -> None:
        job.claim = None
        if job.status == REMOVED:
            self.live.set_state(job, REMOVED, NONE)
            self.live.discard(job.id)
        else:
            self.live.set_state(job, HELD, NONE)

    def _apply_exit(
        self,
        job: LiveJob,
        event: JobExited,
        batch: _Batch,
        freed: list[tuple[LiveJob, ClaimInfo, bool]],
    ) -> None:
        code = event.exit_code
        sig = event.signal
        if code is None and sig is None and event.reason == "adopted":
            recorded = read_exit_record(exit_record_path(self.run_dir, job.id, job.num_starts))
            if recorded is not None and recorded > 128:
                sig = recorded - 128
            else:
                code = recorded
        ad = job.ad
        job.completions += 1
        ad["ExitBySignal"] = sig is not None
        if sig is not None:
            ad["ExitSignal"] = sig
        elif "ExitSignal" in ad:
            del ad["ExitSignal"]
        if code is not None:
            ad["ExitCode"] = code
        ad["NumJobCompletions"] = job.completions
        ad["NumJobStarts"] = job.num_starts
        outcome = policy.exit_outcome(
            ad, exit_code=code, signal=sig, reason=event.reason, detail=event.detail
        )
        value = code if code is not None else (signal_exit_code(sig) if sig is not None else 0)
        self._free(job, batch, freed, reusable=True)
        job.claim = None
        if isinstance(outcome, policy.Complete):
            batch.completed[job.id] = value
            self.live.set_state(job, 4, NONE)
            self.live.discard(job.id)
        elif isinstance(outcome, policy.Requeue):
            why = (
                "exit code or signal counted against max_retries; the job will run again"
                if outcome.retry
                else "on_exit_remove is false; the job will run again"
            )
            batch.retried.setdefault(why, {})[job.id] = value
            self.live.set_state(job, IDLE, NONE)
            self.trigger()
        elif isinstance(outcome, policy.Hold):
            key = (outcome.reason, outcome.code, outcome.subcode)
            batch.held.setdefault(key, []).append(job.id)
            self._mark_held(job.id, outcome.reason, outcome.code, outcome.subcode, self.clock())
            self.live.set_state(job, HELD, NONE)

    def _on_start_failed(
        self,
        job: LiveJob,
        event: JobStartFailed,
        batch: _Batch,
        freed: list[tuple[LiveJob, ClaimInfo, bool]],
    ) -> None:
        self._free(job, batch, freed, reusable=True)
        if job.status == IDLE and job.substate == DISPATCHING:
            code = int(
                policy.START_FAILURE_CODES.get(
                    event.stage, policy.HoldCode.FAILED_TO_CREATE_PROCESS
                )
            )
            reason = f"Cannot start the job: {event.why}"
            batch.held.setdefault((reason, code, 0), []).append(job.id)
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
        batch: _Batch,
        freed: list[tuple[LiveJob, ClaimInfo, bool]],
    ) -> None:
        why = f"lost: {event.why}"
        self._free(job, batch, freed, reusable=False)
        if (job.status == RUNNING and job.substate == NONE) or job.status == RUNNING:
            batch.evicted.setdefault(why, []).append(job.id)
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

    def _mark_held(self, job_id: str, reason: str, code: int, subcode: int, now: float) -> None:
        job = self.live.get(job_id)
        if job is not None:
            job.ad["HoldReason"] = reason
            job.ad["HoldReasonCode"] = code
            job.ad["HoldReasonSubCode"] = subcode
            job.ad["EnteredCurrentStatus"] = int(now)

    def _to_state(self, job_id: str, status: int) -> None:
        job = self.live.get(job_id)
        if job is not None:
            job.claim = None
            self.live.set_state(job, status, NONE)

    # -- claim reuse -------------------------------------------------------------------------

    async def _reuse(self, freed: Sequence[tuple[LiveJob, ClaimInfo, bool]], now: float) -> None:
        """Run the next job on each freed claim, or ask the flush for more, or give it back."""
        worklife = self.settings.claim_worklife
        for _old, claim, reusable in freed:
            if not reusable or worklife <= 0 or now - claim.claimed_at > worklife:
                self._release(claim)
                continue
            await self._start_next(claim)
            if claim.running is None or len(claim.queue) < self._depth(claim):
                self._refill[id(claim)] = claim

    def _depth(self, claim: ClaimInfo) -> int:
        return self.settings.prefetch if claim.short_runs else 0

    def _release(self, claim: ClaimInfo) -> None:
        """Give a claim back: its queued jobs return to Idle (at the next flush)."""
        claim.released = True
        self._refill.pop(id(claim), None)
        while claim.queue:
            job = claim.queue.popleft()
            if job.claim is claim and job.status == IDLE and job.substate == DISPATCHING:
                self.specs.pop(job.id, None)
                job.claim = None
                self.live.set_state(job, IDLE, NONE)
                if job.matched:
                    self._pending.unmatched.setdefault("its claim was released", []).append(job.id)
                job.matched = False
        self.trigger()

    def _fill(self, claim: ClaimInfo) -> list[Match]:
        """Reserve idle jobs of the claim's submitter for it, up to its depth."""
        want = max(0, self._depth(claim) + (1 if claim.running is None else 0) - len(claim.queue))
        if want == 0:
            return []
        candidates = self.live.idle_by_submitter.get(claim.submitter)
        if not candidates:
            return []
        slot = self._dynamic_slot_ad(claim)
        have = (claim.cpus, claim.memory, claim.disk, claim.gpus)
        quantum = self.config.memory_quantum
        chosen: list[LiveJob] = []
        checked_req: set[int] = set()
        for i, job in enumerate(list(candidates.values())):
            if i >= REUSE_SCAN or len(chosen) >= want:
                break
            need = request_of(job.ad, quantum)
            if any(n > h for n, h in zip(need, have, strict=True)):
                continue
            req = job.ad.lookup("Requirements")
            if req is None or id(req) not in checked_req:
                if not symmetric_match(job.ad, slot):
                    continue
                if req is not None and not _depends_on_job(job):
                    checked_req.add(id(req))
            chosen.append(job)
        matches = []
        for job in chosen:
            if self._prepare(job, claim) is None:
                matches.append(self._reserve(job, claim))
        self.stats.reused_claims += len(matches)
        return matches

    def _dynamic_slot_ad(self, claim: ClaimInfo) -> ClassAd:
        key = f"{claim.slot_id}|{claim.cpus}|{claim.memory}|{claim.disk}|{claim.gpus}"
        ad = self._slot_ads.get(key)
        if ad is None:
            cluster = self.clusters.get(claim.cluster)
            offer = None
            if cluster is not None:
                offer = next(
                    (o for o in cluster.offers if slot_id_of(cluster.name, o) == claim.slot_id),
                    None,
                )
            ad = ClassAd(
                {
                    "Name": claim.slot_id,
                    "Cpus": claim.cpus,
                    "Memory": claim.memory,
                    "Disk": claim.disk,
                    "GPUs": claim.gpus,
                    "ClusterName": claim.cluster,
                    "Tier": cluster.tier if cluster else 0,
                    "HasFileTransfer": True,
                    "Start": True,
                    "Requirements": True,
                }
            )
            if offer is not None:
                ad["Arch"] = offer.arch
                ad["OpSys"] = offer.opsys
                ad["Machine"] = offer.machine or offer.name
                ad["FileSystemDomain"] = offer.machine or offer.name
                ad["UidDomain"] = offer.machine or offer.name
                ad["TotalCpus"] = offer.cpus
                ad["TotalMemory"] = offer.memory_mib
                ad["TotalDisk"] = offer.disk_kib
                for k, v in offer.labels.items():
                    ad[k] = v
            self._slot_ads[key] = ad
        return ad

    # -- the flush ---------------------------------------------------------------------------

    def _want_flush(self) -> None:
        self._flush_wanted.set()

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
        refills = list(self._refill.values())
        self._refill.clear()
        for claim in refills:
            if claim.released:
                continue
            matches = self._fill(claim)
            self._pending.matches.extend(matches)
            if claim.running is None and not claim.queue:
                self._release(claim)
        batch, self._pending = self._pending, _Batch()
        if not batch:
            return
        started = time.perf_counter()
        moved_matches = await asyncio.to_thread(self._write, batch, self.clock())
        self.stats.flushes += 1
        self.stats.flush_seconds += time.perf_counter() - started
        if batch.matches:
            self._after_match(batch.matches, moved_matches)
            for claim in refills:
                await self._start_next(claim)
                if claim.running is None and not claim.queue and not claim.released:
                    self._release(claim)
        self._changed.set()

    def _write(self, batch: _Batch, now: float) -> tuple[str, ...]:
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
        if self.settings.exit_records:
            for job_id, run in batch.runs.items():
                with contextlib.suppress(OSError):
                    os.unlink(exit_record_path(self.run_dir, job_id, run))
        return done.moved("match")

    # -- periodic policy ---------------------------------------------------------------------

    async def _periodic(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.periodic_interval)
            try:
                await self.periodic_sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic policy sweep failed")

    async def periodic_sweep(self) -> int:
        """Evaluate every queued job's periodic expressions; returns the jobs acted on."""
        now = self.clock()
        holds: dict[tuple[str, int, int], list[str]] = {}
        releases: list[str] = []
        removes: dict[str, list[str]] = {}
        for job in self.live:
            if job.substate != NONE or not policy.has_periodic_attributes(job.has_attribute):
                continue
            job.ad["CurrentTime"] = int(now)
            job.ad["JobStatus"] = job.status
            job.ad["NumJobStarts"] = job.num_starts
            action = policy.periodic_action(job.ad, job.status)
            if isinstance(action, policy.Hold):
                holds.setdefault((action.reason, action.code, action.subcode), []).append(job.id)
            elif isinstance(action, policy.Release):
                releases.append(job.id)
            elif isinstance(action, policy.Remove):
                removes.setdefault(action.reason, []).append(job.id)
        acted = 0
        for (reason, code, subcode), ids in holds.items():
            acted += len((await self.hold(ids, reason, code, subcode)).moved)
        if releases:
            acted += len((await self.release(releases)).moved)
        for reason, ids in removes.items():
            acted += len((await self.remove(ids, reason)).moved)
        return acted

    # -- user actions (also used by the periodic policy) -------------------------------------

    async def hold(self, ids: Sequence[str], reason: str, code: int, subcode: int = 0) -> Moved:
        async with self.lock:
            await self._flush_locked()
            now = self.clock()
            result = await asyncio.to_thread(
                self.store.jobs.hold, ids, reason, code, subcode, now=now
            )
            unstarted: list[str] = []
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is None:
                    continue
                self._mark_held(job_id, reason, code, subcode, now)
                if job.status in (IDLE, HELD) and job.substate == NONE:
                    self.live.set_state(job, HELD, NONE)
                elif self._waiting_in_queue(job):
                    unstarted.append(job_id)
                else:
                    self.live.set_state(job, HELD, VACATING)
                    self._cancel(job, "held")
            await self._vacate_unstarted(unstarted, HELD, now)
            return Moved(result.moved, tuple((r.job_id, r.message) for r in result.refused))

    async def release(self, ids: Sequence[str]) -> Moved:
        async with self.lock:
            await self._flush_locked()
            now = self.clock()
            result = await asyncio.to_thread(self.store.jobs.release, ids, now=now)
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is None:
                    continue
                for name in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
                    if name in job.ad:
                        del job.ad[name]
                job.ad["EnteredCurrentStatus"] = int(now)
                job.claim = None
                self.live.set_state(job, IDLE, NONE)
            if result.moved:
                self.trigger()
            return Moved(result.moved, tuple((r.job_id, r.message) for r in result.refused))

    async def remove(self, ids: Sequence[str], reason: str) -> Moved:
        async with self.lock:
            await self._flush_locked()
            now = self.clock()
            result = await asyncio.to_thread(self.store.jobs.remove, ids, reason, now=now)
            unstarted: list[str] = []
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is None:
                    continue
                if job.claim is None or (job.status in (IDLE, HELD) and job.substate == NONE):
                    self.live.set_state(job, REMOVED, NONE)
                    self.live.discard(job_id)
                elif self._waiting_in_queue(job):
                    unstarted.append(job_id)
                else:
                    self.live.set_state(job, REMOVED, VACATING)
                    self._cancel(job, "removed")
            await self._vacate_unstarted(unstarted, REMOVED, now)
            return Moved(result.moved, tuple((r.job_id, r.message) for r in result.refused))

    async def edit(self, ids: Sequence[str], attribute: str, expression: str, value: Any) -> Moved:
        async with self.lock:
            await self._flush_locked()
            result = await asyncio.to_thread(self.store.jobs.edit, ids, {attribute: expression})
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is not None:
                    job.ad[attribute] = value
            if result.moved:
                self.trigger()
            return Moved(result.moved, tuple((r.job_id, r.message) for r in result.refused))

    @staticmethod
    def _waiting_in_queue(job: LiveJob) -> bool:
        claim = job.claim
        return (
            job.status == IDLE
            and job.substate == DISPATCHING
            and claim is not None
            and claim.running is not job
        )

    async def _vacate_unstarted(self, ids: list[str], status: int, now: float) -> None:
        """Jobs held or removed while queued on a claim have no process: settle them now."""
        if not ids:
            return
        for job_id in ids:
            job = self.live.get(job_id)
            if job is not None and job.claim is not None:
                with contextlib.suppress(ValueError):
                    job.claim.queue.remove(job)
                self.specs.pop(job_id, None)
                job.claim = None
                self.live.set_state(job, status, VACATING)
        result = await asyncio.to_thread(self.store.jobs.vacated, ids, now=now)
        for job_id in result.moved:
            job = self.live.get(job_id)
            if job is not None:
                self._settle_vacated(job)

    def _cancel(self, job: LiveJob, reason: CancelReason) -> None:
        if job.claim is None:
            return
        backend = self.backends.get(job.claim.cluster)
        if backend is not None:
            backend.cancel(job.id, reason, vacate_grace(job.ad))


def _depends_on_job(job: LiveJob) -> bool:
    """Whether the job's Requirements read attributes that differ between procs."""
    req = job.ad.lookup("Requirements")
    if req is None:
        return False
    own = req.internal_refs(job.ad)
    return bool(own & {"procid", "clusterid", "globaljobid"})


def _warn(result: Any) -> None:
    refused = getattr(result, "refused", ())
    for r in refused:
        log.warning("store refused %s of job %s: %s", result.action, r.job_id, r.message)


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


def read_exit_record(path: Path) -> int | None:
    """The exit code the job's supervisor wrote, or None when there is none (yet)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None
