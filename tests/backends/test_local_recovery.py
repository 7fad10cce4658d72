"""A manager restart: a fresh `LocalBackend` adopts jobs started by another process, or reports them lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil

from skyflock.backends.base import BackendEvent, JobExited, JobLost, LaunchSpec, RunningRecord
from skyflock.backends.local import LocalBackend
from skyflock.backends.local_limits import boot_id, process_key, read_proc_stat
from tests.backends.support import PATH_ENV, run, until_done

SRC = str(Path(__file__).resolve().parents[2] / "src")

# The first manager: starts the jobs, prints their JobStarted events, leaves without vacating.
FIRST_MANAGER = """
import asyncio, dataclasses, json, sys
from skyflock.backends.base import LaunchSpec
from skyflock.backends.local import LocalBackend

async def main(data_dir, specs):
    backend = LocalBackend(data_dir)
    for s in specs:
        await backend.start(LaunchSpec(**{**s, "argv": tuple(s["argv"])}))
    events = await backend.events(5)
    print(json.dumps([dataclasses.asdict(e) for e in events]))
    await backend.close(vacate=False)

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
"""


def first_manager(data_dir: Path, *specs: LaunchSpec) -> list[RunningRecord]:
    """Start `specs` from another process that then exits, as a crashed manager would."""
    as_json = json.dumps(
        [{k: getattr(s, k) for k in ("job_id", "argv", "cwd", "env", "stdout_path")} for s in specs]
    )
    out = subprocess.run(
        [sys.executable, "-c", FIRST_MANAGER, str(data_dir), as_json],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=20,
    )
    started = json.loads(out.stdout)
    assert [e["job_id"] for e in started] == [s.job_id for s in specs], out.stderr
    return [
        RunningRecord(
            job_id=e["job_id"],
            pid=e["pid"],
            pgid=e["pgid"],
            started_at=e["started_at"],
            process_start=e["process_start"],
            process_key=e["process_key"],
            boot_id=e["boot_id"],
            spec=s,
        )
        for e, s in zip(started, specs, strict=True)
    ]


def sleeper(job_id: str, work: Path, seconds: float, **kw: object) -> LaunchSpec:
    script = f"echo started; sleep {seconds}; echo finished"
    return LaunchSpec(job_id, ("/bin/sh", "-c", script), str(work), PATH_ENV, **kw)  # type: ignore[arg-type]


def test_a_fresh_backend_adopts_a_running_job_and_sees_it_end(data_dir: Path, work: Path) -> None:
    (record,) = first_manager(data_dir, sleeper("1.0", work, 1.0, stdout_path="own.out"))
    assert psutil.pid_exists(record.pid)

    async def body() -> JobExited:
        backend = LocalBackend(str(data_dir), memory_poll_s=0.05)
        assert backend.recover([record]) == []
        assert backend.running == ["1.0"]
        (end,) = (await until_done(backend, ["1.0"]))["1.0"]
        assert isinstance(end, JobExited)
        return end

    end = run(body())
    # Not our child: its exit status cannot be read, and that is said.
    assert (end.exit_code, end.signal, end.reason) == (None, None, "adopted")
    assert end.ended_at - record.started_at >= 0.9
    assert end.usage.cpu_s is not None  # sampled while it ran
    central = LocalBackend(str(data_dir)).log_paths("1.0").stdout
    assert Path(central).read_text() == "started\nfinished\n"  # kept logging across the restart
    assert (work / "own.out").read_text() == "started\nfinished\n"


def test_an_adopted_job_can_be_cancelled(data_dir: Path, work: Path) -> None:
    (record,) = first_manager(data_dir, sleeper("2.0", work, 10))
    record = replace(record, process_key="")  # a store that kept only the start time

    async def body() -> JobExited:
        backend = LocalBackend(str(data_dir))
        assert backend.recover([record]) == []
        backend.cancel("2.0", "removed", 1)
        (end,) = (await until_done(backend, ["2.0"]))["2.0"]
        assert isinstance(end, JobExited)
        return end

    end = run(body())
    assert end.reason == "removed"
    assert not psutil.pid_exists(record.pid) or (
        psutil.Process(record.pid).status() == psutil.STATUS_ZOMBIE
    )


def test_an_adopted_job_still_has_its_walltime(data_dir: Path, work: Path) -> None:
    (record,) = first_manager(data_dir, sleeper("3.0", work, 10))
    record = replace(record, spec=sleeper("3.0", work, 10, walltime_s=0.2, vacate_grace_s=0.5))

    async def body() -> JobExited:
        backend = LocalBackend(str(data_dir))
        assert backend.recover([record]) == []
        (end,) = (await until_done(backend, ["3.0"]))["3.0"]
        assert isinstance(end, JobExited)
        return end

    end = run(body())
    assert end.reason == "walltime"


def test_records_that_are_not_our_process_any_more_are_lost(data_dir: Path, work: Path) -> None:
    gone = subprocess.Popen(["/bin/true"])
    gone.wait()
    sleeping = subprocess.Popen(["sleep", "10"], start_new_session=True)
    try:
        fds = [os.pidfd_open(sleeping.pid), os.pidfd_open(os.getpid())]
        sleeping_key, my_key = (
            process_key(p, fd) for p, fd in zip((sleeping.pid, os.getpid()), fds, strict=True)
        )
        for fd in fds:
            os.close(fd)
        start = read_proc_stat(sleeping.pid)
        me = read_proc_stat(os.getpid())
        assert start is not None and me is not None
        now, boot = time.time(), boot_id()
        records = [
            RunningRecord("a", gone.pid, gone.pid, now, now, boot),
            # pid reused by another process: the start time differs...
            RunningRecord("b", sleeping.pid, sleeping.pid, now, start.start_time - 5, boot),
            # ... or the key does, which then decides
            RunningRecord(
                "c", sleeping.pid, sleeping.pid, now, start.start_time, boot, process_key="start:1"
            ),
            # the right process, but not in the job's process group
            RunningRecord("d", os.getpid(), 1, now, me.start_time, boot, process_key=my_key),
            RunningRecord("e", sleeping.pid, sleeping.pid, now, start.start_time, "other-boot"),
        ]
        assert sleeping_key

        async def body() -> list[object]:
            backend = LocalBackend(str(data_dir))
            lost = backend.recover(records)
            assert backend.running == []
            return list(lost)

        lost = run(body())
    finally:
        sleeping.kill()
        sleeping.wait()
    assert [type(e) for e in lost] == [JobLost] * 5
    why = {e.job_id: e.why for e in lost if isinstance(e, JobLost)}
    assert "ended while the manager was down" in why["a"]
    assert "belongs to another process" in why["b"]
    assert "belongs to another process" in why["c"]
    assert "belongs to another process" in why["d"]
    assert "rebooted" in why["e"]


def test_a_restart_loses_nothing(data_dir: Path, work: Path) -> None:
    """Jobs that ended during the outage are lost (to rerun); the rest are adopted."""
    records = first_manager(
        data_dir, sleeper("5.0", work, 0), sleeper("5.1", work, 1.0), sleeper("5.2", work, 0)
    )
    time.sleep(0.2)  # the quick ones end while no manager runs

    async def body() -> tuple[list[BackendEvent], dict[str, list[BackendEvent]]]:
        backend = LocalBackend(str(data_dir))
        lost = backend.recover(records)
        assert backend.running == ["5.1"]
        return lost, await until_done(backend, ["5.1"])

    lost, later = run(body())
    assert sorted(e.job_id for e in lost if isinstance(e, JobLost)) == ["5.0", "5.2"]
    assert [type(e) for e in later["5.1"]] == [JobExited]
