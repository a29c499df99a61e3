"""The SQL store for state that is not inventory: poll health now; alerts, config versions and runs later.

SQLAlchemy Core, so SQLite (the embedded default) and PostgreSQL (production) share one schema.
Calls are synchronous and short; async callers wrap them in `asyncio.to_thread`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
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

    def close(self) -> None:
        self.engine.dispose()
