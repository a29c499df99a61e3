"""The results stream: the encoding by hand, then through a real redis-server (down and back, a core killed and a
second one going on from the last acknowledgement)."""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from collectors.base import PollResult
from collectors.model import Sample
from tests.cluster.redis_server import RedisServer
from yiwang.cluster.transport import (
    BadEntry,
    CycleEnd,
    CycleGate,
    ResultsStream,
    Settled,
    StreamPublisher,
    decode,
    encode_cycle,
    encode_result,
    raise_if_cancelled,
)
from yiwang.pipeline import CycleReport, Failure, Monitor

ODD = Sample("interface", (("descr", 'Gi0/1 "上联" \\ ,=x'), ("device", "汉川-镇1-sw"), ("ifIndex", "7")),
             {"in_octets": 1.5e12, "oper": 1.0, "weird": math.inf}, 1_700_000_000_123_456_789)


def result(device: str, ok: bool = True, samples: int = 2) -> PollResult:
    return PollResult(device, "snmp", [ODD._replace(tags=(("device", device), ("i", str(i)))) for i in range(samples)],
                      ok, "ok" if ok else "timeout", "" if ok else f"{device}: 无响应 timeout after 1 s", 0.25, 40, 1)


def test_a_result_survives_the_wire_unchanged() -> None:
    sent = PollResult("汉川-镇1-sw", "snmp", [ODD, ODD._replace(fields={"nan": math.nan})], False, "timeout",
                      "设备 \x00 \n 坏", 1.25, 97, 3, partial=True)
    back = decode(encode_result(sent))
    assert isinstance(back, PollResult)
    assert back.samples[0] == ODD  # tags in their order, the unicode and the quotes as they were, inf kept
    assert math.isnan(back.samples[1].fields["nan"])
    assert (back.device, back.collector, back.ok, back.reason, back.error) == \
        ("汉川-镇1-sw", "snmp", False, "timeout", "设备 \x00 \n 坏")
    assert (back.duration_s, back.varbinds, back.bad_varbinds, back.partial) == (1.25, 97, 3, True)


def test_defaults_are_left_out_of_the_entry() -> None:
    assert encode_result(PollResult("d", "icmp", [], True)) == b'{"k":"r","d":"d","c":"icmp","o":1,"r":"ok","s":[]}'


def test_a_cycle_end_survives_the_wire() -> None:
    report = CycleReport("snmp", 3, 1, 120, 300, 2.5, 0.75, 0.0,
                         [Failure("a", "snmp", "timeout", "a: 超时"), Failure("b", "snmp", "auth", "b")])
    back = decode(encode_cycle(CycleEnd("poller-1", 28_333_333, report)))
    assert back == CycleEnd("poller-1", 28_333_333, report)
    assert isinstance(back, CycleEnd) and back.report.failed == 2


@pytest.mark.parametrize("junk", [b"", b"[]", b'{"k":"x"}', b'{"k":"r","d":"a"}', b"\xff\xfe"])
def test_junk_is_a_bad_entry_not_a_crash(junk: bytes) -> None:
    with pytest.raises(BadEntry):
        decode(junk)


def client(redis: RedisServer) -> aioredis.Redis:
    return aioredis.Redis.from_url(redis.url, socket_timeout=2, socket_connect_timeout=1)


def names() -> tuple[str, str]:
    return f"yiwang:test:{uuid.uuid4().hex[:8]}", "core"


