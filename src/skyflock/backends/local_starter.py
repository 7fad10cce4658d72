"""The starter: a small process per data dir that starts the local jobs, is their parent, and keeps their exits.

Only a process's parent can read its exact wait status, and a job must never
run twice: a job that ends while the manager is down (killed, upgraded) must
still have its end recorded. So the manager does not spawn the local jobs
itself. It hands each launch to this process, which runs in its own session
(a SIGKILL of the manager, or of the manager's process group, does not reach
it) and:

- sets up the job's standard streams in the central log store
  (`local_logs.CentralLogs`), enters its `cwd` and `posix_spawn`s its argv in a
  new session with exactly its environment (no shell, no wrapper process);
- moves it into its memory cgroup, or sets its RLIMIT_AS backstop, when asked;
- on SIGCHLD finds the exited job without reaping it (`waitid(WNOWAIT)`), kills
  the stragglers of its process group while the zombie leader still reserves
  the group id, then reaps it with `wait4`: the exact status (exit code or
  signal, also above 128) and the CPU time;
- appends each exit to a journal (`<run dir>/<name>.journal`) and reports it to
  the connected manager, keeping it until the manager acknowledges it (sends
  `ack` once the end is committed to its store). A manager that reconnects gets
  every job still running and every exit not yet acknowledged in its `hello`.

A launch names which run of its job it is (`run`), kept in the exit record:
the manager tells by it a run's exit from the kept exit of an earlier run whose
acknowledgement a restart cut off.

A launch may name the job it follows (`after`): it is staged and starts the
moment that job has been reaped, with no round trip through the manager (the
manager stages the next job of a claim while the current one runs; this is
what lets a stream of short jobs run back to back). A staged job that names no
output files of its own has its central log files created at once, by a
second thread (`_prepare`), so that cost is not between one job's exit and the
next one's start. The manager signals its
jobs through the starter (`kill`); a signalled job's staged follower is
dropped (reported as `dropped`), so a cancelled or preempted job never hands
its claim on by itself. A manager that connects anew finds no staged job: it
decides again from its store.

Protocol: one JSON object per line over a unix stream socket in the abstract
namespace (`socket_name`; only a peer of our own uid is served).
Manager -> starter: `{"op": "launch", "jobs": [...]}`, `{"op": "kill", "id": ..,
"sig": ..}`, `{"op": "ack", "ids": [...]}`.
Starter -> manager: `{"op": "hello", "running": [...], "exits": [...], "dropped":
[...]}` once per connection, then `{"op": "events", "events": [...]}` whose
events are `{"k": "started"|"failed"|"exited"|"dropped", ...}` in the order
they happened.

The starter exits when no manager is connected and no job is running (its
unacknowledged exits stay in the journal for the next starter). The journal
is not fsynced: it outlives a crash of the manager or of the starter, not of
the machine (which ends the jobs too). Without a starter (`[server]
exit_records = false`) the backend spawns in-process, as exact, but a job
that ends while the manager is down is run again.

Run as `python -m skyflock.backends.local_starter --name N --data-dir D`;
`backends.local` starts it when it finds none answering. Standard library
and the backend's own helpers only, so it starts in tens of milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import json
import os
import resource
import selectors
import signal
import socket
import struct
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from skyflock.backends.base import LaunchSpec
from skyflock.backends.local_limits import (
    CgroupV2,
    pidfs_available,
    read_proc_stat,
    set_address_space_limit,
)
from skyflock.backends.local_logs import CentralLogs, StartError, Streams

COMPACT_BYTES: Final = 1 << 20
"""The journal is rewritten with only the unacknowledged exits past this size."""
IDLE_EXIT_S: Final = 30.0
"""A starter nobody ever connected to gives up after this long."""
PREPARED_MAX: Final = 256
"""Staged jobs whose log files may be open ahead at once (two descriptors each)."""
SEND_TIMEOUT_S: Final = 10.0
"""A manager that reads nothing for this long is dropped (it gets the events again on reconnect)."""


_DEFAULT_SIGNALS: Final = tuple(
    s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)
)
"""Reset to their default action in the job: the starter ignores some (SIGTERM, SIGPIPE...)."""


def socket_name(data_dir: str, name: str) -> str:
    """The abstract socket name of the starter of `name` in `data_dir` (short, any path length)."""
    digest = hashlib.sha256(f"{os.path.abspath(data_dir)}\0{name}".encode()).hexdigest()[:24]
    return f"\0skyflock-starter-{os.getuid()}-{digest}"


def journal_path(data_dir: str, name: str) -> str:
    return os.path.join(os.path.abspath(data_dir), "run", f"starter-{name}.journal")


def find_executable(name: str, env_path: str | None) -> str:
    """`name` looked up in the job's own PATH, as `execvpe` would (FileNotFoundError if absent)."""
    if "/" in name:
        return name
    denied: OSError | None = None
    for directory in (env_path if env_path is not None else os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
        if os.path.exists(candidate) and denied is None:
            denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
    if denied is not None:
        raise denied
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)


