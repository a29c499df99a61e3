"""The monitor as a pipeline: collectors registered by name produce PollResults, and every result goes through
the same list of stages in order (poll health, latest store, sinks, alerts).

Inputs are of three kinds and the monitor pulls from all of them: collectors run in cycles (SNMP, ICMP, SSH,
backup ages), streams yield results when something happens (traps), and jobs run on a timer (backups,
notification retries). A cycle ends with one more result, the cycle's own figures, and then every stage settles.
The monitor knows no collector, sink or rule by name: adding a collector is one `Registered` entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from collectors.base import CycleCollector, PollResult, PollTarget
from collectors.model import Sample

log = logging.getLogger("yiwang.pipeline")

SLICE_S = 0.005  # the longest the monitor keeps the event loop to itself while it takes a cycle's results
# On stop, what is under way (a cycle, a backup with its compliance run, a month's carrier figures) gets this long to
# end, then it is cancelled: each restarts whole on the next start, and what a cut cycle has taken already is in the
# sink stage, flushed or spooled on close (yiwang.stages.SinkStage.flush).
STOP_GRACE_S = 2.0


@dataclass(slots=True)
class Failure:
    device: str
    collector: str
    reason: str
    error: str


@dataclass(slots=True)
class CycleReport:
    collector: str
    devices: int = 0
    ok: int = 0
    varbinds: int = 0
    samples: int = 0
    duration_s: float = 0.0
    cpu_s: float = 0.0  # this process's CPU during the cycle; worker processes report their own in samples
    late_s: float = 0.0  # how long after it was due the cycle started
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


class Stage(Protocol):
    """What happens to results. `take` sees each result as it arrives (and may complete its samples for the
    stages after it); `settle` runs once the collector's cycle, or a stream's event, is over."""

    def take(self, result: PollResult) -> None: ...

    async def settle(self, report: CycleReport) -> None: ...


class Stream(Protocol):
    """An input that speaks when something happens (a trap receiver): results until the monitor stops."""

    name: str

    def results(self) -> AsyncIterator[PollResult]: ...


class Feed(Protocol):
    """An input fed by other processes' cycles (pollers, through the results stream): their results as they
    arrive, then each cycle's report once it is over, so the stages settle once per cycle, not per result."""

    name: str

    def events(self) -> AsyncIterator[PollResult | CycleReport]: ...


@dataclass(frozen=True, slots=True)
class Registered:
    collector: CycleCollector
    targets: Sequence[PollTarget]
    interval_s: float
    after: str | None = None  # the first cycle waits until this collector's first cycle is in
    aligned: bool = False  # cycles start on wall-clock multiples of the interval (a cluster's slots)

    @property
    def name(self) -> str:
        return self.collector.name


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[[], Awaitable[object]]
    interval_s: float
    after: str | None = None


ProgressHook = Callable[[PollResult], None]


