"""User actions (hold, release, remove, qedit) and the periodic policy sweep.

Each action takes the store lock, flushes, makes its store transition, then
updates the live queue and cancels or settles the jobs' runs. The periodic
sweep evaluates periodic_hold/periodic_release/periodic_remove of every
queued job every `periodic_interval` seconds and acts through the same calls.

Neighbours: `manager.service` (the facade calls these), `manager.policy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from skyflock.manager import policy, userlog
from skyflock.manager.loop_state import Moved
from skyflock.manager.reconciling import Reconciling
from skyflock.manager.snapshot import (
    HELD,
    IDLE,
    NONE,
    REMOVED,
    VACATING,
)

log = logging.getLogger(__name__)


class Actions(Reconciling):
    """User actions and the periodic policy."""

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

    async def hold(self, ids: Sequence[str], reason: str, code: int, subcode: int = 0) -> Moved:
        async with self.lock:
            await self._flush_locked()
            now = self.clock()
            result = await self._in_thread(
                self.store.jobs.hold, ids, reason, code, subcode, now=now
            )
            unstarted: list[str] = []
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is None:
                    continue
                self._mark_held(job_id, reason, code, subcode, now)
                self._user_log(job, None, partial(userlog.held, job_id, now, reason, code, subcode))
                if job.status in (IDLE, HELD) and job.substate == NONE:
                    self.live.set_state(job, HELD, NONE)
                elif self._waiting_in_queue(job):
                    unstarted.append(job_id)
                else:
                    self.live.set_state(job, HELD, VACATING)
                    self._cancel(job, "held")
            await self._vacate_unstarted(unstarted, HELD, now)
            return Moved.of(result)

    async def release(self, ids: Sequence[str]) -> Moved:
        async with self.lock:
            await self._flush_locked()
            now = self.clock()
            result = await self._in_thread(self.store.jobs.release, ids, now=now)
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
                self._user_log(job, None, partial(userlog.released, job_id, now, "via release"))
            if result.moved:
                self.trigger()
            return Moved.of(result)

    async def remove(self, ids: Sequence[str], reason: str) -> Moved:
        async with self.lock:
            await self._flush_locked()
            now = self.clock()
            result = await self._in_thread(self.store.jobs.remove, ids, reason, now=now)
            unstarted: list[str] = []
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is None:
                    continue
                self._user_log(job, None, partial(userlog.aborted, job_id, now, reason))
                if job.claim is None or (job.status in (IDLE, HELD) and job.substate == NONE):
                    self.live.set_state(job, REMOVED, NONE)
                    self.live.discard(job_id)
                elif self._waiting_in_queue(job):
                    unstarted.append(job_id)
                else:
                    self.live.set_state(job, REMOVED, VACATING)
                    self._cancel(job, "removed")
            await self._vacate_unstarted(unstarted, REMOVED, now)
            return Moved.of(result)

    async def edit(self, ids: Sequence[str], attribute: str, expression: str, value: Any) -> Moved:
        async with self.lock:
            await self._flush_locked()
            result = await self._in_thread(self.store.jobs.edit, ids, {attribute: expression})
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is not None:
                    job.ad[attribute] = value
            if result.moved:
                self.trigger()
            return Moved.of(result)

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
        result = await self._in_thread(self.store.jobs.vacated, ids, now=now)
        for job_id in result.moved:
            job = self.live.get(job_id)
            if job is not None:
                self._settle_vacated(job)
