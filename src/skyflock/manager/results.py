"""What the manager facade returns: frozen dataclasses with JSON-able fields.

These are also the API's response bodies: FastAPI serialises them as they are
and draws the OpenAPI schema at `/docs` from their fields, with each class's
docstring and the docstring under a field as its description (the
`__pydantic_config__` mapping asks for that; it is plain data, so nothing here
imports pydantic). The CLI prints what arrives. Nothing here does I/O.
Neighbours: `manager.service` builds them from the store, the loop's last
cycle and the backends; `api/port.py` names them, `api.routes_*` return them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

API_SCHEMA: Final[dict[str, Any]] = {"use_attribute_docstrings": True}
"""pydantic's config for these classes: field docstrings describe the fields in OpenAPI."""


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """A submit: the new cluster, its job ids in ProcId order, and warnings."""

    __pydantic_config__ = API_SCHEMA

    cluster_id: int
    """The ClusterId given to the submitted jobs."""
    procs: tuple[str, ...]
    """The job ids, CLUSTER.PROC."""
    warnings: tuple[str, ...] = ()
    """What the submit description does that HTCondor would also warn about."""
    count: int = field(init=False, default=0)
    """How many jobs were queued (the length of `procs`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "count", len(self.procs))


@dataclass(frozen=True, slots=True)
class RefusedJob:
    """A job an action left as it was, and why."""

    __pydantic_config__ = API_SCHEMA

    id: str
    """The job id, CLUSTER.PROC."""
    reason: str
    """Why, e.g. `job 3.0 is Running; only Held jobs can be released ...`."""


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A remove/hold/release/qedit: the jobs changed and the refused ones with why."""

    __pydantic_config__ = API_SCHEMA

    action: str
    """`remove`, `hold`, `release` or `qedit`."""
    changed: tuple[str, ...] = ()
    """The ids of the jobs changed."""
    refused: tuple[RefusedJob, ...] = ()
    """The jobs selected but not changed."""


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One line of a job's event log (HTCondor user-log style)."""

    __pydantic_config__ = API_SCHEMA

    seq: int
    """Order of the event among all events."""
    job_id: str
    time: float
    """Seconds since the epoch."""
    kind: str
    """submitted, matched, started, evicted, held, released, completed, retried, removed..."""
    cluster: str | None = None
    """The cluster the job was matched to or ran on."""
    slot: str | None = None
    code: int | None = None
    """HoldReasonCode for `held`; the exit code for `completed`/`retried`, empty when a
    signal ended the run (the message then names the signal)."""
    subcode: int | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """A federation member as `skyflock status` shows it."""

    __pydantic_config__ = API_SCHEMA

    name: str
    kind: str
    """`local`, `kubernetes` or `agents`."""
    tier: int
    """Lower tiers are preferred; higher ones take the overflow."""
    cores_total: int
    cores_used: int
    memory_total_mib: int
    memory_used_mib: int
    slots: int
    """Partitionable slots (machines, nodes, pilots)."""
    running_jobs: int
    healthy: bool = True
    cordoned: bool = False
    """Takes no new jobs; running ones finish."""
    message: str = ""
    """Why the cluster is unhealthy, when it is."""


@dataclass(frozen=True, slots=True)
class SubmitterPriority:
    """One row of `userprio`."""

    __pydantic_config__ = API_SCHEMA

    submitter: str
    """`group.user` for jobs with an accounting group, else the owner."""
    group: str
    """The configured accounting group it belongs to (`<none>` without one)."""
    real_priority: float
    """Decayed usage (at least the configured minimum, 0.5 by default)."""
    effective_priority: float
    """Real priority times the factor: lower is served first."""
    priority_factor: float
    accumulated_usage: float
    """Core-seconds (slot-weight seconds) used, undecayed."""
    running: int
    idle: int
    floor: float | None = None
    """Cores kept for the submitter, if set."""
    ceiling: float | None = None
    """Most cores the submitter may use, if set."""


@dataclass(frozen=True, slots=True)
class Analysis:
    """Why a job is (or is not) running: the last cycle's explanation and its text."""

    __pydantic_config__ = API_SCHEMA

    job_id: str
    status: int
    """JobStatus: 1 idle, 2 running, 3 removed, 4 completed, 5 held."""
    text: str
    """The explanation as `condor_q -better-analyze` prints it."""
    data: dict[str, object] = field(default_factory=dict)
    """The explanation's figures (slots per cluster, clauses, fair share, suggestions)."""


@dataclass(frozen=True, slots=True)
class ClusterStats:
    """A cluster's slots and cores, for `/metrics`."""

    __pydantic_config__ = API_SCHEMA

    name: str
    slots: int
    cores_total: int
    cores_used: int


@dataclass(frozen=True, slots=True)
class ManagerStats:
    """Counters for `/metrics` and `skyflock status` (JobStatus codes as keys)."""

    __pydantic_config__ = API_SCHEMA

    jobs_by_status: dict[int, int]
    """JobStatus -> number of jobs in the queue (every status 1..5 present)."""
    jobs_by_submitter: dict[str, dict[int, int]]
    """Submitter -> JobStatus -> number of jobs in the queue."""
    cycles: int
    """Negotiation cycles run since the server started."""
    last_cycle_seconds: float
    last_cycle_matches: int
    total_matches: int
    total_preemptions: int
    completed_total: int
    """Jobs that reached the history as Completed since the server started."""
    clusters: tuple[ClusterStats, ...] = ()
