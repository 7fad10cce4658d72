"""The manager's end of the connection to the starter (`local_starter`): connect, or start one.

`StarterClient.connect` finds the data dir's starter by its abstract socket
name or starts one (`python -m skyflock.backends.local_starter`, in its own
session so that it outlives the manager) and reads its `hello` (the jobs it
runs and the exits not yet acknowledged). Afterwards the event loop reads its
messages (`attach`), and `send` queues lines that go out together at the end
of the loop iteration, so a burst of launches or acknowledgements costs one
write.

Neighbours: `backends.local` (the only user), `backends.local_starter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from skyflock.backends.local_starter import socket_name

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S: Final = 20.0
STARTER: Final = (sys.executable, "-m", "skyflock.backends.local_starter")


class StarterGone(Exception):
    """The starter cannot be reached or started."""


class StarterClient:
    """One connection to the starter of (`data_dir`, `name`)."""

    def __init__(
        self, fd: int, hello: dict[str, Any], child: subprocess.Popen[bytes] | None
    ) -> None:
        self.fd = fd
        """The connected socket, as a bare fd (a backend dropped without `close` leaks no warning)."""
        self.hello = hello
        self.child = child
        """The starter, when this manager started it (reaped by `close`)."""
        self._inbox = b""
        self._out: list[bytes] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush_scheduled = False
        self._pending_write = b""
        self._on_message: Callable[[dict[str, Any]], None] | None = None
        self._on_lost: Callable[[], None] | None = None
        self.closed = False

    def __del__(self) -> None:
        if not self.closed:  # a backend dropped without `close`: hang up
            self.closed = True
            os.close(self.fd)

    @classmethod
    def connect(cls, data_dir: str, name: str) -> StarterClient:
        address = socket_name(data_dir, name)
        sock = _try_connect(address)
        child = None
        if sock is None:
            os.makedirs(os.path.join(data_dir, "run"), exist_ok=True)
            log_path = os.path.join(data_dir, "run", f"starter-{name}.log")
            with open(log_path, "ab") as out:
                child = subprocess.Popen(
                    [*STARTER, "--data-dir", data_dir, "--name", name],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                )
            deadline = time.monotonic() + CONNECT_TIMEOUT_S
            while sock is None:
                if child.poll() is not None:
                    sock = _try_connect(address)  # another one won the race
                    if sock is None:
                        raise StarterGone(
                            f"the starter exited with {child.returncode}; see {log_path}"
                        )
                    child = None
                    break
                if time.monotonic() > deadline:
                    child.kill()
                    child.wait()
                    raise StarterGone(f"the starter did not answer within {CONNECT_TIMEOUT_S:g} s")
                time.sleep(0.005)
                sock = _try_connect(address)
        if child is not None:  # reaped whenever it ends (it may well outlive this manager)
            threading.Thread(target=child.wait, name="starter-reaper", daemon=True).start()
        sock.settimeout(CONNECT_TIMEOUT_S)
        data = b""
        try:
            while b"\n" not in data:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise StarterGone("the starter closed the connection before its hello")
                data += chunk
        except OSError as e:
            sock.close()
            raise StarterGone(f"no hello from the starter: {e}") from e
        line, _, rest = data.partition(b"\n")
        hello = json.loads(line)
        fd = sock.detach()
        os.set_blocking(fd, False)
        client = cls(fd, hello, child)
        client._inbox = rest
        return client

    def attach(
        self,
        loop: asyncio.AbstractEventLoop,
        on_message: Callable[[dict[str, Any]], None],
        on_lost: Callable[[], None],
    ) -> None:
        """Deliver the starter's messages on `loop` from now on."""
        self._loop = loop
        self._on_message = on_message
        self._on_lost = on_lost
        loop.add_reader(self.fd, self._readable)
        if self._inbox:
            loop.call_soon(self._deliver, b"")

    def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        self._out.append(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        if self.closed:
            return
        data = self._pending_write + b"".join(self._out)
        self._out.clear()
        if not data:
            return
        try:
            sent = os.write(self.fd, data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._lost()
            return
        self._pending_write = data[sent:]
        if self._pending_write and self._loop is not None:
            self._loop.add_writer(self.fd, self._writable)

    def _writable(self) -> None:
        if self._loop is not None:
            self._loop.remove_writer(self.fd)
        self.flush()

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 1 << 18)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._lost()
            return
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        self._inbox += data
        *lines, self._inbox = self._inbox.split(b"\n")
        for line in lines:
            if line and self._on_message is not None:
                try:
                    message = json.loads(line)
                except ValueError:
                    log.warning("the starter sent a line that is not JSON: %.200r", line)
                    continue
                self._on_message(message)

    def _lost(self) -> None:
        if self.closed:
            return
        self.close(wait=False)
        if self._on_lost is not None:
            self._on_lost()

    def close(self, *, wait: bool) -> None:
        """Hang up; with `wait`, also wait for the starter if we started it (it ends with its jobs)."""
        if self.closed:
            return
        if self._pending_write or self._out:
            data = self._pending_write + b"".join(self._out)
            with contextlib.suppress(OSError):
                os.set_blocking(self.fd, True)
                while data:
                    data = data[os.write(self.fd, data) :]
        self.closed = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.fd)
            self._loop.remove_writer(self.fd)
        os.close(self.fd)
        if wait and self.child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.child.wait(5)


def _try_connect(address: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(address)
    except (ConnectionRefusedError, FileNotFoundError):
        sock.close()
        return None
    return sock
