"""Poll results from the pollers to the core over one Redis stream (`yiwang:results`).

A poller XADDs each PollResult, and after each collector cycle one cycle-end record, as compact JSON in one
field. The core reads with XREADGROUP (consumer group "core") and acknowledges an entry only once the monitor's
stages have taken it, so a core that dies leaves its unacknowledged entries to the next one. Delivery is at least
once: a result taken twice replaces itself (latest store, poll health), which is why that is acceptable.

The encoding is pure (`encode_result`, `encode_cycle`, `decode`); the publisher and the reader are thin shells.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from collectors.base import PollResult
from collectors.model import Sample
from yiwang.pipeline import CycleReport, Failure

log = logging.getLogger("yiwang.cluster.transport")

STREAM = "yiwang:results"
GROUP = "core"
FIELD = b"m"
MAXLEN = 500_000  # about two cycles of a province's 30,000 devices and their cycle ends; trimmed approximately
BUFFER_LIMIT = 200_000  # entries a poller keeps while Redis is away; beyond it the oldest are dropped and counted
CHUNK = 1000  # entries per pipelined round trip


@dataclass(frozen=True, slots=True)
class CycleEnd:
    """What a poller says when one of its collector cycles is over: the core settles its stages on it."""

    poller: str
    slot: int
    report: CycleReport


def _dumps(document: dict[str, Any]) -> bytes:
    # NaN stays NaN (json's extension): a sample's value is the device's to choose, the wire must not refuse it
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def encode_result(result: PollResult) -> bytes:
    document: dict[str, Any] = {
        "k": "r", "d": result.device, "c": result.collector, "o": int(result.ok), "r": result.reason,
        "s": [[s.measurement, [list(t) for t in s.tags], dict(s.fields), s.time_ns] for s in result.samples]}
    # the defaults are left out: most results are ok, and a city's cycle is thousands of them
    if result.error:
        document["e"] = result.error
    if result.duration_s:
        document["t"] = result.duration_s
    if result.varbinds:
        document["v"] = result.varbinds
    if result.bad_varbinds:
        document["b"] = result.bad_varbinds
    if result.partial:
        document["p"] = 1
    return _dumps(document)


def encode_cycle(end: CycleEnd) -> bytes:
    r = end.report
    return _dumps({"k": "c", "poller": end.poller, "slot": end.slot, "c": r.collector, "n": r.devices, "o": r.ok,
                   "f": [[f.device, f.reason, f.error] for f in r.failures], "v": r.varbinds, "s": r.samples,
                   "t": r.duration_s, "cpu": r.cpu_s, "late": r.late_s})


class BadEntry(ValueError):
    pass


def decode(data: bytes) -> PollResult | CycleEnd:
    try:
        d = json.loads(data)
        if d["k"] == "r":
            samples = [Sample(str(m), tuple((str(k), str(v)) for k, v in tags),
                              {str(k): float(v) for k, v in fields.items()}, int(t)) for m, tags, fields, t in d["s"]]
            return PollResult(str(d["d"]), str(d["c"]), samples, bool(d["o"]), str(d["r"]), str(d.get("e", "")),
                              float(d.get("t", 0.0)), int(d.get("v", 0)), int(d.get("b", 0)), bool(d.get("p", 0)))
        if d["k"] == "c":
            report = CycleReport(str(d["c"]), int(d["n"]), int(d["o"]), int(d["v"]), int(d["s"]), float(d["t"]),
                                 float(d["cpu"]), float(d["late"]),
                                 [Failure(str(dev), str(d["c"]), str(reason), str(error))
                                  for dev, reason, error in d["f"]])
            return CycleEnd(str(d["poller"]), int(d["slot"]), report)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadEntry(f"{type(exc).__name__}: {exc}") from None
    raise BadEntry(f"unknown kind {d.get('k')!r}")


def is_cycle_result(result: PollResult) -> bool:
    """The monitor's own per-cycle result: the cycle-end record carries its figures instead."""
    return not result.device and result.collector.startswith("cycle-")


