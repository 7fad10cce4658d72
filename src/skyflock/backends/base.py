"""The execution-backend port: what the manager asks of a cluster, and what it hears back.

The manager loop (`skyflock.manager`) turns each match of the negotiator into a
`LaunchSpec` (it knows ClassAds, the store and the submit-file semantics) and
hands it to the backend of the matched cluster. A backend (`backends/local.py`,
later Kubernetes and pilot agents) knows nothing about ClassAds or the store: it
runs processes, enforces the limits it was given, and reports what happened as
`BackendEvent` values. A failure to start is an event, not an exception.

Contract of every backend (checked structurally by `ExecutionBackend`):

- All methods are called from the manager's asyncio event-loop thread.
- `capacity()` describes each partitionable slot with its TOTAL resources; the
  manager subtracts the claims it knows about (it has them in the store, and
  they survive a restart, which the backend's own bookkeeping does not).
- `start(spec)` returns once the launch has been attempted; its outcome arrives
  through `events()` as `JobStarted` (then, later, `JobExited`), or as
  `JobStartFailed` (bad executable, working directory, input or output file).
- `cancel(job_id, reason, grace_s)` asks the job to stop: SIGTERM (or the
  cluster's equivalent), `grace_s` seconds, then SIGKILL. The resulting
  `JobExited` carries `reason`. Cancelling an unknown or finished job is a no-op.
- `events(timeout)` returns every event that happened since the last call, in
  order; when there is none it waits up to `timeout` seconds (None: until one
  arrives) and may return an empty list when the time runs out.
- `log_paths(job_id)` names the central copies of the job's stdout and stderr;
  they exist from `JobStarted` on and grow while the job runs.
- `recover(records)` is called once after a manager restart with the jobs the
  store believes are running on this backend. For each record the backend
  either adopts the still-running process (and later reports its `JobExited`)
  or returns `JobLost` so the manager reruns it: a job is never silently lost.
- `close(vacate=...)` ends the backend's watch: with `vacate=True` every running
  job is cancelled as "vacated" and its exit awaited; with `vacate=False` the
  jobs keep running, to be adopted by the next manager through `recover`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias, runtime_checkable

CancelReason: TypeAlias = Literal["removed", "vacated", "held"]
"""Why the manager stops a running job: `condor_rm`, preemption, `condor_hold`."""

ExitReason: TypeAlias = Literal["memory", "walltime", "removed", "vacated", "held", "adopted"]
"""Why a job ended other than on its own; None in `JobExited.reason` means it just exited.

