"""The local backend on real processes: exits, streams, limits, cancel, start failures."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import psutil
import pytest

from skyflock.backends.base import (
    ExecutionBackend,
    JobExited,
    JobStarted,
    JobStartFailed,
)
from skyflock.backends.local import LocalBackend
from skyflock.backends.local_capacity import usable_cpus
from skyflock.backends.local_limits import address_space_backstop, process_key
from tests.backends.support import PY, run, spec, until_done, wait_for_file_text


@pytest.fixture(autouse=True, params=["in-process", "starter"])
def spawner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs twice: the backend spawning its jobs itself, and through the starter."""
    defaults = dict(LocalBackend.__init__.__kwdefaults__ or {})
    defaults["starter"] = request.param == "starter"
    monkeypatch.setattr(LocalBackend.__init__, "__kwdefaults__", defaults)
    return str(request.param)


def exited(events: Sequence[object]) -> JobExited:
    assert isinstance(events[0], JobStarted), events
    last = events[-1]
    assert isinstance(last, JobExited), events
    return last


def own_process_key() -> str:
    pidfd = os.pidfd_open(os.getpid())
    try:
        return process_key(os.getpid(), pidfd)
    finally:
        os.close(pidfd)


def test_local_backend_implements_the_port(data_dir: Path) -> None:
    assert isinstance(LocalBackend(str(data_dir)), ExecutionBackend)


@pytest.mark.parametrize(
    ("argv", "exit_code", "sig"),
    [
        (("/bin/true",), 0, None),
        (("/bin/sh", "-c", "exit 3"), 3, None),
        (("/bin/sh", "-c", "kill -KILL $$"), None, signal.SIGKILL),
        (("false",), 1, None),  # found through the job's PATH
    ],
)
def test_exit_code_or_signal_is_reported(
    data_dir: Path, work: Path, argv: tuple[str, ...], exit_code: int | None, sig: int | None
) -> None:
    async def body() -> JobExited:
        backend = LocalBackend(str(data_dir))
        await backend.start(spec("1.0", *argv, cwd=work))
        events = await until_done(backend, ["1.0"])
        assert backend.running == []
        return exited(events["1.0"])

    end = run(body())
    assert (end.exit_code, end.signal, end.reason) == (exit_code, sig, None)
    assert end.usage.cpu_s is not None and end.usage.cpu_s >= 0


def test_started_event_identifies_the_process(data_dir: Path, work: Path) -> None:
    async def body() -> None:
        backend = LocalBackend(str(data_dir))
        before = time.time()
        await backend.start(spec("2.0", "sleep", "0.3", cwd=work))
        (started,) = await backend.events(1)
        assert isinstance(started, JobStarted)
        assert started.pgid == started.pid == os.getpgid(started.pid) == os.getsid(started.pid)
        pidfd = os.pidfd_open(started.pid)
        assert started.process_key == process_key(started.pid, pidfd)
        os.close(pidfd)
        assert started.process_key != own_process_key()
        create_time = psutil.Process(started.pid).create_time()
        if started.process_key.startswith("pidfs:") and started.process_start == started.started_at:
            # the starter's launch time; /proc's start times count from a boot time
            # given in whole seconds, so they agree with the clock to a second
            assert create_time == pytest.approx(started.process_start, abs=1.1)
        else:
            assert create_time == pytest.approx(started.process_start, abs=1e-6)
        assert before <= started.started_at <= time.time()
        assert started.boot_id
        end = exited([started, *(await until_done(backend, ["2.0"]))["2.0"]])
        assert end.exit_code == 0
        assert end.ended_at - started.started_at >= 0.25

    run(body())


def test_argv_env_cwd_and_stdin_reach_the_job_verbatim(data_dir: Path, work: Path) -> None:
    (work / "in.txt").write_text("from stdin\n")
    code = (
        "import json, os, sys;"
        "print(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd(),"
        " 'env': dict(os.environ), 'stdin': sys.stdin.read()}))"
    )
    argv = (PY, "-c", code, "a b", "$HOME; rm -rf /", "'quoted'")
    env = {"ONLY": "this", "PATH": "/bin"}

    async def body() -> None:
        backend = LocalBackend(str(data_dir))
        await backend.start(spec("3.0", *argv, cwd=work, env=env, stdin_path="in.txt"))
        assert exited((await until_done(backend, ["3.0"]))["3.0"]).exit_code == 0

    run(body())
    seen = json.loads(Path(LocalBackend(str(data_dir)).log_paths("3.0").stdout).read_text())
    assert seen["argv"] == ["a b", "$HOME; rm -rf /", "'quoted'"]
    assert seen["cwd"] == str(work)
    seen["env"].pop("LC_CTYPE", None)  # Python may coerce the C locale
    assert seen["env"] == env
    assert seen["stdin"] == "from stdin\n"


