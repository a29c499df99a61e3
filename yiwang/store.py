"""The SQL store for state that is not inventory: poll health, alert state and history, silences, acknowledgements,
security events and (through `Store.archive`) the configuration archive's index; one engine per database.

The tables are in `yiwang.schema`, created and changed by the migrations in `yiwang.migrations`: open the store with
`open_store(url)`, which brings the schema up to date first. Calls are synchronous and short; async callers wrap them
in `asyncio.to_thread`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, make_url, select
from sqlalchemy.engine import Engine

from yiwang.archive.index import ArchiveIndex
from yiwang.schema import SchemaError, acks, alert_history, alert_state, poll_health, security_events, silences

__all__ = ["HealthRecord", "SchemaError", "Store", "open_store"]


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
    """Over a database whose schema is current: use `open_store`, unless the schema was brought up to date already."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":  # SQLAlchemy's default driver is psycopg2; yiwang's is psycopg 3
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(parsed)
        except ImportError as exc:
            raise SchemaError(f"{parsed.render_as_string(hide_password=True)} needs the module {exc.name!r}"
                              + (": pip install 'yiwang[postgres]'" if parsed.get_backend_name() == "postgresql"
                                 else "")) from None
        self.archive = ArchiveIndex(self.engine)

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


def open_store(url: str) -> Store:
    """The store at `url`, its schema first brought up to this code's: what `yiwang run` and the commands open.

    Raises SchemaError (a RuntimeError) when the database is newer than this code or cannot be reached."""
    from yiwang.migrations import upgrade  # alembic costs 0.2 s to import: only where a store is opened

    store = Store(url)
    try:
        upgrade(store.engine)
    except BaseException:
        store.close()
        raise
    return store
