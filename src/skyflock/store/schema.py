"""The store's tables, declared once with SQLAlchemy Core.

The queue (`jobs`) and the finished jobs (`history`) have the same columns:
the job's ClassAd as text (its own attributes; those it shares with the other
jobs of its submit are in `cluster_ads`, as in HTCondor's schedd) plus the
hot attributes as indexed columns, so
that the manager's bulk transitions and the common queries never parse an
ad. A job lives in exactly one row of exactly one of the two tables; moving
it to `history` is an INSERT ... SELECT and a DELETE in one transaction.

`events` is the per-job event log, `job_logs` the index of each job's log
files, `accounting_usage`/`submitter_settings`/`accounting_meta` the fair-share
state, `clusters`/`slots` the federation registry and `counters` the
ClusterId allocator.

The migrations in `store.migrations` create exactly these tables; a test
compares the migrated database with this metadata.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    true,
)

metadata: Final = MetaData()

NAME = String(255)
"""Owners, submitters, groups, clusters, slots: short names."""

ID = BigInteger().with_variant(Integer(), "sqlite")
"""An autoincrement key (SQLite only autoincrements INTEGER PRIMARY KEY)."""


def _job_columns() -> list[Column[object]]:
    """The columns shared by `jobs` and `history` (fresh objects per table)."""
    return [
        Column("id", String(32), primary_key=True),  # ClusterId.ProcId
        Column("cluster_id", Integer, nullable=False),
        Column("proc_id", Integer, nullable=False),
        Column("status", SmallInteger, nullable=False),  # JobStatus 1..5
        Column("substate", String(16), nullable=False, server_default=""),
        Column("owner", NAME, nullable=False),
        Column("submitter", NAME, nullable=False),
        Column("acct_group", NAME),
        Column("job_prio", Integer, nullable=False, server_default="0"),
        Column("q_date", Double, nullable=False),
        Column("workflow_id", NAME),
        Column("step_name", NAME),
        Column("cluster_name", NAME),  # the cluster it runs or last ran on
        Column("slot_id", NAME),
        Column("claim_cpus", Integer),
        Column("claim_memory", BigInteger),
        Column("claim_disk", BigInteger),
        Column("claim_gpus", Integer),
        Column("handle", String(1024)),  # the backend's id of the running process
        Column("hold_reason", Text),
        Column("hold_reason_code", Integer),
        Column("hold_reason_subcode", Integer),
        Column("num_job_starts", Integer, nullable=False, server_default="0"),
        Column("num_job_completions", Integer, nullable=False, server_default="0"),
        Column("exit_code", Integer),  # NULL when a signal ended the last run
        Column("exit_signal", Integer),  # the signal that ended it (ExitBySignal)
        Column("entered_status_at", Double, nullable=False),
        Column("job_start_date", Double),
        Column("job_current_start_date", Double),
        Column("wall_clock", Double, nullable=False, server_default="0"),
        Column("completion_date", Double),
        Column("ad", Text, nullable=False),  # the proc ad: this job's own attributes
    ]


jobs: Final = Table(
    "jobs",
    metadata,
    *_job_columns(),
    Index("ix_jobs_cluster_proc", "cluster_id", "proc_id", unique=True),
    Index("ix_jobs_status", "status", "substate"),
    Index("ix_jobs_owner", "owner"),
    Index("ix_jobs_submitter", "submitter"),
    Index("ix_jobs_workflow", "workflow_id"),
    Index("ix_jobs_cluster_name", "cluster_name"),
)

history: Final = Table(
    "history",
    metadata,
    *_job_columns(),
    Index("ix_history_cluster_proc", "cluster_id", "proc_id", unique=True),
    Index("ix_history_finished", "entered_status_at"),
    Index("ix_history_owner", "owner", "entered_status_at"),
    Index("ix_history_submitter", "submitter", "entered_status_at"),
    Index("ix_history_workflow", "workflow_id"),
)

JOB_COLUMNS: Final = tuple(c.name for c in jobs.columns)

cluster_ads: Final = Table(
    "cluster_ads",
    metadata,
    Column("cluster_id", Integer, primary_key=True, autoincrement=False),
    Column("ad", Text, nullable=False),  # attributes all procs share; a job's `ad` overrides
)

events: Final = Table(
    "events",
    metadata,
    Column("seq", ID, primary_key=True, autoincrement=True),
    Column("job_id", String(32), nullable=False),
    Column("time", Double, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("cluster_name", NAME),
    Column("slot_id", NAME),
    Column("code", Integer),  # HoldReasonCode or exit code
    Column("subcode", Integer),
    Column("message", Text),
    Index("ix_events_job", "job_id", "seq"),
)

job_logs: Final = Table(
    "job_logs",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("stream", String(16), primary_key=True),  # stdout, stderr or events
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False, server_default="0"),
    Column("cluster_name", NAME),
    Column("updated_at", Double, nullable=False),
)

counters: Final = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

accounting_usage: Final = Table(
    "accounting_usage",
    metadata,
    Column("submitter", NAME, primary_key=True),
    Column("real_priority", Double, nullable=False),
    Column("accumulated_usage", Double, nullable=False),
)

accounting_meta: Final = Table(
    "accounting_meta",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_update", Double),
)

submitter_settings: Final = Table(
    "submitter_settings",
    metadata,
    Column("submitter", NAME, primary_key=True),
    Column("priority_factor", Double),
    Column("floor", Double),
    Column("ceiling", Double),
)

clusters: Final = Table(
    "clusters",
    metadata,
    Column("name", NAME, primary_key=True),
    Column("kind", String(16), nullable=False),  # local, kubernetes or agents
    Column("tier", Integer, nullable=False, server_default="0"),
    Column("cost", Double, nullable=False, server_default="0"),
    Column("caps", JSON, nullable=False),
    Column("config", JSON, nullable=False),
    Column("cordoned", Boolean, nullable=False, server_default=false()),
    Column("healthy", Boolean, nullable=False, server_default=true()),
    Column("health_message", Text, nullable=False, server_default=""),
    Column("last_heartbeat", Double),
)

slots: Final = Table(
    "slots",
    metadata,
    Column("id", NAME, primary_key=True),
    Column(
        "cluster_name",
        NAME,
        ForeignKey("clusters.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("ad", Text, nullable=False),
    Column("updated_at", Double, nullable=False),
    Index("ix_slots_cluster", "cluster_name"),
)
