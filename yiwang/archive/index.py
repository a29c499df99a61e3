"""SQL index of the archive: backup status per device and the versions committed (tables in `yiwang.schema`).

The store opens it over its own engine: `Store.archive`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from yiwang.schema import archive_backup_status as backup_status
from yiwang.schema import archive_config_versions as config_versions


@dataclass(frozen=True, slots=True)
class BackupStatus:
    device: str
    last_ok_at: float | None
    last_attempt_at: float
    last_reason: str
    last_error: str
    last_commit: str | None


class ArchiveIndex:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_ok(self, device: str, at: float, commit: str | None) -> None:
        """A successful backup; `commit` is None when the config did not change."""
        self.record_ok_many({device: commit}, at)

    def record_ok_many(self, commits: Mapping[str, str | None], at: float) -> None:
        """Successful backups in one transaction: device -> the new commit, or None when unchanged."""
        with self.engine.begin() as conn:
            for device, commit in commits.items():
                old = conn.execute(select(backup_status.c.last_commit)
                                   .where(backup_status.c.device == device)).first()
                values = {"last_ok_at": at, "last_attempt_at": at, "last_reason": "ok", "last_error": "",
                          "last_commit": commit or (old.last_commit if old else None)}
                self._upsert(conn, device, values, exists=old is not None)
                if commit:
                    conn.execute(config_versions.insert().values(device=device, commit=commit, time=at))

    def record_failure(self, device: str, at: float, reason: str, error: str) -> None:
        """Only the attempt columns change: the last good time and version stay as they were."""
        with self.engine.begin() as conn:
            exists = conn.execute(select(backup_status.c.device).where(backup_status.c.device == device)).first()
            values = {"last_attempt_at": at, "last_reason": reason, "last_error": error}
            self._upsert(conn, device, values, exists=exists is not None)

    @staticmethod
    def _upsert(conn: Connection, device: str, values: dict[str, object], exists: bool) -> None:
        if exists:
            conn.execute(backup_status.update().where(backup_status.c.device == device).values(**values))
        else:
            conn.execute(backup_status.insert().values(device=device, **values))

    def status(self) -> dict[str, BackupStatus]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(backup_status)).all()
        return {r.device: BackupStatus(r.device, r.last_ok_at, r.last_attempt_at, r.last_reason, r.last_error,
                                       r.last_commit) for r in rows}

    def versions(self, device: str) -> list[tuple[str, float]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(config_versions.c.commit, config_versions.c.time)
                                .where(config_versions.c.device == device)
                                .order_by(config_versions.c.time.desc(), config_versions.c.id.desc())).all()
        return [(r.commit, r.time) for r in rows]
