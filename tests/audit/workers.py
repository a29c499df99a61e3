"""Run in child processes (multiprocessing "spawn"): importable by name, no test state."""

from __future__ import annotations

from pathlib import Path

from yiwang.audit import AuditEvent, AuditTrail


def append_many(path: str, worker: int, count: int) -> None:
    trail = AuditTrail(Path(path))
    for n in range(count):
        trail.append(AuditEvent(identity=f"worker-{worker}", identity_kind="os", roles=[], source="local:test",
                                action="test.append", target=str(n), parameters={"n": n}, outcome="ok"))
    trail.close()


def append_many_sql(url: str, worker: int, count: int) -> None:
    """As append_many, into the trail in the database at `url` (its schema current already)."""
    from sqlalchemy import create_engine

    from yiwang.audit.sql import SqlAuditTrail

    trail = SqlAuditTrail(create_engine(url), owns_engine=True)
    for n in range(count):
        trail.append(AuditEvent(identity=f"worker-{worker}", identity_kind="os", roles=[], source="local:test",
                                action="test.append", target=str(n), parameters={"n": n}, outcome="ok"))
    trail.close()
