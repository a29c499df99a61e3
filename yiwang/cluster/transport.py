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
from collections.abc import AsyncIterator, Callable, Iterable
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
POLLER_FIELD = b"p"  # the poller that sent the entry
SLOT_FIELD = b"s"  # the number of the cycle that polled it: floor(start / the collector's interval)
MAXLEN = 500_000  # about two cycles of a province's 30,000 devices and their cycle ends; trimmed approximately
BUFFER_LIMIT = 200_000  # entries a poller keeps while Redis is away; beyond it the oldest are dropped and counted
CHUNK = 1000  # entries per pipelined round trip


@dataclass(frozen=True, slots=True)
class CycleEnd:
    """What a poller says when one of its collector cycles is over: the core settles its stages on it."""

    poller: str
    slot: int  # the cycle's number: floor(its start / the collector's interval), alike on every poller
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

    def __init__(self, client: aioredis.Redis, poller: str, slot_of: Callable[[str], int],
                 stream: str = STREAM, maxlen: int = MAXLEN, limit: int = BUFFER_LIMIT) -> None:
        self.client = client
        self.poller = poller
        self.slot_of = slot_of
        self.stream = stream
        self.maxlen = maxlen
        self.limit = limit
        # (entry, slot): each entry goes with its poller and slot, so that who polled what, when, can be read from
        # the stream without decoding it (a device twice in one slot is a double poll)
        self.pending: deque[tuple[bytes, int]] = deque()
        self.sent = 0
        self.dropped = 0
        self.failed_sends = 0
        self._sending = asyncio.Lock()

    def take(self, result: PollResult) -> None:
        if not is_cycle_result(result):
            self._add(encode_result(result), result.collector)

    async def settle(self, report: CycleReport) -> None:
        if report.collector:
            self._add(encode_cycle(CycleEnd(self.poller, self.slot_of(report.collector), report)), report.collector)
        await self.flush()

    def _add(self, entry: bytes, collector: str) -> None:
        # the cycle that polled it: a cycle running past its end still polled in its own
        self.pending.append((entry, self.slot_of(collector)))
        self._trim()

    def _trim(self) -> None:
        while len(self.pending) > self.limit:
            self.pending.popleft()
            self.dropped += 1

    async def flush(self) -> bool:
        """Send what is pending, in order; False (and kept) when Redis did not take it."""
        # Two collectors' cycles can settle at once (snmp and icmp of one slot): one sender at a time, and a chunk
        # leaves the queue while it is on the wire, so that neither a second flush nor `_add`'s drops touch it.
        async with self._sending:
            while self.pending:
                chunk = [self.pending.popleft() for _ in range(min(CHUNK, len(self.pending)))]
                pipe = self.client.pipeline(transaction=False)
                for entry, slot in chunk:
                    pipe.xadd(self.stream, {FIELD: entry, POLLER_FIELD: self.poller, SLOT_FIELD: slot},
                              maxlen=self.maxlen, approximate=True)
                try:
                    await pipe.execute()
                except (RedisError, OSError) as exc:
                    # A chunk cut midway may be sent again whole: at least once, never lost within the limit.
                    self.pending.extendleft(reversed(chunk))
                    self._trim()
                    self.failed_sends += 1
                    log.warning("results stream unreachable, %d entries kept for the next try: %s: %s",
                                len(self.pending), type(exc).__name__, exc)
                    return False
                self.sent += len(chunk)
            return True


def merged(collector: str, reports: Iterable[CycleReport]) -> CycleReport:
    """Several pollers' cycles of one collector as one cycle of the whole group."""
    whole = CycleReport(collector)
    for report in reports:
        whole.devices += report.devices
        whole.ok += report.ok
        whole.varbinds += report.varbinds
        whole.samples += report.samples
        whole.duration_s = max(whole.duration_s, report.duration_s)
        whole.cpu_s += report.cpu_s
        whole.late_s = max(whole.late_s, report.late_s)
        whole.failures.extend(report.failures)
    return whole


