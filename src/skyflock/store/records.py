"""The values the store hands out and takes in: plain frozen dataclasses.

A `JobRecord` is one row of the queue or the history: the hot attributes as
typed fields and the job's ClassAd, parsed only when `.ad` is first read.
`NewJob` is a job about to be submitted, already serialised (`store.codec`
makes them from ClassAds). A transition returns a `TransitionResult` naming
the jobs that moved and, for each one that did not, a `Refusal` that says
why; `IllegalTransition` carries the refusals when the caller asked for all
or nothing.

Neighbours: `store.jobs` and `store.history` build these from rows;
`store.codec` turns them into ClassAds; no SQLAlchemy here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd
    from skyflock.core.model import Job


class JobStatus(IntEnum):
    """HTCondor's JobStatus codes (the ones skyflock uses)."""

    IDLE = 1
    RUNNING = 2
    REMOVED = 3
    COMPLETED = 4
    HELD = 5

    @property
    def label(self) -> str:
        return self.name.capitalize()


class Substate(StrEnum):
    """What the manager is doing about a job, beyond its JobStatus.

    ``DISPATCHING``: an Idle job matched to a slot and handed to a backend
    that has not yet said it started. ``VACATING``: the job's process may
    still exist and must be stopped (a preempted Running job, or a job held or
    removed while it ran); `JobQueue.evict`/`vacated` end it.
    """

    NONE = ""
    DISPATCHING = "dispatching"
    VACATING = "vacating"


def describe_state(status: int, substate: str) -> str:
    """'Idle', 'Running (vacating)', ... for messages a person reads."""
    try:
        label = JobStatus(status).label
    except ValueError:
        label = f"JobStatus {status}"
    return f"{label} ({substate})" if substate else label


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job ready to insert: its proc ad text and the hot attributes of its full ad."""

    ad_text: str
    """The job's own attributes (old form); the cluster ad gives the rest."""
    owner: str
    submitter: str
    acct_group: str | None = None
    job_prio: int = 0
    q_date: float | None = None
    """None: the submit time."""
    workflow_id: str | None = None
    step_name: str | None = None
    held: bool = False
    """Its ad says `JobStatus = 5` (submit `hold = true`): queued Held, HoldReasonCode 15."""


@dataclass(frozen=True)
class JobRecord:
    """One job of the queue (or of the history): hot columns and the ad.

    `ad` is parsed from `ad_text` on first use and carries the store's
    columns as attributes (`ClusterId`, `ProcId`, `JobStatus`,
    `EnteredCurrentStatus`, `NumJobStarts`, `HoldReason`..., see
    `store.codec.overlay`); treat it as read-only.
    """

    id: str
    cluster_id: int
    proc_id: int
    status: int
    substate: str
    owner: str
    submitter: str
    acct_group: str | None
    job_prio: int
    q_date: float
    workflow_id: str | None
    step_name: str | None
    cluster_name: str | None
    """The cluster the job runs on (Running) or last ran or was matched to."""
    slot_id: str | None
    claim_cpus: int | None
    claim_memory: int | None
    claim_disk: int | None
    claim_gpus: int | None
    handle: str | None
    """The backend's handle of the process (pid and start time, pod name...)."""
    hold_reason: str | None
    hold_reason_code: int | None
    hold_reason_subcode: int | None
    num_job_starts: int
    num_job_completions: int
    """Runs that ended on their own (completed or retried): `NumJobCompletions`."""
    exit_code: int | None
    """The code the last run exited with; None when a signal ended it (see `exit_signal`)."""
    exit_signal: int | None
    """The signal that ended the last run (`ExitBySignal`, `ExitSignal`), else None."""
    entered_status_at: float
    job_start_date: float | None
    job_current_start_date: float | None
    wall_clock: float
    """Seconds run so far, over all finished runs (RemoteWallClockTime)."""
    completion_date: float | None
    ad_text: str
    """The proc ad: this job's own attributes (ClassAd old form)."""
    cluster_ad_text: str = ""
    """The cluster ad: the attributes the jobs of its submit share."""

    @property
    def job_status(self) -> JobStatus:
        return JobStatus(self.status)

    @property
    def state(self) -> str:
        """'Idle', 'Running (vacating)', ...: for messages."""
        return describe_state(self.status, self.substate)

    @cached_property
    def ad(self) -> ClassAd:
        from skyflock.store.codec import record_ad

        return record_ad(self)

    def to_job(self) -> Job:
        """The negotiator's view of this job."""
        from skyflock.core.model import Job

        return Job(id=self.id, ad=self.ad, submitter=self.submitter)


ExitStatus = int | tuple[int | None, int | None]
"""How a run ended, as `JobQueue.complete`/`retry` take it: an exit code, or a
(code, signal) pair where a signal, when not None, says the run was killed by it."""


def split_exit(value: ExitStatus) -> tuple[int | None, int | None]:
    """(exit code, signal) as the store keeps them: a run killed by a signal has
    no exit code (as in HTCondor's ads); one that ended neither way counts as code 0."""
    if isinstance(value, tuple):
        code, signal = value
    else:
        code, signal = value, None
    if signal is not None:
        return None, int(signal)
    return (0 if code is None else int(code)), None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A job a transition did not move, and why."""

    job_id: str
    state: str | None
    """The job's state ('Running', 'Completed (in history)'), None if unknown."""
    message: str


@dataclass(frozen=True, slots=True)
class TransitionResult:
    """Which jobs moved, and which did not (with the reason)."""

    action: str
    moved: tuple[str, ...] = ()
    refused: tuple[Refusal, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.refused

    def raise_for_refusals(self) -> None:
        if self.refused:
            raise IllegalTransition(self.action, self.refused)


class IllegalTransition(Exception):
    """A transition was refused for some jobs; nothing was changed."""

    def __init__(self, action: str, refused: Sequence[Refusal]) -> None:
        self.action = action
        self.refused = tuple(refused)
        shown = "; ".join(r.message for r in self.refused[:5])
        more = f" (and {len(self.refused) - 5} more)" if len(self.refused) > 5 else ""
        super().__init__(f"cannot {action}: {shown}{more}")


@dataclass(frozen=True, slots=True)
class Submitted:
    """The result of a submit: the new ClusterId and its job ids in ProcId order."""

    cluster_id: int
    job_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Queue totals, as `condor_q` prints them."""

    by_status: dict[int, int]
    """JobStatus -> number of jobs (every status present, 0 when none)."""
    by_submitter: dict[str, dict[int, int]]
    """Submitter -> JobStatus -> number of jobs (only non-zero counts)."""
    dispatching: int = 0
    vacating: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def job_record(row: Mapping[Any, Any]) -> JobRecord:
    """A record from a row of `jobs` or `history` joined with its `cluster_ad`."""
    values = {name: row[name] for name in _RECORD_FIELDS}
    return JobRecord(
        **values, ad_text=row.get("ad") or "", cluster_ad_text=row.get("cluster_ad") or ""
    )


_RECORD_FIELDS: tuple[str, ...] = tuple(
    f for f in JobRecord.__dataclass_fields__ if f not in ("ad_text", "cluster_ad_text")
)
