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
- the flusher: commits the queued transitions in one write pass — ONE
  transaction (`store.jobs.apply`) holding every kind of transition
  (started, completed, retried, held, evicted, vacated, matched) with their
  events and the log index — in a worker thread, so the event loop keeps
  starting jobs while the database works;
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
the local starter kept (`backends.local_starter`), or puts the job back to
Idle. User actions and cycles take the store lock and flush first, so they
always act on the committed state. A clean stop lets a write pass in flight
finish with its acknowledgement to the starter (it starts no new job), then
commits what is still queued, waiting at most `stop_timeout` for the store.

The parts live in their own modules, one class each building on the last:
`loop_state` (shared state) -> `dispatching` -> `flushing` -> `reconciling`
-> `actions` -> `ManagerLoop` here (lifecycle and the negotiation cycle).

Neighbours: `manager.snapshot` (live queue), `manager.dispatch` (ad ->
LaunchSpec), `manager.policy`, `manager.recovery`,
`store.Store`, `backends.base` (the port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from skyflock.core.fairshare import account
from skyflock.core.model import Plan
from skyflock.core.negotiate import negotiate
from skyflock.manager.actions import Actions
from skyflock.manager.loop_state import CycleStats, Moved
from skyflock.manager.reconciling import handle_text
from skyflock.manager.snapshot import (
    IDLE,
    NONE,
    RUNNING,
    VACATING,
    ClaimInfo,
    LiveJob,
)

__all__ = [
    "CycleStats",
    "ManagerLoop",
    "Moved",
    "handle_text",
]

log = logging.getLogger(__name__)


class ManagerLoop(Actions):
    """The scheduler proper. `Manager` (the facade) owns one and calls into it."""

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

    stop_timeout: float = 30.0
    """How long `stop` waits for the store's last write pass before giving up on it."""

    writes_settled: bool = True
    """False once `stop` gave up waiting for the store (a write pass or another call may
    still run in a worker thread): the store must not be closed under it."""

    async def stop(self) -> None:
        """Stop the tasks, let a write pass in flight finish, commit what is still queued.

        Cancelling a task does not cancel its write pass (`Flushing._write_pass`): the
        commit is followed by its acknowledgement to the starter, and no new job starts.
        A database stuck beyond `stop_timeout` is logged and left behind, with what it
        had not committed yet: recovery finds those jobs at the next start.
        """
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        try:
            await asyncio.wait_for(self._last_flush(), self.stop_timeout)
        except TimeoutError:
            self.writes_settled = False
            log.error(
                "stop: the store's write pass did not finish within %.1f s;"
                " stopping without it (recovery settles its jobs at the next start)",
                self.stop_timeout,
            )
            return
        except Exception:
            log.exception("stop: writing the last job transitions to the store failed")
        with contextlib.suppress(Exception):
            self.store.accounting.save(self.accounting)

    async def _last_flush(self) -> None:
        async with self.lock:
            await self._flush_locked()  # waits for a write pass in flight first

    async def wait_changed(self, timeout: float) -> None:
        """Wait until the queue changes (a flush committed something), or `timeout`."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def refresh_capacity(self) -> None:
        for name, backend in self.backends.items():
            view = self.clusters[name]
            try:
                view.offers = list(backend.capacity())
                view.healthy, view.message = True, ""
            except Exception as exc:  # a backend that cannot answer is unhealthy, not fatal
                view.healthy, view.message = False, f"capacity: {exc}"
                log.warning("cluster %s: %s", name, view.message)

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
            self.accounting = account(
                self.accounting, self.live.claims(), now, self.config, self.ended
            )
            self.ended.clear()
            if now - self._accounting_saved >= 5.0:
                await self._in_thread(self.store.accounting.save, self.accounting)
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
            result = await self._in_thread(self.store.jobs.preempt, ids, reason, now=now)
            for job_id in result.moved:
                job = self.live.get(job_id)
                if job is None:
                    continue
                job.no_reuse = True
                self.live.set_state(job, RUNNING, VACATING)
                self._cancel(job, "vacated")
                self.stats.preemptions += 1
