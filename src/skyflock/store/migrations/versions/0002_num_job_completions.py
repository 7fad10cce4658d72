"""NumJobCompletions as a column of the queue and the history.

The count of runs that ended on their own (completed or retried) decides
`max_retries` (`NumJobCompletions <= JobMaxRetries`); as a column it survives
a manager restart instead of living only in the manager's memory.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("jobs", "history"):
        op.add_column(
            table,
            sa.Column("num_job_completions", sa.Integer, nullable=False, server_default="0"),
        )