class StreamPublisher:
    """The poller's last stage: results buffered as they come, XADDed in pipelined chunks when the cycle settles.

    Redis away: the entries stay in memory (at most `limit`, the oldest dropped and counted) and go with the next
    settle; the poll goes on meanwhile, a settle waits at most the client's socket timeout."""

    def __init__(self, client: aioredis.Redis, poller: str, slot_of: Callable[[], int],
                 stream: str = STREAM, maxlen: int = MAXLEN, limit: int = BUFFER_LIMIT) -> None:
        self.client = client
        self.poller = poller
        self.slot_of = slot_of
        self.stream = stream
        self.maxlen = maxlen
        self.limit = limit
        self.pending: deque[bytes] = deque()
        self.sent = 0
        self.dropped = 0
        self.failed_sends = 0

    def take(self, result: PollResult) -> None:
        if not is_cycle_result(result):
            self._add(encode_result(result))

    async def settle(self, report: CycleReport) -> None:
        if report.collector:
            self._add(encode_cycle(CycleEnd(self.poller, self.slot_of(), report)))
        await self.flush()

    def _add(self, entry: bytes) -> None:
        self.pending.append(entry)
        while len(self.pending) > self.limit:
            self.pending.popleft()
            self.dropped += 1

    async def flush(self) -> bool:
        """Send what is pending, in order; False (and kept) when Redis did not take it."""
        while self.pending:
            chunk = [self.pending[i] for i in range(min(CHUNK, len(self.pending)))]
            pipe = self.client.pipeline(transaction=False)
            for entry in chunk:
                pipe.xadd(self.stream, {FIELD: entry}, maxlen=self.maxlen, approximate=True)
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:
                # A chunk cut midway may be sent again whole: at least once, never lost within the limit.
                self.failed_sends += 1
                log.warning("results stream unreachable, %d entries kept for the next try: %s: %s",
                            len(self.pending), type(exc).__name__, exc)
                return False
            for _ in chunk:
                self.pending.popleft()
            self.sent += len(chunk)
        return True


class ResultsStream:
    """The core's input: each result as it arrives, and each poller cycle's report at its end, so the stages
    settle (alerts evaluate) once per poller cycle, not once per result. Implements `yiwang.pipeline.Feed`.

    Entries are acknowledged when the consumer asks for the next batch, that is after the monitor took (and on a
    cycle end, settled) every event of the batch. On start, entries delivered to a consumer that died and never
    acknowledged (this one under its old life, or another core) are claimed and handled first."""

    name = "results"

    def __init__(self, client: aioredis.Redis, consumer: str, stream: str = STREAM, group: str = GROUP,
                 count: int = 500, block_ms: int = 1000, ready: asyncio.Event | None = None) -> None:
        self.client = client
        self.consumer = consumer
        self.stream = stream
        self.group = group
        self.count = count
        self.block_ms = block_ms
        self.ready = ready  # set when this core may consume (elected); None: at once
        self.taken = 0
        self.bad = 0
        self.last_cycle: dict[tuple[str, str], CycleEnd] = {}  # (poller, collector): what the lag is read from

    async def events(self) -> AsyncIterator[PollResult | CycleReport]:
        if self.ready is not None:
            await self.ready.wait()
        await self._join()
        claimed = True
        while True:
            try:
                entries = await self._claim() if claimed else await self._read()
            except (RedisError, OSError) as exc:
                log.warning("results stream: %s: %s; again in 1 s", type(exc).__name__, exc)
                await asyncio.sleep(1.0)
                await self._join_quietly()
                continue
            if claimed and not entries:
                claimed = False
                continue
            ids = []
            for entry_id, fields in entries:
                ids.append(entry_id)
                if not fields:  # trimmed away while pending
                    continue
                try:
                    event = decode(fields[FIELD])
                except (BadEntry, KeyError) as exc:
                    self.bad += 1
                    log.warning("results stream: entry %s unreadable, skipped: %s", entry_id, exc)
                    continue
                if isinstance(event, CycleEnd):
                    self.last_cycle[(event.poller, event.report.collector)] = event
                    yield event.report
                else:
                    self.taken += 1
                    yield event
            if ids:
                await self._ack(ids)

    async def _join(self) -> None:
        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _join_quietly(self) -> None:
        try:
            await self._join()
        except (RedisError, OSError):
            pass

    async def _claim(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        # Everything pending in the group, ours from a previous life included: with one active core no other
        # consumer is working on it.
        _, entries, *_ = await self.client.xautoclaim(self.stream, self.group, self.consumer, 0, "0-0",
                                                      count=self.count)
        return list(entries)

    async def _read(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        answer: Any = await self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=self.count,
                                              block=self.block_ms)
        return list(answer[0][1]) if answer else []

    async def _ack(self, ids: list[bytes]) -> None:
        for attempt in range(3):
            try:
                await self.client.xack(self.stream, self.group, *ids)
                return
            except (RedisError, OSError) as exc:
                # unacknowledged entries are delivered again after a restart: taken twice, never lost
                log.warning("results stream: ack failed (%s), attempt %d", exc, attempt + 1)
                await asyncio.sleep(0.5)


def redis_client(url: str, timeout_s: float = 2.0) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


def slot(now: float, interval_s: float) -> int:
    return int(now // interval_s)


def current_slot(interval_s: float) -> Callable[[], int]:
    return lambda: slot(time.time(), interval_s)
