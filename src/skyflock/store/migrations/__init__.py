"""Schema migrations, run from the package: no `alembic.ini` is needed.

`upgrade_to_head(engine)` brings any database (empty or older) to the newest
revision; the server calls it on start. The revisions in `versions/` are
frozen snapshots: each spells out its own DDL instead of importing
`store.schema`, so that an old revision keeps meaning what it meant when it
was written. A test checks that the head revision creates exactly the tables
of `store.schema`.

To add a revision, copy the newest file in `versions/`, give it a new
`revision` and set `down_revision` to the previous one, write its DDL with
`alembic.op`, and change `store.schema` to match (the test will tell).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

_HERE = Path(__file__).resolve().parent
_PG_LOCK_KEY = 0x5C1F10C  # any constant: serialises concurrent upgrades on PostgreSQL


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    return cfg


def head_revision() -> str:
    """The newest revision this version of skyflock knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Create or upgrade every table of the store, in one transaction."""
    cfg = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
