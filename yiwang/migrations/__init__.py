"""Versions of the SQL schema (`yiwang.schema`) as Alembic migrations, run from code: no alembic.ini.

`upgrade(engine)` brings a database to the newest revision; `yiwang run` (through `yiwang.store.open_store`) and
`yiwang db upgrade` call it. A fresh database gets its tables from the migrations, never from `create_all`. A
database made before the schema was versioned (yiwang up to commit 6524104, which had no alembic_version table) is
taken as revision 0001: that revision creates only the tables missing, so it stamps such a database as 0001 and the
later revisions run on it as on any other. A database at a revision this code does not know (upgraded by a newer
yiwang) is refused with SchemaError, before anything is written.

Adding a migration (every change to `yiwang/schema.py` needs one, in the same commit):

1. Change the tables in `yiwang/schema.py`.
2. `python -m yiwang.migrations "add change requests"` writes `versions/v0002_add_change_requests.py` (the next
   number), filled with what Alembic finds between `yiwang.schema` and a scratch SQLite database at the current head.
3. Read it and finish it by hand: autogenerate misses renames (it sees a drop and an add), server defaults and data;
   move data with `op.execute(...)` or `op.get_bind()`. Changes to existing tables go through
   `with op.batch_alter_table("name") as batch:` (on SQLite, where ALTER is limited, Alembic then copies the table;
   on PostgreSQL it is a plain ALTER). Constraints get their names from the MetaData's naming convention; use them.
4. `pytest tests/store` upgrades databases made by the first schema, on SQLite and PostgreSQL, and fails while the
   migrated database and `yiwang.schema` differ. Add rows of the new tables to its old-database checks if they move.

Revisions are numbered 0001, 0002, ... in one line (each `down_revision` is the one before). Never edit a migration
that has been released: add the next one.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import InterfaceError, OperationalError

from yiwang.schema import SchemaError, metadata

__all__ = ["SchemaError", "Upgrade", "config", "current", "head", "upgrade"]

SCRIPTS = Path(__file__).parent
# Upgrades on PostgreSQL take this advisory lock, so two processes starting at once do not both migrate.
_PG_LOCK = 0x796977616E67  # "yiwang"


class Upgrade(NamedTuple):
    before: str | None  # None: no revision (an empty database, or one made before versioning: see `unversioned`)
    after: str
    unversioned: bool  # the database had yiwang's tables but no revision: made before the schema was versioned


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> Upgrade:
    """Brings the database to the newest revision, in one transaction where the dialect allows (PostgreSQL)."""
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
            before = current(conn)
            known = {s.revision for s in ScriptDirectory.from_config(config()).walk_revisions()}
            if before is not None and before not in known:
                raise SchemaError(
                    f"the database {_safe(engine)} is at schema revision {before}, which this yiwang does not know "
                    f"(its newest is {head()}): a newer yiwang upgraded it. Run that version, or restore the "
                    "database from before the upgrade")
            unversioned = before is None and bool(set(metadata.tables) & set(inspect(conn).get_table_names()))
            command.upgrade(config(conn), "head")
            after = current(conn)
    except (OperationalError, InterfaceError) as exc:
        raise SchemaError(f"the database {_safe(engine)}: {exc.orig}") from None
    assert after is not None
    return Upgrade(before, after, unversioned)


def _safe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
