"""Schema migrations, run from the package: no `alembic.ini` is needed.

`upgrade_to_head(engine)` brings any database (empty or older) to the newest
revision; the server calls it on start. The revisions in `versions/` are
frozen snapshots: each spells out its own DDL instead of importing
`store.schema`, so that an old revision keeps meaning what it meant when it
was written. A test checks that the head revision creates exactly the tables
of `store.schema`.

To add a revision, copy the newest file in `versions/`, give it a new
`revision` and set `down_revision` to the previous one, write its DDL with
`alembic.op`, and change `store.schema` to match (the test will tell), and
set `HEAD` below to the new revision (a test checks it against the scripts).

Alembic is imported only when a database is not at `HEAD` already: a
restart of the server on an up-to-date database saves its import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Engine, text

if TYPE_CHECKING:  # pragma: no cover - typing only
    from alembic.config import Config

HEAD: Final = "0003"
"""The newest revision in `versions/` (what `head_revision()` reads from the scripts)."""
_HERE = Path(__file__).resolve().parent
_PG_LOCK_KEY = 0x5C1F10C  # any constant: serialises concurrent upgrades on PostgreSQL


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    return cfg


def head_revision() -> str:
    """The newest revision this version of skyflock knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Create or upgrade every table of the store, in one transaction."""
    if _at_head(engine):
        return
    from alembic import command

    cfg = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _at_head(engine: Engine) -> bool:
    """Whether the database already records `HEAD` (read without Alembic)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except Exception:  # no such table yet: an empty database
        return False
    return [r[0] for r in rows] == [HEAD]
