"""A clean stop lets the store's write pass in flight finish, and a stuck one not hang it.

The write pass (`Flushing._write`) is slowed down after its commit, the manager
is stopped while it is in the worker thread, and the test checks what a stop
must not cut off: the acknowledgement of the committed exit to the starter,
and the store staying open until the pass is done.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from skyflock.manager import Manager
from skyflock.manager.flushing import Flushing
from skyflock.manager.loop_state import PendingWrites
from skyflock.manager.settings import settings_from_mapping
from skyflock.store import Store
from skyflock.store.jobs import JobQueue

pytestmark = pytest.mark.timeout(30)

CONFIG = {
    "negotiator": {"interval": 0.2},
    "server": {"periodic_interval": 0.2},
    "clusters": {"local": {"cpus": 1, "memory": 1024}},
}


class SlowWrites:
    """Wraps `Flushing._write`: once a pass that ends a run has committed, it signals
    and then holds the worker thread for `hold` seconds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hold: float) -> None:
        self.hold = hold
        self.committed = threading.Event()
        self.done_at: float | None = None
        self.closed_at: float | None = None
        write = Flushing._write
        close = Store.close

        def slow_write(loop: Flushing, batch: PendingWrites, now: float) -> tuple[str, ...]:
            moved = write(loop, batch, now)
            if batch.runs and not self.committed.is_set():
                self.committed.set()
                time.sleep(self.hold)
                self.done_at = time.monotonic()
            return moved

        def recorded_close(store: Store) -> None:
            self.closed_at = time.monotonic()
            close(store)

        monkeypatch.setattr(Flushing, "_write", slow_write)
        monkeypatch.setattr(Store, "close", recorded_close)


async def started_with_a_job(tmp_path: Path) -> tuple[Manager, list[list[str]]]:
    """A manager whose acknowledgements are recorded, with one short job submitted."""
    settings = settings_from_mapping(CONFIG, data_dir=tmp_path / "data", env={})
    m = Manager(settings)
    await m.start()
    acks: list[list[str]] = []
    backend = m.loop.backends["local"]
    acknowledge = backend.acknowledge  # type: ignore[attr-defined]

    def recorded(ids: object) -> None:
        acks.append(sorted(ids))  # type: ignore[call-overload]
        acknowledge(ids)

    backend.acknowledge = recorded  # type: ignore[attr-defined]
    await m.submit(
        "executable = /bin/true\nqueue\n",
        filename="job.sub",
        base_dir=str(tmp_path),
        owner="alice",
    )
    return m, acks


async def until(event: threading.Event, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not event.is_set():
        assert time.monotonic() < deadline, "timed out waiting for the commit"
        await asyncio.sleep(0.01)


def test_stop_lets_the_write_pass_in_flight_finish_and_acknowledge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowWrites(monkeypatch, hold=0.5)

    async def main() -> None:
        m, acks = await started_with_a_job(tmp_path)
        await until(slow.committed)  # the job's end is committed; the pass is still running
        await m.stop()
        assert slow.done_at is not None, "stop returned before the write pass ended"
        assert slow.closed_at is not None and slow.closed_at >= slow.done_at
        assert acks == [["1.0"]]  # the starter was told the exit is committed

    asyncio.run(main())


def test_stop_gives_up_on_a_stuck_write_pass_after_its_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    slow = SlowWrites(monkeypatch, hold=1.5)

    async def main() -> None:
        m, acks = await started_with_a_job(tmp_path)
        m.loop.stop_timeout = 0.2
        await until(slow.committed)
        began = time.monotonic()
        with caplog.at_level(logging.ERROR, logger="skyflock.manager.loop"):
            await m.stop()
        assert time.monotonic() - began < 1.0
        assert "did not finish within 0.2 s" in caplog.text
        assert slow.done_at is None and slow.closed_at is None  # not closed under the pass
        assert acks == []

    asyncio.run(main())


def test_stop_lets_a_match_commit_in_flight_finish_before_the_store_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The negotiator's own store calls (match, preempt, hold) run like the write pass:
    cancelling the cycle leaves the call in its thread to finish, and stop waits for it."""
    committed = threading.Event()
    times: dict[str, float] = {}
    match = JobQueue.match
    close = Store.close

    def slow_match(queue: JobQueue, *args: Any, **kwargs: Any) -> Any:
        result = match(queue, *args, **kwargs)
        committed.set()
        time.sleep(0.5)
        times["match done"] = time.monotonic()
        return result

    def recorded_close(store: Store) -> None:
        times["closed"] = time.monotonic()
        close(store)

    monkeypatch.setattr(JobQueue, "match", slow_match)
    monkeypatch.setattr(Store, "close", recorded_close)

    async def main() -> None:
        m, _ = await started_with_a_job(tmp_path)
        await until(committed)  # the cycle's match is committed; its thread still runs
        await m.stop()
        assert "match done" in times, "stop returned before the match call ended"
        assert times["closed"] >= times["match done"]

    asyncio.run(main())
