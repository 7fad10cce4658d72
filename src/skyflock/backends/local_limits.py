"""How the local backend identifies, measures and confines job processes on Linux.

`backends/local.py` starts each job in its own session; this module is the
kernel-facing half it leans on:

- identity: what, with the pid and the boot id, tells a job's process apart
  from a later one that reuses the pid (pids wrap every ~70 s at 450 jobs/s
  with pid_max 32768): the start time from `/proc/<pid>/stat` (clock ticks
  since boot, as epoch seconds exactly as psutil's `create_time`), and on
  Linux 6.9+ also the inode number of the process's pidfd (`process_key`:
  pidfs numbers processes uniquely within a boot; one fstat, 2 µs).
- measurement: one scan of `/proc` sums the resident set and CPU time of every
  process of the watched sessions (what HTCondor's procd does without cgroups).
- memory confinement, in order of preference:
  1. cgroup v2: a `memory.max` per job under a cgroup we may create and enable
     the memory controller in (`CgroupV2.detect`). The kernel kills the job at
     its limit; `memory.events` says so afterwards.
  2. otherwise a resident-set watch (the backend kills a session whose summed
     RSS exceeds the limit, reason "memory") plus an RLIMIT_AS backstop set
     with prlimit(2) right after the spawn. The address-space limit is loose on
     purpose (`address_space_backstop`): virtual size exceeds resident size by
     shared libraries, thread stacks and malloc arenas, so a tight RLIMIT_AS
     fails healthy multi-threaded programs. It only bounds a runaway
     allocation racing the watch. Setting it from the parent (not in a
     `preexec_fn`) keeps the vfork fast path of the spawn.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
from dataclasses import dataclass
from functools import cache

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@cache
def boot_time() -> float:
    """Seconds since the epoch at which this machine booted (`btime` of /proc/stat)."""
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    raise OSError("no btime line in /proc/stat")  # pragma: no cover - every Linux has one


@cache
def boot_id() -> str:
    """This boot's random id; a different id means the machine rebooted."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:  # pragma: no cover - every Linux has one
        return ""


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of `/proc/<pid>/stat` the backend uses."""

    pid: int
    state: str
    pgrp: int
    session: int
    utime_ticks: int
    stime_ticks: int
    start_ticks: int
    rss_pages: int

    @property
    def start_time(self) -> float:
        """Start time in seconds since the epoch, equal to psutil's `create_time()`."""
        return self.start_ticks / CLK_TCK + boot_time()


def parse_proc_stat(pid: int, data: bytes) -> ProcStat:
    """Parse the text of `/proc/<pid>/stat` (the command name may hold spaces and parens)."""
    rest = data[data.rfind(b")") + 2 :].split()
    # rest[0] is field 3 (state); field n of proc(5) is rest[n - 3].
    return ProcStat(
        pid=pid,
        state=rest[0].decode(),
        pgrp=int(rest[2]),
        session=int(rest[3]),
        utime_ticks=int(rest[11]),
        stime_ticks=int(rest[12]),
        start_ticks=int(rest[19]),
        rss_pages=int(rest[21]),
    )


def read_proc_stat(pid: int) -> ProcStat | None:
    """The process's stat, or None when no such process exists."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        data = os.read(fd, 4096)
    except (ProcessLookupError, OSError):
        return None
    finally:
        os.close(fd)
    return parse_proc_stat(pid, data) if data else None


def same_start(a: float, b: float) -> bool:
    """Whether two start times name the same process (they agree to a clock tick)."""
    return abs(a - b) < 0.5 / CLK_TCK


@cache
def pidfs_available() -> bool:
    """Whether pidfds carry a per-process inode number (pidfs, Linux 6.9+)."""
    other = os.getppid() or 1
    if other == os.getpid():  # pragma: no cover - only as pid 1
        return False
    fds = [os.pidfd_open(os.getpid()), os.pidfd_open(other)]
    try:
        return os.fstat(fds[0]).st_ino != os.fstat(fds[1]).st_ino
    finally:
        for fd in fds:
            os.close(fd)


def process_key(pid: int, pidfd: int) -> str:
    """The identity of the live (or zombie) process `pid`, whose pidfd is `pidfd`."""
    if pidfs_available():
        return f"pidfs:{os.fstat(pidfd).st_ino}"
    stat = read_proc_stat(pid)
    return f"start:{stat.start_ticks}" if stat is not None else ""


@dataclass(slots=True)
class SessionSample:
    """Summed over the live processes of one session at one moment."""

    rss_kib: int = 0
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0
    processes: int = 0


def sample_sessions(sessions: set[int]) -> dict[int, SessionSample]:
    """Resident set and CPU time of every live process of `sessions`, by session id.

    One pass over /proc: about 10 µs per process on the machine.
    """
    found: dict[int, SessionSample] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = read_proc_stat(int(name))
        if stat is None or stat.session not in sessions or stat.state == "Z":
            continue
        sample = found.get(stat.session)
        if sample is None:
            sample = found[stat.session] = SessionSample()
        sample.rss_kib += stat.rss_pages * PAGE_KIB
        sample.cpu_user_s += stat.utime_ticks / CLK_TCK
        sample.cpu_sys_s += stat.stime_ticks / CLK_TCK
        sample.processes += 1
    return found


def address_space_backstop(limit_mib: int) -> int:
    """The RLIMIT_AS (bytes) that backs up a resident-set limit of `limit_mib`."""
    return max(2 * limit_mib, limit_mib + 1024) * 1024 * 1024


def set_address_space_limit(pid: int, limit_bytes: int) -> bool:
    """Set RLIMIT_AS of a running process; False when it has already gone."""
    try:
        resource.prlimit(pid, resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    except ProcessLookupError:
        return False
    return True


def cgroup2_mount(mountinfo: str) -> str | None:
    """The mount point of the cgroup v2 hierarchy in a `/proc/self/mountinfo` text."""
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if sep and right.split()[:1] == ["cgroup2"]:
            fields = left.split()
            if len(fields) >= 5:
                return fields[4].replace("\\040", " ")
    return None


def cgroup2_path(proc_cgroup: str) -> str | None:
    """This process's cgroup v2 path in a `/proc/self/cgroup` text (the `0::` line)."""
    for line in proc_cgroup.splitlines():
        if line.startswith("0::"):
            return line[3:].strip() or "/"
    return None


