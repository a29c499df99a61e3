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
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from collectors.base import PollResult
from collectors.model import Sample
from yiwang.pipeline import CycleReport, Failure

log = logging.getLogger("yiwang.cluster.transport")

T = TypeVar("T")

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
                raise_if_cancelled()
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


@dataclass(slots=True)
class Settled(Generic[T]):
    """A slot of one collector let through: its results (whatever the caller tagged them with), then its report.
    `report` is None when results came and no poller's end did (a poller killed after sending): they are taken,
    and the next report settles them."""

    collector: str
    slot: int
    items: list[T]
    report: CycleReport | None


@dataclass(slots=True)
class _Waiting(Generic[T]):
    first_at: float
    items: dict[str, list[T]] = field(default_factory=dict)  # poller -> its results of the slot, in order
    ends: dict[str, list[CycleReport]] = field(default_factory=dict)  # poller -> its cycle ends of the slot


class CycleGate(Generic[T]):
    """A collector's slot is let through whole: every poller's results of it and one merged report, once every
    poller expected has ended that slot, or `hold_s` after the first of its results or ends came (a dead or slow
    poller holds the slot no longer). Slots of a collector go through in order: a later one waits for an earlier.

    Why whole: the core's stages settle (alerts evaluate) on a report, over everything taken so far. Taken as they
    came, the results of one poller's cycle would be seen beside the others' of the cycle before, by the other
    collector's settle as well: a county whose townships sit on three pollers would go down in three steps, each
    looking like a township outage of its own. Held until the slot is whole, a collector's results change for every
    poller at once.

    Expected = the pollers that ended the collector's previous slot and those that sent results to this one. A
    poller's part that comes after its slot went through (it ran late) goes through on its own, at its end; it is
    waited for from then on, and a poller that missed a slot is not (a dead one costs one hold, not each).
    Pure: the caller passes the time."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self._expected: dict[str, set[str]] = {}  # collector -> pollers waited for
        self._waiting: dict[tuple[str, int], _Waiting[T]] = {}
        self._late: dict[tuple[str, int, str], _Waiting[T]] = {}  # (collector, slot, poller): after its slot went
        self._released: dict[str, int] = {}  # collector -> the last slot let through

    @property
    def held(self) -> int:
        """Items held back, waiting for their slot (results, and the ends' tags)."""
        parts = [*self._waiting.values(), *self._late.values()]
        return sum(len(items) for part in parts for items in part.items.values())

    def result(self, collector: str, slot: int, poller: str, item: T, now: float) -> None:
        if self._is_late(collector, slot):
            waiting = self._late.setdefault((collector, slot, poller), _Waiting(now))
        else:
            waiting = self._waiting.setdefault((collector, slot), _Waiting(now))
        waiting.items.setdefault(poller, []).append(item)

    def end(self, end: CycleEnd, now: float, item: T | None = None) -> list[Settled[T]]:
        """`end` taken (with `item`, its own tag, let through with it); the slots that are through now."""
        collector, slot, poller = end.report.collector, end.slot, end.poller
        tags = [] if item is None else [item]
        if self._is_late(collector, slot):
            self._expected.setdefault(collector, set()).add(poller)
            late = self._late.pop((collector, slot, poller), _Waiting(now))
            return [Settled(collector, slot, [*late.items.get(poller, []), *tags], merged(collector, [end.report]))]
        waiting = self._waiting.setdefault((collector, slot), _Waiting(now))
        waiting.ends.setdefault(poller, []).append(end.report)
        if tags:
            waiting.items.setdefault(poller, []).extend(tags)
        return self._through(collector, now)

    def due(self, now: float) -> list[Settled[T]]:
        """The slots whose hold is over (and those behind them that are whole); call it now and then."""
        through: list[Settled[T]] = []
        for collector in sorted({c for c, _ in self._waiting}):
            through.extend(self._through(collector, now))
        for key in sorted(k for k, w in self._late.items() if now - w.first_at >= self.hold_s):
            collector, slot, poller = key
            late = self._late.pop(key)
            through.append(Settled(collector, slot, late.items.get(poller, []), None))
        return through

    def _is_late(self, collector: str, slot: int) -> bool:
        return slot <= self._released.get(collector, slot - 1)

    def _through(self, collector: str, now: float) -> list[Settled[T]]:
        through: list[Settled[T]] = []
        for slot in sorted(s for c, s in self._waiting if c == collector):
            waiting = self._waiting[(collector, slot)]
            whole = bool(waiting.ends) and self._wanted(collector, waiting) <= waiting.ends.keys()
            if not whole and now - waiting.first_at < self.hold_s:
                break  # the slots after it wait for it
            through.append(self._release(collector, slot))
        return through

    def _wanted(self, collector: str, waiting: _Waiting[T]) -> set[str]:
        return self._expected.get(collector, set()) | waiting.items.keys()

    def _release(self, collector: str, slot: int) -> Settled[T]:
        waiting = self._waiting.pop((collector, slot))
        missing = self._wanted(collector, waiting) - waiting.ends.keys()
        if missing:
            log.warning("%s cycle of slot %d went through without the end of %s", collector, slot,
                        ", ".join(sorted(missing)))
        if waiting.ends:
            self._expected[collector] = set(waiting.ends)
        self._released[collector] = max(slot, self._released.get(collector, slot))
        items = [item for pollers in waiting.items.values() for item in pollers]
        report = merged(collector, (r for ends in waiting.ends.values() for r in ends)) if waiting.ends else None
        return Settled(collector, slot, items, report)


class ResultsStream:
    """The core's input: each collector's slot once it is whole across the pollers (`CycleGate`): its results, then
    one report, so the stages settle (alerts evaluate) once per cycle of the whole group, never on a part of it.
    Implements `yiwang.pipeline.Feed`.

    An entry is acknowledged once the monitor took it, that is after its slot went through (held, it stays pending
    in the group). On start, entries delivered to a consumer that died and never acknowledged them (this one under
    its old life, or another core) are claimed and handled first."""

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
        self.hold_s = hold_s
        self.taken = 0
        self.bad = 0
        self.last_cycle: dict[tuple[str, str], CycleEnd] = {}  # (poller, collector): what the lag is read from
        self.gate: CycleGate[tuple[bytes, PollResult | None]] = CycleGate(hold_s)
        self.clock = clock
        # When the group had consumed entries before this consumer began (again): collector -> the first slot
        # whose end was read since. That slot's report is not passed on: its first part may have gone through a
        # core before (a hold expired there) and been acknowledged, so the latest samples would hold only its tail
        # and alerts evaluated on it see devices missing. None: the group is new, everything is read from the start.
        self.first_slot: dict[str, int] | None = None

    async def events(self) -> AsyncIterator[PollResult | CycleReport]:
        if self.ready is not None:
            await self.ready.wait()
        await self._join()
        self.first_slot = {} if await self._consumed_before() else None
        cursor: bytes | str | None = b"0-0"  # claiming what is pending from there; None: reading new entries
        while True:
            if self.ready is not None and not self.ready.is_set():
                # Stepped down: nothing more is read, and what is held goes (unacknowledged, it goes to the next
                # leader). Led again: what is pending first, ours or the other core's.
                self.gate = CycleGate(self.hold_s)
                await self.ready.wait()
                await self._join_quietly()
                cursor = b"0-0"
                self.first_slot = {}
            try:
                if cursor is None:
                    entries = await self._read()
                else:
                    cursor, entries = await self._claim(cursor)
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                log.warning("results stream: %s: %s; again in 1 s", type(exc).__name__, exc)
                await asyncio.sleep(1.0)
                await self._join_quietly()
                continue
            raise_if_cancelled()
            if cursor in (b"0-0", "0-0"):
                cursor = None
            done: list[bytes] = []  # acknowledged at once: nothing to take
            through: list[Settled[tuple[bytes, PollResult | None]]] = []
            for entry_id, fields in entries:
                if not fields:  # trimmed away while pending
                    done.append(entry_id)
                    continue
                try:
                    event = decode(fields[FIELD])
                    poller, slot = fields[POLLER_FIELD].decode(), int(fields[SLOT_FIELD])
                except (BadEntry, KeyError, ValueError, UnicodeDecodeError) as exc:
                    self.bad += 1
                    done.append(entry_id)
                    log.warning("results stream: entry %s unreadable, skipped: %s", entry_id, exc)
                    continue
                now = self.clock()
                if isinstance(event, CycleEnd):
                    self.last_cycle[(event.poller, event.report.collector)] = event
                    if self.first_slot is not None:
                        self.first_slot.setdefault(event.report.collector, event.slot)
                    through.extend(self.gate.end(event, now, (entry_id, None)))
                else:
                    self.gate.result(event.collector, slot, poller, (entry_id, event), now)
            through.extend(self.gate.due(self.clock()))  # reads return at least every block_ms
            for part in through:
                for entry_id, result in part.items:
                    done.append(entry_id)
                    if result is not None:
                        self.taken += 1
                        yield result
                if part.report is not None and self._whole(part.slot, part.report):
                    yield part.report
            if done and (self.ready is None or self.ready.is_set()):  # stepped down meanwhile: the next leader's
                await self._ack(done)
                raise_if_cancelled()

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

    async def _claim(self, cursor: bytes | str) -> tuple[bytes | str, list[tuple[bytes, dict[bytes, bytes]]]]:
        # Everything pending in the group from `cursor` on, ours from a previous life included: with one active core
        # no other consumer is working on it. The next cursor is 0-0 once the end is reached.
        cursor, entries, *_ = await self.client.xautoclaim(self.stream, self.group, self.consumer, 0, cursor,
                                                           count=self.count)
        return cursor, list(entries)

    async def _read(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        answer: Any = await self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=self.count,
                                              block=self.block_ms)
        return list(answer[0][1]) if answer else []

    async def _ack(self, ids: list[bytes]) -> None:
        for attempt in range(3):
            try:
                for start in range(0, len(ids), CHUNK):  # a province's slot is 30,000 ids: not one command
                    await self.client.xack(self.stream, self.group, *ids[start:start + CHUNK])
                return
            except (RedisError, OSError) as exc:
                raise_if_cancelled()
                # unacknowledged entries are delivered again after a restart: taken twice, never lost
                log.warning("results stream: ack failed (%s), attempt %d", exc, attempt + 1)
                await asyncio.sleep(0.5)


def raise_if_cancelled() -> None:
    """Raise the cancellation a Redis call may have eaten. redis-py's reply parser, cancelled in its read, reports
    the connection closed, and the client's retry then sends the command again: the call returns (or fails with a
    RedisError) and the task goes on as if never cancelled. A loop around Redis calls this after each call, or
    whoever cancelled it waits for ever (a stop that never ends; the hang of CI's stop 22)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def redis_client(url: str, timeout_s: float = 2.0, decode: bool = False) -> aioredis.Redis:
    """The cluster's one way to Redis: bounded waits (a settle or a claim waits at most `timeout_s`); `decode` for
    the coordination keys' text, not for the stream's compact entries."""
    return aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                   decode_responses=decode)
