"""One server per PostgreSQL database: the advisory lock, against the real server.

Each test makes a database of its own (advisory locks belong to a database,
and other test processes share ``test``) and drops it afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from skyflock.store import DatabaseInUse, Store, StoreConfigError, lock_database
from skyflock.store.engine import make_engine
from tests.store.conftest import postgres_url

pytestmark = pytest.mark.postgres


def fresh_database() -> Iterator[str]:
    base = postgres_url()
    name = f"skyflock_lock_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database."""
    yield from fresh_database()


@pytest.fixture
def other_pg_database() -> Iterator[str]:
    yield from fresh_database()


def test_an_in_memory_sqlite_database_needs_no_lock() -> None:
    assert lock_database("sqlite://") is None
    assert lock_database("sqlite:///:memory:") is None


def test_one_sqlite_file_is_held_by_one_server_at_a_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared/skyflock.db"
    first = lock_database(url)
    assert first is not None and first.held
    with pytest.raises(DatabaseInUse) as refused:
        lock_database(url)
    message = str(refused.value)
    assert f"SQLite database {tmp_path}/shared/skyflock.db" in message
    assert f"pid {os.getpid()}" in message
    first.release()
    assert not first.held
    again = lock_database(url)  # released: the next server may have it
    assert again is not None and again.held
    again.release()
    other = lock_database(f"sqlite:///{tmp_path}/other.db")  # another file never meets it
    assert other is not None
    other.release()


def test_a_second_holder_is_refused_naming_the_database_and_the_first(pg_database: str) -> None:
    first = lock_database(pg_database)
    assert first is not None and first.held
    name = make_url(pg_database).database
    with pytest.raises(DatabaseInUse) as refused:
        lock_database(pg_database)
    message = str(refused.value)
    assert f"database {name} on 127.0.0.1:5432" in message
    assert "another skyflock server (skyflock server pid " in message
    assert "SKYFLOCK_DATABASE_URL" in message
    assert "\n" not in message
    first.release()
    assert not first.held
    with lock_database(pg_database) as second:  # released: the next server may start
        assert second is not None and second.held


def test_the_lock_outlives_transactions_and_lets_the_store_migrate(pg_database: str) -> None:
    held = lock_database(pg_database)
    assert held is not None
    try:
        with Store.open(pg_database) as store:  # the migrations' own lock is another key
            assert store.jobs.count() == 0
        with pytest.raises(DatabaseInUse):
            lock_database(pg_database)
    finally:
        held.release()


def test_servers_on_two_databases_do_not_meet(pg_database: str, other_pg_database: str) -> None:
    with lock_database(pg_database) as one, lock_database(other_pg_database) as two:
        assert one is not None and two is not None
        assert one.held and two.held


def test_an_unreachable_database_is_one_message_naming_it() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/nowhere"
    with pytest.raises(
        StoreConfigError, match=r"cannot connect to the database nowhere on 127\.0\.0\.1:1: "
    ):
        lock_database(url)