class CgroupV2:
    """Per-job memory cgroups under `<base>/` (a cgroup v2 directory we created).

    Layout: `<base>/job-<job_id>/` with `memory.max` = the limit and
    `memory.swap.max` = 0. The job's leader is moved in right after the spawn;
    its children inherit the cgroup (also those that leave the session), and
    `cgroup.kill` ends all of them at once.
    """

    def __init__(self, base: str) -> None:
        self.base = base

    @classmethod
    def detect(cls, name: str = "skyflock-jobs") -> tuple[CgroupV2 | None, str]:
        """A usable hierarchy, or None and the reason why not (for the logs)."""
        try:
            with open("/proc/self/mountinfo") as f:
                mount = cgroup2_mount(f.read())
            with open("/proc/self/cgroup") as f:
                own = cgroup2_path(f.read())
        except OSError as e:  # pragma: no cover - every Linux has both
            return None, f"cannot read the cgroup setup: {e}"
        if mount is None or own is None:
            return None, "no cgroup v2 hierarchy is mounted"
        return cls.prepare(os.path.join(mount, own.lstrip("/")), name)

    @classmethod
    def prepare(cls, parent: str, name: str = "skyflock-jobs") -> tuple[CgroupV2 | None, str]:
        """Create `<parent>/<name>` with the memory controller enabled for its children."""
        try:
            with open(os.path.join(parent, "cgroup.controllers")) as f:
                available = f.read().split()
        except OSError as e:
            return None, f"cannot read {parent}/cgroup.controllers: {e.strerror}"
        if "memory" not in available:
            return None, f"the memory controller is not available in {parent} (not delegated)"
        base = os.path.join(parent, name)
        try:
            with contextlib.suppress(FileExistsError):
                os.mkdir(base)
            with open(os.path.join(base, "cgroup.controllers")) as f:
                if "memory" not in f.read().split():
                    _write(os.path.join(parent, "cgroup.subtree_control"), "+memory")
            _write(os.path.join(base, "cgroup.subtree_control"), "+memory")
        except OSError as e:
            return None, f"cannot enable the memory controller under {parent}: {e.strerror or e}"
        return cls(base), f"cgroup v2 at {base}"

    def job_dir(self, job_id: str) -> str:
        return os.path.join(self.base, f"job-{job_id}")

    def create(self, job_id: str, limit_mib: int) -> str:
        path = self.job_dir(job_id)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path)
        _write(os.path.join(path, "memory.max"), str(limit_mib * 1024 * 1024))
        with contextlib.suppress(OSError):  # absent without swap accounting
            _write(os.path.join(path, "memory.swap.max"), "0")
        return path

    @staticmethod
    def attach(path: str, pid: int) -> bool:
        """Move `pid` into the job's cgroup; False if it has already exited."""
        try:
            _write(os.path.join(path, "cgroup.procs"), str(pid))
        except OSError as e:
            if e.errno in (errno.ESRCH, errno.ENOENT):
                return False
            raise
        return True

    @staticmethod
    def oom_killed(path: str) -> bool:
        """Whether the kernel killed a process of the cgroup for memory."""
        try:
            with open(os.path.join(path, "memory.events")) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        except OSError:
            return False
        return False

    @staticmethod
    def peak_kib(path: str) -> int | None:
        try:
            with open(os.path.join(path, "memory.peak")) as f:
                return int(f.read()) // 1024
        except (OSError, ValueError):
            return None

    @staticmethod
    def kill(path: str) -> None:
        """SIGKILL every process in the cgroup (kernel 5.14+; silently nothing before)."""
        with contextlib.suppress(OSError):
            _write(os.path.join(path, "cgroup.kill"), "1")

    @staticmethod
    def remove(path: str) -> None:
        with contextlib.suppress(OSError):
            os.rmdir(path)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
