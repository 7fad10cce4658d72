"""The `local` backend's half that talks to the data dir's starter process.

With `LocalBackend(starter=True)` the jobs are children of the data dir's
starter (`local_starter`), not of the manager, so their exits are recorded
exactly even while the manager is down. This module is the backend's side of
that conversation (`starter_client` carries the bytes): it sends the launches,
kills and acknowledgements, turns the starter's events (started, failed,
exited, dropped) into the backend's `JobStarted`, `JobStartFailed`,
`JobExited` and `JobLost`, takes over after a restart the jobs the starter ran
for the previous manager, and falls back to watching them by pid when the
starter goes away. The jobs' records (`local_job.LocalJob`), timers, resident-set
watch and event queue stay with the backend in `local`, which owns one
`StarterLink` and delegates to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from skyflock.backends.base import (
    JobExited,
    JobLost,
    JobStarted,
    JobStartFailed,
    LaunchSpec,
    RunningRecord,
    StartStage,
    Usage,
)
from skyflock.backends.local_job import LocalJob
from skyflock.backends.local_limits import CgroupV2, address_space_backstop
from skyflock.backends.starter_client import StarterClient, StarterGone

if TYPE_CHECKING:
    from skyflock.backends.local import LocalBackend

log = logging.getLogger("skyflock.backends.local")  # the backend's own logger, as before the split

_STAGES: dict[str, StartStage] = {
    s: s for s in ("cwd", "executable", "stdin", "stdout", "stderr", "container")
}


class StarterLink:
    """The backend's connection to the starter and what it knows through it.

    Made by the backend whether or not it uses a starter; it connects only when
    first asked to (`ensure`).
    """

    def __init__(self, backend: LocalBackend) -> None:
        self._backend = backend
        self.client: StarterClient | None = None
        self._running: dict[str, dict[str, Any]] = {}
        """Jobs the starter runs that this manager has not taken over (after a restart)."""
        self._recorded: dict[str, dict[str, Any]] = {}
        """Exits the starter kept for jobs this manager does not watch (ended while it was down)."""
        self.dropped: set[str] = set()
        """Staged jobs the starter dropped whose `JobLost` the manager has not read yet."""

    @property
    def connected(self) -> bool:
        return self.client is not None and not self.client.closed

    def kill(self, job_id: str, sig: signal.Signals) -> None:
        """Have the starter signal the job (or drop it, and what is staged behind it)."""
        if self.client is not None:
            self.client.send({"op": "kill", "id": job_id, "sig": int(sig)})

    def close(self, *, wait: bool) -> None:
        if self.client is not None:
            self.client.close(wait=wait)
            self.client = None

    def stage(self, spec: LaunchSpec, after: str) -> bool:
        """Hand over `spec` to start as soon as job `after` has been reaped.

        Only through the starter, and only behind a job it runs or has staged;
        False when not staged (then `start` it when its turn comes). A staged job reports
        `JobStarted`, or `JobLost` if it was dropped (a `cancel` of `after`, or
        of the staged job itself); `start` of a staged job is a no-op.
        """
        before = self._backend._jobs.get(after)
        if (
            not self._backend._use_starter
            or self.client is None
            or self.client.closed
            or before is None
            or before.pidfd >= 0
            or before.reason is not None
            or spec.job_id in self._backend._jobs
            or spec.container_image
        ):
            return False
        loop = self._backend._running_loop()
        self.start(loop, spec, after=after)
        job = self._backend._jobs.get(spec.job_id)
        if job is None:
            return False
        job.staged = True
        return True

    def acknowledge(self, job_ids: Iterable[str]) -> None:
        """The ends of these jobs are committed: the starter may forget their exits."""
        ids = list(job_ids)
        if ids and self.client is not None:
            self.client.send({"op": "ack", "ids": ids})

    def recorded_exit(self, job_id: str, spec: LaunchSpec | None) -> JobExited | None:
        """The exit the starter kept for a job this manager never saw start (after a restart)."""
        if self._backend._use_starter:
            with contextlib.suppress(StarterGone):
                self.ensure(self._backend._running_loop())
        record = self._recorded.get(job_id)
        if record is None or not ends_run(record, spec.run if spec is not None else 0):
            return None  # none, or an earlier run's, whose end the store already holds
        del self._recorded[job_id]
        limit = spec.memory_limit_mib if spec is not None else None
        job = LocalJob(
            job_id=job_id,
            pid=int(record["pid"]),
            pgid=int(record["pid"]),
            pidfd=-1,
            child=True,
            spec=spec,
            memory_limit_kib=None if limit is None else limit * 1024,
            watched_since=0.0,
        )
        if self._backend._cgroup is not None and os.path.isdir(
            self._backend._cgroup.job_dir(job_id)
        ):
            job.cgroup = self._backend._cgroup.job_dir(job_id)
        return self._exited(job, record)

    # -- the connection -------------------------------------------------------------------

    def ensure(self, loop: asyncio.AbstractEventLoop) -> StarterClient:
        """The connection to the data dir's starter, made (and the starter started) if need be."""
        if self.client is not None and not self.client.closed:
            return self.client
        client = StarterClient.connect(self._backend.data_dir, self._backend.name)
        self.client = client
        client.attach(loop, self._on_message, self._on_lost)
        for run in client.hello.get("running", ()):
            if run["id"] not in self._backend._jobs:
                self._running[str(run["id"])] = run
        for record in client.hello.get("exits", ()):
            self._on_exit(record)
        for job_id in client.hello.get("dropped", ()):
            self._on_dropped(str(job_id))
        return client

    def start(
        self, loop: asyncio.AbstractEventLoop, spec: LaunchSpec, *, after: str | None = None
    ) -> None:
        try:
            client = self.ensure(loop)
        except StarterGone as e:
            self._backend._fail(spec, "executable", f"the local starter is not available: {e}")
            return
        self._backend._logs.log_paths(spec.job_id)  # refuses an id that cannot name a log directory
        cgroup = self._backend._make_cgroup(spec)
        limit = spec.memory_limit_mib
        job = LocalJob(
            job_id=spec.job_id,
            pid=0,
            pgid=0,
            pidfd=-1,
            child=True,
            spec=spec,
            memory_limit_kib=None if limit is None else limit * 1024,
            watched_since=loop.time() + self._backend._poll_s / 2,
            cgroup=cgroup,
        )
        self._backend._jobs[spec.job_id] = job
        self._running.pop(spec.job_id, None)
        self._recorded.pop(spec.job_id, None)
        if spec.walltime_s is not None:
            job.walltime_handle = loop.call_later(spec.walltime_s, self._backend._over_time, job)
        client.send(
            {
                "op": "launch",
                "jobs": [
                    {
                        "id": spec.job_id,
                        "argv": spec.argv,
                        "cwd": spec.cwd,
                        "env": dict(spec.env),
                        "stdin": spec.stdin_path,
                        "stdout": spec.stdout_path,
                        "stderr": spec.stderr_path,
                        "cgroup": cgroup,
                        "as_limit": (
                            address_space_backstop(limit)
                            if limit is not None and cgroup is None
                            else None
                        ),
                        "after": after,
                        "run": spec.run,
                    }
                ],
            }
        )

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("op") != "events":
            return
        events = message.get("events")
        if not isinstance(events, list):
            return
        for event in events:
            kind = event.get("k")
            try:
                if kind == "started":
                    self._on_started(event)
                elif kind == "failed":
                    self._on_failed(event)
                elif kind == "exited":
                    self._on_exit(event)
                elif kind == "dropped":
                    self._on_dropped(str(event["id"]))
            except Exception:  # one bad event must not stop the others
                log.exception("local starter: cannot handle %r", event)

    def _on_started(self, event: dict[str, Any]) -> None:
        job_id = str(event["id"])
        job = self._backend._jobs.get(job_id)
        if job is None or job.pidfd >= 0 or job.pid:
            self._running[job_id] = event
            return
        pid = int(event["pid"])
        job.pid = job.pgid = pid
        job.staged = False
        started_at = float(event["started_at"])
        if (
            job.memory_limit_kib is not None
            and job.cgroup is None
            and self._backend._loop is not None
        ):
            self._backend._ensure_watch(self._backend._loop)
        self._backend._emit(
            JobStarted(
                job_id=job_id,
                pid=pid,
                pgid=pid,
                started_at=started_at,
                process_start=float(event.get("process_start") or started_at),
                boot_id=self._backend._boot_id,
                process_key=str(event.get("process_key") or ""),
            )
        )
        if job.pending_signal is not None:
            sig, job.pending_signal = job.pending_signal, None
            self._backend._signal(job, signal.Signals(sig))

    def _never_started(self, job_id: str) -> bool:
        """Forget a job the starter did not start (dropped, or failed); False if not such a job."""
        job = self._backend._jobs.get(job_id)
        if job is None or job.pidfd >= 0 or job.pid:
            return False
        del self._backend._jobs[job_id]
        self._backend._forget(job)
        if job.cgroup is not None:
            CgroupV2.remove(job.cgroup)
        return True

    def _on_dropped(self, job_id: str) -> None:
        if self._never_started(job_id):
            self.dropped.add(job_id)
            self._backend._emit(JobLost(job_id, "its start was called off", time.time()))

    def _on_failed(self, event: dict[str, Any]) -> None:
        job_id = str(event["id"])
        if self._never_started(job_id):
            stage = _STAGES.get(str(event.get("stage")), "executable")
            self._backend._emit(JobStartFailed(job_id, stage, str(event.get("why")), time.time()))

    def _on_exit(self, record: dict[str, Any]) -> None:
        job_id = str(record["id"])
        job = self._backend._jobs.get(job_id)
        if job is None or job.pidfd >= 0 or job.pid != int(record["pid"]):
            run = self._running.get(job_id)
            if run is not None and int(run["pid"]) == int(record["pid"]):
                del self._running[job_id]
            self._recorded[job_id] = record  # recovery asks for it
            return
        del self._backend._jobs[job_id]
        self._backend._forget(job)
        self._backend._emit(self._exited(job, record))

    def _exited(self, job: LocalJob, record: dict[str, Any]) -> JobExited:
        status = int(record["status"])
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        exit_signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        usage = Usage(
            float(record["utime"]),
            float(record["stime"]),
            self._backend._own_max_rss(int(record["maxrss"]), job, int(record["hiwater"])),
        )
        problems = str(record.get("detail") or "")
        if problems:
            job.detail = f"{job.detail}; {problems}" if job.detail else problems
        return self._backend._exit_event(job, exit_code, exit_signal, usage)

    def take_over(self, loop: asyncio.AbstractEventLoop, record: RunningRecord) -> bool:
        """Watch a job the starter ran for the previous manager; False when it has none."""
        spec = record.spec
        limit = spec.memory_limit_mib if spec is not None else None
        ended = self._recorded.get(record.job_id)
        if ended is not None and ends_run(ended, spec.run if spec is not None else 0, record.pid):
            del self._recorded[record.job_id]
        else:
            ended = None  # an earlier run's, whose end the store already holds
        run = self._running.pop(record.job_id, None)
        if ended is None and run is None:
            return False
        pid = int((ended if ended is not None else run or {})["pid"])
        job = LocalJob(
            job_id=record.job_id,
            pid=pid,
            pgid=pid,
            pidfd=-1,
            child=True,
            spec=spec,
            memory_limit_kib=None if limit is None else limit * 1024,
            watched_since=loop.time(),
        )
        if self._backend._cgroup is not None and os.path.isdir(
            self._backend._cgroup.job_dir(record.job_id)
        ):
            job.cgroup = self._backend._cgroup.job_dir(record.job_id)
        if ended is not None:
            self._backend._emit(self._exited(job, ended))
            return True
        self._backend._jobs[record.job_id] = job
        if spec is not None and spec.walltime_s is not None:
            left = spec.walltime_s - (time.time() - record.started_at)
            job.walltime_handle = loop.call_later(max(0.0, left), self._backend._over_time, job)
        if limit is not None and job.cgroup is None:
            self._backend._ensure_watch(loop)
        return True

    def _on_lost(self) -> None:
        """The starter went away: watch its jobs by pid (exit status unknown), or report them lost."""
        self.client = None
        loop = self._backend._loop
        now = time.time()
        gone = [j for j in self._backend._jobs.values() if j.pidfd < 0]
        if gone:
            log.warning("local starter: connection lost with %d jobs running", len(gone))
        for job in gone:
            pidfd = -1
            if job.pid and loop is not None:
                with contextlib.suppress(OSError):
                    pidfd = os.pidfd_open(job.pid)
            if pidfd < 0:
                del self._backend._jobs[job.job_id]
                self._backend._forget(job)
                self._backend._emit(
                    JobLost(job.job_id, "the local starter ended while the job ran", now)
                )
                continue
            job.pidfd = pidfd
            job.child = False
            if job.reason is None:
                job.reason = "adopted"
            del self._backend._jobs[job.job_id]
            self._backend._watch_exit(job)
            if loop is not None:
                self._backend._ensure_watch(loop)


def ends_run(record: Mapping[str, Any], run: int, pid: int | None = None) -> bool:
    """Whether an exit the starter kept ends run `run` of its job (the process `pid`).

    The starter keeps a job's last exit until the manager acknowledges it, after
    its store has it; an acknowledgement lost to a restart leaves the exit of a run
    the store already counted, which must not end the job's next run as well.
    """
    kept = int(record.get("run") or 0)
    if run and kept:
        return kept == run
    return pid is None or int(record["pid"]) == pid
