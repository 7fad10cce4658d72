"""A real `skyflock server` on a free port in a temp dir, for the CLI tests.

`ServerProcess.start(tmp)` runs the command as a child, waits for `/healthz`
and `run(...)` calls the real `skyflock` command against it (SKYFLOCK_URL set).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

CONFIG = """\
[negotiator]
interval = 0.2

[server]
periodic_interval = 1

[clusters.local]
cpus = 2
memory = 2048
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def skyflock_argv() -> list[str]:
    exe = Path(sys.executable).with_name("skyflock")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "skyflock.cli.main"]


@dataclass
class ServerProcess:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, tmp: Path) -> ServerProcess:
        port = free_port()
        config = tmp / "server.toml"
        config.write_text(CONFIG)
        data_dir = tmp / "data"
        with (tmp / "server.log").open("wb") as log:
            process = subprocess.Popen(
                [
                    *skyflock_argv(),
                    "server",
                    "--port",
                    str(port),
                    "--data-dir",
                    str(data_dir),
                    "--config",
                    str(config),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("server did not start: " + (tmp / "server.log").read_text())
            time.sleep(0.1)
        return cls(url, data_dir, process)

    def run(
        self, *args: str, cwd: Path | None = None, columns: int = 200
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SKYFLOCK_URL": self.url, "COLUMNS": str(columns)}
        return subprocess.run(
            [*skyflock_argv(), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
