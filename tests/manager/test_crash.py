"""SIGKILL the manager while 100 jobs run, restart it, and find every job completed exactly once.

"Exactly once" is checked three ways: the history holds all 100 jobs as
Completed, each has exactly one `completed` event, and each job's own output
file (the job appends a line to it) has exactly one line — a job run twice
would have two.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skyflock.store import Store

JOBS = 100
DRIVER = Path(__file__).with_name("crash_server.py")

pytestmark = pytest.mark.timeout(120)


def _start(data: Path, work: Path, jobs: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), str(data), str(work), *([str(jobs)] if jobs else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _line(proc: subprocess.Popen[str], wanted: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip())
        if line.startswith(wanted):
            return seen
    raise AssertionError(f"no {wanted!r} from the server; it said: {seen[-20:]}")


def test_sigkill_while_jobs_run_loses_none_and_runs_none_twice(tmp_path: Path) -> None:
    data, work = tmp_path / "data", tmp_path / "work"
    work.mkdir()
    out = work / "out"
    first = _start(data, work, JOBS)
    try:
        _line(first, "ready", 60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = len(list(out.glob("*.txt"))) if out.exists() else 0
            if done >= 15:
                break
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
        if first.stdout is not None:
            first.stdout.close()
    started_before = len(list(out.glob("*.txt")))
    assert 0 < started_before < JOBS, "the kill must land while jobs are still to run"

    second = _start(data, work)
    try:
        said = _line(second, "done", 90)
        second.wait(30)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(10)
        if second.stdout is not None:
            second.stdout.close()
    assert any(line.startswith("recovered") for line in said)

    with Store.open(data_dir=data, migrate=False) as store:
        assert store.jobs.count() == 0
        history = store.history.query()
        assert len(history) == JOBS
        assert {r.status for r in history} == {4}
        assert {r.exit_code for r in history} == {0}
        for record in history:
            completions = [e for e in store.events.for_job(record.id) if e.kind == "completed"]
            assert len(completions) == 1, record.id
    counts = {p.name: p.read_text().count("run") for p in out.glob("*.txt")}
    assert len(counts) == JOBS
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}
