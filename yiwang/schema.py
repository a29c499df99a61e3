"""Every table yiwang keeps in SQL, under one MetaData: the store's and the configuration archive's.

SQLAlchemy Core, so SQLite (the embedded default) and PostgreSQL (production) share one schema. The database gets
these tables from the migrations in `yiwang.migrations`, never from `create_all`: a change here needs a migration
(that package's docstring says how), and a test fails until the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

# Names for the constraints tables may gain later, so that a migration can name them on every dialect (SQLite's
# batch mode needs names to drop or alter one). Indexes keep SQLAlchemy's default, which the first schema used.
metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
})

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


# The configuration archive's index: backup status per device and the versions committed to git.
archive_backup_status = Table(
    "archive_backup_status", metadata,
    Column("device", String(128), primary_key=True),
    Column("last_ok_at", Float, nullable=True),  # epoch seconds of the last successful backup
    Column("last_attempt_at", Float, nullable=False),
    Column("last_reason", String(32), nullable=False),  # ok | auth | timeout | dropped | hostkey-changed | ...
    Column("last_error", Text, nullable=False, default=""),
    Column("last_commit", String(64), nullable=True),  # the newest archived version; never cleared by a failure
)

archive_config_versions = Table(
    "archive_config_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(128), nullable=False, index=True),
    Column("commit", String(64), nullable=False),
    Column("time", Float, nullable=False),
)


# Who may sign in: local users (an Argon2id hash) and people from the directory (LDAP), whose row holds only what
# lockout and the last login need; their roles come from the directory at each login. Roles are comma-separated
# role names (yiwang.auth.roles).
users = Table(
    "users", metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", Text, nullable=True),  # null for directory users, and for a local user given none yet
    Column("roles", Text, nullable=False),
    Column("source", String(16), nullable=False),  # local | ldap
    Column("locked", Boolean, nullable=False, default=False),  # by an admin, until an admin unlocks it
    Column("locked_until", DateTime(timezone=True), nullable=True),  # after failed logins in a row
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("last_login_at", DateTime(timezone=True), nullable=True),
    Column("password_changed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# API tokens `yw_<id>_<secret>`: the id is public and the key; only an Argon2id hash of the secret is kept.
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(24), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("roles", Text, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


class SchemaError(RuntimeError):
    """The database cannot be given this code's schema: it is newer than the code, cannot be reached, or its driver
    is not installed."""


# Change jobs (yiwang.change.jobs): the job with its waves as JSON (computed once, at planning, so a resumed job
# finds the same waves), and one row per device with its state, its dry-run diff and the lines that undo it.
change_jobs = Table(
    "change_jobs", metadata,
    Column("id", String(16), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("area", String(200), nullable=False),
    Column("state", String(32), nullable=False, index=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_by", String(64), nullable=True),
    Column("current_wave", Integer, nullable=False),
    Column("waves", Text, nullable=False),
    Column("parameters", Text, nullable=False),
    Column("approvals", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # the process that runs the job's current wave ("host:pid") and when it last said so: a lease, so that a wave
    # is never run by two processes and one whose runner died is taken over
    Column("runner", String(200), nullable=True),
    Column("runner_seen", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
)

change_devices = Table(
    "change_devices", metadata,
    Column("job_id", String(16), primary_key=True),
    Column("device", String(200), primary_key=True),
    Column("wave", Integer, nullable=False),
    Column("state", String(32), nullable=False),
    Column("diff", Text, nullable=False),
    Column("commands", Text, nullable=False),
    Column("rollback", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


# Compliance runs (yiwang.compliance.history). A result is kept once for the runs over which it stayed the same:
# it holds from `first_run` until the run `until_run` found it otherwise (NULL: it still holds). A device's
# results change seldom between daily runs, so the city (~4,400 devices x 17 rules) adds only the changed rows per
# run, not 75k. No foreign keys: a result still holding keeps its `first_run` after that run is pruned.
compliance_runs = Table(
    "compliance_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", Float, nullable=False, index=True),  # epoch seconds
    Column("finished_at", Float, nullable=False),
    Column("trigger", String(16), nullable=False),  # backup | manual
    Column("devices", Integer, nullable=False),
    Column("rules", Integer, nullable=False),
    Column("failed", Integer, nullable=False),  # device x rule results that fail
    Column("changed", Integer, nullable=False),  # results that differ from the previous run's (rows written)
    Column("pack_digest", String(64), nullable=False),
)

compliance_results = Table(
    "compliance_results", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(128), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("area", String(200), nullable=False),
    Column("area_path", Text, nullable=False),  # "/city/county/…/area/": a subtree is a LIKE on "/id/"
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("evidence", Text, nullable=False),  # JSON list, as RuleResult.as_json gives it
    Column("remediation", Text, nullable=False),  # JSON list of lines
    Column("detail", Text, nullable=False),
    Column("exemption", Text, nullable=True),  # JSON, for `exempt`
    Column("first_run", Integer, nullable=False, index=True),
    Column("until_run", Integer, nullable=True, index=True),
    Index("ix_compliance_results_device_rule", "device", "rule"),
)

# The software version (and model) each device's SSH facts showed last (yiwang.versions), kept so that a
# compliance run from the command line can judge firmware-advisory: the latest samples live only in the memory
# of `yiwang run`. One row per device, rewritten by each SSH cycle that read its version.
device_versions = Table(
    "device_versions", metadata,
    Column("device", String(200), primary_key=True),
    Column("version", String(200), nullable=False),
    Column("model", String(200), nullable=False),  # "" when the facts named none
    Column("read_at", Float, nullable=False),  # epoch seconds: the SSH collector's sample time
)

# The audit trail in the database (yiwang.audit.sql), for cores on several machines sharing one PostgreSQL: each
# row keeps the record exactly as the file trail would write its line (`line`, canonical JSON, the hash covers it),
# so the file's chain check runs unchanged over the rows in seq order. The other columns are copies for the queries
# of `yiwang audit list`; what is shown and checked is read from `line`.
audit_records = Table(
    "audit_records", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("identity", String(200), nullable=False, index=True),
    Column("action", String(200), nullable=False),
    Column("outcome", String(200), nullable=False),
    Column("line", Text, nullable=False),
)

# The last record's seq and hash, written in the transaction of each append: audit.head's part, so that rows deleted
# from the end show (one row, id 1).
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Browser sessions (yiwang.auth.sql_sessions) when cores share a database, so that a standby core taking over keeps
# everybody signed in. Keyed by SHA-256 of the session id: the cookie's value is never stored.
api_sessions = Table(
    "api_sessions", metadata,
    Column("key", LargeBinary(32), primary_key=True),
    Column("name", String(64), nullable=False, index=True),
    Column("roles", Text, nullable=False),  # comma-separated role names
    Column("kind", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
)
