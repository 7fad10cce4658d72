"""The central log store: file layout, hard links to the job's own files, the copy fallback."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from skyflock.backends import local_logs
from skyflock.backends.base import LaunchSpec
from skyflock.backends.local_logs import CentralLogs, StartError, check_job_id


def spec(work: Path, **kw: object) -> LaunchSpec:
    return LaunchSpec("1.0", ("/bin/true",), str(work), **kw)  # type: ignore[arg-type]


def write(fd: int, text: str) -> None:
    os.write(fd, text.encode())


def test_layout_is_logs_slash_cluster_slash_job_id(data_dir: Path) -> None:
    paths = CentralLogs(str(data_dir)).log_paths("12.3")
    assert paths.stdout == str(data_dir / "logs" / "12" / "12.3.stdout")
    assert paths.stderr == str(data_dir / "logs" / "12" / "12.3.stderr")
    assert CentralLogs(str(data_dir)).log_paths("x").stdout == str(
        data_dir / "logs" / "x" / "x.stdout"
    )


@pytest.mark.parametrize(
    ("job_id", "ok"),
    [("12.3", True), ("wf-ab.step_1", True), ("", False), (".", False), ("..", False),
     ("a/b", False), ("a\0b", False)],
)  # fmt: skip
def test_job_ids_that_would_escape_are_refused(job_id: str, ok: bool) -> None:
    if ok:
        check_job_id(job_id)
    else:
        with pytest.raises(ValueError, match="cannot name a log directory"):
            check_job_id(job_id)


def test_own_files_are_hard_links_of_the_central_ones(data_dir: Path, work: Path) -> None:
    logs = CentralLogs(str(data_dir))
    (work / "out.txt").write_text("previous run\n")
    streams = logs.open_streams(spec(work, stdout_path="out.txt", stderr_path="err.txt"))
    write(streams.stdout, "o\n")
    write(streams.stderr, "e\n")
    streams.close()
    paths = logs.log_paths("1.0")
    assert streams.copies == []
    assert os.path.samefile(paths.stdout, work / "out.txt")
    assert os.path.samefile(paths.stderr, work / "err.txt")
    assert (work / "out.txt").read_text() == "o\n"


def test_without_hard_links_the_output_is_copied_at_the_end(
    data_dir: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(src: str, dst: str) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(local_logs.os, "link", cross_device)
    logs = CentralLogs(str(data_dir))
    (work / "out.txt").write_text("previous run\n")
    streams = logs.open_streams(spec(work, stdout_path="out.txt"))
    assert (work / "out.txt").read_text() == ""  # created (truncated) at start
    write(streams.stdout, "o\n")
    streams.close()
    paths = logs.log_paths("1.0")
    assert streams.copies == [(paths.stdout, str(work / "out.txt"))]
    assert logs.finish(streams.copies) == ""
    assert (work / "out.txt").read_text() == "o\n"
    shutil.rmtree(work)  # the copy target's directory vanishes: reported, not raised
    assert "cannot copy the output to" in logs.finish(streams.copies)


def test_merged_streams_share_one_file(data_dir: Path, work: Path) -> None:
    logs = CentralLogs(str(data_dir))
    streams = logs.open_streams(spec(work, stdout_path="both.log", stderr_path="./both.log"))
    assert streams.stdout == streams.stderr
    write(streams.stdout, "x\n")
    streams.close()
    paths = logs.log_paths("1.0")
    assert os.readlink(paths.stderr) == "1.0.stdout"
    assert Path(paths.stderr).read_text() == "x\n"
    # A rerun with separate streams replaces the link rather than writing through it.
    streams = logs.open_streams(spec(work))
    write(streams.stderr, "e\n")
    streams.close()
    assert not os.path.islink(paths.stderr)
    assert Path(paths.stdout).read_text() == ""
    assert Path(paths.stderr).read_text() == "e\n"


@pytest.mark.parametrize(
    ("kw", "stage"),
    [
        ({"stdin_path": "absent"}, "stdin"),
        ({"stdout_path": "absent-dir/o"}, "stdout"),
        ({"stderr_path": "absent-dir/e"}, "stderr"),
        ({"stdout_path": "."}, "stdout"),
    ],
)
def test_unusable_paths_name_the_stream(
    data_dir: Path, work: Path, kw: dict[str, object], stage: str
) -> None:
    fds_before = len(os.listdir("/proc/self/fd"))
    logs = CentralLogs(str(data_dir))
    with pytest.raises(StartError) as caught:
        logs.open_streams(spec(work, **kw))
    assert caught.value.stage == stage
    assert str(next(iter(kw.values()))).strip("./") in caught.value.why
    logs.close()
    assert len(os.listdir("/proc/self/fd")) == fds_before  # nothing left open


def test_pending_copies_after_a_restart(data_dir: Path, work: Path) -> None:
    logs = CentralLogs(str(data_dir))
    job = spec(work, stdout_path="linked.out", stderr_path="copied.err")
    logs.open_streams(job).close()
    os.unlink(work / "copied.err")
    (work / "copied.err").write_text("")  # as if the link had been impossible
    paths = logs.log_paths("1.0")
    assert logs.pending_copies(job, paths) == [(paths.stderr, str(work / "copied.err"))]
