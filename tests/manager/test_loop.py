"""The manager loop end to end: real processes on the local backend, SQLite in a temp dir.

Each test starts a `Manager` with a small config (short negotiation and
periodic intervals, a 2-core local cluster), submits an ordinary submit
description, waits for the outcome the way a user would see it (history,
hold reason, events) and checks it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from skyflock.backends.base import LaunchSpec
from skyflock.backends.local import LocalBackend
from skyflock.classad import UNDEFINED, ClassAd
from skyflock.manager import Manager
from skyflock.manager.errors import BadInput, Conflict, NotFound
from skyflock.manager.recovery import find_job_session
from skyflock.manager.settings import settings_from_mapping

pytestmark = pytest.mark.timeout(60)

BASE_CONFIG = {
    "negotiator": {"interval": 0.2},
    "server": {"periodic_interval": 0.2},
    "clusters": {"local": {"cpus": 2, "memory": 4096}},
}


def make_manager(tmp_path: Path, config: dict[str, object] | None = None) -> Manager:
    settings = settings_from_mapping(config or BASE_CONFIG, data_dir=tmp_path / "data", env={})
    return Manager(settings)


def run_with_manager(
    tmp_path: Path,
    body: Callable[[Manager], Awaitable[None]],
    config: dict[str, object] | None = None,
) -> None:
    async def main() -> None:
        m = make_manager(tmp_path, config)
        await m.start()
        try:
            await body(m)
        finally:
            await m.stop()

    asyncio.run(main())


async def until(check: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


def finished(m: Manager, job_id: str) -> ClassAd | None:
    cluster, _, proc = job_id.partition(".")
    ads = m.history(f"ClusterId == {cluster} && ProcId == {proc}", limit=1)
    return ads[0] if ads else None


def status_of(m: Manager, job_id: str) -> int | None:
    ads = m.query(ids=[job_id])
    if ads:
        value = ads[0].eval("JobStatus")
        return value if isinstance(value, int) else None
    ad = finished(m, job_id)
    return ad.eval("JobStatus") if ad is not None else None  # type: ignore[return-value]


def kinds(m: Manager, job_id: str) -> list[str]:
    return [e.kind for e in m.job_events(job_id)]


async def submit(m: Manager, tmp_path: Path, text: str) -> list[str]:
    result = await m.submit(text, filename="test.sub", base_dir=str(tmp_path), owner="alice")
    return list(result.procs)


def test_job_that_succeeds_writes_output_and_events(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/echo\narguments = \"hello 'big world'\"\noutput = out.txt\nqueue\n",
        )
        ad = await until(lambda: finished(manager, job))
        assert isinstance(ad, ClassAd)
        assert ad.eval("JobStatus") == 4
        assert ad.eval("ExitCode") == 0
        assert (tmp_path / "out.txt").read_text() == "hello big world\n"
        assert manager.log_path(job, "stdout").read_text() == "hello big world\n"
        assert kinds(manager, job) == ["submitted", "matched", "started", "completed"]
        assert "completed" in manager.log_path(job, "events").read_text()
        assert manager.job_finished(job)

    run_with_manager(tmp_path, body)


def test_job_that_fails_completes_with_its_exit_code(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager, tmp_path, "executable = /bin/sh\narguments = \"-c 'exit 3'\"\nqueue\n"
        )
        ad = await until(lambda: finished(manager, job))
        assert isinstance(ad, ClassAd)
        assert ad.eval("ExitCode") == 3
        assert ad.eval("JobStatus") == 4

    run_with_manager(tmp_path, body)


def test_job_over_its_memory_is_held_with_code_34(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        # No quotes inside: the argument is single-quoted (HTCondor's V2 syntax), and a
        # `b'x'` in it became `bx`, a NameError right after the allocation, so the job
        # exited 1 on its own, racing the memory watch's SIGKILL (the loosened check).
        script = "import time; b = bytearray(400 * 1024 * 1024); b[::4096] = bytes([120]) * len(b[::4096]); time.sleep(30)"
        (job,) = await submit(
            manager,
            tmp_path,
            f"executable = {sys.executable}\narguments = \"-c '{script}'\"\nrequest_memory = 64\nqueue\n",
        )
        await until(lambda: status_of(manager, job) == 5)
        (ad,) = manager.query(ids=[job])
        assert ad.eval("HoldReasonCode") == 34
        assert "memory" in str(ad.eval("HoldReason"))
        live = manager.loop.live.get(job)
        assert live is not None
        # The job is the starter's own child, so its status is its own: the memory
        # watch's SIGKILL to the process group (or the kernel's, at a cgroup limit).
        assert live.ad.eval("ExitBySignal") is True
        assert live.ad.eval("ExitSignal") == 9
        assert live.ad.eval("ExitCode") is UNDEFINED

    run_with_manager(tmp_path, body)


def test_job_over_its_walltime_is_held_with_code_47(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/sleep\narguments = 30\nallowed_execute_duration = 1\n"
            "job_max_vacate_time = 1\nqueue\n",
        )
        started = time.monotonic()
        await until(lambda: status_of(manager, job) == 5)
        assert time.monotonic() - started < 10
        (ad,) = manager.query(ids=[job])
        assert ad.eval("HoldReasonCode") == 47

    run_with_manager(tmp_path, body)


def test_job_removed_while_running_goes_to_history(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(manager, tmp_path, "executable = /bin/sleep\narguments = 30\nqueue\n")
        await until(lambda: status_of(manager, job) == 2)
        result = await manager.remove([job], reason="not needed")
        assert result.changed == (job,)
        ad = await until(lambda: finished(manager, job), timeout=15)
        assert isinstance(ad, ClassAd)
        assert ad.eval("JobStatus") == 3
        assert kinds(manager, job)[-2:] == ["removed", "vacated"]

    run_with_manager(tmp_path, body)


def test_release_of_a_running_job_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(manager, tmp_path, "executable = /bin/sleep\narguments = 30\nqueue\n")
        await until(lambda: status_of(manager, job) == 2)
        with pytest.raises(Conflict, match="Running"):
            await manager.release([job])
        with pytest.raises(NotFound):
            await manager.remove(["999.0"])
        with pytest.raises(BadInput, match=r"test\.sub:\d"):
            await manager.submit(
                "executable = /bin/true\nuniverse = grid\nqueue\n",
                filename="test.sub",
                base_dir=str(tmp_path),
                owner="alice",
            )
        assert status_of(manager, job) == 2
        await manager.remove([job])

    run_with_manager(tmp_path, body)


def test_failing_job_is_retried_up_to_max_retries(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/sh\narguments = \"-c 'echo run >> runs.txt; exit 1'\"\nmax_retries = 2\nqueue\n",
        )
        ad = await until(lambda: finished(manager, job))
        assert isinstance(ad, ClassAd)
        assert ad.eval("ExitCode") == 1
        assert (tmp_path / "runs.txt").read_text() == "run\n" * 3
        assert kinds(manager, job).count("retried") == 2
        assert ad.eval("NumJobStarts") == 3

    run_with_manager(tmp_path, body)


def test_periodic_hold_then_periodic_release(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/sleep\narguments = 1\n"
            "periodic_hold = JobStatus == 2 && NumJobStarts < 2\n"
            'periodic_hold_reason = "first run held"\n'
            "periodic_release = HoldReasonCode == 3\nqueue\n",
        )
        ad = await until(lambda: finished(manager, job), timeout=30)
        assert isinstance(ad, ClassAd)
        events = manager.job_events(job)
        held = [e for e in events if e.kind == "held"]
        assert held and held[0].code == 3 and held[0].message == "first run held"
        assert "released" in [e.kind for e in events]
        assert ad.eval("NumJobStarts") == 2
        assert ad.eval("JobStatus") == 4

    run_with_manager(tmp_path, body)


def test_priority_preemption_between_two_submitters(tmp_path: Path) -> None:
    async def main() -> None:
        config = {
            "negotiator": {
                "interval": 0.2,
                "halflife": 1.0,
                "preemption_requirements": "RemoteUserPrio > SubmitterUserPrio * 1.2",
            },
            "server": {"periodic_interval": 5},
            "clusters": {"local": {"cpus": 2, "memory": 4096}},
        }
        m = make_manager(tmp_path, config)
        await m.start()
        try:
            alice = await m.submit(
                "executable = /bin/sleep\narguments = 60\njob_max_vacate_time = 1\nqueue 2\n",
                filename="a.sub",
                base_dir=str(tmp_path),
                owner="alice",
            )
            await until(lambda: all(status_of(m, j) == 2 for j in alice.procs))
            await asyncio.sleep(1.5)  # alice's usage makes her priority worse than bob's
            bob = await m.submit(
                "executable = /bin/sleep\narguments = 60\nqueue\n",
                filename="b.sub",
                base_dir=str(tmp_path),
                owner="bob",
            )
            (bob_job,) = bob.procs
            await until(lambda: status_of(m, bob_job) == 2, timeout=20)
            preempted = [j for j in alice.procs if "preempted" in kinds(m, j)]
            assert len(preempted) == 1
            assert "evicted" in kinds(m, preempted[0])
            assert status_of(m, preempted[0]) == 1
            await m.remove(constraint="true")
        finally:
            await m.stop()

    asyncio.run(main())


def test_submit_on_hold_then_qedit_and_release(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager, tmp_path, "executable = /bin/echo\narguments = one\nhold = true\nqueue\n"
        )
        (ad,) = manager.query(ids=[job])
        assert (ad.eval("JobStatus"), ad.eval("HoldReasonCode")) == (5, 15)
        edited = await manager.qedit([job], attribute="Arguments", expression='"two"')
        assert edited.changed == (job,)
        assert manager.query(ids=[job], projection=["Arguments"])[0].eval("Arguments") == "two"
        released = await manager.release([job])
        assert released.changed == (job,)
        await until(lambda: finished(manager, job))
        assert manager.log_path(job, "stdout").read_text() == "two\n"

    run_with_manager(tmp_path, body)


def test_cluster_macro_names_the_assigned_cluster_and_ads_are_built_lazily(
    tmp_path: Path,
) -> None:
    """The ClusterId is reserved before parsing, so `$(Cluster)` is the id the jobs
    get, also after an earlier submit used an id; queued jobs carry no ad of their own."""

    async def body(manager: Manager) -> None:
        await submit(manager, tmp_path, "executable = /bin/true\nrequest_memory = 64 TB\nqueue\n")
        text = (
            "executable = /bin/true\nrequest_memory = 64 TB\n"
            "output = out.$(Cluster).$(Process)\nqueue 3\n"
        )
        jobs = await submit(manager, tmp_path, text)
        live = manager.loop.live.get(jobs[2])  # before any cycle could look at it
        assert live is not None and not live.ad_built
        assert live.ad.eval("ProcId") == 2 and live.ad.eval("ClusterId") == 2
        assert live.ad.eval("Out") == f"out.{jobs[2]}"
        assert [j.partition(".")[0] for j in jobs] == ["2", "2", "2"]
        for job_id in jobs:
            (ad,) = manager.query(ids=[job_id], projection=["Out"])
            assert ad.eval("Out") == f"out.{job_id}"
        await manager.remove(constraint="true")

    run_with_manager(tmp_path, body, {**BASE_CONFIG, "negotiator": {"interval": 30}})


def test_max_retries_count_survives_manager_restarts(tmp_path: Path) -> None:
    """Each attempt under a new Manager over the same data dir: still two retries in all."""
    runs = tmp_path / "runs.txt"

    def attempts() -> int:
        return len(runs.read_text().splitlines()) if runs.exists() else 0

    async def main() -> None:
        job = ""
        for attempt in (1, 2):
            m = make_manager(tmp_path)
            await m.start()
            try:
                if not job:
                    (job,) = await submit(
                        m,
                        tmp_path,
                        "executable = /bin/sh\n"
                        "arguments = \"-c 'sleep 0.5; echo run >> runs.txt; exit 3'\"\n"
                        "max_retries = 2\nqueue\n",
                    )
                await until(lambda n=attempt, m=m, j=job: kinds(m, j).count("retried") >= n)
                ads = m.query(ids=[job])
                assert ads and ads[0].eval("NumJobCompletions") >= attempt
            finally:
                await m.stop()
        m = make_manager(tmp_path)
        await m.start()
        try:
            ad = await until(lambda: finished(m, job))
            assert isinstance(ad, ClassAd)
            assert (ad.eval("JobStatus"), ad.eval("ExitCode")) == (4, 3)
            assert ad.eval("NumJobCompletions") == 3
            assert kinds(m, job).count("retried") == 2
            assert kinds(m, job)[-1] == "completed"
            await asyncio.sleep(0.5)  # nothing runs it again
            assert attempts() == 3
        finally:
            await m.stop()

    asyncio.run(main())


def test_an_exit_already_counted_does_not_also_end_the_next_run_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manager stops after committing a run's retry and the job's next match, but before
    acknowledging the exit to the starter or starting the job: the next manager runs it
    again instead of counting the exit the starter still keeps a second time."""
    runs = tmp_path / "runs.txt"
    launches: list[str] = []
    start = LocalBackend.start_nowait

    def first_launch_only(self: LocalBackend, spec: LaunchSpec) -> None:
        launches.append(spec.job_id)
        if len(launches) == 1:
            start(self, spec)

    async def main() -> None:
        with monkeypatch.context() as patch:
            patch.setattr(LocalBackend, "acknowledge", lambda self, ids: None)
            patch.setattr(LocalBackend, "start_nowait", first_launch_only)
            m = make_manager(tmp_path)
            await m.start()
            try:
                (job,) = await submit(
                    m,
                    tmp_path,
                    "executable = /bin/sh\n"
                    "arguments = \"-c 'echo run >> runs.txt; exit 3'\"\n"
                    "max_retries = 1\nqueue\n",
                )
                await until(lambda: len(launches) == 2)  # its next match is committed
                assert kinds(m, job).count("retried") == 1
            finally:
                await m.stop()
        m = make_manager(tmp_path)
        await m.start()
        try:
            ad = await until(lambda: finished(m, job))
            assert isinstance(ad, ClassAd)
            assert (ad.eval("JobStatus"), ad.eval("ExitCode")) == (4, 3)
            assert ad.eval("NumJobCompletions") == 2
            assert runs.read_text().splitlines() == ["run", "run"]
        finally:
            await m.stop()

    asyncio.run(main())


