"""Alembic's environment for yiwang: run from code only (`yiwang.migrations`), on the connection handed over in
`config.attributes["connection"]`, inside the caller's transaction."""

from __future__ import annotations

from alembic import context

from yiwang.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place: batch operations copy the table, on SQLite only
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
