"""One backup cycle: fetch running configs over SSH (bounded pool), normalize, commit, index. Failures are data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from collectors.base import PollTarget
from collectors.model import Sample
from collectors.ssh.collector import endpoint_of
from collectors.ssh.commands import CONFIG_COMMAND
from collectors.ssh.session import SshError, SshRunner
from yiwang.archive.git import GitArchive
from yiwang.archive.index import ArchiveIndex, BackupStatus
from yiwang.archive.normalize import normalize

LAST_LINE = {"huawei_vrp": "return", "hp_comware": "return", "cisco_ios": "end", "ruijie_os": "end"}


@dataclass(frozen=True, slots=True)
class BackupResult:
    device: str
    ok: bool
    reason: str = "ok"
    error: str = ""
    commit: str | None = None  # set only when this backup made a new version
    duration_s: float = 0.0


def check_complete(platform: str, text: str) -> None:
    """A cut-off config must never become a version (it would read as a mass deletion)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[-1].strip() != LAST_LINE[platform]:
        raise SshError("parse", f"configuration does not end with {LAST_LINE[platform]!r}; not archived")


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def backup(targets: Iterable[PollTarget], runner: SshRunner, archive: GitArchive, index: ArchiveIndex,
                 *, use_ipv6: bool = False, clock: Callable[[], datetime] = _utcnow) -> list[BackupResult]:
    return list(await asyncio.gather(*(backup_one(t, runner, archive, index, use_ipv6, clock) for t in targets)))


async def backup_one(target: PollTarget, runner: SshRunner, archive: GitArchive, index: ArchiveIndex,
                     use_ipv6: bool = False, clock: Callable[[], datetime] = _utcnow) -> BackupResult:
    start = time.perf_counter()
    try:
        endpoint = endpoint_of(target, use_ipv6)
        (raw,) = await runner.run(endpoint, [CONFIG_COMMAND[endpoint.platform]])
        text = normalize(endpoint.platform, raw)
        check_complete(endpoint.platform, text)
    except SshError as exc:
        at = clock()
        await asyncio.to_thread(index.record_failure, target.device, at.timestamp(), exc.reason, str(exc))
        return BackupResult(target.device, False, exc.reason, str(exc), duration_s=time.perf_counter() - start)
    at = clock()
    commit = await asyncio.to_thread(_commit, archive, index, target.device, text, at)
    return BackupResult(target.device, True, commit=commit, duration_s=time.perf_counter() - start)


def _commit(archive: GitArchive, index: ArchiveIndex, device: str, text: str, at: datetime) -> str | None:
    commit = archive.store(device, text, at)
    index.record_ok(device, at.timestamp(), commit)
    return commit


def age_samples(targets: Iterable[PollTarget], status: Mapping[str, BackupStatus], now_s: float) -> list[Sample]:
    """`backup` per device with the target's area tags; age_seconds is absent until a first good backup."""
    out = []
    for target in targets:
        known = status.get(target.device)
        fields: dict[str, float] = {"ok": 1.0 if known and known.last_reason == "ok" else 0.0}
        if known and known.last_ok_at is not None:
            fields["age_seconds"] = max(0.0, now_s - known.last_ok_at)
        out.append(Sample("backup", target.tags, fields, int(now_s * 1e9)))
    return out