"memory": it used more than `LaunchSpec.memory_limit_mib` (killed, or its
maximum resident set exceeded the limit); "walltime": it ran longer than
`LaunchSpec.walltime_s`; "removed"/"vacated"/"held": a `cancel` with that
reason; "adopted": a process adopted by `recover` ended on its own and, not
being our child, its exit status could not be read.
"""

StartStage: TypeAlias = Literal["cwd", "executable", "stdin", "stdout", "stderr", "container"]
"""Which part of a launch failed (the manager maps it to a `HoldReasonCode`)."""


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """Everything a backend needs to run one job; built by the manager from the job ad.

    Paths may be absolute or relative to `cwd`. `argv[0]` without a slash is
    looked up in the job's own `PATH` (from `env`); the manager resolves a
    submit file's relative `executable` against `initialdir` before it gets here.
    `env` is the job's complete environment: nothing of the manager's leaks in.
    `stdin_path` None means /dev/null; `stdout_path`/`stderr_path` None means
    only the central log store keeps the stream; naming the same path for both
    merges the streams (the central `stderr` is then a link to `stdout`).
    """

    job_id: str
    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)
    stdin_path: str | None = None
    stdout_path: str | None = None
    stderr_path: str | None = None
    memory_limit_mib: int | None = None
    """Enforced limit (the dynamic slot's `Memory`); None: unlimited."""
    walltime_s: float | None = None
    """Enforced run time limit (`allowed_job_duration`); None: unlimited."""
    vacate_grace_s: float = 10.0
    """Seconds between SIGTERM and SIGKILL when a walltime limit is hit."""
    request_cpus: int = 1
    request_memory_mib: int = 0
    request_disk_kib: int = 0
    request_gpus: int = 0
    container_image: str | None = None
    run: int = 0
    """Which run of the job this launch is (its `NumJobStarts` + 1); 0: not counted. A
    backend that keeps exits across manager restarts tells this run's from an earlier one's."""

    def __post_init__(self) -> None:
        if not self.job_id:
            raise ValueError("LaunchSpec.job_id must not be empty")
        if not self.argv or not self.argv[0]:
            raise ValueError(f"LaunchSpec.argv of job {self.job_id} must name a program")


@dataclass(frozen=True, slots=True)
class SlotOffer:
    """One partitionable slot a backend offers, with its total resources.

    The manager turns it into a slot ClassAd (`Cpus`, `Memory` MiB, `Disk` KiB,
    `GPUs`, `Arch`, `OpSys`, `Machine`, the labels as attributes) and adds the
    federation attributes (`ClusterName`, `Tier`...) from the cluster registry.
    """

    name: str
    cpus: int
    memory_mib: int
    disk_kib: int
    gpus: int = 0
    arch: str = "X86_64"
    opsys: str = "LINUX"
    machine: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Usage:
    """Resources a job consumed; None where the backend could not measure it."""

    cpu_user_s: float | None = None
    cpu_sys_s: float | None = None
    max_rss_kib: int | None = None
    """Largest resident set of any one process of the job, KiB."""

    @property
    def cpu_s(self) -> float | None:
        if self.cpu_user_s is None or self.cpu_sys_s is None:
            return None
        return self.cpu_user_s + self.cpu_sys_s


@dataclass(frozen=True, slots=True)
class JobStarted:
    """The job's process runs. Keep `pid`, `pgid`, `started_at`, `process_start`,
    `boot_id` and `process_key` for `recover` (`RunningRecord.from_started`)."""

    job_id: str
    pid: int
    pgid: int
    started_at: float
    """Wall-clock time (seconds since the epoch) of the launch."""
    process_start: float = 0.0
    """The kernel's start time of `pid`, seconds since the epoch (psutil's
    `create_time`): with `pid` and `boot_id` it identifies the process across a
    manager restart, where the pid alone may since name another. Where
    `process_key` is set, that decides identity instead, and the starter gives
    the launch's own time here rather than read /proc once more per job."""
    boot_id: str = ""
    process_key: str = ""
    """Opaque to the manager; a cheaper, exact identity where the backend has one
    (the local backend's pidfs inode). Store it with the rest when not empty."""


@dataclass(frozen=True, slots=True)
class JobExited:
    """The job ended. `exit_code` is set for a normal exit, `signal` when killed by one.

    Both are None for an adopted process whose status could not be read.
    """

    job_id: str
    exit_code: int | None
    signal: int | None
    ended_at: float
    reason: ExitReason | None = None
    usage: Usage = field(default_factory=Usage)
    detail: str = ""
    """A sentence for a person, e.g. "used 212 MiB, limit 64 MiB"."""


@dataclass(frozen=True, slots=True)
class JobStartFailed:
    """The job could not be started; the manager holds it with `why`."""

    job_id: str
    stage: StartStage
    why: str
    at: float


@dataclass(frozen=True, slots=True)
class JobLost:
    """The backend no longer knows the job's fate; the manager should rerun it."""

    job_id: str
    why: str
    at: float


BackendEvent: TypeAlias = JobStarted | JobExited | JobStartFailed | JobLost


@dataclass(frozen=True, slots=True)
class LogPaths:
    """The central copies of a job's output, under the data directory."""

    stdout: str
    stderr: str


@dataclass(frozen=True, slots=True)
class RunningRecord:
    """What the store remembers of a running job, given back to `recover` after a restart.

    `spec` (rebuilt by the manager from the job ad) lets the backend keep
    enforcing walltime and memory and copy outputs for the adopted job; without
    it the job is only watched.
    """

    job_id: str
    pid: int
    pgid: int
    started_at: float
    process_start: float
    boot_id: str = ""
    spec: LaunchSpec | None = None
    process_key: str = ""
    """When set, it decides identity; else `process_start` does."""

    @classmethod
    def from_started(cls, event: JobStarted, spec: LaunchSpec | None = None) -> RunningRecord:
        return cls(
            job_id=event.job_id,
            pid=event.pid,
            pgid=event.pgid,
            started_at=event.started_at,
            process_start=event.process_start,
            process_key=event.process_key,
            boot_id=event.boot_id,
            spec=spec,
        )


@runtime_checkable
class ExecutionBackend(Protocol):
    """A cluster that runs jobs: the port between the manager and local, Kubernetes or agents."""

    name: str

    def capacity(self) -> list[SlotOffer]: ...

    async def start(self, spec: LaunchSpec) -> None: ...

    def cancel(self, job_id: str, reason: CancelReason, grace_s: float) -> None: ...

    async def events(self, timeout: float | None = None) -> list[BackendEvent]: ...

    def log_paths(self, job_id: str) -> LogPaths: ...

    def recover(self, running: Iterable[RunningRecord]) -> list[BackendEvent]: ...

    async def close(self, *, vacate: bool = True) -> None: ...
