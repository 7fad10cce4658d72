"""Process identity, /proc sampling, the address-space backstop and the cgroup v2 plumbing."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from skyflock.backends.local_limits import (
    CgroupV2,
    address_space_backstop,
    cgroup2_mount,
    cgroup2_path,
    parse_proc_stat,
    pidfs_available,
    process_key,
    read_proc_stat,
    sample_sessions,
    set_address_space_limit,
)

STAT = (
    b"4242 (a (weird) name) S 1 4240 4241 0 -1 4194560 100 0 0 0 "
    b"150 25 0 0 20 0 1 0 987654 12345678 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1"
)


def test_parse_proc_stat_survives_spaces_and_parens_in_the_name() -> None:
    stat = parse_proc_stat(4242, STAT)
    assert (stat.state, stat.pgrp, stat.session) == ("S", 4240, 4241)
    assert (stat.utime_ticks, stat.stime_ticks) == (150, 25)
    assert (stat.start_ticks, stat.rss_pages) == (987654, 321)


def test_start_time_agrees_with_psutil() -> None:
    me = read_proc_stat(os.getpid())
    assert me is not None
    assert me.start_time == pytest.approx(psutil.Process().create_time(), abs=1e-6)
    assert read_proc_stat(2**22 + 17) is None  # above any pid_max


def test_process_key_is_stable_per_process_and_differs_between_processes() -> None:
    other = subprocess.Popen(["sleep", "5"])
    fds = [os.pidfd_open(os.getpid()), os.pidfd_open(os.getpid()), os.pidfd_open(other.pid)]
    try:
        mine, again, theirs = (
            process_key(pid, fd)
            for pid, fd in zip((os.getpid(), os.getpid(), other.pid), fds, strict=True)
        )
    finally:
        for fd in fds:
            os.close(fd)
        other.kill()
        other.wait()
    assert mine == again
    assert mine != theirs
    assert mine.startswith("pidfs:" if pidfs_available() else "start:")


def test_sample_sessions_sums_the_processes_of_a_session() -> None:
    job = subprocess.Popen(
        ["/bin/sh", "-c", "sleep 5 & sleep 5 & wait"],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            sample = sample_sessions({job.pid}).get(job.pid)
            if sample is not None and sample.processes == 3:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the shell and its two sleeps never showed up")
        assert sample.rss_kib > 0
        assert os.getsid(0) not in sample_sessions({job.pid})
    finally:
        os.killpg(job.pid, 9)
        job.wait()


@pytest.mark.parametrize(
    ("limit_mib", "backstop_mib"),
    [(1, 1025), (64, 1088), (1024, 2048), (4096, 8192)],
)
def test_address_space_backstop_is_loose(limit_mib: int, backstop_mib: int) -> None:
    assert address_space_backstop(limit_mib) == backstop_mib * 2**20


def test_address_space_limit_is_set_on_a_running_process() -> None:
    job = subprocess.Popen(["sleep", "5"])
    try:
        assert set_address_space_limit(job.pid, 3 * 2**30)
        assert psutil.Process(job.pid).rlimit(psutil.RLIMIT_AS) == (3 * 2**30, 3 * 2**30)
    finally:
        job.kill()
        job.wait()
    assert not set_address_space_limit(job.pid, 2**30)  # reaped: gone


MOUNTINFO_HYBRID = """\
25 30 0:22 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
"""
MOUNTINFO_V2 = "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n"
MOUNTINFO_V1 = "27 25 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"


@pytest.mark.parametrize(
    ("text", "mount"),
    [
        (MOUNTINFO_HYBRID, "/sys/fs/cgroup/unified"),
        (MOUNTINFO_V2, "/sys/fs/cgroup"),
        (MOUNTINFO_V1, None),
        ("", None),
    ],
)
def test_cgroup2_mount_is_found_in_mountinfo(text: str, mount: str | None) -> None:
    assert cgroup2_mount(text) == mount


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("0::/user.slice/session-1.scope\n", "/user.slice/session-1.scope"),
        ("4:memory:/x\n0::/\n", "/"),
        ("4:memory:/x\n", None),
    ],
)
def test_cgroup2_path_is_the_0_line(text: str, path: str | None) -> None:
    assert cgroup2_path(text) == path


def fake_cgroup(tmp_path: Path, controllers: str) -> Path:
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_cgroup_refused_without_a_delegated_memory_controller(tmp_path: Path) -> None:
    root = fake_cgroup(tmp_path, "cpu io hugetlb")
    cgroup, why = CgroupV2.prepare(str(root))
    assert cgroup is None
    assert "memory controller is not available" in why
    cgroup, why = CgroupV2.prepare(str(tmp_path / "absent"))
    assert cgroup is None
    assert "cannot read" in why


def test_cgroup_job_directories_on_a_fake_hierarchy(tmp_path: Path) -> None:
    # A real cgroupfs creates the interface files itself; here they are made by hand
    # so the writes and reads of the plumbing can be checked.
    root = fake_cgroup(tmp_path, "cpu memory")
    base = root / "jobs"
    base.mkdir()
    (base / "cgroup.controllers").write_text("memory\n")
    (base / "cgroup.subtree_control").write_text("")
    cgroup, why = CgroupV2.prepare(str(root), "jobs")
    assert cgroup is not None, why
    assert (base / "cgroup.subtree_control").read_text() == "+memory"
    job = base / "job-7.0"
    job.mkdir()
    for name in ("memory.max", "memory.swap.max", "cgroup.procs", "cgroup.kill"):
        (job / name).write_text("")
    assert cgroup.create("7.0", 64) == str(job)
    assert (job / "memory.max").read_text() == str(64 * 2**20)
    assert (job / "memory.swap.max").read_text() == "0"
    assert CgroupV2.attach(str(job), 1234)
    assert (job / "cgroup.procs").read_text() == "1234"
    assert not CgroupV2.oom_killed(str(job))  # no memory.events yet
    (job / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n")
    assert not CgroupV2.oom_killed(str(job))
    (job / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    assert CgroupV2.oom_killed(str(job))
    assert CgroupV2.peak_kib(str(job)) is None
    (job / "memory.peak").write_text(f"{80 * 2**20}\n")
    assert CgroupV2.peak_kib(str(job)) == 80 * 1024
    CgroupV2.kill(str(job))
    assert (job / "cgroup.kill").read_text() == "1"


def test_detect_on_this_machine_says_what_it_found() -> None:
    cgroup, why = CgroupV2.detect("skyflock-test-probe")
    assert why
    if cgroup is not None:  # a delegated hierarchy: the base cgroup exists and is ours
        assert os.path.isdir(cgroup.base)
        os.rmdir(cgroup.base)
