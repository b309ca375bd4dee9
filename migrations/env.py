"""Alembic environment: run programmatically by `projections.migrate.upgrade` on a live connection.

It never opens connections of its own; the caller passes one in `config.attributes`.
"""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only run programmatically
    raise RuntimeError("run migrations through projections.migrate.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=None,
    version_table="pl_alembic_version",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
