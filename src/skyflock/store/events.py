"""The per-job event log: what happened to each job, in order.

Every transition of `store.jobs` writes its event rows in the same
transaction as the state change, so the log and the queue never disagree.
Kinds (`EventKind`) follow HTCondor's user log: submitted, matched (slot and
cluster), started, preempted (reason), evicted (reason), held
(HoldReasonCode, subcode and text), released, retried (exit code), completed
(exit code), removed, vacated, edited, plus any note a backend records.
A run killed by a signal has no exit code: its completed or retried event says
"killed by signal 9 (SIGKILL)" (`exit_message`). Messages are for people: a
started event names the process (`started_message`), not the backend's handle.
Events stay when their job moves to the history.

Neighbours: `store.jobs` writes through `event_row`/`write_events`; the API
reads `EventLog.for_job` and follows `EventLog.since`.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from skyflock.store.engine import read_options
from skyflock.store.schema import events


class EventKind(StrEnum):
    SUBMITTED = "submitted"
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    STARTED = "started"
    PREEMPTED = "preempted"
    EVICTED = "evicted"
    HELD = "held"
    RELEASED = "released"
    RETRIED = "retried"
    COMPLETED = "completed"
    REMOVED = "removed"
    VACATED = "vacated"
    EDITED = "edited"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One line of a job's event log."""

    seq: int
    """Increases with every event written: the order, and a cursor for `since`."""
    job_id: str
    time: float
    kind: str
    cluster_name: str | None = None
    slot_id: str | None = None
    code: int | None = None
    """HoldReasonCode for `held`, the exit code for `completed`/`retried`
    (None when a signal ended the run: the message names it)."""
    subcode: int | None = None
    message: str | None = None


def event_row(
    job_id: str,
    kind: str,
    now: float,
    *,
    cluster_name: str | None = None,
    slot_id: str | None = None,
    code: int | None = None,
    subcode: int | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """A row for `write_events` (all keys always present, for executemany)."""
    return {
        "job_id": job_id,
        "time": now,
        "kind": str(kind),
        "cluster_name": cluster_name,
        "slot_id": slot_id,
        "code": code,
        "subcode": subcode,
        "message": message,
    }


def signal_text(number: int) -> str:
    """'signal 9 (SIGKILL)', or 'signal 70' for a number with no name here."""
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def exit_message(exit_signal: int | None, reason: str | None = None) -> str | None:
    """The message of a completed/retried event: the signal that killed the run
    (its exit code goes in `code`), then `reason` when one is given."""
    parts = [f"killed by {signal_text(exit_signal)}"] if exit_signal is not None else []
    if reason:
        parts.append(reason)
    return "; ".join(parts) or None


def started_message(handle: str | None) -> str | None:
    """What a started event tells a person about the process: its pid.

    `handle` is the backend's handle of the process as the queue keeps it for
    recovery: a JSON object with a `pid` (the local cluster) or a plain name
    (a pod, say), which is readable as it is. Returns None when it names no
    process (a run found already ended after a restart has pid 0).
    """
    if not handle:
        return None
    try:
        parsed = json.loads(handle)
    except ValueError:
        return handle
    if not isinstance(parsed, dict):
        return handle
    pid = parsed.get("pid")
    if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0:
        return f"pid {pid}"
    return None


def write_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(events), list(rows))


def _record(row: Any) -> EventRecord:
    return EventRecord(**row._mapping)


class EventLog:
    """Reads the event log, and appends notes that are not state changes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def for_job(self, job_id: str) -> list[EventRecord]:
        """The job's events, oldest first."""
        stmt = select(events).where(events.c.job_id == job_id).order_by(events.c.seq)
        with self._engine.connect().execution_options(**read_options) as conn:
            return [_record(r) for r in conn.execute(stmt)]

    def since(
        self, after_seq: int = 0, *, job_ids: Iterable[str] | None = None, limit: int = 1000
    ) -> list[EventRecord]:
        """Events written after `after_seq` (oldest first): for following the log."""
        stmt = select(events).where(events.c.seq > after_seq)
        if job_ids is not None:
            stmt = stmt.where(events.c.job_id.in_(list(job_ids)))
        stmt = stmt.order_by(events.c.seq).limit(limit)
        with self._engine.connect().execution_options(**read_options) as conn:
            return [_record(r) for r in conn.execute(stmt)]

    def note(
        self,
        job_ids: Sequence[str],
        message: str,
        *,
        kind: str = EventKind.NOTE,
        now: float | None = None,
    ) -> None:
        """Append a note (a backend's warning, say) to these jobs' logs."""
        when = time.time() if now is None else now
        with self._engine.begin() as conn:
            write_events(conn, [event_row(j, kind, when, message=message) for j in job_ids])