def test_stdin_defaults_to_dev_null(data_dir: Path, work: Path) -> None:
    async def body() -> None:
        backend = LocalBackend(str(data_dir))
        await backend.start(spec("4.0", "/bin/sh", "-c", "cat; echo end", cwd=work))
        assert exited((await until_done(backend, ["4.0"]))["4.0"]).exit_code == 0

    run(body())
    assert Path(LocalBackend(str(data_dir)).log_paths("4.0").stdout).read_text() == "end\n"


def test_streams_land_centrally_and_in_the_jobs_own_files(data_dir: Path, work: Path) -> None:
    script = "echo out; echo err >&2; echo more-out"

    async def body() -> None:
        backend = LocalBackend(str(data_dir))
        await backend.start(spec("5.0", "/bin/sh", "-c", script, cwd=work))
        (work / "sub").mkdir()
        (work / "sub" / "job.out").write_text("stale content of an earlier run\n")
        await backend.start(
            spec(
                "5.1",
                "/bin/sh",
                "-c",
                script,
                cwd=work,
                stdout_path="sub/job.out",
                stderr_path=str(work / "job.err"),
            )
        )
        await backend.start(
            spec("5.2", "/bin/sh", "-c", script, cwd=work, stdout_path="m.log", stderr_path="m.log")
        )
        events = await until_done(backend, ["5.0", "5.1", "5.2"])
        assert all(exited(e).exit_code == 0 for e in events.values())

    run(body())
    logs = LocalBackend(str(data_dir)).log_paths
    for job in ("5.0", "5.1"):
        assert Path(logs(job).stdout).read_text() == "out\nmore-out\n"
        assert Path(logs(job).stderr).read_text() == "err\n"
    assert logs("5.0").stdout == str(data_dir / "logs" / "5" / "5.0.stdout")
    assert (work / "sub" / "job.out").read_text() == "out\nmore-out\n"
    assert (work / "job.err").read_text() == "err\n"
    assert (work / "m.log").read_text() == "out\nerr\nmore-out\n"
    assert Path(logs("5.2").stderr).read_text() == "out\nerr\nmore-out\n"


def test_central_log_grows_while_the_job_runs(data_dir: Path, work: Path) -> None:
    async def body() -> None:
        backend = LocalBackend(str(data_dir))
        await backend.start(
            spec("6.0", "/bin/sh", "-c", "echo first; sleep 0.3; echo second", cwd=work)
        )
        await wait_for_file_text(backend.log_paths("6.0").stdout, "first")
        assert backend.running == ["6.0"]
        assert "second" not in Path(backend.log_paths("6.0").stdout).read_text()
        await until_done(backend, ["6.0"])
        assert Path(backend.log_paths("6.0").stdout).read_text() == "first\nsecond\n"

    run(body())


@pytest.mark.parametrize(
    ("kw", "stage", "words"),
    [
        ({"argv": ("no-such-program",)}, "executable", "No such file"),
        ({"argv": ("./not-here.sh",)}, "executable", "No such file"),
        ({"cwd": "/no/such/dir"}, "cwd", "/no/such/dir"),
        ({"stdin_path": "missing.txt"}, "stdin", "missing.txt"),
        ({"stdout_path": "no-dir/out.txt"}, "stdout", "no-dir/out.txt"),
        ({"stderr_path": "no-dir/err.txt"}, "stderr", "no-dir/err.txt"),
        ({"container_image": "busybox:1"}, "container", "busybox:1"),
    ],
)
def test_start_failures_are_events_naming_the_stage(
    data_dir: Path, work: Path, kw: dict[str, object], stage: str, words: str
) -> None:
    kw = dict(kw)  # the parameter is shared by both spawners
    argv = cast(tuple[str, ...], kw.pop("argv", ("/bin/true",)))
    cwd = cast(Path, kw.pop("cwd", work))

    async def body() -> None:
        backend = LocalBackend(str(data_dir))
        await backend.start(spec("7.0", *argv, cwd=cwd, **kw))
        (failed,) = (await until_done(backend, ["7.0"]))["7.0"]
        assert isinstance(failed, JobStartFailed)
        assert failed.stage == stage
        assert words in failed.why
        assert backend.running == []

    run(body())


