"""Where the store's database lives and how we talk to it.

`database_url` picks the database (``SKYFLOCK_DATABASE_URL`` when set, else the
embedded SQLite file ``<data_dir>/skyflock.db``) and `make_engine` builds the
SQLAlchemy engine for it. SQLite connections get WAL journaling,
``synchronous=NORMAL``, foreign keys and a busy timeout, and every write
transaction starts with ``BEGIN IMMEDIATE`` so that two writers queue up
instead of failing half-way; reads begin a deferred transaction and never
block a writer (see `read_options`). PostgreSQL is used as it comes
(``postgresql+psycopg://...``).

It also holds the two SQL constructs the two databases spell differently
that the repositories need: `upsert`, and `bulk_insert` (COPY on PostgreSQL).

Neighbours: `store.migrations` brings the schema to the newest revision on
this engine; `store.Store` is the facade the manager and API use.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.engine import Connection, make_url

ENV_DATABASE_URL: Final = "SKYFLOCK_DATABASE_URL"
"""Environment variable that points the store at another database."""

SQLITE_FILE: Final = "skyflock.db"
BUSY_TIMEOUT_MS: Final = 30_000
"""How long an SQLite writer waits for another writer before giving up."""

READ_ONLY: Final = "skyflock_read_only"
"""Execution option: begin a deferred (read) transaction on SQLite."""

read_options: Final[Mapping[str, Any]] = {READ_ONLY: True}
"""Pass to `Connection.execution_options` for transactions that only read."""


class StoreConfigError(ValueError):
    """The database URL cannot be used; the message says what to change."""


def database_url(data_dir: Path | str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The URL of the store: ``$SKYFLOCK_DATABASE_URL``, else SQLite under `data_dir`."""
    environ = os.environ if env is None else env
    url = environ.get(ENV_DATABASE_URL, "").strip()
    if url:
        return url
    if data_dir is None:
        raise StoreConfigError(f"no data directory given and {ENV_DATABASE_URL} is not set")
    return f"sqlite:///{Path(data_dir).resolve() / SQLITE_FILE}"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`; for SQLite the file's directory is created if missing."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse text
        raise StoreConfigError(f"{ENV_DATABASE_URL}: not a database URL: {url!r} ({exc})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, parsed.database, echo=echo)
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise StoreConfigError(
                f"{ENV_DATABASE_URL}: use the psycopg driver, e.g. "
                f"postgresql+psycopg://user@host/db (got {parsed.drivername!r})"
            )
        return create_engine(url, echo=echo, pool_pre_ping=True)
    raise StoreConfigError(
        f"{ENV_DATABASE_URL}: unsupported database {backend!r}; use sqlite:///PATH "
        "or postgresql+psycopg://..."
    )


def _sqlite_engine(url: str, database: str | None, *, echo: bool) -> Engine:
    in_memory = not database or database == ":memory:"
    if not in_memory:
        assert database is not None
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) emit BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE the other columns, on either database."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)
    columns = [name for name in rows[0] if name not in keys]
    if columns:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={name: stmt.excluded[name] for name in columns}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, [dict(r) for r in rows])


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows of plain values fast: COPY on PostgreSQL, one executemany
    of the driver on SQLite (SQLAlchemy's per-row processing is skipped, so the
    values must already be what the driver takes: str, int, float, None)."""
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", list(rows))


def bulk_insert_constant(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    constants: Mapping[str, Any],
    rows: Sequence[Sequence[Any]],
) -> None:
    """`bulk_insert` of rows whose other columns all take the same values.

    The constants are written once into the statement (SQLite: as SQL literals;
    PostgreSQL: into each COPY line as one pre-formatted tail), so only the
    varying values are handed over per row.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy_constant(conn, table, columns, constants, rows)
        return
    literals = [_sql_literal(v) for v in constants.values()]
    if any(lit is None for lit in literals):
        tail = tuple(constants.values())
        bulk_insert(conn, table, (*columns, *constants), [(*row, *tail) for row in rows])
        return
    names = ", ".join((*columns, *constants))
    marks = ", ".join(["?"] * len(columns) + [str(lit) for lit in literals])
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", list(rows))


def _sql_literal(value: Any) -> str | None:
    """SQL text of a constant SQLite reads back as the same value, or None."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return None


_COPY_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
COPY_CHUNK: Final = 1 << 20
"""Characters of COPY text sent per write."""


def _copy_field(value: Any) -> str:
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value)
    return str(value).translate(_COPY_ESCAPES)


def _copy_constant(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    constants: Mapping[str, Any],
    rows: Sequence[Sequence[Any]],
) -> None:
    names = ", ".join((*columns, *constants))
    tail = "".join("\t" + _copy_field(v) for v in constants.values()) + "\n"
    field = _copy_field
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            lines: list[str] = []
            size = 0
            for row in rows:
                line = "\t".join([field(v) for v in row]) + tail
                lines.append(line)
                size += len(line)
                if size >= COPY_CHUNK:
                    copy.write("".join(lines))
                    lines.clear()
                    size = 0
            if lines:
                copy.write("".join(lines))
    finally:
        cursor.close()
