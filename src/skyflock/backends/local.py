"""The embedded `local` cluster: each job a process of this machine, watched by the event loop.

This is the `ExecutionBackend` (port in `backends/base.py`) that `make run` uses:
one partitionable slot of this machine's cores and memory (`local_capacity`),
jobs run as plain processes, logs kept centrally (`local_logs`), limits
enforced with the kernel's help (`local_limits`). With `starter=True` the
jobs are the data dir's starter's children instead; the backend's side of
that conversation is `local_via_starter`, which this backend owns and
delegates to (the job record both share is `local_job`).

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

from skyflock.backends.base import (
    BackendEvent,
    CancelReason,
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
from skyflock.backends.local_job import LocalJob
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
from skyflock.backends.local_via_starter import StarterLink
from skyflock.backends.starter_client import StarterClient, StarterGone

log = logging.getLogger(__name__)


class _Spawn(subprocess.Popen[bytes]):
    """`Popen` used only to spawn: the backend reaps the process itself with `wait4`.

    Without this, a collected `Popen` whose `returncode` is unset warns and is
    put on `subprocess`'s list of processes to reap, which would steal the
    exit status from the backend.
    """

    def __del__(self) -> None:
        pass


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
        self._jobs: dict[str, LocalJob] = {}
        self._pending: list[BackendEvent] = []
        self._wakeup = asyncio.Event()
        self._watch_handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exits = select.epoll()
        self._by_pidfd: dict[int, LocalJob] = {}
        self._boot_id = boot_id()
        self._use_starter = starter
        self._via_starter = StarterLink(self)
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
        dropped = self._via_starter.dropped
        if dropped:
            for event in out:
                if isinstance(event, JobLost):
                    dropped.discard(event.job_id)
        return out

    def log_paths(self, job_id: str) -> LogPaths:
        return self._logs.log_paths(job_id)

    def recover(self, running: Iterable[RunningRecord]) -> list[BackendEvent]:
        """Adopt each record's process if it is still the job's; else report it lost."""
        loop = self._running_loop()
        lost: list[BackendEvent] = []
        if self._use_starter:
            with contextlib.suppress(StarterGone):  # then the jobs are adopted by pid, or lost
                self._via_starter.ensure(loop)
        for record in running:
            if record.job_id in self._jobs:
                continue
            if self._use_starter and self._via_starter.take_over(loop, record):
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
        self._via_starter.close(wait=vacate)
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
        if spec.job_id in self._via_starter.dropped:
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
            self._via_starter.start(loop, spec)
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
        job = LocalJob(
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
        return self._via_starter.stage(spec, after)

    def acknowledge(self, job_ids: Iterable[str]) -> None:
        """The ends of these jobs are committed: the starter may forget their exits."""
        self._via_starter.acknowledge(job_ids)

    def recorded_exit(self, job_id: str, spec: LaunchSpec | None) -> JobExited | None:
        """The exit the starter kept for a job this manager never saw start (after a restart)."""
        return self._via_starter.recorded_exit(job_id, spec)

    @property
    def _starter(self) -> StarterClient | None:
        """The connection to the starter, if one is open (tests read the starter's pid from it)."""
        return self._via_starter.client

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

    def _watch_exit(self, job: LocalJob) -> None:
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
        job = LocalJob(
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

    def _forget(self, job: LocalJob) -> None:
        """Stop watching `job` without touching its process."""
        if job.pidfd >= 0:
            del self._by_pidfd[job.pidfd]
            os.close(job.pidfd)  # which also takes it out of the epoll set
        for handle in (job.kill_handle, job.walltime_handle):
            if handle is not None:
                handle.cancel()

    def _terminate(self, job: LocalJob, grace_s: float) -> None:
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

    def _signal(self, job: LocalJob, sig: signal.Signals) -> None:
        if self._jobs.get(job.job_id) is not job:
            return
        if job.pidfd < 0 and self._via_starter.connected:
            # The starter knows the job even before its pid is reported here, and drops
            # whatever was staged behind it (or the job itself, if only staged).
            self._via_starter.kill(job.job_id, sig)
        elif job.pgid == 0:  # not started yet: sent when it is
            if job.pending_signal != signal.SIGKILL:
                job.pending_signal = sig
            return
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pgid, sig)
        if sig == signal.SIGKILL and job.cgroup is not None:
            CgroupV2.kill(job.cgroup)

    def _over_time(self, job: LocalJob) -> None:
        job.walltime_handle = None
        spec = job.spec
        if spec is None or spec.walltime_s is None:  # pragma: no cover - set only with a spec
            return
        if job.reason is None or job.reason == "adopted":
            job.reason = "walltime"
            job.detail = f"ran longer than its limit of {spec.walltime_s:g} s"
        self._terminate(job, spec.vacate_grace_s)

    def _over_memory(self, job: LocalJob, rss_kib: int) -> None:
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

    def _on_exit(self, job: LocalJob) -> None:
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
        self, job: LocalJob, exit_code: int | None, exit_signal: int | None, usage: Usage
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
    def _own_max_rss(ru_maxrss: int, job: LocalJob, own_hiwater: int | None = None) -> int | None:
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
