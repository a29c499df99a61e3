"""What every collector returns: samples plus its own health, never an exception."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from collectors.model import Sample, Tags


@dataclass(frozen=True, slots=True)
class PollTarget:
    """A device as a collector sees it: where to reach it and the identity tags its samples carry."""

    device: str
    host: str
    tags: Tags
    port: int = 161
    host6: str | None = None
    profiles: tuple[str, ...] = ()
    credential: object = field(default=None, repr=False)


@dataclass(slots=True)
class PollResult:
    device: str
    collector: str
    samples: list[Sample]
    ok: bool
    reason: str = "ok"  # short code, safe as a label: ok | timeout | malformed | auth | error-status | ...
    error: str = ""  # the precise message for people
    duration_s: float = 0.0
    varbinds: int = 0
    bad_varbinds: int = 0  # varbinds whose value could not be read; each counted as missing, the poll still ok
    # A partial result (a trap) updates fields of series the device already has instead of replacing them.
    partial: bool = False


class Collector(Protocol):
    """One device at a time (SNMP, SSH): `yiwang.polling` runs it over many, in this process or in workers."""

    name: str

    async def poll(self, target: PollTarget) -> PollResult: ...


class CycleCollector(Protocol):
    """What the monitor's pipeline runs, one cycle at a time: every target once, each result as it completes.

    Batch collectors (ICMP: one fping for every address) implement it directly; per-device collectors are run
    through `yiwang.polling.Concurrent` or `WorkerPool`, which implement it too."""

    name: str

    def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]: ...

    async def close(self) -> None: ...