@dataclass(slots=True)
class _Running:
    job_id: str
    pid: int
    started_at: float
    process_start: float
    process_key: str
    copies: list[tuple[str, str]] = field(default_factory=list)
    run: int = 0
    """The launch's `run` (which run of the job it is), kept in its exit record."""

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.job_id,
            "pid": self.pid,
            "started_at": self.started_at,
            "process_start": self.process_start,
            "process_key": self.process_key,
        }


class Journal:
    """Exits not yet acknowledged by the manager, mirrored in an append-only file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.unacked: dict[str, dict[str, Any]] = {}
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with contextlib.suppress(FileNotFoundError), open(path, encoding="utf-8") as f:
            for line in f:
                kind, _, rest = line.rstrip("\n").partition(" ")
                try:
                    if kind == "x":
                        record = json.loads(rest)
                        self.unacked[str(record["id"])] = record
                    elif kind == "a":
                        for job_id in rest.split("\t"):
                            self.unacked.pop(job_id, None)
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line
        self._compact()

    def _compact(self) -> None:
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(
                f"x {json.dumps(r, separators=(',', ':'))}\n" for r in self.unacked.values()
            )
        os.replace(tmp, self.path)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._size = os.fstat(self._file.fileno()).st_size

    def add(self, records: list[dict[str, Any]]) -> None:
        text = "".join(f"x {json.dumps(r, separators=(',', ':'))}\n" for r in records)
        for r in records:
            self.unacked[r["id"]] = r
        self._write(text)

    def ack(self, ids: list[str]) -> None:
        known = [i for i in ids if self.unacked.pop(i, None) is not None]
        if known:
            self._write("a " + "\t".join(known) + "\n")

    def _write(self, text: str) -> None:
        self._file.write(text)
        self._file.flush()
        self._size += len(text)
        if self._size > COMPACT_BYTES:
            self._file.close()
            self._compact()

    def close(self) -> None:
        self._file.close()


class Starter:
    """The starter's state and its one-threaded loop (see the module docstring)."""

    def __init__(self, data_dir: str, name: str, listener: socket.socket) -> None:
        self.logs = CentralLogs(data_dir)
        self.journal = Journal(journal_path(data_dir, name))
        self.listener = listener
        self.client: socket.socket | None = None
        self.inbox = b""
        self.outbox: list[dict[str, Any]] = []
        self.running: dict[int, _Running] = {}
        self.by_id: dict[str, _Running] = {}
        self.staged: dict[str, dict[str, Any]] = {}
        """Job id (running, or itself staged) -> the launch to start once it has been reaped."""
        self.staged_ids: set[str] = set()
        self.prepared: dict[str, Future[Streams]] = {}
        """A staged job's log files, being created ahead by `_files` (see `_prepare`)."""
        self._files = ThreadPoolExecutor(1, thread_name_prefix="log-files")
        self.ever_connected = False
        self.born = time.monotonic()
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # ends with its last job, not on demand
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.sel.register(listener, selectors.EVENT_READ, "accept")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "child")
        self.uid = os.getuid()
        self.pidfs = pidfs_available()

    # -- the loop -------------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            if self.client is None and not self.running:
                waited = time.monotonic() - self.born
                if self.ever_connected or waited > IDLE_EXIT_S:
                    return
                timeout: float | None = IDLE_EXIT_S - waited
            else:
                timeout = None
            for key, _ in self.sel.select(timeout):
                if key.data == "accept":
                    self._accept()
                elif key.data == "child":
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self.wake_r, 512):
                            pass
                elif key.data == "client":
                    self._read()
            self._reap()
            self._send()

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        if uid != self.uid:
            conn.close()
            return
        self._drop_client()  # a new manager replaces an old one
        conn.settimeout(SEND_TIMEOUT_S)
        self.client = conn
        self.inbox = b""
        self.ever_connected = True
        self.sel.register(conn, selectors.EVENT_READ, "client")
        self.outbox.clear()  # the hello carries all of it
        dropped = sorted(self.staged_ids)
        for job_id in dropped:
            self._unprepare(job_id)
        self.staged.clear()
        self.staged_ids.clear()
        hello = {
            "op": "hello",
            "pid": os.getpid(),
            "running": [r.describe() for r in self.by_id.values()],
            "exits": list(self.journal.unacked.values()),
            "dropped": dropped,
        }
        self._write_line(hello)

    def _drop_client(self) -> None:
        if self.client is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(self.client)
            self.client.close()
            self.client = None
            self.outbox.clear()

    def _read(self) -> None:
        assert self.client is not None
        try:
            data = self.client.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop_client()
            return
        self.inbox += data
        *lines, self.inbox = self.inbox.split(b"\n")
        for line in lines:
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                continue
            op = message.get("op")
            if op == "launch":
                for job in message.get("jobs", ()):
                    after = job.get("after")
                    if (
                        after is not None
                        and (after in self.by_id or after in self.staged_ids)
                        and after not in self.staged
                    ):
                        self.staged[after] = job
                        self.staged_ids.add(str(job["id"]))
                        self._prepare(job)
                    else:
                        self._launch(job)
            elif op == "kill":
                self._kill(str(message.get("id")), int(message.get("sig", signal.SIGKILL)))
            elif op == "ack":
                self.journal.ack([str(i) for i in message.get("ids", ())])

    def _send(self) -> None:
        if not self.outbox or self.client is None:
            self.outbox.clear()
            return
        events, self.outbox = self.outbox, []
        self._write_line({"op": "events", "events": events})

    def _write_line(self, message: dict[str, Any]) -> None:
        if self.client is None:
            return
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        try:
            self.client.sendall(data)
        except OSError:  # gone or stuck: it gets everything again in its next hello
            self._drop_client()

    # -- jobs -----------------------------------------------------------------------------

    def _prepare(self, job: dict[str, Any]) -> None:
        """Create a staged job's central log files now, on the file thread.

        Creating a file costs from 0.05 to over 1 ms of the kernel's time on some
        file systems (ext4 without a journal skips recently freed inodes); done
        while the job before it runs, it is off the path between one job's exit and
        the next one's start. Only for a job naming no files of its own: those are
        replaced at start (`CentralLogs.open_streams`), which a job that is dropped
        before it starts must not have done."""
        if (
            job.get("stdout") is None
            and job.get("stderr") is None
            and len(self.prepared) < PREPARED_MAX
        ):
            spec = _spec(job)
            self.prepared[spec.job_id] = self._files.submit(self.logs.open_streams, spec)

    def _unprepare(self, job_id: str) -> None:
        """A staged job was dropped: close its files once they are open."""
        future = self.prepared.pop(job_id, None)
        if future is not None:
            future.add_done_callback(_close_streams)

    def _launch(self, job: dict[str, Any]) -> None:
        job_id = str(job["id"])
        if job_id in self.by_id:
            self._unprepare(job_id)
            self._failed(job_id, "executable", f"job {job_id} is already running")
            return
        spec = _spec(job)
        argv, env, cwd = list(spec.argv), spec.env, spec.cwd
        prepared = self.prepared.pop(job_id, None)
        streams = None
        if prepared is not None:
            with contextlib.suppress(Exception):  # StartError too: it is raised again below
                streams = prepared.result()
        try:
            if streams is None:
                streams = self.logs.open_streams(spec)
        except StartError as e:
            self._failed(job_id, e.stage, e.why)
            return
        try:
            try:
                os.chdir(cwd)
            except OSError as e:
                self._failed(job_id, "cwd", f"cannot enter {cwd!r}: {e.strerror or e}")
                return
            try:
                path = find_executable(argv[0], env.get("PATH"))
                pid = os.posix_spawn(
                    path,
                    argv,
                    env,
                    file_actions=[
                        (os.POSIX_SPAWN_DUP2, streams.stdin, 0),
                        (os.POSIX_SPAWN_DUP2, streams.stdout, 1),
                        (os.POSIX_SPAWN_DUP2, streams.stderr, 2),
                    ],
                    setsid=True,
                    setsigmask=(),
                    setsigdef=_DEFAULT_SIGNALS,
                )
            except OSError as e:
                self._failed(job_id, "executable", f"cannot run {argv[0]!r}: {e.strerror or e}")
                return
        finally:
            streams.close()
        started_at = time.time()
        cgroup = job.get("cgroup")
        if cgroup:
            with contextlib.suppress(OSError):  # then the manager's resident-set watch is all
                CgroupV2.attach(str(cgroup), pid)
        limit = job.get("as_limit")
        if limit:
            set_address_space_limit(pid, int(limit))
        # The process's identity for a manager that finds it again without us: its pidfs
        # inode decides where there is one, so /proc is read (a third of a millisecond on
        # a busy machine) only without it. Not reaped yet, so the pid is still the job's.
        key = ""
        process_start = started_at
        if self.pidfs:
            with contextlib.suppress(OSError):
                fd = os.pidfd_open(pid)
                key = f"pidfs:{os.fstat(fd).st_ino}"
                os.close(fd)
        if not key:
            stat = read_proc_stat(pid)
            if stat is not None:
                key = f"start:{stat.start_ticks}"
                process_start = stat.start_time
        run = _Running(
            job_id,
            pid,
            started_at,
            process_start,
            key,
            streams.copies,
            int(job.get("run") or 0),
        )
        self.running[pid] = run
        self.by_id[job_id] = run
        self.outbox.append({"k": "started", **run.describe()})

    def _kill(self, job_id: str, sig: int) -> None:
        """Signal a job's process group and drop its staged follower; or drop it if only staged."""
        run = self.by_id.get(job_id)
        if run is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(run.pid, sig)
            self._drop_after(job_id)
            return
        if job_id in self.staged_ids:
            for after, follower in list(self.staged.items()):
                if str(follower["id"]) == job_id:
                    del self.staged[after]
            self.staged_ids.discard(job_id)
            self._unprepare(job_id)
            self.outbox.append({"k": "dropped", "id": job_id})
            self._drop_after(job_id)

    def _drop_after(self, job_id: str) -> None:
        """Drop the chain of launches staged behind `job_id`."""
        follower = self.staged.pop(job_id, None)
        while follower is not None:
            follower_id = str(follower["id"])
            self.staged_ids.discard(follower_id)
            self._unprepare(follower_id)
            self.outbox.append({"k": "dropped", "id": follower_id})
            follower = self.staged.pop(follower_id, None)

    def _failed(self, job_id: str, stage: str, why: str) -> None:
        self.outbox.append(
            {"k": "failed", "id": job_id, "stage": stage, "why": why, "at": time.time()}
        )

    def _reap(self) -> None:
        exits: list[dict[str, Any]] = []
        followers: list[dict[str, Any]] = []
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                break
            if info is None or info.si_pid == 0:
                break
            pid = info.si_pid
            if pid in self.running:
                # Its stragglers die first, while the zombie leader still reserves the group id.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            _, status, ru = os.wait4(pid, 0)
            run = self.running.pop(pid, None)
            if run is None:
                continue
            del self.by_id[run.job_id]
            follower = self.staged.pop(run.job_id, None)
            if follower is not None:
                followers.append(follower)
            detail = CentralLogs.finish(run.copies) if run.copies else ""
            exits.append(
                {
                    "id": run.job_id,
                    "pid": pid,
                    "status": status,
                    "utime": ru.ru_utime,
                    "stime": ru.ru_stime,
                    "maxrss": ru.ru_maxrss,
                    "hiwater": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    "ended_at": time.time(),
                    "detail": detail,
                    "run": run.run,
                }
            )
        if exits:
            self.journal.add(exits)
            self.outbox.extend({"k": "exited", **e} for e in exits)
        for follower in followers:
            self.staged_ids.discard(str(follower["id"]))
            self._launch(follower)


def _spec(job: dict[str, Any]) -> LaunchSpec:
    """A launch message as the backend's `LaunchSpec`."""
    return LaunchSpec(
        job_id=str(job["id"]),
        argv=tuple(str(a) for a in job["argv"]),
        cwd=str(job["cwd"]),
        env={str(k): str(v) for k, v in job["env"].items()},
        stdin_path=job.get("stdin"),
        stdout_path=job.get("stdout"),
        stderr_path=job.get("stderr"),
    )


def _close_streams(future: Future[Streams]) -> None:
    with contextlib.suppress(Exception):
        future.result().close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        listener.bind(socket_name(args.data_dir, args.name))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            return 0  # another starter serves this data dir
        raise
    listener.listen(8)
    starter = Starter(args.data_dir, args.name, listener)
    try:
        starter.serve()
    finally:
        starter.journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
