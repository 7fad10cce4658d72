"""What the manager facade returns: frozen dataclasses with JSON-able fields.

The API serialises these as they are (`dataclasses.asdict`), and the CLI
prints them; the Protocol in `api/port.py` names them. Nothing here does I/O.
Neighbours: `manager.service` builds them from the store, the loop's last
cycle and the backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """A submit: the new ClusterId, the job ids in ProcId order, and warnings."""

    cluster_id: int
    procs: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.procs)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A remove/hold/release/qedit: the jobs changed and the refused ones with why."""

    action: str
    changed: tuple[str, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One line of a job's event log (HTCondor user-log style)."""

    seq: int
    job_id: str
    time: float
    kind: str
    cluster: str | None = None
    slot: str | None = None
    code: int | None = None
    """HoldReasonCode for `held`, the exit code for `completed`/`retried`."""
    subcode: int | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """A federation member as `skyflock status` shows it."""

    name: str
    kind: str
    tier: int
    cores_total: int
    cores_used: int
    memory_total_mib: int
    memory_used_mib: int
    slots: int
    running_jobs: int
    healthy: bool = True
    cordoned: bool = False
    message: str = ""


@dataclass(frozen=True, slots=True)
class SubmitterPriority:
    """One row of `userprio`."""

    submitter: str
    group: str
    real_priority: float
    effective_priority: float
    priority_factor: float
    accumulated_usage: float
    """Core-seconds (slot-weight seconds) used, undecayed."""
    running: int
    idle: int
    floor: float | None = None
    ceiling: float | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    """Why a job is (or is not) running: the last cycle's explanation and its text."""

    job_id: str
    status: int
    text: str
    data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClusterStats:
    name: str
    slots: int
    cores_total: int
    cores_used: int


@dataclass(frozen=True, slots=True)
class ManagerStats:
    """Counters for `/metrics` and `skyflock status`."""

    jobs_by_status: dict[int, int]
    """JobStatus -> number of jobs in the queue (every status 1..5 present)."""
    jobs_by_submitter: dict[str, dict[int, int]]
    cycles: int
    last_cycle_seconds: float
    last_cycle_matches: int
    total_matches: int
    total_preemptions: int
    completed_total: int
    """Jobs that reached the history as Completed since the server started."""
    clusters: tuple[ClusterStats, ...] = ()
