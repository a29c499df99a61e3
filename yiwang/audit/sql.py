"""The audit trail in the SQL store, for cores on several machines that share one PostgreSQL (issue 15).

The same records, the same hash chain and the same check as the file trail (`yiwang.audit.trail`): each row holds
the record's canonical JSON line, `verify_lines` checks the rows in seq order, and the one-row `audit_head` table
plays audit.head's part. Appends from any number of processes and machines are serialised by the database: a
transaction-level advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite; the seq primary key refuses a second
record at the same place should anything get past them. In messages, "line N" is the N-th row in seq order.

A forwarder (syslog) gets each record after its transaction committed, in the order of the chain within a process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, make_url, or_, select, text

from yiwang.audit.chain import (
    GENESIS,
    AuditEvent,
    AuditRecord,
    Head,
    Verification,
    canonical,
    chain_hash,
    parse_record,
    verify_lines,
)
from yiwang.audit.trail import AuditTrail, Forwarder, Trail, event_fields, matches
from yiwang.config import Settings
from yiwang.schema import audit_head, audit_records

__all__ = ["SqlAuditTrail", "open_trail", "trail_in_database"]

_PG_LOCK = 0x7969_7761_6E67_61  # "yiwanga": not the migrations' lock
_HEAD_ID = 1


class SqlAuditTrail:
    """The trail whose records are rows. Implements `yiwang.audit.trail.Trail`: the API and the command line use
    either without knowing which."""

    def __init__(self, engine: Engine, forwarder: Forwarder | None = None, owns_engine: bool = False) -> None:
        self.engine = engine
        self.forwarder = forwarder
        self._owns_engine = owns_engine
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"the database {self.engine.url.render_as_string(hide_password=True)}"

    def append(self, event: AuditEvent) -> AuditRecord:
        fields = event_fields(event)
        with self._lock:
            with self.engine.connect() as conn:
                _serialise(conn)
                seq, prev = _tail(conn)
                now = datetime.now(UTC)
                body = {**fields, "seq": seq + 1, "prev": prev, "time": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
                record = AuditRecord(**body, hash=chain_hash(prev, body))
                conn.execute(audit_records.insert(), {
                    "seq": record.seq, "at": now, "identity": record.identity[:200], "action": record.action[:200],
                    "outcome": record.outcome[:200], "line": canonical(record.as_dict())})
                head = {"seq": record.seq, "hash": record.hash}
                if conn.execute(audit_head.update().where(audit_head.c.id == _HEAD_ID), head).rowcount == 0:
                    conn.execute(audit_head.insert(), {"id": _HEAD_ID, **head})
                conn.commit()
            if self.forwarder is not None:  # inside the thread lock, so the copies leave in the chain's order
                self.forwarder.send(record)
        return record

    def records(self, since: datetime | None = None, until: datetime | None = None, identity: str | None = None,
                action: str | None = None, outcome: str | None = None, limit: int | None = 100
                ) -> list[AuditRecord]:
        """As `AuditTrail.records`. The query narrows by the copied columns; each record is then checked again as
        read from its line, which is what is shown."""
        if limit is not None and limit <= 0:
            return []
        query = select(audit_records.c.line).order_by(audit_records.c.seq.desc())
        since_utc = since.astimezone(UTC) if since else None
        until_utc = until.astimezone(UTC) if until else None
        if since_utc is not None:
            query = query.where(audit_records.c.at >= since_utc)
        if until_utc is not None:
            query = query.where(audit_records.c.at < until_utc)
        if identity is not None:
            query = query.where(audit_records.c.identity == identity)
        if action is not None:
            query = query.where(func.substr(audit_records.c.action, 1, len(action)) == action)
        if outcome is not None:
            query = query.where(or_(audit_records.c.outcome == outcome,
                                    func.substr(audit_records.c.outcome, 1, len(outcome) + 1) == outcome + ":"))
        found: list[AuditRecord] = []
        with self.engine.connect() as conn:
            for (line,) in conn.execution_options(yield_per=500).execute(query):
                try:
                    record = parse_record(line.encode("utf-8"))
                except ValueError:
                    continue
                if not matches(record, since_utc, until_utc, identity, action, outcome):
                    continue
                found.append(record)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def verify(self) -> Verification:
        """The chain up to the head as it stood when the check began: the head is written in the transaction of its
        record, so every row up to it is committed, and rows appended meanwhile are beyond it."""
        with self.engine.connect() as conn:
            row = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == _HEAD_ID)).first()
            head = None if row is None else Head(row.seq, row.hash)
            query = select(audit_records.c.line).order_by(audit_records.c.seq)
            if head is not None:
                query = query.where(audit_records.c.seq <= head.seq)
            lines = conn.execution_options(yield_per=1000).execute(query)
            return verify_lines(_encoded(line for (line,) in lines), head)

    def __enter__(self) -> SqlAuditTrail:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()
        if self.forwarder is not None:
            self.forwarder.close()


def _serialise(conn: Connection) -> None:
    """Begins the append's transaction holding the trail's one writer lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, not at the insert after reading the tail


def _tail(conn: Connection) -> tuple[int, str]:
    """Where the chain ends: the head, or the last row when it is further on (the head was lost). A last row that
    is no record keeps the head's hash, so the break stays visible to `verify`."""
    row = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == _HEAD_ID)).first()
    seq, digest = (row.seq, row.hash) if row is not None else (0, GENESIS)
    last = conn.execute(select(audit_records.c.seq, audit_records.c.line)
                        .order_by(audit_records.c.seq.desc()).limit(1)).first()
    if last is not None and last.seq > seq:
        try:
            record = parse_record(last.line.encode("utf-8"))
            seq, digest = record.seq, record.hash
        except ValueError:
            seq = last.seq
    return seq, digest


def _encoded(lines: Iterator[str]) -> Iterator[bytes]:
    for line in lines:
        yield line.encode("utf-8", "surrogatepass")


def trail_in_database(settings: Settings) -> bool:
    """`audit.store` when set; otherwise the database when it is PostgreSQL (shared by cores on several machines)
    and the file beside the state when it is SQLite (one machine)."""
    if settings.audit.store is not None:
        return settings.audit.store == "database"
    return make_url(settings.database).get_backend_name() == "postgresql"


def open_trail(settings: Settings, forwarder: Forwarder | None = None, engine: Engine | None = None) -> Trail:
    """The trail the settings choose. `engine`: the store's, when one is open; otherwise the store is opened (its
    schema brought up to date) and closed with the trail."""
    if not trail_in_database(settings):
        return AuditTrail(settings.audit_path, forwarder)
    if engine is not None:
        return SqlAuditTrail(engine, forwarder)
    from yiwang.store import open_store

    return SqlAuditTrail(open_store(settings.database).engine, forwarder, owns_engine=True)
