"""Test doubles and sample factories shared by the sink tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from collectors.model import Sample
from yiwang.sinks.base import Sink, SinkError

BASE_NS = 1_717_200_000_000_000_000  # 2024-06-01, whole milliseconds: VictoriaMetrics keeps ms


def numbered(start: int, count: int, *, series: int = 7, tags: tuple[tuple[str, str], ...] = ()) -> list[Sample]:
    """Samples with a unique (series, timestamp) each, so every point can be counted exactly."""
    return [Sample("interface", (("device", f"r{n % series}"), *tags), {"n": float(n), "in_octets_total": n * 1e3},
                   BASE_NS + n * 1_000_000) for n in range(start, start + count)]


def spool_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def ids(batch: Sequence[Sample]) -> list[int]:
    return [int(sample.fields["n"]) for sample in batch]


class FakeSink:
    """An in-memory database that can be taken down, slowed down or made to reject."""

    def __init__(self) -> None:
        self.down = False
        self.reject: set[int] = set()  # first ids of batches to refuse as invalid
        self.delay = 0.0
        self.written: list[list[int]] = []
        self.attempts = 0
        self.closed = False

    async def write(self, batch: Sequence[Sample]) -> None:
        self.attempts += 1
        await asyncio.sleep(self.delay)
        if self.down:
            raise SinkError("fake database is down")
        if ids(batch)[0] in self.reject:
            raise SinkError("fake database says: bad request", retryable=False, status=400)
        self.written.append(ids(batch))

    async def close(self) -> None:
        self.closed = True

    def points(self) -> list[int]:
        return [n for batch in self.written for n in batch]


class CountingSink:
    """Wraps a real sink and counts, per point, write attempts, failed attempts and successes."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner
        self.attempted: Counter[int] = Counter()
        self.failed: Counter[int] = Counter()
        self.succeeded: Counter[int] = Counter()
        self.requests = 0

    async def write(self, batch: Sequence[Sample]) -> None:
        self.requests += 1
        self.attempted.update(ids(batch))
        try:
            await self.inner.write(batch)
        except Exception:
            self.failed.update(ids(batch))
            raise
        self.succeeded.update(ids(batch))

    async def close(self) -> None:
        await self.inner.close()
