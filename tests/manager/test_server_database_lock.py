"""Two real `skyflock server`s on one database (PostgreSQL, or one SQLite file), with
different data dirs and ports: the second exits 1 with one message naming the database and
starts nothing; once the first stops, a server starts on that database again."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.cli.server_fixture import ServerProcess, free_port, skyflock_argv
from tests.store.test_database_lock import fresh_database

pytestmark = [pytest.mark.timeout(120)]


def refused_server(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """A second `skyflock server` on its own data dir and port; it must exit 1."""
    second = subprocess.run(
        [*skyflock_argv(), "server", "--port", str(free_port()), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=60,
    )
    assert second.returncode == 1
    return second


@pytest.fixture
def pg_database() -> Iterator[str]:
    yield from fresh_database()


@pytest.mark.postgres
def test_a_second_server_on_the_same_database_exits_1_naming_it(
    tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYFLOCK_DATABASE_URL", pg_database)
    (tmp_path / "one").mkdir()
    first = ServerProcess.start(tmp_path / "one")
    try:
        second_dir = tmp_path / "two"
        second = refused_server(second_dir)
        lines = second.stderr.strip().splitlines()
        name = make_url(pg_database).database
        assert len(lines) == 1, second.stderr
        assert lines[0].startswith("skyflock server: another skyflock server (skyflock server pid ")
        assert f"is using the database {name} on 127.0.0.1:5432" in lines[0]
        assert "Traceback" not in second.stderr
        assert not (second_dir / "skyflock.db").exists()
        assert first.process.poll() is None  # the first one runs on, untouched
    finally:
        first.stop()
    assert first.process.returncode is not None
    (tmp_path / "three").mkdir()
    third = ServerProcess.start(tmp_path / "three")  # the lock went with the first server
    third.stop()


def test_a_second_server_on_the_same_sqlite_file_exits_1_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared" / "queue.db"
    monkeypatch.setenv("SKYFLOCK_DATABASE_URL", f"sqlite:///{shared}")
    (tmp_path / "one").mkdir()
    first = ServerProcess.start(tmp_path / "one")
    try:
        second = refused_server(tmp_path)
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert lines[0].startswith("skyflock server: another skyflock server (skyflock server pid ")
        assert f"is using the SQLite database {shared}" in lines[0]
        assert first.process.poll() is None
    finally:
        first.stop()
