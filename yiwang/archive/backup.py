"""One backup cycle: running configs fetched over SSH (see fetch.py), committed to git and indexed. Failures are
data."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from collectors.base import CycleCollector, PollResult, PollTarget
from collectors.model import Sample
from yiwang.archive.fetch import FetchedConfig
from yiwang.archive.git import ArchiveError, GitArchive
from yiwang.archive.index import ArchiveIndex, BackupStatus


@dataclass(frozen=True, slots=True)
class BackupResult:
    device: str
    ok: bool
    reason: str = "ok"
    error: str = ""
    commit: str | None = None  # set only when this backup made a new version
    duration_s: float = 0.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def backup(targets: Iterable[PollTarget], fetcher: CycleCollector, archive: GitArchive, index: ArchiveIndex,
                 *, clock: Callable[[], datetime] = _utcnow) -> list[BackupResult]:
    """Configs are fetched by `fetcher` (SSH worker processes, or threads here) and committed here as each one
    arrives; the results come back in the order of `targets`."""
    targets = list(targets)
    done: dict[str, BackupResult] = {}
    async for fetched in fetcher.collect(targets):
        done[fetched.device] = await _keep(fetched, archive, index, clock())
    return [done[t.device] for t in targets if t.device in done]


async def _keep(fetched: PollResult, archive: GitArchive, index: ArchiveIndex, at: datetime) -> BackupResult:
    device = fetched.device
    if fetched.ok and isinstance(fetched, FetchedConfig):
        try:
            commit = await asyncio.to_thread(_commit, archive, index, device, fetched.text, at)
            return BackupResult(device, True, commit=commit, duration_s=fetched.duration_s)
        except ArchiveError as exc:
            reason, error = "archive", f"{device}: {exc}"
    elif fetched.ok:
        reason, error = "internal", f"{device}: the fetch returned no configuration"
    else:
        reason, error = fetched.reason, fetched.error
    await asyncio.to_thread(index.record_failure, device, at.timestamp(), reason, error)
    return BackupResult(device, False, reason, error, duration_s=fetched.duration_s)


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
