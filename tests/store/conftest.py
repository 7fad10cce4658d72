"""Every store test runs against SQLite and against PostgreSQL.

The `store` fixture is parametrized: ``sqlite`` copies a migrated database
file into the test's temp dir; ``postgres`` uses a schema of its own for
this test process (so parallel runs never collide), migrated once per
session and emptied before each test. PostgreSQL is the server at
127.0.0.1:5432, database ``test`` (trust auth, user ``postgres`` or ``root``),
or ``$SKYFLOCK_TEST_DATABASE_URL``; when none answers, those tests are
skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from skyflock.store import Store
from skyflock.store.engine import make_engine
from skyflock.store.migrations import upgrade_to_head
from skyflock.store.schema import metadata

PG_HOST = "127.0.0.1:5432"
PG_CANDIDATES = (
    f"postgresql+psycopg://postgres@{PG_HOST}/test",
    f"postgresql+psycopg://root@{PG_HOST}/test",
)


@dataclass
class _Postgres:
    url: str | None
    reason: str


_pg_probe: _Postgres | None = None


def postgres_url() -> str:
    """A URL of the test PostgreSQL that answers, or skip the test saying why."""
    global _pg_probe
    if _pg_probe is None:
        candidates = (
            [os.environ["SKYFLOCK_TEST_DATABASE_URL"]]
            if os.environ.get("SKYFLOCK_TEST_DATABASE_URL")
            else list(PG_CANDIDATES)
        )
        errors = []
        for url in candidates:
            engine = make_engine(url)
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                _pg_probe = _Postgres(url, "")
                break
            except Exception as exc:  # any failure to connect means: skip
                errors.append(f"{url}: {str(exc).splitlines()[0]}")
            finally:
                engine.dispose()
        else:
            _pg_probe = _Postgres(None, "; ".join(errors))
    if _pg_probe.url is None:
        pytest.skip(f"PostgreSQL at {PG_HOST} not reachable: {_pg_probe.reason}")
    return _pg_probe.url


def with_schema(url: str, schema: str) -> str:
    """`url` using `schema`; commits skip the disk flush (tests need no durability)."""
    return f"{url}?options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema (the URL that uses it), dropped afterwards."""
    url = postgres_url()
    schema = f"skyflock_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield with_schema(url, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def _pg_migrated() -> Iterator[str]:
    url = postgres_url()
    schema = f"skyflock_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(with_schema(url, schema))
    try:
        upgrade_to_head(engine)
        engine.dispose()
        yield with_schema(url, schema)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "skyflock.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    engine.dispose()
    return path


def _empty(engine: Engine) -> None:
    tables = [t.name for t in metadata.sorted_tables if t.name != "counters"]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE counters SET value = 0"))


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated store on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        shutil.copy(template, tmp_path / "skyflock.db")
        engine = make_engine(f"sqlite:///{tmp_path / 'skyflock.db'}")
    else:
        engine = make_engine(request.getfixturevalue("_pg_migrated"))
        _empty(engine)
    st = Store(engine)
    try:
        yield st
    finally:
        st.close()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no tables) on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'skyflock.db'}"
    return str(request.getfixturevalue("pg_schema"))
