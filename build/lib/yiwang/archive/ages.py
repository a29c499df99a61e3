"""How old each device's last good configuration backup is, as a collector: the ages flow through the pipeline
like any poll result (latest store, sinks, the `config_backup_old` rule), and they grow between backups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from collectors.base import PollResult, PollTarget
from collectors.model import Sample


class AgeSource(Protocol):
    def age_samples(self) -> list[Sample]: ...


class BackupAges:
    name = "archive"

    def __init__(self, archive: AgeSource) -> None:
        self.archive = archive

    async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        samples = await asyncio.to_thread(self.archive.age_samples)  # SQL: off the event loop
        by_device: dict[str, list[Sample]] = {}
        for sample in samples:
            by_device.setdefault(sample.tag("device"), []).append(sample)
        for target in targets:
            yield PollResult(target.device, self.name, by_device.get(target.device, []), True)

    async def close(self) -> None:
        return None
