"""Store reads run off the event loop: a slow queue read does not stall the server.

The manager's `query` is slowed down with a blocking sleep (as a big queue's
read is slow); while one client waits for it, `/healthz` (served on the loop)
must answer at once, and the read's answer must still be right.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import TestClient

pytestmark = pytest.mark.timeout(60)

SLOW = 0.6


def _slowed(read: Callable[..., Any], started: threading.Event) -> Callable[..., Any]:
    def slow(*args: Any, **kwargs: Any) -> Any:
        started.set()
        time.sleep(SLOW)  # blocks whatever thread runs it, as a long read does
        return read(*args, **kwargs)

    return slow


@pytest.mark.parametrize("path", ["/api/jobs", "/api/history", "/api/jobs/1.0"])
def test_a_slow_read_does_not_block_the_loop(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    r = client.post(
        "/api/jobs",
        json={
            "submit": "executable = /bin/true\nhold = true\nqueue 2\n",
            "filename": "t.sub",
            "base_dir": str(tmp_path),
            "owner": "alice",
        },
    )
    assert r.status_code == 201, r.text
    manager = client.app.state.manager  # type: ignore[attr-defined]
    started = threading.Event()
    monkeypatch.setattr(manager, "query", _slowed(manager.query, started))
    monkeypatch.setattr(manager, "history", _slowed(manager.history, started))

    answers: dict[str, Any] = {}
    reader = threading.Thread(target=lambda: answers.setdefault("r", client.get(path)))
    reader.start()
    assert started.wait(10)
    t0 = time.monotonic()
    assert client.get("/healthz").status_code == 200
    waited = time.monotonic() - t0
    reader.join(30)
    assert waited < SLOW / 2, f"/healthz waited {waited:.2f} s behind a read"
    answer = answers["r"]
    assert answer.status_code == 200, answer.text
    if path == "/api/jobs":
        assert answer.json()["count"] == 2
    elif path == "/api/jobs/1.0":
        assert answer.json()["where"] == "queue"
    else:
        assert answer.json()["count"] == 0
