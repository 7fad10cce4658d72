"""Alembic's environment: runs the revisions on the connection we are handed.

`store.migrations.upgrade_to_head` puts an open connection (inside a
transaction) into the config's attributes; there is no offline mode.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through skyflock.store.migrations.upgrade_to_head(engine)")

context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
