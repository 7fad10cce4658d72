"""Putting a new cluster of jobs into the queue: ClusterIds and the bulk insert.

A submit is one transaction: the ClusterId (the next one, or one reserved
earlier with `JobQueue.new_cluster_id`), the cluster ad row, one `jobs` row
per proc and one `submitted` event per job (plus a `held` event, HoldReasonCode
15, per job whose ad says `JobStatus = 5`: submit `hold = true`). When every proc has the same hot
column values (the usual case: no proc overrides Owner, AccountingGroup,
JobPrio...), the rows are sent with those columns as constants of the
statement (`engine.bulk_insert_constant`: three values per row instead of
sixteen), and the events are written by the database itself from the new
rows (INSERT ... SELECT), so no per-job Python work is left but the proc
ad's text. Neighbours: `store.jobs` (the `submit*` methods), `store.submit_codec`
(the texts), `store.engine` (the bulk insert of each database).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import Connection, Double, Integer, String, insert, literal, select, update

from skyflock.store.engine import bulk_insert, bulk_insert_constant
from skyflock.store.events import EventKind
from skyflock.store.records import JobStatus, NewJob, Substate
from skyflock.store.schema import cluster_ads, counters, events, jobs
from skyflock.store.selection import chunks

INSERT_BATCH: Final = 20_000
"""Rows per bulk statement of a submit (bounds the memory of one statement)."""

_JOB_COLUMNS: Final = (
    "id",
    "cluster_id",
    "proc_id",
    "status",
    "substate",
    "owner",
    "submitter",
    "acct_group",
    "job_prio",
    "q_date",
    "workflow_id",
    "step_name",
    "num_job_starts",
    "wall_clock",
    "entered_status_at",
    "hold_reason",
    "hold_reason_code",
    "ad",
)
_IDLE: Final = int(JobStatus.IDLE)
_HELD: Final = int(JobStatus.HELD)
SUBMITTED_ON_HOLD: Final = 15
"""HTCondor's HoldReasonCode of a job submitted on hold (`hold = true`)."""
SUBMITTED_ON_HOLD_REASON: Final = "submitted on hold"
_NONE: Final = Substate.NONE.value


def next_cluster_id(conn: Connection) -> int:
    """Allocate a ClusterId: an atomic increment of the counter row."""
    stmt = (
        update(counters)
        .where(counters.c.name == "cluster_id")
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    )
    return int(conn.execute(stmt).scalar_one())


def check_reserved(conn: Connection, cluster_id: int) -> None:
    """Raise ValueError unless `cluster_id` was reserved and is still unused."""
    last = conn.execute(
        select(counters.c.value).where(counters.c.name == "cluster_id").with_for_update()
    ).scalar_one()
    if not 0 < cluster_id <= last:
        raise ValueError(f"cluster {cluster_id} was not reserved with new_cluster_id()")
    used = conn.execute(
        select(cluster_ads.c.cluster_id).where(cluster_ads.c.cluster_id == cluster_id)
    ).one_or_none()
    if used is not None:
        raise ValueError(f"cluster {cluster_id} has already been submitted")


def insert_cluster(
    conn: Connection,
    cluster_id: int,
    cluster_text: str,
    texts: Sequence[str],
    hot: NewJob | Sequence[NewJob],
    when: float,
) -> tuple[str, ...]:
    """Insert the cluster ad, the jobs (ProcIds 0..N-1, Idle) and their
    `submitted` events; returns the job ids. `hot`: one `NewJob` whose values
    every job shares, or one per job (then `texts` are their `ad_text`s)."""
    conn.execute(insert(cluster_ads).values(cluster_id=cluster_id, ad=cluster_text))
    ids = tuple(f"{cluster_id}.{proc}" for proc in range(len(texts)))
    if isinstance(hot, NewJob):
        constants = {
            "cluster_id": cluster_id,
            "status": _IDLE,
            "substate": _NONE,
            "owner": hot.owner,
            "submitter": hot.submitter,
            "acct_group": hot.acct_group,
            "job_prio": hot.job_prio,
            "q_date": when if hot.q_date is None else float(hot.q_date),
            "workflow_id": hot.workflow_id,
            "step_name": hot.step_name,
            "num_job_starts": 0,
            "wall_clock": 0.0,
            "entered_status_at": when,
            "hold_reason": SUBMITTED_ON_HOLD_REASON if hot.held else None,
            "hold_reason_code": SUBMITTED_ON_HOLD if hot.held else None,
        }
        if hot.held:
            constants["status"] = _HELD
        rows = list(zip(ids, range(len(texts)), texts, strict=True))
        for part in chunks(rows, INSERT_BATCH):
            bulk_insert_constant(conn, jobs, ("id", "proc_id", "ad"), constants, part)
    else:
        full = [
            (
                job_id,
                cluster_id,
                proc,
                _HELD if job.held else _IDLE,
                _NONE,
                job.owner,
                job.submitter,
                job.acct_group,
                job.job_prio,
                when if job.q_date is None else job.q_date,
                job.workflow_id,
                job.step_name,
                0,
                0.0,
                when,
                SUBMITTED_ON_HOLD_REASON if job.held else None,
                SUBMITTED_ON_HOLD if job.held else None,
                job.ad_text,
            )
            for proc, (job_id, job) in enumerate(zip(ids, hot, strict=True))
        ]
        for chunk in chunks(full, INSERT_BATCH):
            bulk_insert(conn, jobs, _JOB_COLUMNS, chunk)
    # One `submitted` event per job, in ProcId order, made by the database.
    new_rows = (
        select(
            jobs.c.id,
            literal(when, Double()),
            literal(str(EventKind.SUBMITTED), String()),
        )
        .where(jobs.c.cluster_id == cluster_id)
        .order_by(jobs.c.proc_id)
    )
    conn.execute(insert(events).from_select(["job_id", "time", "kind"], new_rows))
    if hot.held if isinstance(hot, NewJob) else any(job.held for job in hot):
        held_rows = (
            select(
                jobs.c.id,
                literal(when, Double()),
                literal(str(EventKind.HELD), String()),
                literal(SUBMITTED_ON_HOLD, Integer()),
                literal(SUBMITTED_ON_HOLD_REASON, String()),
            )
            .where(jobs.c.cluster_id == cluster_id, jobs.c.status == _HELD)
            .order_by(jobs.c.proc_id)
        )
        conn.execute(
            insert(events).from_select(["job_id", "time", "kind", "code", "message"], held_rows)
        )
    return ids
