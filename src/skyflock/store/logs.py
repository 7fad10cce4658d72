"""The central log index: where each job's stdout, stderr and event log live.

Whichever cluster ran a job, its log files end up under the data dir and
are recorded here (path, size so far, the cluster that produced them), so
`skyflock logs ID` and the API find them without asking the backend. The
files themselves are written by the backends and the manager; this is only
the index, updated in bulk.

Neighbours: backends and the manager call `LogIndex.record`; the API reads it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine, select

from skyflock.store.engine import read_options, upsert
from skyflock.store.schema import job_logs


class Stream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"
    EVENTS = "events"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log file of one job."""

    job_id: str
    stream: str
    """"stdout", "stderr" or "events" (see `Stream`)."""
    path: str
    size: int = 0
    cluster_name: str | None = None
    updated_at: float | None = None
    """Set by `LogIndex.record` when None."""


class LogIndex:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, entries: Sequence[LogEntry], *, now: float | None = None) -> None:
        """Add or update entries (one per job and stream) in one transaction.

        Raises ValueError naming the entry when its stream is unknown.
        """
        rows = log_rows(entries, now)
        if rows:
            with self._engine.begin() as conn:
                upsert(conn, job_logs, rows, keys=("job_id", "stream"))

    @staticmethod
    def record_on(conn: Connection, entries: Sequence[LogEntry], now: float) -> None:
        """`record` inside a transaction the caller holds (`JobQueue.apply`)."""
        rows = log_rows(entries, now)
        if rows:
            upsert(conn, job_logs, rows, keys=("job_id", "stream"))

    def for_job(self, job_id: str) -> list[LogEntry]:
        """The job's log files, stdout, stderr, events order."""
        stmt = select(job_logs).where(job_logs.c.job_id == job_id)
        with self._engine.connect().execution_options(**read_options) as conn:
            found = [LogEntry(**row._mapping) for row in conn.execute(stmt)]
        rank = {s.value: i for i, s in enumerate(Stream)}
        return sorted(found, key=lambda e: rank.get(e.stream, len(rank)))

    def get(self, job_id: str, stream: str) -> LogEntry | None:
        return next((e for e in self.for_job(job_id) if e.stream == stream), None)


def log_rows(entries: Sequence[LogEntry], now: float | None) -> list[dict[str, object]]:
    """The `job_logs` rows of `entries`; ValueError naming an entry of an unknown stream."""
    when = time.time() if now is None else now
    streams = {s.value for s in Stream}
    rows: list[dict[str, object]] = []
    for entry in entries:
        if entry.stream not in streams:
            raise ValueError(
                f"log of job {entry.job_id}: unknown stream {entry.stream!r} "
                f"(one of {sorted(streams)})"
            )
        rows.append(
            {
                "job_id": entry.job_id,
                "stream": str(entry.stream),
                "path": entry.path,
                "size": int(entry.size),
                "cluster_name": entry.cluster_name,
                "updated_at": when if entry.updated_at is None else entry.updated_at,
            }
        )
    return rows