class CycleGate:
    """The pollers' cycle ends of a collector in one slot become one report, released when every poller expected
    has ended that cycle, when a later slot's end arrives, or `hold_s` after the first of them (a dead or slow
    poller holds no evaluation longer).

    Why: the core's stages settle (alerts evaluate) on a report. Settled on each poller's end, the alerts would see
    one poller's devices of this cycle beside the others' of the last: a county whose townships sit on three
    pollers would go down in three steps, and each step look like a township outage of its own.

    Expected = the pollers that ended the collector's last cycle, plus any that ended it late. Pure: the caller
    passes the time."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self._expected: dict[str, set[str]] = {}  # collector -> pollers waited for
        self._waiting: dict[tuple[str, int], dict[str, list[CycleReport]]] = {}  # (collector, slot) -> poller -> ends
        self._first_at: dict[tuple[str, int], float] = {}
        self._released: dict[str, int] = {}  # collector -> the last slot released

    def end(self, end: CycleEnd, now: float) -> list[CycleReport]:
        return [report for _, report in self.end_slots(end, now)]

    def due(self, now: float) -> list[CycleReport]:
        return [report for _, report in self.due_slots(now)]

    def end_slots(self, end: CycleEnd, now: float) -> list[tuple[int, CycleReport]]:
        """`end`, each report with the slot it is of."""
        collector = end.report.collector
        if end.slot <= self._released.get(collector, end.slot - 1):
            # late for a slot already settled (or a second cycle in one slot): on its own, and waited for next time
            self._expected.setdefault(collector, set()).add(end.poller)
            return [(end.slot, merged(collector, [end.report]))]
        earlier = sorted(k for k in self._waiting if k[0] == collector and k[1] < end.slot)
        released = [self._release(k) for k in earlier]  # a later slot has begun: the earlier one is whole
        key = (collector, end.slot)
        waiting = self._waiting.setdefault(key, {})
        waiting.setdefault(end.poller, []).append(end.report)
        self._first_at.setdefault(key, now)
        if self._expected.get(collector, set()) <= waiting.keys():
            released.append(self._release(key))
        return released

    def due_slots(self, now: float) -> list[tuple[int, CycleReport]]:
        late = sorted(k for k, first in self._first_at.items() if now - first >= self.hold_s)
        return [self._release(k) for k in late]

    def _release(self, key: tuple[str, int]) -> tuple[int, CycleReport]:
        collector, slot = key
        waiting = self._waiting.pop(key)
        self._first_at.pop(key)
        missing = self._expected.get(collector, set()) - waiting.keys()
        if missing:
            log.warning("%s cycle of slot %d settled without %s", collector, slot, ", ".join(sorted(missing)))
        # a poller that missed is not waited for again until it reports: a dead one costs one hold, not each
        self._expected[collector] = set(waiting)
        self._released[collector] = max(slot, self._released.get(collector, slot))
        return slot, merged(collector, (r for reports in waiting.values() for r in reports))

class ResultsStream:
    """The core's input: each result as it arrives, and each collector's cycle report once every poller has ended
    that cycle (`CycleGate`), so the stages settle (alerts evaluate) once per cycle of the whole group, not once
    per result or per poller. Implements `yiwang.pipeline.Feed`.

    Entries are acknowledged when the consumer asks for the next batch, that is after the monitor took (and on a
    cycle end, settled) every event of the batch. On start, entries delivered to a consumer that died and never
    acknowledged (this one under its old life, or another core) are claimed and handled first."""

    name = "results"

    def __init__(self, client: aioredis.Redis, consumer: str, stream: str = STREAM, group: str = GROUP,
                 count: int = 500, block_ms: int = 1000, ready: asyncio.Event | None = None,
                 hold_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
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
        self.gate = CycleGate(hold_s)
        self.clock = clock
        # When the group had consumed entries before this consumer began (again): collector -> the first slot
        # whose end was read since. That slot's report is not passed on: entries of it may have gone to the core
        # before (acknowledged, never redelivered), so the latest samples hold only its tail, and alerts evaluated
        # on it would see devices missing. None: the group is new, everything is read from the start.
        self.first_slot: dict[str, int] | None = None

    async def events(self) -> AsyncIterator[PollResult | CycleReport]:
        if self.ready is not None:
            await self.ready.wait()
        await self._join()
        self.first_slot = {} if await self._consumed_before() else None
        claimed = True
        while True:
            if self.ready is not None and not self.ready.is_set():
                # Stepped down: nothing more is read (what was read and not acknowledged goes to the next leader).
                # Led again: what is pending first, ours or the other core's.
                await self.ready.wait()
                await self._join_quietly()
                claimed = True
                self.first_slot = {}
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
                    if self.first_slot is not None:
                        self.first_slot.setdefault(event.report.collector, event.slot)
                    for slot, report in self.gate.end_slots(event, self.clock()):
                        if self._whole(slot, report):
                            yield report
                else:
                    self.taken += 1
                    yield event
            for slot, report in self.gate.due_slots(self.clock()):  # reads return at least every block_ms
                if self._whole(slot, report):
                    yield report
            if ids and (self.ready is None or self.ready.is_set()):  # stepped down meanwhile: the next leader's
                await self._ack(ids)

    def _whole(self, slot: int, report: CycleReport) -> bool:
        if self.first_slot is None or slot > self.first_slot.get(report.collector, slot - 1):
            return True
        log.info("%s cycle of slot %d: only its tail was read here; its report is skipped", report.collector, slot)
        return False

    async def _consumed_before(self) -> bool:
        try:
            groups = await self.client.xinfo_groups(self.stream)
        except (RedisError, OSError):
            return True  # cannot tell: the careful answer
        for found in groups:
            name = found.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == self.group:
                last = found.get("last-delivered-id")
                return (last.decode() if isinstance(last, bytes) else str(last)) != "0-0"
        return False

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


def redis_client(url: str, timeout_s: float = 2.0, decode: bool = False) -> aioredis.Redis:
    """The cluster's one way to Redis: bounded waits (a settle or a claim waits at most `timeout_s`); `decode` for
    the coordination keys' text, not for the stream's compact entries."""
    return aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                   decode_responses=decode)
