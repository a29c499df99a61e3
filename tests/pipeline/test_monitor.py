"""The pipeline's own logic, with collectors that answer from a table (nothing crosses a wire here; the
end-to-end tests run the same pipeline against the lab and real servers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from collectors.base import PollResult, PollTarget
from collectors.model import Sample, make_tags
from yiwang.latest import LatestStore
from yiwang.pipeline import CycleReport, Job, Monitor, Registered
from yiwang.stages import LatestStage, PollHealth, SinkStage
from yiwang.store import Store, open_store

TARGETS = [PollTarget(name, "127.0.0.1", make_tags(device=name, county="Huangzhou")) for name in ("a", "b", "c")]


class TableCollector:
    """Answers each device from a table; a device missing from it fails as a timeout."""

    def __init__(self, name: str, table: dict[str, list[Sample]], break_after: int | None = None) -> None:
        self.name = name
        self.table = table
        self.break_after = break_after
        self.closed = False

    async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        for number, target in enumerate(targets):
            if self.break_after is not None and number == self.break_after:
                raise RuntimeError("socket went away")
            samples = self.table.get(target.device)
            if samples is None:
                yield PollResult(target.device, self.name, [], False, "timeout", f"{target.device}: no answer", 2.0)
            else:
                yield PollResult(target.device, self.name, list(samples), True, duration_s=0.1, varbinds=len(samples))

    async def close(self) -> None:
        self.closed = True


class Recorder:
    """A stage that remembers what it saw, to check the order and the content stages hand on."""

    def __init__(self) -> None:
        self.taken: list[PollResult] = []
        self.settled: list[str] = []

    def take(self, result: PollResult) -> None:
        self.taken.append(result)

    async def settle(self, report: CycleReport) -> None:
        self.settled.append(report.collector)


class ListSink:
    name = "list"

    def __init__(self) -> None:
        self.added: list[Sample] = []

    def add(self, samples: Sequence[Sample]) -> None:
        self.added.extend(samples)

    def health_samples(self) -> list[Sample]:
        return [Sample("sink", (("sink", self.name),), {"points": float(len(self.added))}, 1)]


def interface(device: str, index: str, name: str, status: float) -> Sample:
    return Sample("interface", make_tags(device=device, if_index=index, interface=name), {"oper_status": status,
                                                                                          "in_bps": 5.0}, 1)


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'y.sqlite'}")


async def test_every_result_goes_through_the_stages_in_order(store: Store) -> None:
    latest, sink, recorder = LatestStore(), ListSink(), Recorder()
    snmp = TableCollector("snmp", {"a": [interface("a", "1", "Gi0/1", 1.0)], "b": []})
    health = PollHealth(store, {t.device: t.tags for t in TARGETS}, ["snmp"])
    monitor = Monitor([Registered(snmp, TARGETS, 60.0)], [health, LatestStage(latest), SinkStage([sink], latest),
                                                         recorder])
    report = await monitor.cycle("snmp")
    assert (report.devices, report.ok, report.failed) == (3, 2, 1)
    assert [(f.device, f.reason) for f in report.failures] == [("c", "timeout")]
    # health saw it first: its `poll` sample is in the result that the latest store and the sink received
    polls = {s.tag("device"): s for s in latest.snapshot() if s.measurement == "poll"}
    assert {d: (s.fields["up"], s.tag("reason"), s.tag("county")) for d, s in polls.items()} == {
        "a": (1.0, "ok", "Huangzhou"), "b": (1.0, "ok", "Huangzhou"), "c": (0.0, "timeout", "Huangzhou")}
    assert sorted(s.tag("device") for s in sink.added if s.measurement == "poll") == ["a", "b", "c"]
    # the cycle's own figures travel as the last result
    assert [r.collector for r in recorder.taken] == ["snmp"] * 3 + ["cycle-snmp"]
    assert recorder.settled == ["snmp"]
    cycle = next(s for s in latest.snapshot() if s.measurement == "cycle")
    assert cycle.fields["devices"] == 3 and cycle.fields["failed"] == 1
    assert any(s.measurement == "sink" for s in latest.snapshot())  # the sink's own health, after settling
    # one owner of health: memory and SQL agree
    assert {d: s["snmp"].reason for d, s in health.states.items()} == {"a": "ok", "b": "ok", "c": "timeout"}
    assert {h.device: h.reason for h in store.health()} == {"a": "ok", "b": "ok", "c": "timeout"}
    await monitor.close()
    assert snmp.closed


async def test_a_result_replaces_what_its_device_said_before(store: Store) -> None:
    latest = LatestStore()
    table = {"a": [interface("a", "1", "Gi0/1", 1.0), interface("a", "2", "Gi0/2", 1.0)]}
    monitor = Monitor([Registered(TableCollector("snmp", table), TARGETS[:1], 60.0)], [LatestStage(latest)])
    await monitor.cycle("snmp")
    table["a"] = [interface("a", "1", "Gi0/1", 2.0)]
    await monitor.cycle("snmp")
    assert [(s.tag("interface"), s.fields["oper_status"]) for s in latest.device_samples("a")
            if s.measurement == "interface"] == [("Gi0/1", 2.0)]


async def test_a_collector_that_breaks_mid_cycle_fails_its_remaining_devices(store: Store) -> None:
    health = PollHealth(store, {}, ["snmp"])
    broken = TableCollector("snmp", {"a": [], "b": [], "c": []}, break_after=1)
    monitor = Monitor([Registered(broken, TARGETS, 60.0)], [health])
    report = await monitor.cycle("snmp")
    assert (report.ok, [(f.device, f.reason) for f in report.failures]) == (1, [("b", "internal"), ("c", "internal")])
    assert "socket went away" in report.failures[0].error
    assert health.states["c"]["snmp"].ok is False


async def test_a_trap_updates_the_polled_series_and_settles_at_once(store: Store) -> None:
    latest, recorder = LatestStore(), Recorder()
    snmp = TableCollector("snmp", {"a": [interface("a", "3", "Gi0/3", 1.0)]})
    trap = Sample("trap", make_tags(device="a", trap="linkDown", if_index="3"), {"received": 1.0}, 9)
    link = Sample("interface", make_tags(device="a", if_index="3"), {"oper_status": 2.0}, 9)
    stop = asyncio.Event()

    class OneTrap:
        name = "trap"

        async def results(self) -> AsyncIterator[PollResult]:
            await asyncio.sleep(0.05)
            yield PollResult("a", "trap", [trap, link], True, partial=True)
            await asyncio.sleep(0.05)
            stop.set()
            await asyncio.sleep(3600)

    monitor = Monitor([Registered(snmp, TARGETS[:1], 3600.0)], [LatestStage(latest), recorder], streams=[OneTrap()])
    await asyncio.wait_for(monitor.run(stop), 5)
    [series] = [s for s in latest.device_samples("a") if s.measurement == "interface"]
    # the polled series (with its interface name) now says down, and kept its other fields
    assert series.tags == make_tags(device="a", if_index="3", interface="Gi0/3")
    assert dict(series.fields) == {"oper_status": 2.0, "in_bps": 5.0} and series.time_ns == 9
    assert recorder.taken[-1].samples[1] == series  # later stages got the completed sample, not the partial one
    assert "trap" in recorder.settled
    assert any(s.measurement == "trap" for s in latest.device_samples("a"))


async def test_a_job_waits_for_the_collector_it_follows(store: Store) -> None:
    order: list[str] = []
    stop = asyncio.Event()

    class Slow(TableCollector):
        async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
            await asyncio.sleep(0.1)
            order.append(self.name)
            async for result in super().collect(targets):
                yield result

    async def backup() -> None:
        order.append("backup")
        stop.set()

    monitor = Monitor([Registered(Slow("ssh", {"a": []}), TARGETS[:1], 3600.0)], [],
                      jobs=[Job("backup", backup, 3600.0, after="ssh")])
    await asyncio.wait_for(monitor.run(stop), 5)
    assert order == ["ssh", "backup"]


def test_two_collectors_under_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="one name"):
        Monitor([Registered(TableCollector("snmp", {}), TARGETS, 1.0),
                 Registered(TableCollector("snmp", {}), TARGETS, 1.0)], [])


async def test_a_stop_cuts_what_runs_past_the_grace_and_keeps_what_was_taken() -> None:
    """A cycle stuck after its first device and a job that never ends: run() returns `grace_s` after the stop,
    the job is cancelled, and the first device's samples, taken before the cut, reach the sink on flush."""
    latest, sink = LatestStore(), ListSink()
    to_sinks = SinkStage([sink], latest)
    stop = asyncio.Event()
    cancelled: list[str] = []

    class Stuck:
        name = "snmp"

        async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
            yield PollResult("a", self.name, [interface("a", "1", "Gi0/1", 1.0)], True)
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.append("cycle")
                raise
            yield PollResult("b", self.name, [], True)  # never reached

        async def close(self) -> None:
            pass

    async def endless() -> None:
        await asyncio.sleep(0.05)  # the cycle is stuck by now
        stop.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append("job")
            raise

    monitor = Monitor([Registered(Stuck(), TARGETS, 60.0)], [LatestStage(latest), to_sinks],
                      [Job("carriers", endless, 3600.0)])
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(monitor.run(stop, grace_s=0.3), 5)
    assert 0.3 <= asyncio.get_running_loop().time() - started < 1.5
    assert sorted(cancelled) == ["cycle", "job"]
    assert sink.added == []  # still in the stage: the cycle never settled
    to_sinks.flush()
    assert [s.tags for s in sink.added] == [make_tags(device="a", if_index="1", interface="Gi0/1")]


async def test_a_stop_waits_for_a_cycle_that_ends_within_the_grace() -> None:
    latest, recorder = LatestStore(), Recorder()
    stop = asyncio.Event()

    class Slow:
        name = "snmp"

        async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
            stop.set()
            await asyncio.sleep(0.2)
            yield PollResult("a", self.name, [], True)

        async def close(self) -> None:
            pass

    monitor = Monitor([Registered(Slow(), TARGETS[:1], 60.0)], [LatestStage(latest), recorder])
    await asyncio.wait_for(monitor.run(stop, grace_s=2.0), 5)
    assert recorder.settled == ["snmp"]  # the cycle finished and settled, not cut
