"""A real Manager on SQLite in a temp dir behind the real app, through TestClient."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # starlette's TestClient warns about its httpx transport on import
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
    from fastapi.testclient import TestClient

from skyflock.api.app import create_app
from skyflock.manager import Manager
from skyflock.manager.settings import settings_from_mapping

CONFIG = {
    "negotiator": {"interval": 0.2},
    "server": {"periodic_interval": 0.5},
    "clusters": {"local": {"cpus": 2, "memory": 4096}},
}
MAX_BODY = 64 * 1024


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = settings_from_mapping(CONFIG, data_dir=tmp_path / "data", env={})
    app = create_app(Manager(settings), max_body=MAX_BODY)
    with TestClient(app, raise_server_exceptions=True) as c:
        yield c


def wait_for(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    """`check()`'s first true value, polled every `every` seconds for up to `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)
