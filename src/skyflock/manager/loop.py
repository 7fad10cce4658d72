"""The manager's asyncio cycle: negotiate, dispatch, vacate, reconcile, account, police.

One `ManagerLoop` runs three kinds of task on the server's event loop:

- the negotiator: waits for a trigger (a submit, a job's end, a release) or
  the negotiation interval, coalesces triggers arriving within `debounce`
  seconds, then runs one cycle: fold the running claims into the accounting
  (`core.fairshare.account`), build the `Snapshot` from the live queue and the
  backends' capacity, `core.negotiate`, vacate the preemption victims (store
  first: Running/vacating with a "preempted" event, then `cancel`), and
  dispatch the matches (store first: Idle/dispatching, then `start`);
- one reader per backend: takes every event the backend has (`events()`) and
  folds the whole batch into the store with a few transactions, one per kind
  of transition (started, completed, retried, held, evicted, vacated), each
  writing its events in the same transaction. A job's exit goes through its
  own policy (`manager.policy`: limits, on_exit_hold, on_exit_remove,
  success_exit_code, max_retries). The freed claim is reused at once for the
  next idle job of the same submitter that fits it (HTCondor's claim reuse,
  bounded by `claim_worklife`), so a stream of short jobs does not wait for a
  cycle per job; a claim that cannot be reused triggers a cycle;
- the periodic sweep: `periodic_hold`/`periodic_release`/`periodic_remove`
  of every queued job, every `periodic_interval` seconds.

The loop and the facade's user actions are the only writers of job state and
both run on this one thread; every change is a store transaction first and an
update of the in-memory `LiveQueue` right after it commits.

Neighbours: `manager.snapshot` (live queue), `manager.dispatch` (ad ->
LaunchSpec), `manager.policy` (exit and periodic policy), `manager.recovery`
(restart), `store.Store` (transactions), `backends.base` (the port).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skyflock.backends.base import (
    BackendEvent,
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
from skyflock.store import LogEntry, Store

log = logging.getLogger(__name__)

REUSE_SCAN = 16
"""Idle jobs of the submitter looked at when a claim is offered for reuse."""


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


@dataclass(slots=True)
class _Batch:
    """The store transitions one batch of backend events turns into."""

    started: dict[str, str] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)
    retried: dict[str, dict[str, int]] = field(default_factory=dict)
    """reason -> job -> exit code."""
    held: dict[tuple[str, int, int], list[str]] = field(default_factory=dict)
    """(reason, code, subcode) -> jobs (their process is gone)."""
    evicted: dict[str, list[str]] = field(default_factory=dict)
    vacated: list[str] = field(default_factory=list)
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    freed: list[tuple[LiveJob, ClaimInfo, bool]] = field(default_factory=list)
    """(job, claim, reusable) of every claim released by the batch."""
    runs: dict[str, int] = field(default_factory=dict)
    """job -> run number of every run that ended (its exit record goes once committed)."""


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
        """The launch of every job handed to a backend and not yet ended."""
        self._trigger = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._accounting_saved = 0.0
        self._finished = asyncio.Condition()
        self._slot_ads: dict[str, ClassAd] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def load(self) -> None:
        """Read the queue and the accounting from the store (before recovery)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.live.load(self.store.jobs.query())
        self.accounting = self.store.accounting.load()
        self.refresh_capacity()

    def start_tasks(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._negotiator(), name="negotiator"))
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
        with contextlib.suppress(Exception):
            self.store.accounting.save(self.accounting)

    def trigger(self) -> None:
        """Ask for a negotiation cycle soon (coalesced with others within `debounce`)."""
        self._trigger.set()

    async def wait_changed(self, timeout: float) -> None:
        """Wait until some job leaves the queue (or `timeout`): for followers of a job."""
        async with self._finished:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), timeout)

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
        started = time.perf_counter()
        now = self.clock()
        self.refresh_capacity()
        claims = self.live.claims()
        self.accounting = account(self.accounting, claims, now, self.config)
        if now - self._accounting_saved >= 5.0:
            self.store.accounting.save(self.accounting)
            self._accounting_saved = now
        snapshot = self.live.snapshot(self.clusters, self.accounting)
        if not snapshot.idle:
            plan = Plan()
        else:
            plan = negotiate(snapshot, self.config, now, seed=self.stats.cycles)
        self.plan, self.plan_time = plan, now
        if plan.preemptions:
            self._vacate(plan, now)
        matches = [m for m in plan.matches if not m.preempts]
        await self._dispatch_matches(matches, now)
        self.stats.cycles += 1
        self.stats.last_matches = len(matches)
        self.stats.total_matches += len(matches)
        self.stats.last_duration = time.perf_counter() - started
        return plan

    def _vacate(self, plan: Plan, now: float) -> None:
        by_reason: dict[str, list[str]] = {}
        for p in plan.preemptions:
            text = f"preempted ({p.reason}) for job {p.for_job}"
            if p.detail:
                text = f"{text}: {p.detail}"
            by_reason.setdefault(text, []).append(p.job_id)
        for reason, ids in by_reason.items():
            result = self.store.jobs.preempt(ids, reason, now=now)
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is None:
                    continue
                job.no_reuse = True
                self.live.set_state(job, RUNNING, VACATING)
                backend = self.backends.get(job.claim.cluster if job.claim else "")
                if backend is not None:
                    backend.cancel(job_id, "vacated", vacate_grace(job.ad))
                self.stats.preemptions += 1

    async def _dispatch_matches(self, matches: Sequence[Match], now: float) -> None:
        pairs: list[tuple[LiveJob, ClaimInfo]] = []
        for m in matches:
            job = self.live.get(m.job_id)
            if job is None or job.status != IDLE or job.substate != NONE:
                continue
            claim = ClaimInfo(m.cluster, m.slot_id, m.cpus, m.memory, m.disk, m.gpus, now)
            pairs.append((job, claim))
        await self.dispatch(pairs, now)

    async def dispatch(self, pairs: Sequence[tuple[LiveJob, ClaimInfo]], now: float) -> None:
        """Hand Idle jobs to their claims' backends: store first, then start."""
        if not pairs:
            return
        specs: dict[str, LaunchSpec] = {}
        bad: dict[str, list[str]] = {}
        ok: list[tuple[LiveJob, ClaimInfo]] = []
        for job, claim in pairs:
            try:
                spec = launch_spec(job.ad, job.id, memory_limit_mib=claim.memory or None)
            except DispatchError as exc:
                bad.setdefault(f"Cannot start the job: {exc}", []).append(job.id)
                continue
            if self.settings.exit_records:
                spec = supervised(spec, exit_record_path(self.run_dir, job.id, job.num_starts + 1))
            specs[job.id] = spec
            ok.append((job, claim))
        for reason, ids in bad.items():
            code = int(policy.HoldCode.FAILED_TO_CREATE_PROCESS)
            held = self.store.jobs.hold(ids, reason, code, now=now)
            for job_id in held.moved:
                bad_job = self.live.get(job_id)
                if bad_job is not None:
                    self.live.set_state(bad_job, HELD, NONE)
        if not ok:
            return
        result = self.store.jobs.match(
            [
                Match(
                    job_id=job.id,
                    slot_id=claim.slot_id,
                    cluster=claim.cluster,
                    cpus=claim.cpus,
                    memory=claim.memory,
                    disk=claim.disk,
                    gpus=claim.gpus,
                    submitter=job.submitter,
                )
                for job, claim in ok
            ],
            now=now,
        )
        moved = set(result.moved)
        for job, claim in ok:
            if job.id not in moved:
                continue
            job.claim = claim
            job.no_reuse = False
            self.live.set_state(job, IDLE, DISPATCHING)
        for job, claim in ok:
            if job.id not in moved:
                continue
            backend = self.backends[claim.cluster]
            spec = specs[job.id]
            self.specs[job.id] = spec
            try:
                await backend.start(spec)
            except Exception as exc:  # the port reports failures as events; be safe anyway
                log.exception("cluster %s: start of job %s failed", claim.cluster, job.id)
                self.specs.pop(job.id, None)
                un = self.store.jobs.unmatch([job.id], f"start on {claim.cluster} failed: {exc}")
                if un.moved:
                    self.live.set_state(job, IDLE, NONE)

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
                await self.reconcile(backend, events)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cluster %s: reconciling %d events failed", backend.name, len(events))

    async def reconcile(self, backend: ExecutionBackend, events: Sequence[BackendEvent]) -> None:
        """Fold a batch of backend events into the store (a few transactions) and the queue."""
        now = self.clock()
        self.stats.event_batches += 1
        self.stats.events += len(events)
        batch = _Batch()
        for event in events:
            if isinstance(event, JobStarted):
                job = self.live.get(event.job_id)
                if job is None:
                    continue
                if job.status == IDLE and job.substate == DISPATCHING:
                    batch.started[job.id] = handle_text(event)
                    job.handle = batch.started[job.id]
                    job.started_at = event.started_at
                elif job.substate == VACATING:  # removed or held before it started
                    backend.cancel(job.id, "removed" if job.status == REMOVED else "held", 0)
        if batch.started:
            self._commit_started(backend, batch.started, now)
        for event in events:
            if isinstance(event, JobStarted):
                continue
            job = self.live.get(event.job_id)
            if job is None:
                continue
            if isinstance(event, JobExited):
                self._on_exit(job, event, batch)
            elif isinstance(event, JobStartFailed):
                self._on_start_failed(job, event, batch)
            elif isinstance(event, JobLost):
                self._on_lost(job, event, batch)
        await self._commit_ends(batch, now)

    def _commit_started(
        self, backend: ExecutionBackend, started: dict[str, str], now: float
    ) -> None:
        result = self.store.jobs.start(list(started), handles=started, now=now)
        entries: list[LogEntry] = []
        for job_id in result.moved:
            job = self.live.get(job_id)
            if job is None:
                continue
            job.num_starts += 1
            self.live.set_state(job, RUNNING, NONE)
            paths = backend.log_paths(job_id)
            cluster = backend.name
            entries.append(LogEntry(job_id, "stdout", paths.stdout, 0, cluster, now))
            entries.append(LogEntry(job_id, "stderr", paths.stderr, 0, cluster, now))
        if entries:
            self.store.logs.record(entries, now=now)

    def _release_claim(self, job: LiveJob, batch: _Batch, reusable: bool) -> None:
        if job.claim is not None:
            batch.freed.append((job, job.claim, reusable and not job.no_reuse))
        batch.runs[job.id] = job.num_starts
        self.specs.pop(job.id, None)

    def _on_exit(self, job: LiveJob, event: JobExited, batch: _Batch) -> None:
        own_end = event.reason in (None, "memory", "walltime", "adopted")
        if job.status == RUNNING and (job.substate == NONE or own_end):
            if job.substate == VACATING and not own_end:
                pass  # handled below as an eviction
            else:
                self._apply_exit(job, event, batch)
                return
        if job.status == RUNNING:  # preempted (Running/vacating) and stopped
            why = "preempted"
            if event.detail:
                why = f"{why}: {event.detail}"
            batch.evicted.setdefault(why, []).append(job.id)
            self._release_claim(job, batch, reusable=False)
            return
        if job.substate in (VACATING, DISPATCHING):  # held or removed while it ran
            batch.vacated.append(job.id)
            self._release_claim(job, batch, reusable=False)

    def _apply_exit(self, job: LiveJob, event: JobExited, batch: _Batch) -> None:
        code = event.exit_code
        sig = event.signal
        if code is None and sig is None and event.reason == "adopted":
            code = read_exit_record(exit_record_path(self.run_dir, job.id, job.num_starts))
        ad = job.ad
        job.completions += 1
        if sig is not None:
            ad["ExitBySignal"] = True
            ad["ExitSignal"] = sig
        else:
            ad["ExitBySignal"] = False
            if "ExitSignal" in ad:
                del ad["ExitSignal"]
        if code is not None:
            ad["ExitCode"] = code
        ad["NumJobCompletions"] = job.completions
        ad["NumJobStarts"] = job.num_starts
        outcome = policy.exit_outcome(
            ad, exit_code=code, signal=sig, reason=event.reason, detail=event.detail
        )
        recorded = code if code is not None else (signal_exit_code(sig) if sig is not None else 0)
        if isinstance(outcome, policy.Complete):
            batch.completed[job.id] = recorded
            self._release_claim(job, batch, reusable=True)
        elif isinstance(outcome, policy.Requeue):
            why = (
                "exit code or signal counted against max_retries; the job will run again"
                if outcome.retry
                else "on_exit_remove is false; the job will run again"
            )
            batch.retried.setdefault(why, {})[job.id] = recorded
            self._release_claim(job, batch, reusable=True)
        elif isinstance(outcome, policy.Hold):
            batch.held.setdefault((outcome.reason, outcome.code, outcome.subcode), []).append(
                job.id
            )
            self._release_claim(job, batch, reusable=True)

    def _on_start_failed(self, job: LiveJob, event: JobStartFailed, batch: _Batch) -> None:
        if job.status == IDLE and job.substate == DISPATCHING:
            code = int(
                policy.START_FAILURE_CODES.get(
                    event.stage, policy.HoldCode.FAILED_TO_CREATE_PROCESS
                )
            )
            batch.held.setdefault((f"Cannot start the job: {event.why}", code, 0), []).append(
                job.id
            )
        elif job.substate == VACATING:
            batch.vacated.append(job.id)
        self._release_claim(job, batch, reusable=False)

    def _on_lost(self, job: LiveJob, event: JobLost, batch: _Batch) -> None:
        why = f"lost: {event.why}"
        if job.status == RUNNING:
            batch.evicted.setdefault(why, []).append(job.id)
        elif job.status == IDLE and job.substate == DISPATCHING:
            batch.unmatched.setdefault(why, []).append(job.id)
        elif job.substate == VACATING:
            batch.vacated.append(job.id)
        self._release_claim(job, batch, reusable=False)

    async def _commit_ends(self, batch: _Batch, now: float) -> None:
        jobs = self.store.jobs
        ended: list[str] = []
        if batch.completed:
            result = jobs.complete(batch.completed, now=now)
            for job_id in result.moved:
                self._leave(job_id, drop=True)
                ended.append(job_id)
            self.stats.completed += len(result.moved)
        for reason, codes in batch.retried.items():
            result = jobs.retry(codes, reason, now=now)
            for job_id in result.moved:
                self._to_state(job_id, IDLE)
                ended.append(job_id)
        for (reason, code, subcode), ids in batch.held.items():
            result = jobs.hold(ids, reason, code, subcode, now=now)
            gone = jobs.vacated(list(result.moved), now=now)
            for job_id in gone.moved:
                self._mark_held(job_id, reason, code, subcode, now)
                self._to_state(job_id, HELD)
                ended.append(job_id)
        for reason, ids in batch.evicted.items():
            result = jobs.evict(ids, reason, now=now)
            for job_id in result.moved:
                self._to_state(job_id, IDLE)
                ended.append(job_id)
        for reason, ids in batch.unmatched.items():
            result = jobs.unmatch(ids, reason, now=now)
            for job_id in result.moved:
                self._to_state(job_id, IDLE)
        if batch.vacated:
            result = jobs.vacated(batch.vacated, now=now)
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is None:
                    continue
                if job.status == REMOVED:
                    self._leave(job_id, drop=True)
                else:
                    self._to_state(job_id, HELD)
                ended.append(job_id)
        if self.settings.exit_records:
            for job_id in ended:
                remove_exit_records(self.run_dir, job_id, batch.runs.get(job_id))
        needs_cycle = await self._reuse(batch.freed, now)
        if ended or needs_cycle:
            if needs_cycle:
                self.trigger()
            async with self._finished:
                self._finished.notify_all()

    def _mark_held(self, job_id: str, reason: str, code: int, subcode: int, now: float) -> None:
        job = self.live.get(job_id)
        if job is not None:
            job.ad["HoldReason"] = reason
            job.ad["HoldReasonCode"] = code
            job.ad["HoldReasonSubCode"] = subcode
            job.ad["EnteredCurrentStatus"] = int(now)

    def _leave(self, job_id: str, *, drop: bool) -> None:
        job = self.live.get(job_id)
        if job is not None and drop:
            self.live.discard(job_id)
        self.specs.pop(job_id, None)

    def _to_state(self, job_id: str, status: int) -> None:
        job = self.live.get(job_id)
        if job is not None:
            job.claim = None
            self.live.set_state(job, status, NONE)

    # -- claim reuse -------------------------------------------------------------------------

    async def _reuse(self, freed: Sequence[tuple[LiveJob, ClaimInfo, bool]], now: float) -> bool:
        """Start the next fitting idle job of each freed claim's submitter on it.

        Returns True when some claim went back to the pool (a cycle should run).
        """
        if not freed:
            return False
        worklife = self.settings.claim_worklife
        pairs: list[tuple[LiveJob, ClaimInfo]] = []
        taken: set[str] = set()
        returned = False
        for old, claim, reusable in freed:
            if not reusable or worklife <= 0 or now - claim.claimed_at > worklife:
                returned = True
                continue
            nxt = self._next_for_claim(old, claim, taken)
            if nxt is None:
                returned = True
                continue
            taken.add(nxt.id)
            pairs.append((nxt, claim))
        if pairs:
            self.stats.reused_claims += len(pairs)
            await self.dispatch(pairs, now)
        return returned

    def _next_for_claim(self, old: LiveJob, claim: ClaimInfo, taken: set[str]) -> LiveJob | None:
        candidates = self.live.idle_by_submitter.get(old.submitter)
        if not candidates:
            return None
        slot = self._dynamic_slot_ad(claim)
        have = (claim.cpus, claim.memory, claim.disk, claim.gpus)
        quantum = self.config.memory_quantum
        old_req = old.ad.lookup("Requirements")
        for i, job in enumerate(candidates.values()):
            if i >= REUSE_SCAN:
                break
            if job.id in taken:
                continue
            need = request_of(job.ad, quantum)
            if any(n > h for n, h in zip(need, have, strict=True)):
                continue
            same = job.ad.lookup("Requirements")
            if (same is not None and same is old_req) or symmetric_match(job.ad, slot):
                return job
        return None

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
            if job.substate != NONE or not policy.has_periodic(job.ad):
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
            acted += len(self.hold(ids, reason, code, subcode, now=now).moved)
        if releases:
            acted += len(self.release(releases, now=now).moved)
        for reason, ids in removes.items():
            acted += len(self.remove(ids, reason, now=now).moved)
        if acted:
            self.trigger()
        return acted

    # -- user actions (also used by the periodic policy) -------------------------------------

    def hold(
        self, ids: Sequence[str], reason: str, code: int, subcode: int = 0, *, now: float
    ) -> _Moved:
        result = self.store.jobs.hold(ids, reason, code, subcode, now=now)
        for job_id in result.moved:
            job = self.live.get(job_id)
            if job is None:
                continue
            self._mark_held(job_id, reason, code, subcode, now)
            if job.status == IDLE and job.substate == NONE:
                self.live.set_state(job, HELD, NONE)
            else:
                self.live.set_state(job, HELD, VACATING)
                self._cancel(job, "held")
        return _Moved(result.moved, tuple((r.job_id, r.message) for r in result.refused))

    def release(self, ids: Sequence[str], *, now: float) -> _Moved:
        result = self.store.jobs.release(ids, now=now)
        for job_id in result.moved:
            job = self.live.get(job_id)
            if job is not None:
                for name in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
                    if name in job.ad:
                        del job.ad[name]
                job.ad["EnteredCurrentStatus"] = int(now)
                job.claim = None
                self.live.set_state(job, IDLE, NONE)
        if result.moved:
            self.trigger()
        return _Moved(result.moved, tuple((r.job_id, r.message) for r in result.refused))

    def remove(self, ids: Sequence[str], reason: str, *, now: float) -> _Moved:
        result = self.store.jobs.remove(ids, reason, now=now)
        for job_id in result.moved:
            job = self.live.get(job_id)
            if job is None:
                continue
            if job.claim is None or (job.status in (IDLE, HELD) and job.substate == NONE):
                self.live.set_state(job, REMOVED, NONE)
                self.live.discard(job_id)
            else:
                self.live.set_state(job, REMOVED, VACATING)
                self._cancel(job, "removed")
        return _Moved(result.moved, tuple((r.job_id, r.message) for r in result.refused))

    def _cancel(self, job: LiveJob, reason: str) -> None:
        if job.claim is None:
            return
        backend = self.backends.get(job.claim.cluster)
        if backend is not None:
            backend.cancel(job.id, reason, vacate_grace(job.ad))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Moved:
    moved: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]


def handle_text(event: JobStarted) -> str:
    """The store's `handle` of a started process: what `recover` needs after a restart."""
    return json.dumps(
        {
            "pid": event.pid,
            "pgid": event.pgid,
            "started_at": event.started_at,
            "process_start": event.process_start,
            "boot_id": event.boot_id,
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


def remove_exit_records(run_dir: Path, job_id: str, starts: int | None) -> None:
    if starts is not None:
        with contextlib.suppress(OSError):
            os.unlink(exit_record_path(run_dir, job_id, starts))
        return
    for path in run_dir.glob(f"{job_id}.*.exit"):
        with contextlib.suppress(OSError):
            path.unlink()


def ids_of(jobs: Iterable[LiveJob]) -> list[str]:
    return [job.id for job in jobs]
