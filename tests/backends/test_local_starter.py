"""The starter (`backends.local_starter`): exact statuses, exits kept while no manager listens, staging."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

from skyflock.backends.base import JobExited, JobLost, JobStarted, RunningRecord
from skyflock.backends.local import LocalBackend
from skyflock.backends.local_starter import Journal, find_executable, journal_path
from tests.backends.support import run, spec, until_done

pytestmark = pytest.mark.timeout(60)


def backend(data_dir: Path) -> LocalBackend:
    return LocalBackend(str(data_dir), starter=True)


@pytest.mark.parametrize(
    ("script", "code", "sig"),
    [
        ("exit 130", 130, None),  # above 128 and still an exit code
        ("exit 255", 255, None),
        ("kill -TERM $$", None, signal.SIGTERM),  # a signal to the job alone is a signal
        ("kill -KILL $$", None, signal.SIGKILL),
    ],
)
def test_statuses_are_exact(
    data_dir: Path, work: Path, script: str, code: int | None, sig: int | None
) -> None:
    async def body() -> JobExited:
        b = backend(data_dir)
        await b.start(spec("1.0", "/bin/sh", "-c", script, cwd=work))
        events = (await until_done(b, ["1.0"]))["1.0"]
        await b.close()
        assert isinstance(events[0], JobStarted)
        assert isinstance(events[-1], JobExited)
        return events[-1]

    end = run(body())
    assert (end.exit_code, end.signal) == (code, sig)


def test_an_exit_while_no_manager_listens_is_kept_until_acknowledged(
    data_dir: Path, work: Path
) -> None:
    async def first() -> JobStarted:
        b = backend(data_dir)
        await b.start(spec("2.0", "/bin/sh", "-c", "sleep 0.3; exit 7", cwd=work))
        (started,) = await b.events(5)
        assert isinstance(started, JobStarted)
        await b.close(vacate=False)  # the manager goes away; the job runs on
        return started

    started = run(first())
    os.kill(started.pid, 0)  # still running, though its manager is gone

    async def second() -> JobExited:
        await asyncio.sleep(0.6)  # it ends meanwhile
        b = backend(data_dir)
        record = RunningRecord(
            job_id="2.0",
            pid=started.pid,
            pgid=started.pgid,
            started_at=started.started_at,
            process_start=started.process_start,
            boot_id=started.boot_id,
            process_key=started.process_key,
        )
        assert b.recover([record]) == []
        (end,) = (await until_done(b, ["2.0"]))["2.0"]
        assert isinstance(end, JobExited)
        b.acknowledge(["2.0"])  # committed: the starter may forget it
        await b.close()
        return end

    end = run(second())
    assert (end.exit_code, end.signal, end.reason) == (7, None, None)

    async def third() -> None:
        b = backend(data_dir)
        assert b.recorded_exit("2.0", None) is None  # acknowledged, so gone
        await b.close()

    run(third())


def test_a_staged_job_starts_when_the_one_before_it_is_reaped(data_dir: Path, work: Path) -> None:
    async def body() -> list[object]:
        b = backend(data_dir)
        await b.start(spec("3.0", "/bin/sh", "-c", "sleep 0.2", cwd=work))
        assert b.stage(spec("3.1", "/bin/true", cwd=work), after="3.0")
        assert b.stage(spec("3.2", "/bin/true", cwd=work), after="3.1")  # a chain
        await b.start(spec("3.1", "/bin/true", cwd=work))  # its turn: already handed over
        events = await until_done(b, ["3.0", "3.1", "3.2"])
        await b.close()
        third = events["3.2"]
        assert [type(e) for e in third] == [JobStarted, JobExited]
        assert third[0].started_at >= events["3.1"][-1].ended_at - 0.05  # type: ignore[union-attr]
        return [*events["3.0"], *events["3.1"]]

    first_started, first_end, second_started, second_end = run(body())
    assert isinstance(first_end, JobExited) and first_end.exit_code == 0
    assert isinstance(second_started, JobStarted)
    assert second_started.started_at >= first_end.ended_at - 0.05
    assert isinstance(second_end, JobExited) and second_end.exit_code == 0
    assert isinstance(first_started, JobStarted)


def test_cancelling_a_job_drops_the_one_staged_behind_it(data_dir: Path, work: Path) -> None:
    marker = work / "ran.txt"

    async def body() -> dict[str, list[object]]:
        b = backend(data_dir)
        await b.start(spec("4.0", "/bin/sleep", "30", cwd=work))
        assert isinstance((await b.events(5))[0], JobStarted)
        assert b.stage(spec("4.1", "/bin/sh", "-c", f"echo x > {marker}", cwd=work), after="4.0")
        assert b.stage(spec("4.2", "/bin/sh", "-c", f"echo y > {marker}", cwd=work), after="4.1")
        b.cancel("4.0", "removed", 5)
        events = await until_done(b, ["4.0", "4.1", "4.2"])
        await b.close()
        return dict(events)

    events = run(body())
    (end,) = events["4.0"]
    assert isinstance(end, JobExited) and (end.signal, end.reason) == (signal.SIGTERM, "removed")
    for staged in ("4.1", "4.2"):  # the whole chain behind it
        (lost,) = events[staged]
        assert isinstance(lost, JobLost)
    assert not marker.exists()  # neither ran


def test_staged_jobs_write_to_their_own_central_logs_and_dropped_ones_keep_no_files_open(
    data_dir: Path, work: Path
) -> None:
    own = work / "own.out"
    own.write_text("the user's earlier output\n")

    async def body() -> tuple[dict[str, list[object]], list[str]]:
        b = backend(data_dir)
        await b.start(spec("5.0", "/bin/sh", "-c", "sleep 0.3", cwd=work))
        assert isinstance((await b.events(5))[0], JobStarted)
        # created ahead while 5.0 runs, then used when each starts
        assert b.stage(spec("5.1", "/bin/sh", "-c", "echo one; echo 1 >&2", cwd=work), "5.0")
        assert b.stage(spec("5.2", "/bin/sh", "-c", "echo two", cwd=work), after="5.1")
        await b.start(spec("5.1", "/bin/true", cwd=work))  # its turn: already handed over
        events = await until_done(b, ["5.0", "5.1", "5.2"])
        await b.start(spec("6.0", "/bin/sleep", "30", cwd=work))
        assert isinstance((await b.events(5))[0], JobStarted)
        assert b.stage(spec("6.1", "/bin/true", cwd=work), after="6.0")
        assert b.stage(spec("6.2", "/bin/true", cwd=work, stdout_path=str(own)), after="6.1")
        await asyncio.sleep(0.2)  # the staged files are open by now
        b.cancel("6.0", "removed", 5)
        events.update(await until_done(b, ["6.0", "6.1", "6.2"]))
        assert b._starter is not None
        fds = Path(f"/proc/{b._starter.hello['pid']}/fd")
        open_files = [os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink()]
        await b.close()
        return events, open_files

    events, open_files = run(body())
    for job_id, out, err in (("5.1", "one\n", "1\n"), ("5.2", "two\n", "")):
        assert isinstance(events[job_id][-1], JobExited)
        paths = backend(data_dir).log_paths(job_id)
        assert (Path(paths.stdout).read_text(), Path(paths.stderr).read_text()) == (out, err)
    assert all(isinstance(events[j][-1], JobLost) for j in ("6.1", "6.2"))
    assert not [f for f in open_files if "/logs/" in f], open_files
    assert own.read_text() == "the user's earlier output\n"  # it never started


def test_the_journal_keeps_unacknowledged_exits_across_restarts(tmp_path: Path) -> None:
    path = journal_path(str(tmp_path), "local")
    journal = Journal(path)
    journal.add([{"id": "1.0", "status": 0}, {"id": "1.1", "status": 256}])
    journal.ack(["1.0", "9.9"])
    journal.close()
    with open(path, "a", encoding="utf-8") as f:
        f.write('x {"id": "1.2", "sta')  # torn by a crash mid-write
    again = Journal(path)
    assert list(again.unacked) == ["1.1"]
    again.close()
    with open(path, encoding="utf-8") as f:  # compacted on open
        assert [json.loads(line[2:])["id"] for line in f] == ["1.1"]


def test_executables_are_found_in_the_jobs_own_path(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError):
        find_executable("tool", str(tmp_path))
    tool.chmod(0o755)
    assert find_executable("tool", f"/nonexistent:{tmp_path}") == str(tool)
    assert find_executable("./x", "") == "./x"
    with pytest.raises(FileNotFoundError):
        find_executable("no-such-tool-here", str(tmp_path))
