"""The embedded `local` cluster: each job a process of this machine, watched by the event loop.

This is the `ExecutionBackend` (port in `backends/base.py`) that `make run` uses:
one partitionable slot of this machine's cores and memory (`local_capacity`),
jobs run as plain processes, logs kept centrally (`local_logs`), limits
enforced with the kernel's help (`local_limits`).

A job's life here:

- start: `subprocess.Popen` on the job's argv (no shell) in its own session and
  process group (`start_new_session`; the group id is the job's pid), in its
  `cwd`, with exactly its environment and fds 0-2 as `local_logs` opened them.
  Without `preexec_fn` CPython spawns with vfork, the cheapest way to start a
  process from a large Python process. The backend, not `subprocess`, reaps.
- watch: one `pidfd` per job in a private epoll set, whose own fd is the only
  one the event loop watches (no thread, no SIGCHLD handler that could steal
  other children of the manager, none of asyncio's per-fd bookkeeping). A
  readable pidfd means the job has exited: stragglers of its process group
  are killed, then `os.wait4` returns the status together with the CPU time.
- limits: walltime is a timer (SIGTERM, `vacate_grace_s`, SIGKILL; reason
  "walltime"); memory is a cgroup v2 `memory.max` when this machine lets us
  create one, else a resident-set watch that polls /proc and SIGKILLs an
  oversized job (reason "memory"), with a loose RLIMIT_AS backstop.
- cancel: SIGTERM to the group, `grace_s`, SIGKILL; reason as given.
- restart: the job's process does not depend on the manager (no pipes), so a
  new manager adopts it by pid, checked against the process key or start time
  (`local_limits`) and the boot id (`recover`). An adopted process is not our child: its exit status
  cannot be read, and it is reported honestly as exit code None, reason
  "adopted", with the CPU time last sampled.

Cost per job on the start/reap path, in the manager's CPU: the vfork/exec
inside `Popen` (about 0.2 ms), one mkdir and two creates for the logs (0.03 ms
on tmpfs, 0.1 ms on ext4, more when the disk is busy), one read of
/proc/<pid>/stat for the start time (20-80 µs: procfs builds the new pid's
entries), pidfd_open, one fstat, one epoll_ctl, one killpg and one wait4. `bench/local_backend_bench.py` measures it next to
`xargs`.

Reaping relies on nobody else calling `waitpid(-1)` in the manager: asyncio's
default child watcher waits for its own pids only; do not install
`FastChildWatcher`. Needs Linux 5.3+ (pidfd).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import resource
import select
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skyflock.backends.base import (
    BackendEvent,
    CancelReason,
    ExitReason,
    JobExited,
    JobLost,
    JobStarted,
    JobStartFailed,
    LaunchSpec,
    LogPaths,
    RunningRecord,
    SlotOffer,
    StartStage,
    Usage,
)
from skyflock.backends.local_capacity import machine_slot
from skyflock.backends.local_limits import (
    CgroupV2,
    address_space_backstop,
    boot_id,
    process_key,
    read_proc_stat,
    same_start,
    sample_sessions,
    set_address_space_limit,
)
from skyflock.backends.local_logs import CentralLogs, StartError
from skyflock.backends.starter_client import StarterClient, StarterGone

log = logging.getLogger(__name__)

_STAGES: dict[str, StartStage] = {
    s: s for s in ("cwd", "executable", "stdin", "stdout", "stderr", "container")
}


class _Spawn(subprocess.Popen[bytes]):
    """`Popen` used only to spawn: the backend reaps the process itself with `wait4`.

    Without this, a collected `Popen` whose `returncode` is unset warns and is
    put on `subprocess`'s list of processes to reap, which would steal the
    exit status from the backend.
    """

    def __del__(self) -> None:
        pass


@dataclass(slots=True, eq=False)
class _Job:
    """A running job as the backend tracks it."""

    job_id: str
    pid: int
    """0 while the starter has not yet reported the start."""
    pgid: int
    pidfd: int
    """-1 when the starter watches it (its exit comes over the starter's connection)."""
    child: bool
    """Our own or the starter's child (exit status readable), or adopted after a restart."""
    spec: LaunchSpec | None
    memory_limit_kib: int | None
    watched_since: float
    """Event-loop time from which the resident-set watch looks at the job."""
    copies: list[tuple[str, str]] = field(default_factory=list)
    cgroup: str | None = None
    reason: ExitReason | None = None
    detail: str = ""
    kill_deadline: float | None = None
    kill_handle: asyncio.TimerHandle | None = None
    walltime_handle: asyncio.TimerHandle | None = None
    peak_rss_kib: int = 0
    cpu_user_s: float | None = None
    cpu_sys_s: float | None = None
    pending_signal: int | None = None
    """A signal asked for before the pid was known (in-process mode never has one)."""
    staged: bool = False
    """Handed to the starter to start once the job it follows has been reaped."""


class LocalBackend:
    """Runs jobs as processes of this machine; see the module docstring for the design.

    `data_dir` holds the central logs (`<data_dir>/logs/<cluster>/<job_id>.stdout`...). Any of
    `cpus`, `memory_mib`, `disk_kib` overrides what is measured. `memory_poll_s`
    is the period of the resident-set watch (used when no cgroup can be made,
    and for adopted jobs). `use_cgroups=False` skips cgroup v2 even if usable.
    `starter=True` hands the launches to the data dir's starter process
    (`local_starter`), whose children the jobs are, so that their exits are
    recorded exactly even while the manager is down; else the backend spawns
    them itself.
    """

    def __init__(
        self,
        data_dir: str,
        *,
        name: str = "local",
        slot_name: str = "slot1",
        cpus: int | None = None,
        memory_mib: int | None = None,
        reserved_memory_mib: int = 0,
        disk_kib: int | None = None,
        gpus: int = 0,
        labels: Mapping[str, str] | None = None,
        memory_poll_s: float = 0.5,
        use_cgroups: bool = True,
        starter: bool = False,
    ) -> None:
        self.name = name
        self.data_dir = os.path.abspath(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        self._slot = functools.partial(
            machine_slot,
            self.data_dir,
            name=slot_name,
            cpus=cpus,
            memory_mib=memory_mib,
            reserved_memory_mib=reserved_memory_mib,
            disk_kib=disk_kib,
            gpus=gpus,
            labels=labels,
        )
        self._logs = CentralLogs(self.data_dir)
        self._poll_s = memory_poll_s
        self._jobs: dict[str, _Job] = {}
        self._pending: list[BackendEvent] = []
        self._wakeup = asyncio.Event()
        self._watch_handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exits = select.epoll()
        self._by_pidfd: dict[int, _Job] = {}
        self._boot_id = boot_id()
        self._use_starter = starter
        self._starter: StarterClient | None = None
        self._starter_running: dict[str, dict[str, Any]] = {}
        """Jobs the starter runs that this manager has not taken over (after a restart)."""
        self._recorded: dict[str, dict[str, Any]] = {}
        """Exits the starter kept for jobs this manager does not watch (ended while it was down)."""
        self._dropped: set[str] = set()
        """Staged jobs the starter dropped whose `JobLost` the manager has not read yet."""
        self._cgroup: CgroupV2 | None = None
        if use_cgroups:
            self._cgroup, why = CgroupV2.detect(f"skyflock-{name}")
        else:
            why = "cgroups turned off"
        self.memory_enforcement = (
            why
            if self._cgroup is not None
            else f"resident-set watch every {memory_poll_s:g} s with an RLIMIT_AS backstop ({why})"
        )
        log.info("local backend %s: memory limits by %s", name, self.memory_enforcement)

    # -- the port --------------------------------------------------------------------------

    def capacity(self) -> list[SlotOffer]:
        return [self._slot()]

    async def start(self, spec: LaunchSpec) -> None:
        self.start_nowait(spec)

    def cancel(self, job_id: str, reason: CancelReason, grace_s: float) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if job.reason is None or job.reason == "adopted":
            job.reason = reason
        self._terminate(job, grace_s)

    async def events(self, timeout: float | None = None) -> list[BackendEvent]:
        if not self._pending and (timeout is None or timeout > 0):
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)
        out, self._pending = self._pending, []
        if self._dropped:
            for event in out:
                if isinstance(event, JobLost):
                    self._dropped.discard(event.job_id)
        return out

    def log_paths(self, job_id: str) -> LogPaths:
        return self._logs.log_paths(job_id)

    def recover(self, running: Iterable[RunningRecord]) -> list[BackendEvent]:
        """Adopt each record's process if it is still the job's; else report it lost."""
        loop = self._running_loop()
        lost: list[BackendEvent] = []
        if self._use_starter:
            with contextlib.suppress(StarterGone):  # then the jobs are adopted by pid, or lost
                self._ensure_starter(loop)
        for record in running:
            if record.job_id in self._jobs:
                continue
            if self._use_starter and self._take_over(loop, record):
                continue
            why = self._adopt(loop, record)
            if why:
                lost.append(JobLost(record.job_id, why, time.time()))
        return lost

    async def close(self, *, vacate: bool = True) -> None:
        if vacate:
            for job in list(self._jobs.values()):
                grace = job.spec.vacate_grace_s if job.spec is not None else 10.0
                self.cancel(job.job_id, "vacated", grace)
            while self._jobs:  # the exits stay queued for `events`
                self._wakeup.clear()
                await self._wakeup.wait()
        else:
            for job in list(self._jobs.values()):
                self._forget(job)
            self._jobs.clear()
        if self._watch_handle is not None:
            self._watch_handle.cancel()
            self._watch_handle = None
        if self._starter is not None:
            self._starter.close(wait=vacate)
            self._starter = None
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._exits.fileno())
        self._loop = None
        self._exits.close()
        self._logs.close()

    # -- more than the port ----------------------------------------------------------------

    def start_nowait(self, spec: LaunchSpec) -> None:
        """`start` without the coroutine: spawn now, report through `events`."""
        loop = self._running_loop()
        known = self._jobs.get(spec.job_id)
        if known is not None and known.staged:
            return  # handed over by `stage`: it starts when the job before it is reaped
        if spec.job_id in self._dropped:
            return  # dropped while staged: its `JobLost` is on its way to the manager
        if known is not None:
            raise ValueError(f"job {spec.job_id} is already running on {self.name}")
        if spec.container_image:
            self._fail(
                spec,
                "container",
                f"the {self.name} cluster runs plain processes, not container image "
                f"{spec.container_image!r}",
            )
            return
        if self._use_starter:
            self._start_via_starter(loop, spec)
            return
        try:
            streams = self._logs.open_streams(spec)
        except StartError as e:
            self._fail(spec, e.stage, e.why)
            return
        cgroup = self._make_cgroup(spec)
        try:
            proc = _Spawn(
                spec.argv,
                stdin=streams.stdin,
                stdout=streams.stdout,
                stderr=streams.stderr,
                cwd=spec.cwd,
                env=spec.env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as e:
            if cgroup is not None:
                CgroupV2.remove(cgroup)
            if e.filename == spec.cwd:
                self._fail(spec, "cwd", f"cannot enter {spec.cwd!r}: {e.strerror or e}")
            else:
                self._fail(spec, "executable", f"cannot run {spec.argv[0]!r}: {e.strerror or e}")
            return
        finally:
            streams.close()
        started_at = time.time()
        pid = proc.pid
        stat = read_proc_stat(pid)  # not reaped yet, so still there
        limit = spec.memory_limit_mib
        job = _Job(
            job_id=spec.job_id,
            pid=pid,
            pgid=pid,
            pidfd=os.pidfd_open(pid),  # not reaped yet, so still there
            child=True,
            spec=spec,
            memory_limit_kib=None if limit is None else limit * 1024,
            watched_since=loop.time() + self._poll_s / 2,
            copies=streams.copies,
            cgroup=cgroup,
        )
        if limit is not None:
            if cgroup is not None:
                CgroupV2.attach(cgroup, pid)
            else:
                set_address_space_limit(pid, address_space_backstop(limit))
                self._ensure_watch(loop)
        if spec.walltime_s is not None:
            job.walltime_handle = loop.call_later(spec.walltime_s, self._over_time, job)
        self._watch_exit(job)
        self._emit(
            JobStarted(
                job_id=spec.job_id,
                pid=pid,
                pgid=pid,
                started_at=started_at,
                process_start=stat.start_time if stat is not None else started_at,
                boot_id=self._boot_id,
                process_key=process_key(pid, job.pidfd),
            )
        )

    def stage(self, spec: LaunchSpec, after: str) -> bool:
        """Hand over `spec` to start as soon as job `after` has been reaped.

        Only through the starter, and only behind a job it runs or has staged;
        False when not staged (then `start` it when its turn comes). A staged job reports
        `JobStarted`, or `JobLost` if it was dropped (a `cancel` of `after`, or
        of the staged job itself); `start` of a staged job is a no-op.
        """
        before = self._jobs.get(after)
        if (
            not self._use_starter
            or self._starter is None
            or self._starter.closed
            or before is None
            or before.pidfd >= 0
            or before.reason is not None
            or spec.job_id in self._jobs
            or spec.container_image
        ):
            return False
        loop = self._running_loop()
        self._start_via_starter(loop, spec, after=after)
        job = self._jobs.get(spec.job_id)
        if job is None:
            return False
        job.staged = True
        return True

    def acknowledge(self, job_ids: Iterable[str]) -> None:
        """The ends of these jobs are committed: the starter may forget their exits."""
        ids = list(job_ids)
        if ids and self._starter is not None:
            self._starter.send({"op": "ack", "ids": ids})

    def recorded_exit(self, job_id: str, spec: LaunchSpec | None) -> JobExited | None:
        """The exit the starter kept for a job this manager never saw start (after a restart)."""
        if self._use_starter:
            with contextlib.suppress(StarterGone):
                self._ensure_starter(self._running_loop())
        record = self._recorded.get(job_id)
        if record is None or not _ends_run(record, spec.run if spec is not None else 0):
            return None  # none, or an earlier run's, whose end the store already holds
        del self._recorded[job_id]
        limit = spec.memory_limit_mib if spec is not None else None
        job = _Job(
            job_id=job_id,
            pid=int(record["pid"]),
            pgid=int(record["pid"]),
            pidfd=-1,
            child=True,
            spec=spec,
            memory_limit_kib=None if limit is None else limit * 1024,
            watched_since=0.0,
        )
        if self._cgroup is not None and os.path.isdir(self._cgroup.job_dir(job_id)):
            job.cgroup = self._cgroup.job_dir(job_id)
        return self._starter_exit_event(job, record)

    @property
    def running(self) -> list[str]:
        """Ids of the jobs this backend is watching."""
        return list(self._jobs)

    # -- internals -------------------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._jobs:
                raise RuntimeError("a LocalBackend watches its jobs from one event loop")
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._exits.fileno())
            loop.add_reader(self._exits.fileno(), self._on_exits)
            self._loop = loop
        return loop

    def _watch_exit(self, job: _Job) -> None:
        self._jobs[job.job_id] = job
        self._by_pidfd[job.pidfd] = job
        self._exits.register(job.pidfd, select.EPOLLIN)

    def _on_exits(self) -> None:
        for fd, _ in self._exits.poll(0):
            job = self._by_pidfd.get(fd)
            if job is not None:
                self._on_exit(job)

    def _emit(self, event: BackendEvent) -> None:
        self._pending.append(event)
        self._wakeup.set()

    def _fail(self, spec: LaunchSpec, stage: StartStage, why: str) -> None:
        self._emit(JobStartFailed(spec.job_id, stage, why, time.time()))

    def _make_cgroup(self, spec: LaunchSpec) -> str | None:
        if self._cgroup is None or spec.memory_limit_mib is None:
            return None
        try:
            return self._cgroup.create(spec.job_id, spec.memory_limit_mib)
        except OSError as e:
            log.warning("job %s: no cgroup (%s); watching its memory instead", spec.job_id, e)
            return None

    def _adopt(self, loop: asyncio.AbstractEventLoop, record: RunningRecord) -> str:
        """Watch the record's process again; returns why not when it cannot be the job's."""
        if record.boot_id and record.boot_id != self._boot_id:
            return "the machine rebooted while the job ran"
        ended = f"its process {record.pid} ended while the manager was down; exit status unknown"
        stat = read_proc_stat(record.pid)
        if stat is None or stat.state == "Z":
            return ended
        try:
            pidfd = os.pidfd_open(record.pid)
        except ProcessLookupError:
            return ended
        if record.process_key:
            same = process_key(record.pid, pidfd) == record.process_key
        else:
            same = same_start(stat.start_time, record.process_start)
        if not same or stat.pgrp != record.pgid:
            os.close(pidfd)
            return f"its process {record.pid} is gone (the pid now belongs to another process)"
        spec = record.spec
        limit = spec.memory_limit_mib if spec is not None else None
        job = _Job(
            job_id=record.job_id,
            pid=record.pid,
            pgid=record.pgid,
            pidfd=pidfd,
            child=False,
            spec=spec,
            memory_limit_kib=None if limit is None else limit * 1024,
            watched_since=loop.time(),
            reason="adopted",
        )
        if self._cgroup is not None and os.path.isdir(self._cgroup.job_dir(record.job_id)):
            job.cgroup = self._cgroup.job_dir(record.job_id)
        if spec is not None:
            job.copies = self._logs.pending_copies(spec, self._logs.log_paths(record.job_id))
            if spec.walltime_s is not None:
                left = spec.walltime_s - (time.time() - record.started_at)
                job.walltime_handle = loop.call_later(max(0.0, left), self._over_time, job)
        self._watch_exit(job)
        self._ensure_watch(loop)
        return ""

    def _forget(self, job: _Job) -> None:
        """Stop watching `job` without touching its process."""
        if job.pidfd >= 0:
            del self._by_pidfd[job.pidfd]
            os.close(job.pidfd)  # which also takes it out of the epoll set
        for handle in (job.kill_handle, job.walltime_handle):
            if handle is not None:
                handle.cancel()

    def _terminate(self, job: _Job, grace_s: float) -> None:
        """SIGTERM now and SIGKILL after `grace_s` (an earlier pending SIGKILL stands)."""
        loop = self._running_loop()
        if grace_s <= 0:
            self._signal(job, signal.SIGKILL)
            return
        deadline = loop.time() + grace_s
        if job.kill_deadline is not None and job.kill_deadline <= deadline:
            return
        if job.kill_handle is None:
            self._signal(job, signal.SIGTERM)
        else:
            job.kill_handle.cancel()
        job.kill_deadline = deadline
        job.kill_handle = loop.call_at(deadline, self._signal, job, signal.SIGKILL)

    def _signal(self, job: _Job, sig: signal.Signals) -> None:
        if self._jobs.get(job.job_id) is not job:
            return
        if job.pidfd < 0 and self._starter is not None and not self._starter.closed:
            # The starter knows the job even before its pid is reported here, and drops
            # whatever was staged behind it (or the job itself, if only staged).
            self._starter.send({"op": "kill", "id": job.job_id, "sig": int(sig)})
        elif job.pgid == 0:  # not started yet: sent when it is
            if job.pending_signal != signal.SIGKILL:
                job.pending_signal = sig
            return
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pgid, sig)
        if sig == signal.SIGKILL and job.cgroup is not None:
            CgroupV2.kill(job.cgroup)

    def _over_time(self, job: _Job) -> None:
        job.walltime_handle = None
        spec = job.spec
        if spec is None or spec.walltime_s is None:  # pragma: no cover - set only with a spec
            return
        if job.reason is None or job.reason == "adopted":
            job.reason = "walltime"
            job.detail = f"ran longer than its limit of {spec.walltime_s:g} s"
        self._terminate(job, spec.vacate_grace_s)

    def _over_memory(self, job: _Job, rss_kib: int) -> None:
        if job.reason is None or job.reason == "adopted":
            job.reason = "memory"
            job.detail = (
                f"used {rss_kib // 1024} MiB, more than its limit of "
                f"{(job.memory_limit_kib or 0) // 1024} MiB"
            )
        self._signal(job, signal.SIGKILL)

    def _ensure_watch(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._watch_handle is None:
            self._watch_handle = loop.call_later(self._poll_s, self._watch_tick)

    def _watch_tick(self) -> None:
        """Sample the watched sessions; kill those over their memory limit."""
        self._watch_handle = None
        loop = self._running_loop()
        now = loop.time()
        watched = [
            job
            for job in self._jobs.values()
            if (job.memory_limit_kib is not None and job.cgroup is None) or not job.child
        ]
        due = {job.pgid: job for job in watched if job.watched_since <= now}
        if due:
            samples = sample_sessions(set(due))
            for sid, sample in samples.items():
                job = due[sid]
                job.peak_rss_kib = max(job.peak_rss_kib, sample.rss_kib)
                job.cpu_user_s, job.cpu_sys_s = sample.cpu_user_s, sample.cpu_sys_s
                limit = job.memory_limit_kib
                if limit is not None and sample.rss_kib > limit:
                    self._over_memory(job, sample.rss_kib)
        if watched:
            self._ensure_watch(loop)

    def _on_exit(self, job: _Job) -> None:
        """The job's leader exited: reap it, clean up, report."""
        if self._jobs.get(job.job_id) is not job:  # pragma: no cover - reader removed first
            return
        del self._jobs[job.job_id]
        self._forget(job)
        exit_code: int | None = None
        exit_signal: int | None = None
        if job.child:
            # Its stragglers die first, while the zombie leader still reserves the group id.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pgid, signal.SIGKILL)
            try:
                _, status, ru = os.wait4(job.pid, 0)
            except ChildProcessError:  # reaped by someone else's waitpid(-1)
                usage = Usage(job.cpu_user_s, job.cpu_sys_s, job.peak_rss_kib or None)
                job.detail = "its exit status was taken by another waiter in the manager"
            else:
                if os.WIFEXITED(status):
                    exit_code = os.WEXITSTATUS(status)
                elif os.WIFSIGNALED(status):
                    exit_signal = os.WTERMSIG(status)
                usage = Usage(ru.ru_utime, ru.ru_stime, self._own_max_rss(ru.ru_maxrss, job))
        else:
            usage = Usage(job.cpu_user_s, job.cpu_sys_s, job.peak_rss_kib or None)
        self._emit(self._exit_event(job, exit_code, exit_signal, usage))

    def _exit_event(
        self, job: _Job, exit_code: int | None, exit_signal: int | None, usage: Usage
    ) -> JobExited:
        """The reaped job's `JobExited`: why it ended (cgroup OOM, peak memory), its usage."""
        if job.cgroup is not None:
            if job.reason is None and CgroupV2.oom_killed(job.cgroup):
                job.reason = "memory"
                job.detail = f"killed at its limit of {(job.memory_limit_kib or 0) // 1024} MiB"
            peak = CgroupV2.peak_kib(job.cgroup)
            if peak is not None:
                usage = Usage(usage.cpu_user_s, usage.cpu_sys_s, peak)
            CgroupV2.kill(job.cgroup)
            CgroupV2.remove(job.cgroup)
        limit = job.memory_limit_kib
        if (
            job.reason is None
            and limit is not None
            and usage.max_rss_kib is not None
            and usage.max_rss_kib > limit
        ):
            job.reason = "memory"
            job.detail = (
                f"used {usage.max_rss_kib // 1024} MiB at its peak, more than its limit of "
                f"{limit // 1024} MiB"
            )
        if job.copies:
            problems = self._logs.finish(job.copies)
            if problems:
                job.detail = f"{job.detail}; {problems}" if job.detail else problems
        return JobExited(
            job_id=job.job_id,
            exit_code=exit_code,
            signal=exit_signal,
            ended_at=time.time(),
            reason=job.reason,
            usage=usage,
            detail=job.detail,
        )

    @staticmethod
    def _own_max_rss(ru_maxrss: int, job: _Job, own_hiwater: int | None = None) -> int | None:
        """The job's own peak RSS, KiB, or None when `wait4` cannot tell it.

        The kernel folds the spawning process's resident high-water mark into
        the child's `ru_maxrss` at exec, so a figure not above our own only
        bounds the job's; the watch's samples are used then.
        """
        if own_hiwater is None:
            own_hiwater = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if ru_maxrss > own_hiwater:
            return max(ru_maxrss, job.peak_rss_kib)
        return job.peak_rss_kib or None

    # -- through the starter ---------------------------------------------------------------

    def _ensure_starter(self, loop: asyncio.AbstractEventLoop) -> StarterClient:
        """The connection to the data dir's starter, made (and the starter started) if need be."""
        if self._starter is not None and not self._starter.closed:
            return self._starter
        client = StarterClient.connect(self.data_dir, self.name)
        self._starter = client
        client.attach(loop, self._on_starter_message, self._on_starter_lost)
        for run in client.hello.get("running", ()):
            if run["id"] not in self._jobs:
                self._starter_running[str(run["id"])] = run
        for record in client.hello.get("exits", ()):
            self._on_starter_exit(record)
        for job_id in client.hello.get("dropped", ()):
            self._on_starter_dropped(str(job_id))
        return client

    def _start_via_starter(
        self, loop: asyncio.AbstractEventLoop, spec: LaunchSpec, *, after: str | None = None
    ) -> None:
        try:
            client = self._ensure_starter(loop)
        except StarterGone as e:
            self._fail(spec, "executable", f"the local starter is not available: {e}")
            return
        self._logs.log_paths(spec.job_id)  # refuses an id that cannot name a log directory
        cgroup = self._make_cgroup(spec)
        limit = spec.memory_limit_mib
        job = _Job(
            job_id=spec.job_id,
            pid=0,
            pgid=0,
            pidfd=-1,
            child=True,
            spec=spec,
            memory_limit_kib=None if limit is None else limit * 1024,
            watched_since=loop.time() + self._poll_s / 2,
            cgroup=cgroup,
        )
        self._jobs[spec.job_id] = job
        self._starter_running.pop(spec.job_id, None)
        self._recorded.pop(spec.job_id, None)
        if spec.walltime_s is not None:
            job.walltime_handle = loop.call_later(spec.walltime_s, self._over_time, job)
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

    def _on_starter_message(self, message: dict[str, Any]) -> None:
        if message.get("op") != "events":
            return
        events = message.get("events")
        if not isinstance(events, list):
            return
        for event in events:
            kind = event.get("k")
            try:
                if kind == "started":
                    self._on_starter_started(event)
                elif kind == "failed":
                    self._on_starter_failed(event)
                elif kind == "exited":
                    self._on_starter_exit(event)
                elif kind == "dropped":
                    self._on_starter_dropped(str(event["id"]))
            except Exception:  # one bad event must not stop the others
                log.exception("local starter: cannot handle %r", event)

    def _on_starter_started(self, event: dict[str, Any]) -> None:
        job_id = str(event["id"])
        job = self._jobs.get(job_id)
        if job is None or job.pidfd >= 0 or job.pid:
            self._starter_running[job_id] = event
            return
        pid = int(event["pid"])
        job.pid = job.pgid = pid
        job.staged = False
        started_at = float(event["started_at"])
        if job.memory_limit_kib is not None and job.cgroup is None and self._loop is not None:
            self._ensure_watch(self._loop)
        self._emit(
            JobStarted(
                job_id=job_id,
                pid=pid,
                pgid=pid,
                started_at=started_at,
                process_start=float(event.get("process_start") or started_at),
                boot_id=self._boot_id,
                process_key=str(event.get("process_key") or ""),
            )
        )
        if job.pending_signal is not None:
            sig, job.pending_signal = job.pending_signal, None
            self._signal(job, signal.Signals(sig))

    def _never_started(self, job_id: str) -> bool:
        """Forget a job the starter did not start (dropped, or failed); False if not such a job."""
        job = self._jobs.get(job_id)
        if job is None or job.pidfd >= 0 or job.pid:
            return False
        del self._jobs[job_id]
        self._forget(job)
        if job.cgroup is not None:
            CgroupV2.remove(job.cgroup)
        return True

    def _on_starter_dropped(self, job_id: str) -> None:
        if self._never_started(job_id):
            self._dropped.add(job_id)
            self._emit(JobLost(job_id, "its start was called off", time.time()))

    def _on_starter_failed(self, event: dict[str, Any]) -> None:
        job_id = str(event["id"])
        if self._never_started(job_id):
            stage = _STAGES.get(str(event.get("stage")), "executable")
            self._emit(JobStartFailed(job_id, stage, str(event.get("why")), time.time()))

    def _on_starter_exit(self, record: dict[str, Any]) -> None:
        job_id = str(record["id"])
        job = self._jobs.get(job_id)
        if job is None or job.pidfd >= 0 or job.pid != int(record["pid"]):
            run = self._starter_running.get(job_id)
            if run is not None and int(run["pid"]) == int(record["pid"]):
                del self._starter_running[job_id]
            self._recorded[job_id] = record  # recovery asks for it
            return
        del self._jobs[job_id]
        self._forget(job)
        self._emit(self._starter_exit_event(job, record))

    def _starter_exit_event(self, job: _Job, record: dict[str, Any]) -> JobExited:
        status = int(record["status"])
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        exit_signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        usage = Usage(
            float(record["utime"]),
            float(record["stime"]),
            self._own_max_rss(int(record["maxrss"]), job, int(record["hiwater"])),
        )
        problems = str(record.get("detail") or "")
        if problems:
            job.detail = f"{job.detail}; {problems}" if job.detail else problems
        return self._exit_event(job, exit_code, exit_signal, usage)

    def _take_over(self, loop: asyncio.AbstractEventLoop, record: RunningRecord) -> bool:
        """Watch a job the starter ran for the previous manager; False when it has none."""
        spec = record.spec
        limit = spec.memory_limit_mib if spec is not None else None
        ended = self._recorded.get(record.job_id)
        if ended is not None and _ends_run(ended, spec.run if spec is not None else 0, record.pid):
            del self._recorded[record.job_id]
        else:
            ended = None  # an earlier run's, whose end the store already holds
        run = self._starter_running.pop(record.job_id, None)
        if ended is None and run is None:
            return False
        pid = int((ended if ended is not None else run or {})["pid"])
        job = _Job(
            job_id=record.job_id,
            pid=pid,
            pgid=pid,
            pidfd=-1,
            child=True,
            spec=spec,
            memory_limit_kib=None if limit is None else limit * 1024,
            watched_since=loop.time(),
        )
        if self._cgroup is not None and os.path.isdir(self._cgroup.job_dir(record.job_id)):
            job.cgroup = self._cgroup.job_dir(record.job_id)
        if ended is not None:
            self._emit(self._starter_exit_event(job, ended))
            return True
        self._jobs[record.job_id] = job
        if spec is not None and spec.walltime_s is not None:
            left = spec.walltime_s - (time.time() - record.started_at)
            job.walltime_handle = loop.call_later(max(0.0, left), self._over_time, job)
        if limit is not None and job.cgroup is None:
            self._ensure_watch(loop)
        return True

    def _on_starter_lost(self) -> None:
        """The starter went away: watch its jobs by pid (exit status unknown), or report them lost."""
        self._starter = None
        loop = self._loop
        now = time.time()
        gone = [j for j in self._jobs.values() if j.pidfd < 0]
        if gone:
            log.warning("local starter: connection lost with %d jobs running", len(gone))
        for job in gone:
            pidfd = -1
            if job.pid and loop is not None:
                with contextlib.suppress(OSError):
                    pidfd = os.pidfd_open(job.pid)
            if pidfd < 0:
                del self._jobs[job.job_id]
                self._forget(job)
                self._emit(JobLost(job.job_id, "the local starter ended while the job ran", now))
                continue
            job.pidfd = pidfd
            job.child = False
            if job.reason is None:
                job.reason = "adopted"
            del self._jobs[job.job_id]
            self._watch_exit(job)
            if loop is not None:
                self._ensure_watch(loop)


def _ends_run(record: Mapping[str, Any], run: int, pid: int | None = None) -> bool:
    """Whether an exit the starter kept ends run `run` of its job (the process `pid`).

    The starter keeps a job's last exit until the manager acknowledges it, after
    its store has it; an acknowledgement lost to a restart leaves the exit of a run
    the store already counted, which must not end the job's next run as well.
    """
    kept = int(record.get("run") or 0)
    if run and kept:
        return kept == run
    return pid is None or int(record["pid"]) == pid