class Monitor:
    def __init__(self, collectors: Sequence[Registered], stages: Sequence[Stage], jobs: Sequence[Job] = (),
                 streams: Sequence[Stream] = (), feeds: Sequence[Feed] = ()) -> None:
        self.collectors = {r.name: r for r in collectors}
        if len(self.collectors) != len(collectors):
            raise ValueError("two collectors registered under one name")
        self.stages = list(stages)
        self.jobs = list(jobs)
        self.streams = list(streams)
        self.feeds = list(feeds)
        self.last_reports: dict[str, CycleReport] = {}
        self._done_once = {name: asyncio.Event() for name in [*self.collectors, *(j.name for j in self.jobs)]}

    def targets(self, name: str) -> Sequence[PollTarget]:
        return self.collectors[name].targets

    async def cycle(self, name: str, progress: ProgressHook | None = None, late_s: float = 0.0) -> CycleReport:
        registered = self.collectors[name]
        report = CycleReport(name, late_s=late_s)
        started = time.perf_counter()
        cpu_started = _cpu_seconds()
        seen: set[str] = set()
        slice_started = time.perf_counter()
        try:
            async for result in registered.collector.collect(registered.targets):
                seen.add(result.device)
                self._take(result, report)
                if progress is not None:
                    progress(result)
                if time.perf_counter() - slice_started > SLICE_S:
                    # Results that arrive in a burst (a worker's chunk, an ICMP batch) would otherwise be taken
                    # in one step of the loop, and the API would wait for all of them.
                    await asyncio.sleep(0)
                    slice_started = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - the collector broke its contract: its devices fail, not the monitor
            log.error("%s collector failed mid-cycle: %s: %s", name, type(exc).__name__, exc)
            for target in registered.targets:
                if target.device not in seen:
                    self._take(PollResult(target.device, name, [], False, "internal",
                                          f"{target.device}: collector {name} failed: {type(exc).__name__}: {exc}"),
                               report)
        report.duration_s = time.perf_counter() - started
        report.cpu_s = _cpu_seconds() - cpu_started
        self._take(_cycle_result(report), None)
        await self._settle(report)
        self.last_reports[name] = report
        self._done_once[name].set()
        return report

    def _take(self, result: PollResult, report: CycleReport | None) -> None:
        if report is not None:
            report.devices += 1
            report.varbinds += result.varbinds
            report.samples += len(result.samples)
            if result.ok:
                report.ok += 1
            else:
                report.failures.append(Failure(result.device, result.collector, result.reason, result.error))
        for stage in self.stages:
            stage.take(result)

    async def _settle(self, report: CycleReport) -> None:
        for stage in self.stages:
            try:
                await stage.settle(report)
            except Exception as exc:  # noqa: BLE001 - one stage failing must not stop monitoring; it is reported
                log.error("%s after the %s cycle failed: %s: %s", type(stage).__name__, report.collector,
                          type(exc).__name__, exc)

    async def run(self, stop: asyncio.Event, grace_s: float = STOP_GRACE_S) -> None:
        loops = [self._after(r.after, self._cycles(r, stop)) for r in self.collectors.values()]
        loops += [self._after(j.after, self._jobs(j, stop)) for j in self.jobs]
        loops += [self._listen(s, stop) for s in self.streams]
        loops += [self._listen(f, stop) for f in self.feeds]
        running = asyncio.gather(*loops)
        stopping = asyncio.ensure_future(stop.wait())
        either: set[asyncio.Future[Any]] = {running, stopping}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not running.done():
            done, _ = await asyncio.wait({running}, timeout=grace_s)
            if not done:
                log.info("stopping: what was still running after %.1f s is cancelled", grace_s)
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                return
        await running  # a loop's own failure, as before

    async def _after(self, name: str | None, work: Coroutine[object, object, None]) -> None:
        if name is not None and name in self._done_once:
            try:
                await self._done_once[name].wait()
            except asyncio.CancelledError:
                work.close()  # stopped before it began: never started, not "never awaited"
                raise
        await work

    async def _cycles(self, registered: Registered, stop: asyncio.Event) -> None:
        due = time.monotonic()
        if registered.aligned:
            await _sleep_until_slot(registered.interval_s, stop)
            due = time.monotonic()
        while not stop.is_set():
            started = time.monotonic()
            report = await self.cycle(registered.name, late_s=max(0.0, started - due))
            log.info("%s cycle: %d devices, %d failed, %d varbinds in %.1f s, started %.1f s late",
                     report.collector, report.devices, report.failed, report.varbinds, report.duration_s,
                     report.late_s)
            if report.duration_s > registered.interval_s:
                log.warning("%s cycle took %.1f s, longer than its %.0f s interval", report.collector,
                            report.duration_s, registered.interval_s)
            due = started + registered.interval_s
            if registered.aligned:
                await _sleep_until_slot(registered.interval_s, stop)
                due = time.monotonic()
            else:
                await _sleep_until(due, stop)

    async def _jobs(self, job: Job, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await job.run()
            except Exception as exc:  # noqa: BLE001 - a failing job is reported and tried again next time
                log.error("%s failed: %s: %s", job.name, type(exc).__name__, exc)
            self._done_once[job.name].set()
            await _sleep_until(started + job.interval_s, stop)

    async def _listen(self, stream: Stream | Feed, stop: asyncio.Event) -> None:
        async def consume() -> None:
            async for result in stream.results():  # type: ignore[union-attr]
                report = CycleReport(stream.name)
                self._take(result, report)
                await self._settle(report)

        async def fed() -> None:
            slice_started = time.perf_counter()
            async for event in stream.events():  # type: ignore[union-attr]
                if isinstance(event, CycleReport):
                    await self._settle(event)
                    self.last_reports[event.collector] = event
                    continue
                self._take(event, None)
                if time.perf_counter() - slice_started > SLICE_S:
                    await asyncio.sleep(0)
                    slice_started = time.perf_counter()

        listening = asyncio.ensure_future(fed() if hasattr(stream, "events") else consume())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({listening, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not listening.done():
            listening.cancel()  # the stream's generator closes its socket on the way out
        await asyncio.gather(listening, return_exceptions=True)
        if not listening.cancelled() and listening.exception() is not None:
            raise RuntimeError(f"{stream.name}: {listening.exception()}")

    async def close(self) -> None:
        for registered in self.collectors.values():
            try:
                await registered.collector.close()
            except Exception as exc:  # noqa: BLE001 - closing the others matters more
                log.warning("closing collector %s: %s: %s", registered.name, type(exc).__name__, exc)


async def _sleep_until(deadline: float, stop: asyncio.Event) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        pass


async def _sleep_until_slot(interval_s: float, stop: asyncio.Event) -> None:
    """Until the next wall-clock multiple of the interval: every poller of a cluster starts slot N together."""
    boundary = (time.time() // interval_s + 1) * interval_s
    while not stop.is_set() and time.time() < boundary:
        await _sleep_until(time.monotonic() + boundary - time.time(), stop)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _cycle_result(report: CycleReport) -> PollResult:
    """The cycle's own figures travel as one more result, so they reach the latest store and the sinks."""
    sample = Sample("cycle", (("collector", report.collector),), {
        "duration_seconds": report.duration_s, "devices": float(report.devices), "failed": float(report.failed),
        "varbinds": float(report.varbinds), "late_seconds": report.late_s}, time.time_ns())
    return PollResult("", f"cycle-{report.collector}", [sample], True)


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
