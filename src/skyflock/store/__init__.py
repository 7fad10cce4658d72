"""skyflock's durable state: the job queue, history, events, log index,
fair-share accounting and the cluster registry, in one database.

`Store.open(data_dir=...)` uses SQLite at ``<data_dir>/skyflock.db`` (WAL),
or PostgreSQL when ``SKYFLOCK_DATABASE_URL=postgresql+psycopg://...`` is set,
and migrates the schema to the newest revision. The facade's parts:

    store.jobs        JobQueue   submit, transitions (match/start/complete/...), query, stats
    store.history     History    finished jobs, newest first
    store.events      EventLog   each job's events, in order
    store.logs        LogIndex   where each job's stdout/stderr/event log are
    store.accounting  Accounting fair-share usage and userprio settings
    store.clusters    Clusters   federation members, health, slot ads

Every write is one transaction; a job is in exactly one row of the queue or
of the history, so a crash between two transitions never leaves it in two
states. The store records facts; the manager makes the decisions.
`lock_database(url)` keeps a second server off a PostgreSQL database
(`store.database_lock`).

This package is the only one that imports SQLAlchemy and Alembic.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from skyflock.store.accounting import KEEP, Accounting, SubmitterSettings
from skyflock.store.batch import BatchResult, JobBatch
from skyflock.store.clusters import (
    ClusterKind,
    ClusterRecord,
    Clusters,
    SlotRecord,
    UnknownCluster,
)
from skyflock.store.database_lock import DatabaseInUse, DatabaseLock, lock_database
from skyflock.store.engine import StoreConfigError, database_url, make_engine
from skyflock.store.events import EventKind, EventLog, EventRecord
from skyflock.store.history import History
from skyflock.store.jobs import JobQueue
from skyflock.store.logs import LogEntry, LogIndex, Stream
from skyflock.store.migrations import upgrade_to_head
from skyflock.store.records import (
    ExitStatus,
    IllegalTransition,
    JobRecord,
    JobStatus,
    NewJob,
    QueueStats,
    Refusal,
    Submitted,
    Substate,
    TransitionResult,
)
from skyflock.store.selection import Selection

__all__ = [
    "KEEP",
    "Accounting",
    "BatchResult",
    "ClusterKind",
    "ClusterRecord",
    "Clusters",
    "DatabaseInUse",
    "DatabaseLock",
    "EventKind",
    "EventLog",
    "EventRecord",
    "ExitStatus",
    "History",
    "IllegalTransition",
    "JobBatch",
    "JobQueue",
    "JobRecord",
    "JobStatus",
    "LogEntry",
    "LogIndex",
    "NewJob",
    "QueueStats",
    "Refusal",
    "Selection",
    "SlotRecord",
    "Store",
    "StoreConfigError",
    "Stream",
    "Submitted",
    "SubmitterSettings",
    "Substate",
    "TransitionResult",
    "UnknownCluster",
    "database_url",
    "lock_database",
]


class Store:
    """The facade: one engine, one repository per concern."""

    def __init__(self, engine: Engine) -> None:
        """Wrap an engine whose database is already migrated (see `open`)."""
        self.engine = engine
        self.jobs = JobQueue(engine)
        self.history = History(engine)
        self.events = EventLog(engine)
        self.logs = LogIndex(engine)
        self.accounting = Accounting(engine)
        self.clusters = Clusters(engine)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        data_dir: Path | str | None = None,
        migrate: bool = True,
    ) -> Store:
        """Open the store at `url`, else ``$SKYFLOCK_DATABASE_URL``, else SQLite in
        `data_dir`; bring its schema to the newest revision unless `migrate` is False.

        Raises `StoreConfigError` with a message a person can act on when the
        URL cannot be used.
        """
        engine = make_engine(url or database_url(data_dir))
        if migrate:
            upgrade_to_head(engine)
        return cls(engine)

    def job(self, job_id: str) -> JobRecord | None:
        """A job by id, in the queue or else in the history."""
        return self.jobs.get(job_id) or self.history.get(job_id)

    def stats(self) -> QueueStats:
        """The queue's totals by JobStatus and by submitter."""
        return self.jobs.stats()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
