"""Restart recovery: every job the store says was handed to a cluster is found again or rerun.

After a crash or a restart the store still lists jobs as dispatching (matched,
start not yet recorded), running, or vacating (held/removed/preempted while
running). For each one, on its cluster's backend:

1. With a recorded handle (pid, process start, boot id) the backend is asked to
   `recover` it: a process that is still the job's is adopted and reported
   later like any other; one that is gone comes back as `JobLost`.
2. A dispatching job has no handle yet: its process, if the launch happened
   before the crash, is the session leader whose environment holds
   `SKYFLOCK_JOB_ID=<id>` and the job's `_CONDOR_JOB_IWD` (ids repeat across
   data dirs); it is looked up in /proc and adopted the same way.
   On the local cluster the starter (`backends.local_starter`), whose
   children the jobs are, answers first: it still runs the job (its exit will
   be exact), or it kept the exit of a job that ended while the manager was
   down.
3. A job whose process is gone and whose exit the backend did not keep
   (`recorded_exit`) is put back to Idle with an event saying why (so it is
   never silently lost); one with a kept exit of the run in question is folded
   in as an ordinary exit (so it is not run twice). The exit of an earlier run
   (the store counted it, but a restart cut off its acknowledgement) is not
   that: each launch carries its run number (`LaunchSpec.run`).
4. Jobs that were being vacated are cancelled again once adopted.

Neighbours: `manager.loop.ManagerLoop` (its `reconcile` folds the outcome in),
`backends.base.RunningRecord`/`recover` (the port), `backends.local_limits`
(the /proc reader).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from skyflock.backends.base import (
    BackendEvent,
    ExecutionBackend,
    JobExited,
    JobLost,
    JobStarted,
    LaunchSpec,
    RunningRecord,
)
from skyflock.backends.local_limits import boot_id, read_proc_stat
from skyflock.manager.dispatch import DispatchError, launch_spec
from skyflock.manager.loop import ManagerLoop
from skyflock.manager.snapshot import (
    DISPATCHING,
    IDLE,
    REMOVED,
    RUNNING,
    VACATING,
    LiveJob,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RecoveryReport:
    adopted: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    """Ended while the manager was down, with their exit recorded."""
    requeued: list[str] = field(default_factory=list)


def _handle(job: LiveJob) -> dict[str, Any] | None:
    if not job.handle:
        return None
    try:
        data = json.loads(job.handle)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "pid" in data else None


def find_job_session(job_id: str, env: Mapping[str, str] | None = None) -> int | None:
    """The pid of the session leader whose environment names `job_id`, if any.

    Another manager's job (another data dir) can have the same id: given the job's
    `env`, the process's must also name the job's `_CONDOR_JOB_IWD`.
    """
    want = {f"SKYFLOCK_JOB_ID={job_id}".encode()}
    iwd = (env or {}).get("_CONDOR_JOB_IWD")
    if iwd is not None:
        want.add(os.fsencode(f"_CONDOR_JOB_IWD={iwd}"))
    me = os.getuid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        stat = read_proc_stat(pid)
        if stat is None or stat.session != pid or stat.state == "Z":
            continue
        try:
            if os.stat(f"/proc/{pid}").st_uid != me:
                continue
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if want <= set(environ.split(b"\0")):
            return pid
    return None


async def recover(loop: ManagerLoop) -> RecoveryReport:
    """Find every dispatched job again; see the module docstring."""
    report = RecoveryReport()
    now = time.time()
    for name, backend in loop.backends.items():
        mine = [
            job
            for job in loop.live
            if job.claim is not None
            and job.claim.cluster == name
            and (job.status == RUNNING or job.substate in (DISPATCHING, VACATING))
        ]
        if not mine:
            continue
        records: list[RunningRecord] = []
        synthetic: list[BackendEvent] = []
        fresh_starts: set[str] = set()
        for job in mine:
            in_store_running = job.status == RUNNING or job.substate == VACATING
            spec = None
            try:
                spec = launch_spec(
                    job.ad,
                    job.id,
                    memory_limit_mib=job.claim.memory if job.claim else None,
                    run=job.num_starts + (0 if in_store_running else 1),
                )
            except DispatchError:
                spec = None
            if spec is not None:
                loop.specs[job.id] = spec
            handle: dict[str, Any] | None = _handle(job) if in_store_running else None
            if handle is None:
                pid = find_job_session(job.id, spec.env if spec is not None else None)
                stat = read_proc_stat(pid) if pid is not None else None
                if pid is not None and stat is not None:
                    handle = {
                        "pid": pid,
                        "pgid": stat.pgrp,
                        "started_at": stat.start_time,
                        "process_start": stat.start_time,
                        "boot_id": boot_id(),
                    }
                    if not in_store_running:
                        fresh_starts.add(job.id)
            if handle is not None:
                records.append(
                    RunningRecord(
                        job_id=job.id,
                        pid=int(handle["pid"]),
                        pgid=int(handle.get("pgid", handle["pid"])),
                        started_at=float(handle.get("started_at", now)),
                        process_start=float(handle.get("process_start", 0.0)),
                        boot_id=str(handle.get("boot_id", "")),
                        spec=spec,
                        process_key=str(handle.get("process_key", "")),
                    )
                )
                continue
            synthetic.extend(_ended_or_lost(backend, job, spec, now, "no process was found"))
        lost = backend.recover(records)
        lost_ids = {e.job_id for e in lost}
        for record in records:
            if record.job_id in lost_ids:
                continue
            adopted = loop.live.get(record.job_id)
            if adopted is None:
                continue
            job = adopted
            report.adopted.append(job.id)
            if record.job_id in fresh_starts:
                synthetic.insert(
                    0,
                    JobStarted(
                        job_id=job.id,
                        pid=record.pid,
                        pgid=record.pgid,
                        started_at=record.started_at,
                        process_start=record.process_start,
                        boot_id=record.boot_id,
                    ),
                )
            if job.substate == VACATING:
                reason = "removed" if job.status == REMOVED else "held"
                if job.status == RUNNING:
                    reason = "vacated"
                backend.cancel(job.id, reason, 0 if reason != "vacated" else 10.0)  # type: ignore[arg-type]
        for event in lost:
            gone = loop.live.get(event.job_id)
            if gone is None:
                continue
            job = gone
            why = event.why if isinstance(event, JobLost) else "lost"
            synthetic.extend(_ended_or_lost(backend, job, loop.specs.get(job.id), now, why))
        for event in synthetic:
            if isinstance(event, JobExited):
                report.finished.append(event.job_id)
            elif isinstance(event, JobLost):
                report.requeued.append(event.job_id)
        if synthetic:
            await loop.reconcile(backend, synthetic)
    if report.adopted or report.finished or report.requeued:
        log.info(
            "recovery: %d adopted, %d finished while down, %d requeued",
            len(report.adopted),
            len(report.finished),
            len(report.requeued),
        )
    return report


def _ended_or_lost(
    backend: ExecutionBackend, job: LiveJob, spec: LaunchSpec | None, now: float, why: str
) -> list[BackendEvent]:
    """Events for a job whose process is gone: the exit its backend kept, or lost."""
    recorded_exit = getattr(backend, "recorded_exit", None)
    exited: JobExited | None = recorded_exit(job.id, spec) if recorded_exit is not None else None
    if exited is None:
        return [JobLost(job.id, f"{why}; the manager restarted", now)]
    events: list[BackendEvent] = []
    if job.status == IDLE and job.substate == DISPATCHING:
        events.append(JobStarted(job.id, pid=0, pgid=0, started_at=exited.ended_at))
    events.append(exited)
    return events
