"""The one wrapper that owns batching, retry with backoff, the disk spool and drop counting.

Points leave in the order they were added. While the spool holds anything, new batches go behind
it and the spool is replayed first; a spooled batch is removed only after the inner write
succeeded. A write in flight is never cancelled (it may still land, and spooling it as well would
send it twice), so inner sinks must bound their own write time (InfluxSink: timeout_s).

The spool is a yiwang.queue.DurableQueue of batches (one record per batch, weighted by its points),
not fsync'd per batch: see that module for what survives a crash and a power loss.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.model import Sample
from yiwang.queue import DurableQueue, OpenReport
from yiwang.sinks.base import Sink, SinkError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SinkStats:
    written_points: int = 0  # accepted by the inner sink, directly or from the spool
    replayed_points: int = 0  # of those, the ones that came from the spool
    spooled_points: int = 0  # ever put into the spool
    dropped_points: int = 0  # lost: spool full (oldest dropped), damaged spool records, memory bound
    rejected_points: int = 0  # refused by the database as invalid (SinkError(retryable=False))
    write_errors: int = 0
    queued_points: int = 0  # in memory now
    spool_points: int = 0
    spool_bytes: int = 0
    last_error: str = ""
    last_error_time: float = 0.0
    last_success_time: float = 0.0
    healthy: bool = True  # the last write attempt succeeded


def _fields_as_dict(value: object) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot spool {type(value).__name__}")


def encode_samples(batch: Sequence[Sample]) -> bytes:
    """A batch as JSON, exactly (surrogates included): a Sample is written as
    [measurement, [[k, v], ...], {field: value}, time_ns]."""
    body = json.dumps(batch, ensure_ascii=False, separators=(",", ":"), default=_fields_as_dict)
    return body.encode("utf-8", "surrogatepass")


def decode_samples(data: bytes) -> list[Sample]:
    rows = json.loads(data.decode("utf-8", "surrogatepass"))
    return [Sample(m, tuple((k, v) for k, v in tags), fields, t) for m, tags, fields, t in rows]


@dataclass(frozen=True, slots=True)
class BufferPolicy:
    """How a BufferedSink batches, retries and spools: the tunables, kept apart from what it writes to."""

    max_batch: int = 5000
    flush_interval: float = 1.0
    max_spool_bytes: int = 1 << 30
    segment_bytes: int | None = None
    max_queue_points: int = 2_000_000
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    close_grace_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_batch <= 0 or self.flush_interval <= 0 or self.backoff_initial <= 0:
            raise ValueError("max_batch, flush_interval and backoff_initial must be positive")


class BufferedSink:
    """Construct, `await start()`, `add()` every cycle, `await close()` on SIGTERM.

    add() is synchronous and cheap; call it from the event loop thread only.
    """

    def __init__(self, inner: Sink, spool_dir: Path, policy: BufferPolicy | None = None, name: str = "influx"
                 ) -> None:
        policy = policy or BufferPolicy()
        self.name = name
        self.spool_dir = Path(spool_dir)
        self._inner = inner
        self._spool = DurableQueue(Path(spool_dir), encode_samples, decode_samples, weight=len,
                                   max_bytes=policy.max_spool_bytes, segment_bytes=policy.segment_bytes,
                                   durable=False, name=f"spool-{name}")
        self._lost_seen = 0  # of the spool's lost points, those already in stats.dropped_points
        self._max_batch = policy.max_batch
        self._flush_interval = policy.flush_interval
        self._max_queue = max(policy.max_queue_points, policy.max_batch)
        self._backoff_initial = policy.backoff_initial
        self._backoff_max = policy.backoff_max
        self._close_grace_s = policy.close_grace_s
        self._open: list[Sample] = []
        self._batches: deque[list[Sample]] = deque()
        self._failures = 0
        self._retry_at = 0.0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._closing = False
        self._closed = False
        self._closed_event = asyncio.Event()
        self.stats = SinkStats()
        self.opened = OpenReport()

    def __repr__(self) -> str:
        return f"BufferedSink(name={self.name!r}, inner={self._inner!r}, spool={str(self._spool.directory)!r})"

    async def start(self) -> None:
        if self._started:
            return
        self.opened = await self._spool.open()
        self._refresh()
        if self.opened.records:
            log.info("%s: %d spooled batches (%d points) to replay", self.name, self.opened.records,
                     self.opened.weight)
        self._started = True
        self._task = asyncio.create_task(self._run(), name=f"yiwang-sink-{self.name}")
        self._wake.set()

    async def __aenter__(self) -> BufferedSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def add(self, samples: Iterable[Sample]) -> None:
        items = samples if isinstance(samples, list) else list(samples)
        if not items:
            return
        if self._closed:
            self.stats.dropped_points += len(items)
            log.error("%s: %d points added after close() are lost", self.name, len(items))
            return
        self._idle.clear()
        start = 0
        while start < len(items):
            room = self._max_batch - len(self._open)
            self._open.extend(items[start:start + room])
            start += room
            if len(self._open) >= self._max_batch:
                self._batches.append(self._open)
                self._open = []
        self.stats.queued_points += len(items)
        if self.stats.queued_points > self._max_queue:
            self._drop_queued()
        if self._batches:
            self._wake.set()

    async def write(self, batch: Sequence[Sample]) -> None:
        """Sink protocol: a BufferedSink can stand wherever a sink is expected."""
        self.add(list(batch))

    async def flush(self) -> None:
        """Returns once nothing is queued or spooled; bound it with asyncio.timeout()."""
        self._seal()
        self._wake.set()
        await self._idle.wait()

    async def close(self, grace_s: float | None = None) -> None:
        """Writes what it can within grace_s, spools the rest, then closes the inner sink.

        It can overrun grace_s by one inner write timeout: a write in flight is waited for.
        """
        if self._closing:
            await self._closed_event.wait()
            return
        deadline = time.monotonic() + (self._close_grace_s if grace_s is None else grace_s)
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task  # stops between steps, never in the middle of a write
        if not self._started:
            self.opened = await self._spool.open()
        self._seal()
        # Same order as ever: the spool first, then what is in memory.
        while time.monotonic() < deadline and self._due():
            if self._spool.records:
                if not await self._replay_one():
                    break
            elif self._batches:
                batch = self._batches.popleft()
                if not await self._send(batch):
                    await self._to_spool(batch)
                    break
                self._dequeued(batch)
            else:
                break
        # add() may still be called while close() awaits; from _closed on, it counts as dropped.
        while True:
            self._seal()
            if not self._batches or not await self._to_spool(self._batches.popleft()):
                break
        self._closed = True
        try:
            await self._spool.close()
            self._refresh()
            if self.stats.queued_points:
                log.error("%s: %d points could not be spooled and are lost", self.name, self.stats.queued_points)
                self.stats.dropped_points += self.stats.queued_points
                self.stats.queued_points = 0
            await self._inner.close()
        finally:
            self._closed_event.set()

    def health_samples(self, time_ns: int | None = None) -> list[Sample]:
        """The sink's own health as a Sample: yiwang_sink_dropped_points_total and friends."""
        s = self.stats
        fields = {
            "written_points_total": float(s.written_points),
            "replayed_points_total": float(s.replayed_points),
            "spooled_points_total": float(s.spooled_points),
            "dropped_points_total": float(s.dropped_points),
            "rejected_points_total": float(s.rejected_points),
            "write_errors_total": float(s.write_errors),
            "queued_points": float(s.queued_points),
            "spool_points": float(s.spool_points),
            "spool_bytes": float(s.spool_bytes),
            "up": 1.0 if s.healthy else 0.0,
            "last_error_timestamp_seconds": s.last_error_time,
            "last_success_timestamp_seconds": s.last_success_time,
        }
        return [Sample("sink", (("sink", self.name),), fields, time.time_ns() if time_ns is None else time_ns)]

    async def _run(self) -> None:
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            except TimeoutError:
                self._seal()  # the interval passed: a partial batch goes too
            self._wake.clear()
            if self._closing:
                return
            try:
                await self._pump()
            except Exception:  # a bug must not silently stop all output
                log.exception("%s: flush step failed", self.name)
            if not self._batches and not self._open and not self._spool.records:
                self._idle.set()

    async def _pump(self) -> None:
        if self._spool.records and self._due():
            await self._replay()
        while self._batches and not self._closing:
            batch = self._batches.popleft()
            if not self._spool.records and self._due() and await self._send(batch):
                self._dequeued(batch)
            elif not await self._to_spool(batch):
                return

    async def _replay(self) -> None:
        while self._spool.records and not self._closing and await self._replay_one():
            # A long replay must not let memory grow: behind the spool, order is kept either way.
            while self.stats.queued_points >= self._max_queue // 2 and self._batches:
                if not await self._to_spool(self._batches.popleft()):
                    break

    async def _replay_one(self) -> bool:
        """Sends the oldest spooled batch; True once it is off the spool."""
        batch = await self._spool.peek()  # damaged batches on the way are skipped and counted as lost
        if batch is None:
            self._refresh()
            return True
        if not await self._send(batch):
            return False
        await self._spool.ack()
        self.stats.replayed_points += len(batch)
        self._refresh()
        return True

    async def _send(self, batch: list[Sample]) -> bool:
        """True when the batch is done with (written, or rejected as invalid); False to keep it."""
        try:
            await self._inner.write(batch)
        except SinkError as exc:
            if exc.retryable:
                self._failed(str(exc))
                return False
            self.stats.rejected_points += len(batch)
            self._error(str(exc))
            log.error("%s: database rejected a batch of %d points, dropped: %s", self.name, len(batch), exc)
        except Exception as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return False
        else:
            self.stats.written_points += len(batch)
            self.stats.last_success_time = time.time()
            self.stats.healthy = True
            self._failures = 0
            self._retry_at = 0.0
        return True

    def _dequeued(self, batch: list[Sample]) -> None:
        self.stats.queued_points -= len(batch)

    async def _to_spool(self, batch: list[Sample]) -> bool:
        """Appends a batch taken off the queue; on a disk error it goes back to the front."""
        try:
            dropped = await self._spool.append([batch])
        except OSError as exc:
            self._error(f"spool {self._spool.directory}: {exc.strerror or exc}")
            log.error("%s: cannot spool: %s", self.name, exc)
            self._batches.appendleft(batch)
            return False
        self._dequeued(batch)
        self.stats.spooled_points += len(batch)
        if dropped:
            self.stats.dropped_points += dropped
            log.warning("%s: spool full (%d bytes), dropped the oldest %d points", self.name,
                        self._spool.max_bytes, dropped)
        self._refresh()
        return True

    def _seal(self) -> None:
        if self._open:
            self._batches.append(self._open)
            self._open = []

    def _drop_queued(self) -> None:
        while self.stats.queued_points > self._max_queue and self._batches:
            lost = self._batches.popleft()
            self.stats.queued_points -= len(lost)
            self.stats.dropped_points += len(lost)
        log.warning("%s: more than %d points queued in memory, dropped the oldest", self.name, self._max_queue)

    def _due(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _failed(self, message: str) -> None:
        self._failures += 1
        delay = min(self._backoff_initial * 2 ** (self._failures - 1), self._backoff_max)
        self._retry_at = time.monotonic() + delay
        self.stats.healthy = False
        self._error(message)
        log.warning("%s: write failed (%s); retrying in %.1fs, spooling meanwhile", self.name, message, delay)

    def _error(self, message: str) -> None:
        self.stats.write_errors += 1
        self.stats.last_error = message
        self.stats.last_error_time = time.time()

    def _refresh(self) -> None:
        self.stats.spool_points = self._spool.weight
        self.stats.spool_bytes = self._spool.bytes
        self.stats.dropped_points += self._spool.lost - self._lost_seen
        self._lost_seen = self._spool.lost
