"""Dispatching: matches become reserved claims, committed, then started on their backend.

A match reserves an Idle job for a claim (Idle/dispatching, its `LaunchSpec`
built); a job starts only once its match is committed. While a claim's job
runs, the next committed job of its queue is staged on a backend that can
(`stage`: the local starter starts it the moment the running one is reaped,
without waiting for this loop); a staged job is the backend's until it
reports it started or lost. When a claim's job
ends, the next idle job of the same submitter that fits runs on it without a
negotiation cycle (HTCondor's claim reuse, bounded by `claim_worklife`), and a
claim whose jobs run briefly keeps up to `prefetch` jobs matched (`_fill`).

Neighbours: `manager.loop_state` (the state it works on), `manager.dispatch`
(ad -> LaunchSpec), `manager.flushing` (commits the refills).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

from skyflock.classad import ClassAd, symmetric_match
from skyflock.core.carve import request_of
from skyflock.core.model import Match
from skyflock.manager import policy
from skyflock.manager.dispatch import DispatchError, launch_spec
from skyflock.manager.loop_state import LoopState
from skyflock.manager.snapshot import (
    DISPATCHING,
    HELD,
    IDLE,
    NONE,
    RUNNING,
    ClaimInfo,
    LiveJob,
    slot_id_of,
)

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

REUSE_SCAN = 64
"""Idle jobs of the submitter looked at when a claim asks for more work."""
SHORT_RUN = 1.0
"""A job that ran less than this many seconds makes its claim prefetch."""
STAGE_DEPTH = 8
"""Committed jobs of a claim handed to a backend that can start them one after another."""
STAGE_LOW = 3
"""The staged chain is topped up to `STAGE_DEPTH` once fewer than this many wait: one
message to the backend for every few jobs rather than one for each."""


class Dispatching(LoopState):
    """Reserving, committing and starting matched jobs; claim reuse."""

    async def _in_thread(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run a store call in a worker thread as a task of its own.

        Cancelling the caller (`stop` cancels the negotiator) leaves the call to
        finish, and `stop` waits for it before the store is closed: a commit is
        never cut off in the middle, and the store is not closed under a thread.
        What the caller would have done after it does not run; recovery settles
        those jobs at the next start, as for any stop.
        """
        task: asyncio.Task[_T] = asyncio.get_running_loop().create_task(
            asyncio.to_thread(fn, *args, **kwargs)
        )
        self._store_calls.add(task)
        task.add_done_callback(self._store_calls.discard)
        return await asyncio.shield(task)

    def _prepare(self, job: LiveJob, claim: ClaimInfo) -> str | None:
        """Build the job's launch for `claim`; returns why not when it cannot run."""
        try:
            spec = launch_spec(
                job.ad, job.id, memory_limit_mib=claim.memory or None, run=job.num_starts + 1
            )
        except DispatchError as exc:
            return f"Cannot start the job: {exc}"
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
            held = await self._in_thread(self.store.jobs.hold, ids, reason, code, now=now)
            for job_id in held.moved:
                self._mark_held(job_id, reason, code, 0, now)
                self._to_state(job_id, HELD)
        if matches:
            result = await self._in_thread(self.store.jobs.match, matches, now=now)
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
                await backend.start(spec)  # a no-op for a staged job: it is already handed over
            except Exception as exc:  # the port reports failures as events; be safe anyway
                log.exception("cluster %s: start of job %s failed", claim.cluster, job.id)
                claim.running = None
                self._pending.unmatched.setdefault(f"start failed: {exc}", []).append(job.id)
                job.claim = None
                self.live.set_state(job, IDLE, NONE)
                self._want_flush()
                continue
            break
        self._stage_next(claim)

    def _stage_next(self, claim: ClaimInfo) -> None:
        """Hand the claim's next committed jobs (up to `STAGE_DEPTH`) to its backend, each
        to start when the one before it ends; topped up once fewer than `STAGE_LOW` wait."""
        before = claim.running
        if before is None or not claim.queue or claim.released:
            return
        if before.substate != NONE or before.status not in (RUNNING, IDLE):
            return  # being stopped: what follows it is decided when it has
        worklife = self.settings.claim_worklife
        if worklife <= 0 or self.clock() - claim.claimed_at > worklife:
            return
        backend = self.backends.get(claim.cluster)
        stage = getattr(backend, "stage", None)
        if stage is None:
            return
        waiting = 0
        for job in claim.queue:
            if job.id not in self.staged:
                break
            waiting += 1
        if waiting >= STAGE_LOW:
            return
        for depth, job in enumerate(claim.queue):
            if depth >= STAGE_DEPTH:
                return
            if job.id in self.staged:
                before = job
                continue
            spec = self.specs.get(job.id)
            if (
                spec is None
                or not job.matched
                or job.status != IDLE
                or job.substate != DISPATCHING
                or job.claim is not claim
                or not stage(spec, before.id)
            ):
                return
            self.staged.add(job.id)
            before = job

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
        """Give a claim back: its queued jobs return to Idle (at the next flush).

        A staged job stays on the claim: its backend reports it started (it then
        runs on the claim) or lost (it then returns to Idle).
        """
        claim.released = True
        self._refill.pop(id(claim), None)
        while claim.queue:
            job = claim.queue.popleft()
            if job.id in self.staged:
                continue
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
                    "HasContainer": False,
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


def _depends_on_job(job: LiveJob) -> bool:
    """Whether the job's Requirements read attributes that differ between procs."""
    req = job.ad.lookup("Requirements")
    if req is None:
        return False
    own = req.internal_refs(job.ad)
    return bool(own & {"procid", "clusterid", "globaljobid"})
