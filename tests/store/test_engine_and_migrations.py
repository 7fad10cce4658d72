"""Where the database is, how SQLite is set up, and that the migrations create
exactly the tables the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from skyflock.store import Store, StoreConfigError, database_url
from skyflock.store.engine import make_engine
from skyflock.store.migrations import HEAD, current_revision, head_revision, upgrade_to_head
from skyflock.store.schema import metadata


def test_database_url_prefers_the_environment(tmp_path: Path) -> None:
    assert database_url(tmp_path, env={}) == f"sqlite:///{tmp_path.resolve()}/skyflock.db"
    pg = "postgresql+psycopg://u@h/db"
    assert database_url(tmp_path, env={"SKYFLOCK_DATABASE_URL": pg}) == pg
    with pytest.raises(StoreConfigError, match="no data directory"):
        database_url(None, env={})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL"),
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("postgresql+pg8000://u@h/db", "use the psycopg driver"),
    ],
)
def test_unusable_urls_say_what_to_change(url: str, message: str) -> None:
    with pytest.raises(StoreConfigError, match=message):
        make_engine(url)


def test_sqlite_is_set_up_for_a_server(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'dir' / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    engine.dispose()


def test_migrations_create_exactly_the_declared_schema(empty_url: str) -> None:
    engine = make_engine(empty_url)
    assert current_revision(engine) is None
    upgrade_to_head(engine)
    upgrade_to_head(engine)  # a second start changes nothing
    assert current_revision(engine) == head_revision()
    names = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= names
    with engine.connect() as conn:
        diffs = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diffs == []
    engine.dispose()


def test_store_open_migrates_and_uses_the_environment(
    empty_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SKYFLOCK_DATABASE_URL", empty_url)
    with Store.open(data_dir=tmp_path / "unused") as store:
        assert store.jobs.count() == 0
        assert current_revision(store.engine) == head_revision()
    assert not (tmp_path / "unused").exists()


def test_head_constant_is_the_newest_script() -> None:
    assert head_revision() == HEAD


def test_upgrade_from_0001_keeps_jobs_and_counts_no_completions(tmp_path: Path) -> None:
    from alembic import command

    from skyflock.store.migrations import _config

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, cluster_id, proc_id, status, owner, submitter, q_date,"
                " entered_status_at, ad) VALUES ('1.0', 1, 0, 1, 'a', 'a', 1, 1, '')"
            )
        )
    assert current_revision(engine) == "0001"
    upgrade_to_head(engine)
    assert current_revision(engine) == HEAD == "0003"
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT num_job_completions, exit_signal FROM jobs WHERE id = '1.0'")
        ).one()
    assert tuple(row) == (0, None)
    engine.dispose()


def test_upgrade_from_0002_keeps_exit_codes_and_adds_no_signals(empty_url: str) -> None:
    """0003 on either database: finished rows keep their codes, read back with ExitBySignal false."""
    from alembic import command

    from skyflock.store.migrations import _config

    engine = make_engine(empty_url)
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cluster_ads (cluster_id, ad) VALUES (1, '')"))
        for table in ("jobs", "history"):
            conn.execute(
                text(
                    f"INSERT INTO {table} (id, cluster_id, proc_id, status, owner, submitter,"
                    " q_date, entered_status_at, exit_code, ad)"
                    " VALUES ('1.0', 1, 0, 4, 'a', 'a', 1, 1, 137, '')"
                )
            )
    assert current_revision(engine) == "0002"
    upgrade_to_head(engine)
    assert current_revision(engine) == HEAD
    with Store(engine) as store:
        rec = store.history.get("1.0")
        assert rec is not None
        assert (rec.exit_code, rec.exit_signal) == (137, None)
        assert (rec.ad.eval("ExitCode"), rec.ad.eval("ExitBySignal")) == (137, False)