def test_starting_a_running_job_again_is_refused(data_dir: Path, work: Path) -> None:
    async def body() -> None:
        backend = LocalBackend(str(data_dir))
        await backend.start(spec("8.0", "sleep", "5", cwd=work))
        with pytest.raises(ValueError, match=r"8\.0 is already running"):
            await backend.start(spec("8.0", "sleep", "5", cwd=work))
        backend.cancel("8.0", "removed", 0)
        assert exited((await until_done(backend, ["8.0"]))["8.0"]).signal == signal.SIGKILL

    run(body())


def test_memory_over_the_limit_is_killed_with_reason_memory(data_dir: Path, work: Path) -> None:
    hog = "import time; b = b'x' * (200 << 20); print('allocated', flush=True); time.sleep(10)"

    async def body() -> JobExited:
        backend = LocalBackend(str(data_dir), memory_poll_s=0.05)
        await backend.start(spec("9.0", PY, "-c", hog, cwd=work, memory_limit_mib=64))
        return exited((await until_done(backend, ["9.0"]))["9.0"])

    end = run(body())
    assert (end.reason, end.signal) == ("memory", signal.SIGKILL)
    assert "limit of 64 MiB" in end.detail
    assert end.usage.max_rss_kib is not None and end.usage.max_rss_kib > 64 * 1024


def test_a_short_spike_over_the_limit_is_reported_as_memory(data_dir: Path, work: Path) -> None:
    # Exits before the watch looks; its peak resident set gives it away.
    spike = "b = b'x' * (256 << 20)"

    async def body() -> JobExited:
        backend = LocalBackend(str(data_dir), memory_poll_s=5)
        await backend.start(spec("9.1", PY, "-c", spike, cwd=work, memory_limit_mib=64))
        return exited((await until_done(backend, ["9.1"]))["9.1"])

    end = run(body())
    assert (end.reason, end.exit_code) == ("memory", 0)
    assert end.usage.max_rss_kib is not None and end.usage.max_rss_kib > 256 * 1024


def test_a_job_within_its_memory_limit_is_left_alone(data_dir: Path, work: Path) -> None:
    async def body() -> None:
        backend = LocalBackend(str(data_dir), memory_poll_s=0.05)
        await backend.start(spec("9.2", "sleep", "0.3", cwd=work, memory_limit_mib=64))
        (started,) = await backend.events(1)
        assert isinstance(started, JobStarted)
        if backend.memory_enforcement.startswith("resident-set watch"):
            limits = Path(f"/proc/{started.pid}/limits").read_text()
            assert str(address_space_backstop(64)) in limits
        end = exited([started, *(await until_done(backend, ["9.2"]))["9.2"]])
        assert (end.exit_code, end.reason) == (0, None)

    run(body())


def test_walltime_terminates_then_kills(data_dir: Path, work: Path) -> None:
    stubborn = "trap '' TERM; sleep 10"  # a shell is up in milliseconds, well before 0.4 s

    async def body() -> tuple[JobExited, JobExited, float]:
        backend = LocalBackend(str(data_dir))
        t0 = time.monotonic()
        await backend.start(spec("10.0", "sleep", "10", cwd=work, walltime_s=0.2))
        await backend.start(
            spec("10.1", "/bin/sh", "-c", stubborn, cwd=work, walltime_s=0.4, vacate_grace_s=0.2)
        )
        events = await until_done(backend, ["10.0", "10.1"])
        return exited(events["10.0"]), exited(events["10.1"]), time.monotonic() - t0

    polite, stubborn_end, elapsed = run(body())
    assert (polite.reason, polite.signal) == ("walltime", signal.SIGTERM)
    assert "0.2 s" in polite.detail
    assert (stubborn_end.reason, stubborn_end.signal) == ("walltime", signal.SIGKILL)
    assert 0.5 <= elapsed < 3


