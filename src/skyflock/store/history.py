"""Finished jobs: the Completed and Removed jobs moved out of the queue.

`JobQueue.complete`, `remove` and `vacated` move a finished job's row here
in the same transaction that finishes it, so the queue stays small and fast
however long the history grows, and history reads never scan the queue.
Reads come newest first (by the time the job finished).

Neighbours: `store.jobs` writes it; `store.selection` builds the reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from skyflock.store.engine import read_options
from skyflock.store.records import JobRecord
from skyflock.store.schema import history
from skyflock.store.selection import Selection, fetch


class History:
    """Queries over finished jobs, newest first."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, job_id: str) -> JobRecord | None:
        found = self.query(Selection(ids=[job_id]))
        return found[0] if found else None

    def query(self, selection: Selection | None = None, **filters: Any) -> list[JobRecord]:
        """Finished jobs, newest first. Pass a `Selection` or its fields:
        ``query(owner="alice", constraint="ExitCode != 0", limit=20)``.
        """
        sel = selection if selection is not None else Selection(**filters)
        with self._engine.connect().execution_options(**read_options) as conn:
            return fetch(conn, history, sel, newest_first=True)

    def count(self) -> int:
        with self._engine.connect().execution_options(**read_options) as conn:
            return int(conn.execute(select(func.count()).select_from(history)).scalar_one())
