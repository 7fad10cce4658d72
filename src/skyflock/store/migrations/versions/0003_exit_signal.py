"""ExitSignal as a column of the queue and the history.

A run killed by a signal used to be stored as exit code 128+N, so the
history said `ExitCode = 137` where HTCondor's says `ExitBySignal = true`,
`ExitSignal = 9` and no ExitCode. The signal gets its own column; such a
run's `exit_code` is NULL. Rows written before keep their code: nothing
tells a 137 a job returned from one a signal caused.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("jobs", "history"):
        op.add_column(table, sa.Column("exit_signal", sa.Integer, nullable=True))
