"""The initial schema: queue, history, events, log index, accounting, clusters.

Revision ID: 0001
Revises: -
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_NAME = sa.String(255)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _job_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("cluster_id", sa.Integer, nullable=False),
        sa.Column("proc_id", sa.Integer, nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("substate", sa.String(16), nullable=False, server_default=""),
        sa.Column("owner", _NAME, nullable=False),
        sa.Column("submitter", _NAME, nullable=False),
        sa.Column("acct_group", _NAME),
        sa.Column("job_prio", sa.Integer, nullable=False, server_default="0"),
        sa.Column("q_date", sa.Double, nullable=False),
        sa.Column("workflow_id", _NAME),
        sa.Column("step_name", _NAME),
        sa.Column("cluster_name", _NAME),
        sa.Column("slot_id", _NAME),
        sa.Column("claim_cpus", sa.Integer),
        sa.Column("claim_memory", sa.BigInteger),
        sa.Column("claim_disk", sa.BigInteger),
        sa.Column("claim_gpus", sa.Integer),
        sa.Column("handle", sa.String(1024)),
        sa.Column("hold_reason", sa.Text),
        sa.Column("hold_reason_code", sa.Integer),
        sa.Column("hold_reason_subcode", sa.Integer),
        sa.Column("num_job_starts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("exit_code", sa.Integer),
        sa.Column("entered_status_at", sa.Double, nullable=False),
        sa.Column("job_start_date", sa.Double),
        sa.Column("job_current_start_date", sa.Double),
        sa.Column("wall_clock", sa.Double, nullable=False, server_default="0"),
        sa.Column("completion_date", sa.Double),
        sa.Column("ad", sa.Text, nullable=False),
    ]


def upgrade() -> None:
    op.create_table("jobs", *_job_columns())
    op.create_index("ix_jobs_cluster_proc", "jobs", ["cluster_id", "proc_id"], unique=True)
    op.create_index("ix_jobs_status", "jobs", ["status", "substate"])
    op.create_index("ix_jobs_owner", "jobs", ["owner"])
    op.create_index("ix_jobs_submitter", "jobs", ["submitter"])
    op.create_index("ix_jobs_workflow", "jobs", ["workflow_id"])
    op.create_index("ix_jobs_cluster_name", "jobs", ["cluster_name"])

    op.create_table("history", *_job_columns())
    op.create_index("ix_history_cluster_proc", "history", ["cluster_id", "proc_id"], unique=True)
    op.create_index("ix_history_finished", "history", ["entered_status_at"])
    op.create_index("ix_history_owner", "history", ["owner", "entered_status_at"])
    op.create_index("ix_history_submitter", "history", ["submitter", "entered_status_at"])
    op.create_index("ix_history_workflow", "history", ["workflow_id"])

    op.create_table(
        "cluster_ads",
        sa.Column("cluster_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ad", sa.Text, nullable=False),
    )

    op.create_table(
        "events",
        sa.Column("seq", _ID, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("time", sa.Double, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("cluster_name", _NAME),
        sa.Column("slot_id", _NAME),
        sa.Column("code", sa.Integer),
        sa.Column("subcode", sa.Integer),
        sa.Column("message", sa.Text),
    )
    op.create_index("ix_events_job", "events", ["job_id", "seq"])

    op.create_table(
        "job_logs",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("stream", sa.String(16), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cluster_name", _NAME),
        sa.Column("updated_at", sa.Double, nullable=False),
    )

    op.create_table(
        "counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(
        sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger)),
        [{"name": "cluster_id", "value": 0}],
    )

    op.create_table(
        "accounting_usage",
        sa.Column("submitter", _NAME, primary_key=True),
        sa.Column("real_priority", sa.Double, nullable=False),
        sa.Column("accumulated_usage", sa.Double, nullable=False),
    )
    op.create_table(
        "accounting_meta",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_update", sa.Double),
    )
    op.create_table(
        "submitter_settings",
        sa.Column("submitter", _NAME, primary_key=True),
        sa.Column("priority_factor", sa.Double),
        sa.Column("floor", sa.Double),
        sa.Column("ceiling", sa.Double),
    )

    op.create_table(
        "clusters",
        sa.Column("name", _NAME, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tier", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cost", sa.Double, nullable=False, server_default="0"),
        sa.Column("caps", sa.JSON, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("cordoned", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("healthy", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("health_message", sa.Text, nullable=False, server_default=""),
        sa.Column("last_heartbeat", sa.Double),
    )
    op.create_table(
        "slots",
        sa.Column("id", _NAME, primary_key=True),
        sa.Column(
            "cluster_name",
            _NAME,
            sa.ForeignKey("clusters.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("ad", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_index("ix_slots_cluster", "slots", ["cluster_name"])


def downgrade() -> None:
    for table in (
        "slots",
        "clusters",
        "submitter_settings",
        "accounting_meta",
        "accounting_usage",
        "counters",
        "job_logs",
        "events",
        "cluster_ads",
        "history",
        "jobs",
    ):
        op.drop_table(table)
