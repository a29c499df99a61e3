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
    """Configs are fetched by `fetcher` (SSH worker processes, or threads here) and committed as they arrive: those
    that arrive while a commit is being made go into the next one together, so a cycle of thousands of devices
    makes a few hundred commits, not thousands (`GitArchive.store_many`). The results come back in the order of
    `targets`."""
    targets = list(targets)
    done: dict[str, BackupResult] = {}
    waiting: list[FetchedConfig] = []
    committing: asyncio.Task[dict[str, BackupResult]] | None = None
    async for fetched in fetcher.collect(targets):
        if fetched.ok and isinstance(fetched, FetchedConfig):
            waiting.append(fetched)
        else:
            done[fetched.device] = await _failed(fetched, index, clock())
        if waiting and (committing is None or committing.done()):
            if committing is not None:
                done.update(await committing)
            committing = asyncio.create_task(_keep(waiting, archive, index, clock()))
            waiting = []
    if committing is not None:
        done.update(await committing)
    if waiting:
        done.update(await _keep(waiting, archive, index, clock()))
    return [done[t.device] for t in targets if t.device in done]


async def _keep(fetched: list[FetchedConfig], archive: GitArchive, index: ArchiveIndex,
                at: datetime) -> dict[str, BackupResult]:
    try:
        commits = await asyncio.to_thread(_commit, archive, index, {f.device: f.text for f in fetched}, at)
    except ArchiveError as exc:
        failures = {f.device: (f"{f.device}: {exc}", f.duration_s) for f in fetched}
        for device, (error, _) in failures.items():
            await asyncio.to_thread(index.record_failure, device, at.timestamp(), "archive", error)
        return {device: BackupResult(device, False, "archive", error, duration_s=duration)
                for device, (error, duration) in failures.items()}
    return {f.device: BackupResult(f.device, True, commit=commits[f.device], duration_s=f.duration_s)
            for f in fetched}


async def _failed(fetched: PollResult, index: ArchiveIndex, at: datetime) -> BackupResult:
    device = fetched.device
    if fetched.ok:
        reason, error = "internal", f"{device}: the fetch returned no configuration"
    else:
        reason, error = fetched.reason, fetched.error
    await asyncio.to_thread(index.record_failure, device, at.timestamp(), reason, error)
    return BackupResult(device, False, reason, error, duration_s=fetched.duration_s)


def _commit(archive: GitArchive, index: ArchiveIndex, configs: Mapping[str, str],
            at: datetime) -> dict[str, str | None]:
    commits = archive.store_many(configs, at)
    index.record_ok_many(commits, at.timestamp())
    return commits


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
