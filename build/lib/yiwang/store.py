"""The SQL store for state that is not inventory: poll health now; alerts, config versions and runs later.

SQLAlchemy Core, so SQLite (the embedded default) and PostgreSQL (production) share one schema.
Calls are synchronous and short; async callers wrap them in `asyncio.to_thread`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    bindparam,
    create_engine,
    select,
)
from sqlalchemy.engine import Engine

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


@dataclass(frozen=True, slots=True)
class HealthRecord:
    device: str
    collector: str
    ok: bool
    reason: str
    error: str
    duration_s: float
    varbinds: int
    polled_at: datetime
    last_ok_at: datetime | None
    consecutive_failures: int


class Store:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, future=True)
        metadata.create_all(self.engine)

    def record_health(self, results: Iterable[tuple[str, str, bool, str, str, float, int]]) -> None:
        """(device, collector, ok, reason, error, duration_s, varbinds) for one cycle, in one transaction."""
        now = datetime.now(UTC)
        rows = list(results)
        if not rows:
            return
        with self.engine.begin() as conn:
            previous = {
                (r.device, r.collector): r
                for r in conn.execute(select(poll_health.c.device, poll_health.c.collector,
                                             poll_health.c.last_ok_at, poll_health.c.consecutive_failures))
            }
            updates: list[dict[str, object]] = []
            inserts: list[dict[str, object]] = []
            for device, collector, ok, reason, error, duration, varbinds in rows:
                before = previous.get((device, collector))
                failures = 0 if ok else (before.consecutive_failures if before else 0) + 1
                row = {"b_device": device, "b_collector": collector, "ok": ok, "reason": reason, "error": error,
                       "duration_s": duration, "varbinds": varbinds, "polled_at": now,
                       "last_ok_at": now if ok else (before.last_ok_at if before else None),
                       "consecutive_failures": failures}
                (updates if before else inserts).append(row)
            if updates:
                stmt = poll_health.update().where(
                    (poll_health.c.device == bindparam("b_device"))
                    & (poll_health.c.collector == bindparam("b_collector")))
                conn.execute(stmt, updates)
            if inserts:
                conn.execute(poll_health.insert(), [
                    {**{k: v for k, v in r.items() if not k.startswith("b_")},
                     "device": r["b_device"], "collector": r["b_collector"]} for r in inserts])

    def health(self, device: str | None = None) -> list[HealthRecord]:
        query = select(poll_health)
        if device is not None:
            query = query.where(poll_health.c.device == device)
        with self.engine.connect() as conn:
            return [HealthRecord(**row._mapping) for row in conn.execute(query.order_by(poll_health.c.device))]

    def save_alert_state(self, state: dict[str, Any], transitions: Sequence[dict[str, Any]]) -> None:
        """The new state and the transitions that led to it, in one transaction."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            document = json.dumps(state, sort_keys=True)
            if conn.execute(select(alert_state.c.id).where(alert_state.c.id == 1)).first() is None:
                conn.execute(alert_state.insert(), {"id": 1, "state": document, "updated_at": now})
            else:
                conn.execute(alert_state.update().where(alert_state.c.id == 1),
                             {"state": document, "updated_at": now})
            if transitions:
                conn.execute(alert_history.insert(), [
                    {"at": datetime.fromtimestamp(t["at_ns"] / 1e9, UTC), "fingerprint": t["fingerprint"],
                     "rule": t["rule"], "kind": t["kind"], "severity": t["severity"], "notify": t["notify"],
                     "held": t["held"], "detail": json.dumps(t, sort_keys=True)} for t in transitions])

    def load_alert_state(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(alert_state.c.state).where(alert_state.c.id == 1)).first()
        return None if row is None else dict(json.loads(row.state))

    def alert_history(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alert_history.c.detail).order_by(alert_history.c.id.desc()).limit(limit))
            return [dict(json.loads(row.detail)) for row in rows]

    def add_silence(self, row: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            key = conn.execute(silences.insert(), row).inserted_primary_key
            assert key is not None
            return int(key[0])

    def silences(self, now_ns: int | None = None) -> list[dict[str, Any]]:
        """Silences not yet over at now_ns (all of them when None), oldest first."""
        query = select(silences).order_by(silences.c.id)
        if now_ns is not None:
            query = query.where(silences.c.ends_ns > now_ns)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def expire_silence(self, silence_id: int, now_ns: int) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(silences.update().where(silences.c.id == silence_id).values(ends_ns=now_ns))
            return bool(done.rowcount)

    def add_ack(self, fingerprint: str, at_ns: int, by: str, comment: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(acks.insert(), {"fingerprint": fingerprint, "at_ns": at_ns, "by": by, "comment": comment})

    def acks(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(select(acks).order_by(acks.c.at_ns))]

    def record_security_event(self, at_ns: int, kind: str, device: str, source: str, detail: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(security_events.insert(), {"at": datetime.fromtimestamp(at_ns / 1e9, UTC), "kind": kind,
                                                    "device": device, "source": source, "detail": detail})

    def security_events(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(security_events).order_by(security_events.c.id.desc()).limit(limit))
            return [{**row._mapping, "at": row.at.isoformat()} for row in rows]

    def close(self) -> None:
        self.engine.dispose()
