"""The schema as yiwang created it with create_all before it was versioned (commit 6524104): the store's tables and
the configuration archive's index.

Such a database has no alembic_version table and holds any subset of these tables (the old code created the missing
ones at each start, and no column ever changed), so this revision creates only the tables that are missing: on such a
database it amounts to stamping it 0001, on an empty one it creates everything.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _poll_health() -> None:
    op.create_table(
        "poll_health",
        sa.Column("device", sa.String(200), primary_key=True),
        sa.Column("collector", sa.String(32), primary_key=True),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("varbinds", sa.Integer, nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ok_at", sa.DateTime(timezone=True)),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
    )


def _alert_state() -> None:
    op.create_table(
        "alert_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def _alert_history() -> None:
    op.create_table(
        "alert_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("notify", sa.Boolean, nullable=False),
        sa.Column("held", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_alert_history_at", "alert_history", ["at"])
    op.create_index("ix_alert_history_fingerprint", "alert_history", ["fingerprint"])


def _silences() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("starts_ns", sa.BigInteger, nullable=False),
        sa.Column("ends_ns", sa.BigInteger, nullable=False),
        sa.Column("area", sa.String(200)),
        sa.Column("device", sa.String(200)),
        sa.Column("rule", sa.String(200)),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_silences_ends_ns", "silences", ["ends_ns"])


def _acks() -> None:
    op.create_table(
        "acks",
        sa.Column("fingerprint", sa.String(32), primary_key=True),
        sa.Column("at_ns", sa.BigInteger, primary_key=True),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
    )


def _security_events() -> None:
    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("device", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_security_events_at", "security_events", ["at"])


def _archive_backup_status() -> None:
    op.create_table(
        "archive_backup_status",
        sa.Column("device", sa.String(128), primary_key=True),
        sa.Column("last_ok_at", sa.Float, nullable=True),
        sa.Column("last_attempt_at", sa.Float, nullable=False),
        sa.Column("last_reason", sa.String(32), nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("last_commit", sa.String(64), nullable=True),
    )


def _archive_config_versions() -> None:
    op.create_table(
        "archive_config_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(128), nullable=False),
        sa.Column("commit", sa.String(64), nullable=False),
        sa.Column("time", sa.Float, nullable=False),
    )
    op.create_index("ix_archive_config_versions_device", "archive_config_versions", ["device"])


TABLES: dict[str, Callable[[], None]] = {
    "poll_health": _poll_health,
    "alert_state": _alert_state,
    "alert_history": _alert_history,
    "silences": _silences,
    "acks": _acks,
    "security_events": _security_events,
    "archive_backup_status": _archive_backup_status,
    "archive_config_versions": _archive_config_versions,
}


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():
        if name not in present:
            create()


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
