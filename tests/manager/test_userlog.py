"""The job's own event log (`log = file`): HTCondor's classic text form, written by the loop.

The formatting is checked table-driven; the loop is checked end to end on real
processes: a success, a failure, a hold and release, a removal, and that a
relative log name is taken under the job's Iwd and entries of a refused
transition are dropped.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from skyflock.classad import ClassAd
from skyflock.manager import Manager, userlog
from skyflock.manager.userlog import UserLogEntry, committed_entries, write_entries
from tests.manager.test_loop import finished, kinds, run_with_manager, submit, until

pytestmark = pytest.mark.timeout(60)

WHEN = time.mktime((2026, 11, 22, 10, 0, 0, 0, 0, -1))

HEADER = re.compile(r"^(\d{3}) \((\d{3})\.(\d{3})\.000\) (\d\d/\d\d \d\d:\d\d:\d\d) (.*)$")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            userlog.terminated("1.0", WHEN, 3, None),
            "005 (001.000.000) 11/22 10:00:00 Job terminated.\n"
            "\t(1) Normal termination (return value 3)\n...\n",
        ),
        (
            userlog.terminated("12.4", WHEN, None, 9),
            "005 (012.004.000) 11/22 10:00:00 Job terminated.\n"
            "\t(0) Abnormal termination (signal 9)\n...\n",
        ),
        (
            userlog.held("1234.0", WHEN, "Job exceeded its memory limit", 34, 0),
            "012 (1234.000.000) 11/22 10:00:00 Job was held.\n"
            "\tJob exceeded its memory limit\n\tCode 34 Subcode 0\n...\n",
        ),
        (
            userlog.released("1.1", WHEN, "via release"),
            "013 (001.001.000) 11/22 10:00:00 Job was released.\n\tvia release\n...\n",
        ),
        (
            userlog.aborted("1.0", WHEN, ""),
            "009 (001.000.000) 11/22 10:00:00 Job was aborted.\n\tvia rm\n...\n",
        ),
        (
            userlog.requeued("1.0", WHEN, 1, None),
            "004 (001.000.000) 11/22 10:00:00 Job was evicted.\n"
            "\t(0) Job terminated and was requeued\n"
            "\t\t(1) Normal termination (return value 1)\n...\n",
        ),
        (
            userlog.executing("1.0", WHEN, "slot1@host"),
            "001 (001.000.000) 11/22 10:00:00 Job executing on host: <slot1@host>\n...\n",
        ),
    ],
)
def test_event_text(text: str, expected: str) -> None:
    assert text == expected


def test_submitted_header() -> None:
    text = userlog.submitted("7.2", WHEN)
    first, end = text.splitlines()
    assert first.startswith("000 (007.002.000) 11/22 10:00:00 Job submitted from host: <")
    assert first.endswith(">") and end == "..."


@pytest.mark.parametrize(
    ("attrs", "path"),
    [
        ({"UserLog": "job.log", "Iwd": "/w"}, "/w/job.log"),
        ({"UserLog": "/abs/job.log", "Iwd": "/w"}, "/abs/job.log"),
        ({"UserLog": "job.log"}, "job.log"),
        ({"Iwd": "/w"}, None),
        ({"UserLog": ""}, None),
    ],
)
def test_user_log_path(attrs: dict[str, str], path: str | None) -> None:
    assert userlog.user_log_path(ClassAd(attrs)) == path


def test_refused_transitions_are_dropped_and_files_opened_once(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a.log"), str(tmp_path / "b.log")
    entries = [
        UserLogEntry(a, "one\n", "1.0", None),
        UserLogEntry(a, "two\n", "1.0", "complete"),
        UserLogEntry(b, "three\n", "1.1", "complete"),  # refused by the store
        UserLogEntry(a, "four\n", "1.0", "hold"),
    ]
    moved = {"complete": ("1.0",), "hold": ("1.0",)}
    kept = committed_entries(entries, lambda action: moved.get(action, ()))
    assert [e.text for e in kept] == ["one\n", "two\n", "four\n"]
    assert write_entries(kept) == 1
    assert Path(a).read_text() == "one\ntwo\nfour\n"
    assert not Path(b).exists()
    bad = UserLogEntry(str(tmp_path / "no" / "dir.log"), "x\n", "1.0")
    assert write_entries([bad]) == 0  # logged, not raised


def events_in(path: Path) -> list[tuple[int, str, list[str]]]:
    """(code, headline, detail lines) of each event of a log file; checks the framing."""
    out: list[tuple[int, str, list[str]]] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = HEADER.match(lines[i])
        assert m, f"bad header line {lines[i]!r}"
        details = []
        i += 1
        while lines[i] != "...":
            assert lines[i].startswith("\t")
            details.append(lines[i].strip())
            i += 1
        i += 1
        out.append((int(m.group(1)), m.group(5), details))
    return out


def codes(path: Path) -> list[int]:
    return [code for code, _, _ in events_in(path)]


async def wait_codes(path: Path, want: list[int]) -> None:
    await until(lambda: path.exists() and codes(path) == want)


def test_success_and_failure_logs(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        ok, bad = await submit(
            manager,
            tmp_path,
            "executable = /bin/sh\narguments = \"-c 'exit $(Process)$(Process)'\"\n"
            "log = job$(Process).log\nqueue 2\n",
        )
        await until(lambda: finished(manager, ok) and finished(manager, bad))
        await wait_codes(tmp_path / "job0.log", [0, 1, 5])
        await wait_codes(tmp_path / "job1.log", [0, 1, 5])
        last_ok = events_in(tmp_path / "job0.log")[-1]
        last_bad = events_in(tmp_path / "job1.log")[-1]
        assert last_ok[2] == ["(1) Normal termination (return value 0)"]
        assert last_bad[2] == ["(1) Normal termination (return value 11)"]
        cluster = ok.split(".")[0]
        header = (tmp_path / "job1.log").read_text().splitlines()[0]
        assert header.startswith(f"000 ({int(cluster):03d}.001.000) ")

    run_with_manager(tmp_path, body)


def test_retry_then_termination(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/sh\narguments = \"-c 'exit 2'\"\nmax_retries = 1\n"
            "log = retry.log\nqueue\n",
        )
        await until(lambda: finished(manager, job))
        await wait_codes(tmp_path / "retry.log", [0, 1, 4, 1, 5])
        evicted = events_in(tmp_path / "retry.log")[2]
        assert evicted[2][0] == "(0) Job terminated and was requeued"

    run_with_manager(tmp_path, body)


def test_hold_release_and_removal(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/sleep\narguments = 30\nlog = logs/sleep.log\nqueue\n",
        )
        log = tmp_path / "logs" / "sleep.log"
        await until(lambda: manager.query(ids=[job])[0].eval("JobStatus") == 2)
        await manager.hold([job], reason="held by the test")
        await until(lambda: "vacated" in kinds(manager, job))  # its process has stopped
        await manager.release([job])
        await until(lambda: manager.query(ids=[job])[0].eval("JobStatus") == 2)
        await manager.remove([job], reason="removed by the test")
        await until(lambda: finished(manager, job))
        await wait_codes(log, [0, 1, 12, 13, 1, 9])
        events = events_in(log)
        assert events[2][2] == ["held by the test", "Code 1 Subcode 0"]
        assert events[5][2] == ["removed by the test"]
        assert events[0][1].startswith("Job submitted from host: <")

    (tmp_path / "logs").mkdir()
    run_with_manager(tmp_path, body)


def test_submitted_on_hold_then_removed(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/true\nhold = true\nlog = held.log\nqueue\n",
        )
        await manager.remove([job])
        await wait_codes(tmp_path / "held.log", [0, 12, 9])
        assert events_in(tmp_path / "held.log")[1][2][1] == "Code 15 Subcode 0"

    run_with_manager(tmp_path, body)
