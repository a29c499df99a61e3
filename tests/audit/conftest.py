from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit.rsyslog import Rsyslog
from yiwang.audit import AuditEvent


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    receiver = Rsyslog(tmp_path / "rsyslog")
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


def event(n: int = 0, **changes: object) -> AuditEvent:
    fields: dict[str, object] = {
        "identity": "alice", "identity_kind": "user", "roles": ["operator"], "source": "10.1.2.3",
        "action": "alerts.ack", "target": f"fp-{n}", "parameters": {"comment": f"change {n}"},
        "outcome": "ok", "status": 200}
    fields.update(changes)
    return AuditEvent(**fields)  # type: ignore[arg-type]
