"""The SQL schema as it stood before it was versioned (commit 6524104), frozen: the table definitions of the old
`yiwang/store.py` and `yiwang/archive/index.py`, copied verbatim, each module with its own MetaData as then.

`create(url)` makes a database as that code did (create_all on both), for the upgrade tests. Never edit this file:
it stands for databases already out there.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
)

# ---- yiwang/store.py at 6524104
metadata = MetaData()

poll_health = Table(
    "poll_health",
    metadata,
    Column("device", String(200), primary_key=True),
    Column("collector", String(32), primary_key=True),
    Column("ok", Boolean, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("error", Text, nullable=False, default=""),
    Column("duration_s", Float, nullable=False),
    Column("varbinds", Integer, nullable=False),
    Column("polled_at", DateTime(timezone=True), nullable=False),
    Column("last_ok_at", DateTime(timezone=True)),
    Column("consecutive_failures", Integer, nullable=False, default=0),
)


# The alert engine's whole state as one JSON document: small (one record per alert), written once a cycle,
# and read once at start, so a restart mid-incident neither re-sends nor forgets.
alert_state = Table(
    "alert_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("state", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

alert_history = Table(
    "alert_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("fingerprint", String(32), nullable=False, index=True),
    Column("rule", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("notify", Boolean, nullable=False),
    Column("held", String(32), nullable=False),
    Column("detail", Text, nullable=False),  # the whole transition as JSON
)


# Silences and maintenance windows (a maintenance window is a silence planned ahead) and acknowledgements:
# written by the API or the CLI, read by the alert stage every cycle.
silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # silence | maintenance
    Column("starts_ns", BigInteger, nullable=False),
    Column("ends_ns", BigInteger, nullable=False, index=True),
    Column("area", String(200)),
    Column("device", String(200)),
    Column("rule", String(200)),
    Column("comment", Text, nullable=False, default=""),
    Column("created_by", String(200), nullable=False, default=""),
)

acks = Table(
    "acks",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
    Column("at_ns", BigInteger, primary_key=True),
    Column("by", String(200), nullable=False, default=""),
    Column("comment", Text, nullable=False, default=""),
)


security_events = Table(
    "security_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("device", String(200), nullable=False),
    Column("source", String(200), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)


# ---- yiwang/archive/index.py at 6524104
archive_metadata = MetaData()

backup_status = Table(
    "archive_backup_status", archive_metadata,
    Column("device", String(128), primary_key=True),
    Column("last_ok_at", Float, nullable=True),  # epoch seconds of the last successful backup
    Column("last_attempt_at", Float, nullable=False),
    Column("last_reason", String(32), nullable=False),  # ok | auth | timeout | dropped | hostkey-changed | ...
    Column("last_error", Text, nullable=False, default=""),
    Column("last_commit", String(64), nullable=True),  # the newest archived version; never cleared by a failure
)

config_versions = Table(
    "archive_config_versions", archive_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(128), nullable=False, index=True),
    Column("commit", String(64), nullable=False),
    Column("time", Float, nullable=False),
)


def create(url: str) -> None:
    engine = create_engine(url)
    try:
        metadata.create_all(engine)
        archive_metadata.create_all(engine)
    finally:
        engine.dispose()