def test_recovery_does_not_take_another_managers_job_of_the_same_id(tmp_path: Path) -> None:
    """Job ids repeat across data dirs: the session found must also be in the job's own iwd."""
    job_id = f"{os.getpid()}.7"
    theirs = str(tmp_path / "theirs")
    proc = subprocess.Popen(
        ["sleep", "30"],
        env={"PATH": "/usr/bin:/bin", "SKYFLOCK_JOB_ID": job_id, "_CONDOR_JOB_IWD": theirs},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while find_job_session(job_id) != proc.pid:  # until it has exec'd
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert find_job_session(job_id, {"_CONDOR_JOB_IWD": theirs}) == proc.pid
        assert find_job_session(job_id, {"_CONDOR_JOB_IWD": str(tmp_path / "mine")}) is None
    finally:
        proc.kill()
        proc.wait()


def test_exit_code_above_128_is_an_exit_code_not_a_signal(tmp_path: Path) -> None:
    """`exit 130` is reported as exit code 130 (not SIGINT): the status is the job's own."""

    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/sh\narguments = \"-c 'exit 130'\"\n"
            "on_exit_hold = ExitBySignal =?= true\nlog = j.log\nqueue\n",
        )
        ad = await until(lambda: finished(manager, job))
        assert isinstance(ad, ClassAd)
        assert (ad.eval("JobStatus"), ad.eval("ExitCode")) == (4, 130)
        assert manager.job_events(job)[-1].code == 130
        await until(lambda: "(return value 130)" in (tmp_path / "j.log").read_text())

    assert settings_from_mapping(BASE_CONFIG, data_dir=tmp_path, env={}).exit_records
    run_with_manager(tmp_path, body)