def test_cancel_sends_term_then_kill_after_the_grace(data_dir: Path, work: Path) -> None:
    ignore_term = "trap '' TERM; echo ready; sleep 10"

    async def body() -> None:
        backend = LocalBackend(str(data_dir))
        await backend.start(spec("11.0", "sleep", "10", cwd=work))
        await backend.start(spec("11.1", "/bin/sh", "-c", ignore_term, cwd=work))
        await wait_for_file_text(backend.log_paths("11.1").stdout, "ready")
        t0 = time.time()
        backend.cancel("11.0", "removed", 5)
        backend.cancel("11.1", "vacated", 0.3)
        events = await until_done(backend, ["11.0", "11.1"])
        polite, stubborn = exited(events["11.0"]), exited(events["11.1"])
        assert (polite.reason, polite.signal) == ("removed", signal.SIGTERM)
        assert polite.ended_at - t0 < 1
        assert (stubborn.reason, stubborn.signal) == ("vacated", signal.SIGKILL)
        assert stubborn.ended_at - t0 >= 0.3
        backend.cancel("11.1", "removed", 1)  # already gone: a no-op
        backend.cancel("nope", "removed", 1)
        assert await backend.events(0) == []

    run(body())


def test_processes_left_behind_by_a_job_are_killed(data_dir: Path, work: Path) -> None:
    async def body() -> int:
        backend = LocalBackend(str(data_dir))
        await backend.start(spec("12.0", "/bin/sh", "-c", "sleep 30 & echo $!", cwd=work))
        assert exited((await until_done(backend, ["12.0"]))["12.0"]).exit_code == 0
        return int(Path(backend.log_paths("12.0").stdout).read_text())

    orphan = run(body())
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            if psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.01)
    else:
        raise AssertionError(f"the job's background process {orphan} still runs")


def test_close_vacates_running_jobs_and_keeps_their_events(data_dir: Path, work: Path) -> None:
    async def body() -> None:
        backend = LocalBackend(str(data_dir))
        await backend.start(spec("13.0", "sleep", "10", cwd=work, vacate_grace_s=1))
        await backend.start(spec("13.1", "sleep", "10", cwd=work, vacate_grace_s=1))
        await backend.close(vacate=True)
        assert backend.running == []
        events = await backend.events(0)
        ends = [e for e in events if isinstance(e, JobExited)]
        assert sorted((e.job_id, e.reason, e.signal) for e in ends) == [
            ("13.0", "vacated", signal.SIGTERM),
            ("13.1", "vacated", signal.SIGTERM),
        ]

    run(body())


def test_events_times_out_empty(data_dir: Path) -> None:
    async def body() -> None:
        backend = LocalBackend(str(data_dir))
        t0 = time.monotonic()
        assert await backend.events(0.05) == []
        assert 0.04 <= time.monotonic() - t0 < 1

    run(body())


def test_capacity_measures_the_machine_and_takes_overrides(data_dir: Path) -> None:
    (measured,) = LocalBackend(str(data_dir)).capacity()
    assert measured.cpus == usable_cpus()
    total_mib = psutil.virtual_memory().total // 2**20
    assert measured.memory_mib == total_mib
    assert measured.disk_kib > 0
    assert measured.opsys == "LINUX"
    assert measured.name.startswith("slot1@")
    (given,) = LocalBackend(
        str(data_dir), cpus=7, memory_mib=4096, reserved_memory_mib=1024, labels={"Site": "here"}
    ).capacity()
    assert (given.cpus, given.memory_mib, given.labels) == (7, 3072, {"Site": "here"})


@pytest.mark.parametrize("bad", ["..", ".", "a/b", ""])
def test_log_paths_refuse_ids_that_escape_the_log_dir(data_dir: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        LocalBackend(str(data_dir)).log_paths(bad)


def test_an_exit_status_stolen_by_another_waiter_is_reported_not_raised(
    data_dir: Path, work: Path, spawner: str
) -> None:
    if spawner == "starter":
        pytest.skip("the starter's children cannot be waited for by the manager")

    async def body() -> JobExited:
        backend = LocalBackend(str(data_dir))
        await backend.start(spec("14.0", "/bin/sh", "-c", "echo ready; sleep 0.2", cwd=work))
        (started,) = await backend.events(1)
        assert isinstance(started, JobStarted)
        os.waitpid(started.pid, 0)  # as a careless waitpid in the manager would
        return exited([started, *(await until_done(backend, ["14.0"]))["14.0"]])

    end = run(body())
    assert (end.exit_code, end.signal) == (None, None)
    assert "another waiter" in end.detail
