"""One server per database: an advisory lock held for the server's life.

A server's data-dir lock (`server.lock`) keeps two servers off one data dir,
and so off its default SQLite file. Two servers with different data dirs
pointed at the same database (PostgreSQL, or one SQLite file named by
`SKYFLOCK_DATABASE_URL`) would still both load the queue, match it and start
every job twice. On SQLite, `lock_database` holds an exclusive `flock` on
`<database file>.lock` (released when the process ends, however it ends).
On PostgreSQL it takes `pg_try_advisory_lock` on a
fixed key on a connection of its own, kept open until `DatabaseLock.release`
(or the process's end, when PostgreSQL drops the session and its lock); a
second server gets `DatabaseInUse`, naming the database and, when PostgreSQL
can tell, the server that holds it. Advisory locks belong to one database,
so servers on different databases of one PostgreSQL never meet.

An in-memory SQLite database needs no lock (no other process can open it).

Neighbours: `manager.server.serve` takes it before anything starts;
`store.migrations` uses another key for its upgrade lock.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Final

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from skyflock.store.engine import StoreConfigError

SERVER_LOCK_KEY: Final = 0x5C1F10D
"""The advisory lock key every skyflock server takes (under 2**32: pg_locks shows it
as `objid` with `classid` 0)."""

APPLICATION_NAME: Final = "skyflock server"


class DatabaseInUse(Exception):
    """Another skyflock server holds the database; the message names it."""


def describe_database(url: str) -> str:
    """'database test on 127.0.0.1:5432' (no user, no password) for messages."""
    parsed = make_url(url)
    where = parsed.host or "localhost"
    if parsed.port:
        where = f"{where}:{parsed.port}"
    return f"database {parsed.database or '?'} on {where}"


class DatabaseLock:
    """The held lock: kept until `release` (or the process's end)."""

    def __init__(self, release: Callable[[], None], database: str) -> None:
        self._release: Callable[[], None] | None = release
        self.database = database

    @property
    def held(self) -> bool:
        return self._release is not None

    def release(self) -> None:
        """Let the next server have the database."""
        if self._release is not None:
            release, self._release = self._release, None
            release()

    def __enter__(self) -> DatabaseLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def lock_database(url: str) -> DatabaseLock | None:
    """Hold `url`'s database for this server; None when it is not PostgreSQL.

    Raises `DatabaseInUse` when another server holds it, and `StoreConfigError`
    naming the database when it cannot be reached.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _lock_sqlite_file(parsed.database)
    if backend != "postgresql":
        return None
    database = describe_database(url)
    name = f"{APPLICATION_NAME} pid {os.getpid()} on {socket.gethostname()}"
    engine = create_engine(url, poolclass=NullPool, connect_args={"application_name": name[:63]})
    try:
        conn = engine.connect()
    except SQLAlchemyError as exc:
        engine.dispose()
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise StoreConfigError(
            f"cannot connect to the {database}: {first[0] if first else type(exc).__name__}"
        ) from None
    try:
        got = conn.execute(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": SERVER_LOCK_KEY}
        ).scalar_one()
        conn.commit()  # end the implicit transaction; a session-level lock outlives it
        holder = None if got else _holder(conn)
    except BaseException:
        conn.close()
        engine.dispose()
        raise
    if not got:
        conn.close()
        engine.dispose()
        by = f" ({holder})" if holder else ""
        raise DatabaseInUse(
            f"another skyflock server{by} is using the {database}; stop it first, "
            "or point this one at another database with SKYFLOCK_DATABASE_URL"
        )

    def close() -> None:  # closing the session drops the lock
        conn.close()
        engine.dispose()

    return DatabaseLock(close, database)


def _lock_sqlite_file(path: str | None) -> DatabaseLock | None:
    """An exclusive `flock` on `<path>.lock`; None for an in-memory database."""
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    import fcntl

    database = f"SQLite database {Path(path).resolve()}"
    lock_path = Path(f"{path}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a+")
    except OSError as exc:
        raise StoreConfigError(f"cannot use the {database}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        by = f" ({APPLICATION_NAME} {holder})" if holder else ""
        raise DatabaseInUse(
            f"another skyflock server{by} is using the {database}; stop it first, "
            "or point this one at another database with SKYFLOCK_DATABASE_URL"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    return DatabaseLock(handle.close, database)


def _holder(conn: Connection) -> str | None:
    """Who holds the lock, as PostgreSQL sees its session ('skyflock server pid 12 on host')."""
    try:
        row = conn.execute(
            text(
                "SELECT a.application_name, host(a.client_addr) FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND l.classid = 0 AND l.objid = :k AND l.objsubid = 1"
            ),
            {"k": SERVER_LOCK_KEY},
        ).first()
    except Exception:  # the message can do without it
        return None
    finally:
        conn.rollback()
    if row is None:
        return None
    app, addr = row
    if app:
        return str(app)
    return f"connected from {addr}" if addr else None
