"""A job killed by a signal, end to end: the live ad, the history row, the
events and the job's own log all say ExitBySignal/ExitSignal, never a
made-up exit code; the started event names the pid, not the backend's handle."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyflock.classad import UNDEFINED, ClassAd
from skyflock.manager import Manager
from tests.manager.test_loop import finished, run_with_manager, submit, until

pytestmark = pytest.mark.timeout(60)


def test_a_job_that_kills_itself_is_recorded_as_killed_by_the_signal(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/sh\narguments = \"-c 'kill -9 $$'\"\nlog = job.log\nqueue\n",
        )
        ad = await until(lambda: finished(manager, job))
        assert isinstance(ad, ClassAd)
        assert ad.eval("JobStatus") == 4
        assert ad.eval("ExitBySignal") is True
        assert ad.eval("ExitSignal") == 9
        assert ad.eval("ExitCode") is UNDEFINED
        record = manager.store.history.get(job)
        assert record is not None
        assert (record.exit_code, record.exit_signal) == (None, 9)
        events = manager.job_events(job)
        (done,) = [e for e in events if e.kind == "completed"]
        assert (done.code, done.message) == (None, "killed by signal 9 (SIGKILL)")
        (started,) = [e for e in events if e.kind == "started"]
        assert started.message is not None and started.message.startswith("pid ")
        assert "{" not in started.message
        text = manager.log_path(job, "events").read_text()
        assert "killed by signal 9 (SIGKILL)" in text
        assert "code 137" not in text
        user_log = (tmp_path / "job.log").read_text()
        assert "Abnormal termination (signal 9)" in user_log

    run_with_manager(tmp_path, body)


def test_a_job_killed_then_retried_keeps_the_signal_in_its_retried_event(tmp_path: Path) -> None:
    async def body(manager: Manager) -> None:
        (job,) = await submit(
            manager,
            tmp_path,
            "executable = /bin/sh\n"
            "arguments = \"-c 'test -e once && exit 0; touch once; kill -TERM $$'\"\n"
            "max_retries = 1\nqueue\n",
        )
        ad = await until(lambda: finished(manager, job))
        assert isinstance(ad, ClassAd)
        assert (ad.eval("ExitBySignal"), ad.eval("ExitCode")) == (False, 0)
        assert ad.eval("ExitSignal") is UNDEFINED
        (retried,) = [e for e in manager.job_events(job) if e.kind == "retried"]
        assert retried.code is None
        assert retried.message is not None
        assert retried.message.startswith("killed by signal 15 (SIGTERM); ")

    run_with_manager(tmp_path, body)
