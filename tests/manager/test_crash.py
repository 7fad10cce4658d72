"""SIGKILL the server while 100 jobs run, restart it, and find every job completed exactly once.

The server is the real one (`python -m skyflock.manager`, the entry the
`skyflock server` command calls) on a free port with a temp data dir; jobs
are submitted and watched over its HTTP API. "Exactly once" is checked three
ways once the queue is empty: the history holds all 100 jobs as Completed with
exit code 0, each has exactly one `completed` event, and each job's own output
file (the job appends a line to it) has exactly one line — a job run twice
would have two.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from skyflock.store import Store

JOBS = 100
SUBMIT = """\
executable = /bin/sh
arguments = "-c 'echo run >> out/$(Process).txt; sleep 0.03'"
queue {jobs}
"""
CONFIG = """\
[negotiator]
interval = 0.2
[clusters.local]
cpus = 2
memory = 4096
"""

pytestmark = pytest.mark.timeout(120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data: Path, config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "skyflock.manager", "--data-dir", str(data)),
                *("--config", str(config), "--port", str(port)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not answer")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_sigkill_while_jobs_run_loses_none_and_runs_none_twice(tmp_path: Path) -> None:
    data, work = tmp_path / "data", tmp_path / "work"
    out = work / "out"
    out.mkdir(parents=True)
    config = tmp_path / "server.toml"
    config.write_text(CONFIG)
    log = tmp_path / "server.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"

    first = _start(data, config, port, log)
    try:
        answer = httpx.post(
            f"{url}/api/jobs",
            json={"submit": SUBMIT.format(jobs=JOBS), "base_dir": str(work), "owner": "alice"},
            timeout=60,
        )
        assert answer.status_code == 201, answer.text
        deadline = time.monotonic() + 40
        while len(list(out.glob("*.txt"))) < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        _stop(first)
    ran_before = len(list(out.glob("*.txt")))
    assert 0 < ran_before < JOBS, "the kill must land while jobs are still to run"

    second = _start(data, config, port, log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            queue = httpx.get(f"{url}/api/jobs", params={"limit": 1}, timeout=10).json()
            if not queue["ads"]:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the queue did not drain after the restart")
    finally:
        _stop(second)
    assert "recovery:" in log.read_text()

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
