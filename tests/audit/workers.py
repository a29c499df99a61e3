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