def test_a_signal_sent_to_the_job_alone_is_a_signal(tmp_path: Path) -> None:
    """No wrapper stands between the job and its parent: `kill -TERM $$` is signal 15."""

    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/sh\narguments = \"-c 'kill -TERM $$'\"\nlog = j.log\nqueue\n",
        )
        ad = await until(lambda: finished(manager, job))
        assert isinstance(ad, ClassAd)
        assert ad.eval("JobStatus") == 4
        await until(lambda: "Abnormal termination (signal 15)" in (tmp_path / "j.log").read_text())

    run_with_manager(tmp_path, body)


def test_a_submitter_whose_jobs_ran_between_cycles_enters_the_accounting(tmp_path: Path) -> None:
    """Jobs that start and end between two cycles are charged what they ran: their
    submitter appears in the accounting (and so in `userprio`) with their core-seconds."""

    async def body(manager: Manager) -> None:
        jobs = await submit(
            manager, tmp_path, "executable = /bin/sleep\narguments = 0.3\nqueue 3\n"
        )
        await until(lambda: all(finished(manager, job) for job in jobs))
        await manager.loop.cycle()
        usage = {
            name.partition("@")[0]: u for name, u in manager.loop.accounting.submitters.items()
        }
        # three runs of at least 0.3 s on one core each; well under the time the test took
        assert 0.85 <= usage["alice"].accumulated_usage < 10.0

    run_with_manager(tmp_path, body)
