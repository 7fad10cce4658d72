"""The supervising shell (`manager.supervise`) on real processes, and how its status is read.

A POSIX shell reports 128 + N both for `exit 128+N` and for signal N; the
wrapper's status is read as an exit code unless the backend itself signalled
the job (memory, walltime). A SIGKILL to the whole process group (the memory
watch) still shows as a signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from skyflock.classad import ClassAd
from skyflock.manager.dispatch import launch_spec
from skyflock.manager.reconciling import read_exit_record, wrapper_status
from skyflock.manager.supervise import supervised

pytestmark = pytest.mark.timeout(30)


def wrapped(tmp_path: Path, script: str) -> tuple[list[str], Path]:
    ad = ClassAd({"Cmd": "/bin/sh", "Arguments": f"-c '{script}'", "Iwd": str(tmp_path)})
    record = tmp_path / "1.0.1.exit"
    return list(supervised(launch_spec(ad, "1.0"), record).argv), record


@pytest.mark.parametrize("code", [0, 1, 128, 130, 137, 255])
def test_an_exit_code_is_passed_on_and_recorded_as_is(tmp_path: Path, code: int) -> None:
    argv, record = wrapped(tmp_path, f"exit {code}")
    done = subprocess.run(argv, check=False, cwd=tmp_path)
    assert done.returncode == code  # not a negative (signal) status, even above 128
    assert read_exit_record(record) == code


def test_a_signal_to_the_job_alone_is_recorded_as_128_plus_n(tmp_path: Path) -> None:
    """The documented limitation: the shell cannot tell this from `exit 137`."""
    argv, record = wrapped(tmp_path, "kill -KILL $$; sleep 5")
    done = subprocess.run(argv, check=False, cwd=tmp_path)
    assert done.returncode == 137
    assert read_exit_record(record) == 137


def test_a_sigkill_to_the_process_group_is_seen_as_a_signal(tmp_path: Path) -> None:
    argv, record = wrapped(tmp_path, "echo up > up.txt; sleep 30")
    proc = subprocess.Popen(argv, cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not (tmp_path / "up.txt").exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # what the memory watch does
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert read_exit_record(record) is None  # the shell died with the job


@pytest.mark.parametrize(
    ("code", "sig", "reason", "expected"),
    [
        (130, None, None, (130, None)),  # the job's own exit: an exit code
        (130, None, "adopted", (130, None)),
        (137, None, "memory", (None, 9)),  # the backend killed it (cgroup OOM kill)
        (143, None, "walltime", (None, 15)),
        (1, None, "memory", (1, None)),
        (128, None, "walltime", (128, None)),
        (None, 9, "memory", (None, 9)),  # the shell itself was killed: exact
        (None, None, "adopted", (None, None)),
        (0, None, None, (0, None)),
    ],
)
def test_wrapper_status(
    code: int | None,
    sig: int | None,
    reason: str | None,
    expected: tuple[int | None, int | None],
) -> None:
    assert wrapper_status(code, sig, reason) == expected
