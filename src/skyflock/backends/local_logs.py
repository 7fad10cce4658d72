"""The central log store of the local cluster, and the job's standard streams.

Every job's stdout and stderr land in `<data_dir>/logs/<cluster>/<job_id>.stdout`
and `.stderr` (`<cluster>` being the job id up to its first dot, so one
directory per submitted cluster, made by its first job), whether or not the
submit file names files of its own. The design
costs nothing per byte and survives a manager restart:

- The job writes straight into the central files: they are its fds 1 and 2.
  No pipe is read by the manager, so a job's output never waits on the event
  loop, and a job keeps running (and logging) while the manager restarts;
  a pipe would SIGPIPE it once the manager died.
- When the submit file names its own `output`/`error`, that path is made a
  hard link to the central file at start: one inode, two names, both growing
  live. A previous file at that path is replaced (as HTCondor truncates it).
- Where a hard link is impossible (another file system, or one without
  links), the job's own file is created empty at start, so a bad path fails
  the launch at once, and the central file is copied onto it when the job
  ends (`finish`). That is what HTCondor does when it transfers output back.
- The same path for `output` and `error` merges the streams into one file;
  the central `stderr` is then a symbolic link to `stdout`.

`backends/local.py` calls `open_streams` before each spawn and `finish` after
each exit; `log_paths` is the `ExecutionBackend.log_paths` of the port.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from dataclasses import dataclass, field

from skyflock.backends.base import LaunchSpec, LogPaths, StartStage

_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}
_OUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
_STREAM_NAMES: dict[StartStage, str] = {"stdout": "standard output", "stderr": "standard error"}


class StartError(Exception):
    """A launch cannot proceed; becomes a `JobStartFailed` event."""

    def __init__(self, stage: StartStage, why: str) -> None:
        super().__init__(why)
        self.stage: StartStage = stage
        self.why = why


@dataclass(slots=True)
class Streams:
    """The fds to give the job (closed by `close` once it has them) and deferred copies."""

    stdin: int
    stdout: int
    stderr: int
    copies: list[tuple[str, str]] = field(default_factory=list)
    """(central, job's own) pairs to copy when the job ends."""
    owned: list[int] = field(default_factory=list)

    def close(self) -> None:
        for fd in self.owned:
            os.close(fd)
        self.owned.clear()


def check_job_id(job_id: str) -> None:
    """A job id becomes a directory name: refuse what would escape the log directory."""
    if job_id in ("", ".", "..") or "/" in job_id or "\0" in job_id:
        raise ValueError(f"job id {job_id!r} cannot name a log directory")


class CentralLogs:
    """`<data_dir>/logs/<cluster>/<job_id>.{stdout,stderr}`, and the job's stream set-up."""

    def __init__(self, data_dir: str) -> None:
        self.root = os.path.join(os.path.abspath(data_dir), "logs")
        os.makedirs(self.root, exist_ok=True)
        self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    def log_paths(self, job_id: str) -> LogPaths:
        check_job_id(job_id)
        directory = os.path.join(self.root, job_id.partition(".")[0] or "_")
        return LogPaths(
            os.path.join(directory, f"{job_id}.stdout"), os.path.join(directory, f"{job_id}.stderr")
        )

    def close(self) -> None:
        if self._devnull >= 0:
            os.close(self._devnull)
            self._devnull = -1

    def open_streams(self, spec: LaunchSpec) -> Streams:
        """Create the central files and open everything the job's fds 0-2 will be.

        Raises `StartError` naming the stream whose path is unusable.
        """
        paths = self.log_paths(spec.job_id)
        streams = Streams(self._devnull, -1, -1)
        try:
            if spec.stdin_path is not None:
                path = _resolve(spec.cwd, spec.stdin_path)
                try:
                    streams.stdin = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError as e:
                    raise StartError("stdin", _cannot("open", path, "standard input", e)) from e
                streams.owned.append(streams.stdin)
            streams.stdout = _open_central(paths.stdout)
            streams.owned.append(streams.stdout)
            own_out = _resolve(spec.cwd, spec.stdout_path) if spec.stdout_path else None
            own_err = _resolve(spec.cwd, spec.stderr_path) if spec.stderr_path else None
            if own_err is not None and own_err == own_out:
                streams.stderr = streams.stdout
                _replace_with_symlink(paths.stderr, os.path.basename(paths.stdout))
            else:
                streams.stderr = _open_central(paths.stderr)
                streams.owned.append(streams.stderr)
            if own_out is not None:
                _attach(paths.stdout, own_out, "stdout", streams.copies)
            if own_err is not None and own_err != own_out:
                _attach(paths.stderr, own_err, "stderr", streams.copies)
        except BaseException:
            streams.close()
            raise
        return streams

    @staticmethod
    def finish(copies: list[tuple[str, str]]) -> str:
        """Copy central files onto the job's own ones; returns problems as a sentence."""
        problems = []
        for central, own in copies:
            try:
                shutil.copyfile(central, own)
            except OSError as e:
                problems.append(f"cannot copy the output to {own!r}: {e.strerror or e}")
        return "; ".join(problems)

    @staticmethod
    def pending_copies(spec: LaunchSpec, paths: LogPaths) -> list[tuple[str, str]]:
        """For a job adopted after a restart: which own files are not links to the central ones."""
        copies: list[tuple[str, str]] = []
        seen: set[str] = set()
        for central, own in ((paths.stdout, spec.stdout_path), (paths.stderr, spec.stderr_path)):
            if own is None:
                continue
            own = _resolve(spec.cwd, own)
            if own in seen:  # merged streams: one file
                continue
            seen.add(own)
            try:
                linked = os.path.samefile(central, own)
            except OSError:
                linked = False
            if not linked:
                copies.append((central, own))
        return copies


def _resolve(cwd: str, path: str) -> str:
    return os.path.normpath(os.path.join(cwd, path))


def _cannot(verb: str, path: str, what: str, e: OSError) -> str:
    return f"cannot {verb} {path!r} as {what}: {e.strerror or e}"


def _attach(central: str, own: str, stage: StartStage, copies: list[tuple[str, str]]) -> None:
    """Make `own` another name of `central`, or else an empty file to copy onto at the end."""
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(own)
        os.link(central, own)
        return
    except IsADirectoryError as e:
        raise StartError(stage, _cannot("open", own, _STREAM_NAMES[stage], e)) from e
    except OSError as e:
        if e.errno not in _NO_LINK:
            raise StartError(stage, _cannot("open", own, _STREAM_NAMES[stage], e)) from e
    try:
        os.close(os.open(own, _OUT_FLAGS, 0o644))
    except OSError as e:
        raise StartError(stage, _cannot("open", own, _STREAM_NAMES[stage], e)) from e
    copies.append((central, own))


def _open_central(path: str) -> int:
    """Open a central log for writing, replacing a symlink left by an earlier merged run.

    The cluster's directory is made by its first job (no mkdir per job)."""
    try:
        return os.open(path, _OUT_FLAGS | os.O_NOFOLLOW, 0o644)
    except FileNotFoundError:
        with contextlib.suppress(FileExistsError):
            os.mkdir(os.path.dirname(path))
        return os.open(path, _OUT_FLAGS | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
    os.unlink(path)
    return os.open(path, _OUT_FLAGS | os.O_NOFOLLOW, 0o644)


def _replace_with_symlink(path: str, target: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.symlink(target, path)