async def drain(stream: ResultsStream, until_cycles: int, until_events: int = 0) -> list[PollResult | CycleReport]:
    """Events until `until_cycles` cycle ends (and at least `until_events` events); the generator is left
    (acknowledging what it yielded) by asking for one more event after the last, as the monitor does."""
    seen: list[PollResult | CycleReport] = []
    events: AsyncIterator[PollResult | CycleReport] = stream.events()
    cycles = 0
    while cycles < until_cycles or len(seen) < until_events:
        event = await asyncio.wait_for(events.__anext__(), 10)
        seen.append(event)
        cycles += isinstance(event, CycleReport)
    task = asyncio.ensure_future(events.__anext__())  # acknowledges the batch, then blocks on the next read
    await asyncio.sleep(0.3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await events.aclose()  # type: ignore[attr-defined]
    return seen


async def test_results_go_through_redis_in_order_and_the_cycle_end_last(redis: RedisServer) -> None:
    key, group = names()
    c = client(redis)
    publisher = StreamPublisher(c, "p1", lambda _collector: 42, stream=key)
    for device in ("a", "b", "c"):
        publisher.take(result(device, ok=device != "b"))
    publisher.take(PollResult("", "cycle-snmp", [], True))  # the monitor's own cycle result does not travel
    await publisher.settle(CycleReport("snmp", 3, 2, failures=[Failure("b", "snmp", "timeout", "")]))
    assert (publisher.sent, publisher.dropped, len(publisher.pending)) == (4, 0, 0)
    seen = await drain(ResultsStream(c, "core-1", stream=key, group=group), 1)
    assert [e.device if isinstance(e, PollResult) else ("end", e.collector, e.devices, e.failed) for e in seen] == \
        ["a", "b", "c", ("end", "snmp", 3, 1)]
    assert seen[0] == result("a")
    pending = await c.xpending(key, group)
    assert pending["pending"] == 0  # all acknowledged
    # each entry says who sent it in which slot, readable without decoding it
    entries: Any = await c.xrange(key)
    assert {(fields[b"p"], fields[b"s"]) for _, fields in entries} == {(b"p1", b"42")}
    await c.aclose()


async def test_redis_down_then_back_loses_nothing_within_the_bound(redis: RedisServer) -> None:
    key, group = names()
    c = client(redis)
    publisher = StreamPublisher(c, "p1", lambda _collector: 7, stream=key, limit=10)
    publisher.take(result("before"))
    await publisher.settle(CycleReport("snmp", 1, 1))
    redis.stop()
    try:
        for cycle in range(3):  # 3 cycles of 2 results + 1 end = 9 entries while away: within the bound of 10
            publisher.take(result(f"x{cycle}"))
            publisher.take(result(f"y{cycle}"))
            started = asyncio.get_running_loop().time()
            await publisher.settle(CycleReport("snmp", 2, 2))
            assert asyncio.get_running_loop().time() - started < 3  # a settle never hangs on a dead Redis
        assert (len(publisher.pending), publisher.dropped) == (9, 0)
        publisher.take(result("x3"))
        publisher.take(result("y3"))  # 11 entries: the two oldest go
        await publisher.settle(CycleReport("snmp", 2, 2))
        assert (len(publisher.pending), publisher.dropped) == (10, 2)
    finally:
        redis.start()  # saves nothing: "before", sent, is gone with the old Redis; what was kept is not
    assert await publisher.flush()
    publisher.take(result("after"))
    await publisher.settle(CycleReport("snmp", 1, 1))
    assert len(publisher.pending) == 0
    seen = await drain(ResultsStream(c, "core-1", stream=key, group=group), 5)
    devices = [e.device for e in seen if isinstance(e, PollResult)]
    assert devices == ["x1", "y1", "x2", "y2", "x3", "y3", "after"]  # x0, y0: the two dropped beyond the bound
    await c.aclose()


async def test_two_cycles_settling_at_once_send_each_entry_once(redis: RedisServer) -> None:
    # snmp and icmp cycles of one slot end together on a poller of a province: both settles flush at once. Each
    # used to send the same first chunk and then pop a chunk each, so 1000 entries went twice, 1000 never (or the
    # second pop found the deque empty: IndexError in the benchmark).
    key, _ = names()
    c = client(redis)
    publisher = StreamPublisher(c, "p1", lambda _collector: 9, stream=key)
    for n in range(2500):  # three chunks of 1000, 1000, 500: the flushes interleave at every round trip
        publisher.take(result(f"d{n}", samples=0))
    await asyncio.gather(publisher.settle(CycleReport("snmp", 2500, 2500)), publisher.settle(CycleReport("icmp")))
    assert (publisher.sent, len(publisher.pending)) == (2502, 0)
    entries: Any = await c.xrange(key)
    sent = [decode(fields[b"m"]) for _, fields in entries]
    devices = [e.device for e in sent if isinstance(e, PollResult)]
    assert devices == [f"d{n}" for n in range(2500)]  # each once, in order
    assert [e.report.collector for e in sent if isinstance(e, CycleEnd)] == ["snmp", "icmp"]
    await c.aclose()


async def test_a_second_core_continues_from_the_last_acknowledged_entry(redis: RedisServer) -> None:
    key, group = names()
    c = client(redis)
    slot = [1]
    publisher = StreamPublisher(c, "p1", lambda _collector: slot[0], stream=key)
    for n in range(5):
        publisher.take(result(f"d{n}"))
    await publisher.settle(CycleReport("snmp", 5, 5))
    slot[0] = 2
    for n in range(5, 7):
        publisher.take(result(f"d{n}"))
    await publisher.settle(CycleReport("snmp", 2, 2))
    # The first core reads in batches of 2: slot 1 goes through once its end is read, and is acknowledged when the
    # monitor asks for more after its report. It is killed while taking slot 2: d5 and d6 were delivered, not acked.
    first = ResultsStream(c, "core-1", stream=key, group=group, count=2)
    events = first.events()
    taken = [await asyncio.wait_for(events.__anext__(), 5) for _ in range(7)]  # slot 1 (5 + report), then d5
    await events.aclose()  # type: ignore[attr-defined]
    assert [e.device if isinstance(e, PollResult) else e.devices for e in taken] == \
        ["d0", "d1", "d2", "d3", "d4", 5, "d5"]
    assert (await c.xpending(key, group))["pending"] == 3  # d5, d6 and slot 2's end
    seen = await drain(ResultsStream(c, "core-2", stream=key, group=group), 0, until_events=2)
    # core-2 claims slot 2 from core-1 and takes it whole, but passes no report on for the first slot it sees:
    # for all it can tell, another core let part of that slot through before (a hold that expired there).
    assert [e.device if isinstance(e, PollResult) else e.devices for e in seen] == ["d5", "d6"]
    assert (await c.xpending(key, group))["pending"] == 0
    await c.aclose()


class Counting:
    def __init__(self) -> None:
        self.taken: list[str] = []
        self.settled: list[tuple[str, int]] = []

    def take(self, result: PollResult) -> None:
        self.taken.append(result.device)

    async def settle(self, report: CycleReport) -> None:
        self.settled.append((report.collector, report.devices))


async def test_the_monitor_settles_once_per_poller_cycle_not_per_result(redis: RedisServer) -> None:
    key, group = names()
    c = client(redis)
    for poller, devices in (("p1", ["a", "b"]), ("p2", ["c", "d", "e"])):
        publisher = StreamPublisher(c, poller, lambda _collector: 1, stream=key)
        for device in devices:
            publisher.take(result(device))
        await publisher.settle(CycleReport("snmp", len(devices), len(devices)))
    stage = Counting()
    monitor = Monitor([], [stage], feeds=[ResultsStream(c, "core-1", stream=key, group=group)])
    stop = asyncio.Event()
    running = asyncio.ensure_future(monitor.run(stop))
    for _ in range(100):
        if len(stage.settled) == 2:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert stage.taken == ["a", "b", "c", "d", "e"]
    assert stage.settled == [("snmp", 2), ("snmp", 3)]
    assert (await c.xpending(key, group))["pending"] == 0
    await c.aclose()


def end(poller: str, collector: str, slot: int, devices: int, failed: tuple[str, ...] = ()) -> CycleEnd:
    return CycleEnd(poller, slot, CycleReport(collector, devices, devices - len(failed), duration_s=float(devices),
                                              failures=[Failure(d, collector, "timeout", "") for d in failed]))


def devices(through: list[Settled[str]]) -> list[int]:
    return [part.report.devices if part.report else 0 for part in through]


def items(through: list[Settled[str]]) -> list[list[str]]:
    return [part.items for part in through]


def test_the_gate_lets_a_slot_through_once_all_pollers_ended_it() -> None:
    gate: CycleGate[str] = CycleGate(hold_s=2.0)
    # slot 1: nobody is expected yet but who sent results to it: p1's results and end go through alone, and p2's,
    # coming after, go through on their own (late); both are waited for from then on
    gate.result("snmp", 1, "p1", "a", now=0.0)
    assert items(gate.end(end("p1", "snmp", 1, 3), now=0.0, item="end-p1")) == [["a", "end-p1"]]
    gate.result("snmp", 1, "p2", "b", now=0.1)
    assert gate.held == 1
    late = gate.end(end("p2", "snmp", 1, 4), now=0.1)
    assert (items(late), devices(late)) == ([["b"]], [4])
    # slot 2: held, results and all, until both ended it; then one report of the whole group
    gate.result("snmp", 2, "p2", "c", now=10.0)
    assert gate.end(end("p2", "snmp", 2, 4), now=10.2) == [] and gate.held == 1
    assert devices(gate.end(end("p2", "icmp", 2, 4), now=10.3)) == [4]  # icmp is a gate of its own
    gate.result("snmp", 2, "p1", "d", now=10.4)
    [whole] = gate.end(end("p1", "snmp", 2, 3, failed=("a",)), now=10.5)
    assert whole.items == ["c", "d"] and whole.slot == 2 and whole.report is not None
    assert (whole.collector, whole.report.devices, whole.report.ok, whole.report.duration_s,
            [f.device for f in whole.report.failures]) == ("snmp", 7, 6, 4.0, ["a"])
    # slot 3: p1 dies: p2's part is held for hold_s from its first result, then goes alone; p1 is not waited for
    gate.result("snmp", 3, "p2", "e", now=20.0)
    assert gate.end(end("p2", "snmp", 3, 4), now=20.5) == []
    assert gate.due(now=21.9) == []
    assert items(gate.due(now=22.0)) == [["e"]]
    assert devices(gate.end(end("p2", "snmp", 4, 4), now=30.0)) == [4]


def test_a_later_slot_waits_for_an_earlier_one_and_a_slow_poller_is_waited_for() -> None:
    gate: CycleGate[str] = CycleGate(hold_s=10.0)
    for poller in ("p1", "p2"):
        gate.result("snmp", 1, poller, f"{poller}-1", now=0.0)
        gate.end(end(poller, "snmp", 1, 1), now=0.0)
    # p2 overruns slot 2 (a storm: timeouts); p1 has ended slots 2 and 3 meanwhile: neither goes through yet,
    # because p1's devices would be seen down a cycle before p2's
    gate.result("snmp", 2, "p1", "p1-2", now=4.0)
    assert gate.end(end("p1", "snmp", 2, 1), now=4.0) == []
    gate.result("snmp", 3, "p1", "p1-3", now=8.0)
    assert gate.end(end("p1", "snmp", 3, 1), now=8.0) == []
    assert gate.held == 2
    gate.result("snmp", 2, "p2", "p2-2", now=9.0)
    through = gate.end(end("p2", "snmp", 2, 1), now=9.0)
    # slot 2 whole; slot 3 still waits for p2's part
    assert [(part.slot, part.items) for part in through] == [(2, ["p1-2", "p2-2"])]
    # p2 never ends slot 3: the hold (from p1's first result of it, at 8.0) lets it through alone
    assert gate.due(now=17.9) == []
    assert [(part.slot, part.items) for part in gate.due(now=18.0)] == [(3, ["p1-3"])]


def test_results_without_an_end_go_through_after_the_hold_without_a_report() -> None:
    gate: CycleGate[str] = CycleGate(hold_s=5.0)
    gate.result("snmp", 1, "p1", "x", now=0.0)  # the poller was killed after sending them, before its end
    [part] = gate.due(now=5.0)
    assert (part.items, part.report) == (["x"], None)
    gate.result("snmp", 1, "p1", "y", now=6.0)  # more of the slot gone through: late, alone after its own hold
    assert gate.due(now=10.9) == []
    assert [(p.items, p.report) for p in gate.due(now=11.0)] == [(["y"], None)]


def test_an_icmp_settle_never_sees_one_pollers_snmp_results_before_the_others() -> None:
    """The storm that gave township outages instead of one county outage: p1 and p2 each hold half a county; both
    ended icmp (all down); p1 ended snmp (its half down) while p2's snmp cycle still ran. Whatever settles must
    find snmp either all old or all new."""
    gate: CycleGate[str] = CycleGate(hold_s=60.0)
    for collector in ("snmp", "icmp"):  # slot 1: everyone up, both pollers now expected
        for poller in ("p1", "p2"):
            gate.result(collector, 1, poller, f"{collector}-{poller}-up", now=0.0)
            gate.end(end(poller, collector, 1, 1), now=0.0)
    taken: list[str] = []
    for poller in ("p1", "p2"):
        gate.result("icmp", 2, poller, f"icmp-{poller}-down", now=61.0)
    for poller in ("p1", "p2"):
        for part in gate.end(end(poller, "icmp", 2, 1), now=61.0):
            taken.extend(part.items)
    gate.result("snmp", 2, "p1", "snmp-p1-down", now=62.0)
    for part in gate.end(end("p1", "snmp", 2, 1), now=62.0):
        taken.extend(part.items)
    # the icmp slot settled here: snmp of slot 2 must not be among what was taken
    assert taken == ["icmp-p1-down", "icmp-p2-down"]
    gate.result("snmp", 2, "p2", "snmp-p2-down", now=63.0)
    [snmp] = gate.end(end("p2", "snmp", 2, 1), now=63.0)
    assert snmp.items == ["snmp-p1-down", "snmp-p2-down"]


async def test_a_loop_around_redis_ends_when_cancelled_though_redis_py_may_eat_the_cancellation(
        redis: RedisServer) -> None:
    """redis-py's parser, cancelled in its read, says the connection closed and the client retries the command: the
    call returns and the task goes on. The loops around Redis (leases, the results stream) check after each call;
    without that, leave() and a stop waited for ever (CI's hang at stop 22, in test_coordination)."""
    c = client(redis)
    eaten = 0

    async def loop() -> None:
        nonlocal eaten
        while True:
            try:
                await c.hgetall("h")
            except RedisError:
                pass
            task = asyncio.current_task()
            eaten += bool(task and task.cancelling())
            raise_if_cancelled()

    chance = random.Random(22)
    for _ in range(40):
        running = asyncio.create_task(loop())
        await asyncio.sleep(chance.random() * 0.003)  # somewhere in a command or between two
        running.cancel()
        done, _ = await asyncio.wait([running], timeout=2)
        assert done and running.cancelled()
    print(f"cancellations redis-py ate: {eaten} of 40")
    await c.aclose()
