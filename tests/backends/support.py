"""Helpers for the backend tests: run coroutines, build specs, collect events."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

from skyflock.backends.base import BackendEvent, JobExited, JobLost, JobStartFailed, LaunchSpec
from skyflock.backends.local import LocalBackend

T = TypeVar("T")
PATH_ENV = {"PATH": "/usr/bin:/bin"}
PY = sys.executable


def run(coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
    """Run a test body on a fresh event loop, failing it after `timeout` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def spec(job_id: str, *argv: str, cwd: str | Path, **kw: object) -> LaunchSpec:
    env = kw.pop("env", PATH_ENV)
    return LaunchSpec(job_id=job_id, argv=argv, cwd=str(cwd), env=env, **kw)  # type: ignore[arg-type]


async def until_done(
    backend: LocalBackend, job_ids: Iterable[str], timeout: float = 10
) -> dict[str, list[BackendEvent]]:
    """Every event of `job_ids` until each has ended (exited, failed to start, or lost)."""
    waiting = set(job_ids)
    seen: dict[str, list[BackendEvent]] = {j: [] for j in waiting}
    deadline = time.monotonic() + timeout
    while waiting:
        left = deadline - time.monotonic()
        assert left > 0, f"jobs {sorted(waiting)} did not end within {timeout} s"
        for event in await backend.events(left):
            seen.setdefault(event.job_id, []).append(event)
            if isinstance(event, JobExited | JobStartFailed | JobLost):
                waiting.discard(event.job_id)
    return seen


async def wait_for_file_text(path: str, text: str, timeout: float = 5) -> None:
    """Poll a log file until it contains `text` (how a test knows a job is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                if text in f.read():
                    return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never contained {text!r}")
