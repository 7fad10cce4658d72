"""What the manager loop's parts share: its state, and the small moves they all make.

`LoopState` holds the loop's attributes (store, backends, live queue, the
writes pending for the next flush, the launch specs...) and the helpers every
part calls (trigger a cycle, ask for a flush, mark a job held, settle a
vacated job, cancel a run). The parts build on it in one line of classes,
each in its own module: `manager.dispatching` (claims and starts) ->
`manager.flushing` (the write-behind store pass) -> `manager.reconciling`
(backend events) -> `manager.actions` (user actions and periodic policy) ->
`manager.loop.ManagerLoop` (lifecycle and the negotiation cycle).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from skyflock.backends.base import (
    CancelReason,
    ExecutionBackend,
    LaunchSpec,
)
from skyflock.classad import ClassAd
from skyflock.core.model import AccountingState, Claim, Match, Plan
from skyflock.manager import userlog
from skyflock.manager.dispatch import vacate_grace
from skyflock.manager.settings import ServerSettings
from skyflock.manager.snapshot import (
    DISPATCHING,
    HELD,
    IDLE,
    NONE,
    REMOVED,
    ClaimInfo,
    ClusterView,
    LiveJob,
    LiveQueue,
)
from skyflock.manager.userlog import UserLogEntry, user_log_path
from skyflock.store import ExitStatus, LogEntry, Store, TransitionResult

log = logging.getLogger(__name__)


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
class PendingWrites:
    """Store transitions waiting for the next flush, in the order they must be applied."""

    started: dict[str, str] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)
    completed: dict[str, ExitStatus] = field(default_factory=dict)
    """job -> exit code, or (code, signal) for a run a signal killed."""
    retried: dict[str, dict[str, ExitStatus]] = field(default_factory=dict)
    """reason -> job -> exit code, or (code, signal)."""
    held: dict[tuple[str, int, int], list[str]] = field(default_factory=dict)
    """(reason, code, subcode) -> jobs whose process is gone."""
    evicted: dict[str, list[str]] = field(default_factory=dict)
    vacated: list[str] = field(default_factory=list)
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    matches: list[Match] = field(default_factory=list)
    runs: dict[str, int] = field(default_factory=dict)
    """job -> run number whose end the backend is told is committed (`acknowledge`)."""
    user_log: list[UserLogEntry] = field(default_factory=list)
    """Events for the jobs' own log files, appended after the commit (`manager.userlog`)."""


@dataclass(frozen=True, slots=True)
class Moved:
    """Jobs a user action changed, and those it refused with why."""

    moved: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, result: TransitionResult) -> Moved:
        return cls(tuple(result.moved), tuple((r.job_id, r.message) for r in result.refused))


class LoopState:
    """The loop's state and shared helpers (see the module docstring)."""

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
        self.ended: list[tuple[Claim, float]] = []
        """Claims whose job stopped running since the last cycle, with the time it stopped;
        the next cycle's `account` charges them for the part of their run it has not seen."""
        self.staged: set[str] = set()
        """Jobs handed to their backend to start when the claim's running job ends
        (`Dispatching._stage_next`); the backend reports them started or lost."""
        self.lock = asyncio.Lock()
        """Held by whoever writes job state to the store (flush, cycle, user actions)."""
        self._pending = PendingWrites()
        self._refill: dict[int, ClaimInfo] = {}
        self._trigger = asyncio.Event()
        self._flush_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._store_calls: set[asyncio.Task[Any]] = set()
        """Store calls running in worker threads (`Dispatching._in_thread`); `stop`
        waits for them before the store is closed."""
        self._stopping = False
        self._accounting_saved = 0.0
        self._changed = asyncio.Event()
        self._slot_ads: dict[str, ClassAd] = {}

    def trigger(self) -> None:
        """Ask for a negotiation cycle soon (coalesced with others within `debounce`)."""
        self._trigger.set()

    def _want_flush(self) -> None:
        self._flush_wanted.set()

    def _user_log(self, job: LiveJob, action: str | None, text: Callable[[], str]) -> None:
        """Queue an event for `job`'s own log file, if it has one (`text` is built only then)."""
        if not job.has_attribute("UserLog"):
            return
        path = user_log_path(job.ad)
        if path is not None:
            self._pending.user_log.append(UserLogEntry(path, text(), job.id, action))
            self._want_flush()

    def log_submitted(self, jobs: Iterable[LiveJob], when: float) -> None:
        """Queue the submitted (and, for `hold = true`, held) events of new jobs."""
        for job in jobs:
            self._user_log(job, None, partial(userlog.submitted, job.id, when))
            if job.status == HELD:
                reason, code = job.ad.eval("HoldReason"), job.ad.eval("HoldReasonCode")
                code = code if isinstance(code, int) else 0
                self._user_log(job, None, partial(userlog.held, job.id, when, str(reason), code, 0))

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

    def _settle_vacated(self, job: LiveJob) -> None:
        job.claim = None
        if job.status == REMOVED:
            self.live.set_state(job, REMOVED, NONE)
            self.live.discard(job.id)
        else:
            self.live.set_state(job, HELD, NONE)

    def _waiting_in_queue(self, job: LiveJob) -> bool:
        claim = job.claim
        return (
            job.status == IDLE
            and job.substate == DISPATCHING
            and claim is not None
            and claim.running is not job
            and job.id not in self.staged  # a staged job is stopped through its backend
        )

    def _cancel(self, job: LiveJob, reason: CancelReason) -> None:
        if job.claim is None:
            return
        backend = self.backends.get(job.claim.cluster)
        if backend is not None:
            backend.cancel(job.id, reason, vacate_grace(job.ad))
