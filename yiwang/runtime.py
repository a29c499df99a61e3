"""The monitor: inventory -> collectors -> samples -> sinks (latest store, InfluxDB, alerts) -> API.

Thin I/O around the pure parts: it schedules cycles, hands each result to every sink and records poll health.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from collectors.base import Collector, CycleCollector, PollResult, PollTarget
from collectors.icmp import FpingCollector
from collectors.model import Sample
from collectors.snmp.collector import make_snmp_collector
from inventory.model import Inventory
from yiwang.alerting import AlertStage
from yiwang.archive.service import ConfigArchive
from yiwang.polling import WorkerPool, poll_targets
from yiwang.status import DeviceState
from yiwang.store import Store

log = logging.getLogger("yiwang.runtime")


class SampleSink(Protocol):
    def add(self, samples: Sequence[Sample]) -> None: ...


class LatestView(Protocol):
    def replace(self, device: str, collector: str, samples: Sequence[Sample]) -> None: ...

    def update(self, samples: Iterable[Sample]) -> None: ...

    def snapshot(self) -> list[Sample]: ...

    def device_samples(self, device: str) -> list[Sample]: ...


class DispatchView(Protocol):
    async def dispatch(self, transitions: Iterable[Any]) -> Any: ...

    async def run(self, stop: asyncio.Event, tick_s: float = 1.0) -> None: ...

    def close(self) -> None: ...


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
    cpu_s: float = 0.0
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


ProgressHook = Callable[[PollResult], None]


class Monitor:
    def __init__(self, inventory: Inventory, snmp_targets: list[PollTarget], icmp_targets: list[PollTarget],
                 latest: LatestView, sinks: Sequence[SampleSink], store: Store, *, concurrency: int = 50,
                 workers: int = 0, timeout: float = 2.0, retries: int = 1, icmp_count: int = 3,
                 profile_dirs: tuple[str, ...] = (), alerts: AlertStage | None = None,
                 dispatcher: DispatchView | None = None, ssh_targets: Sequence[PollTarget] = (),
                 ssh: CycleCollector | None = None, archive: ConfigArchive | None = None) -> None:
        self.inventory = inventory
        self.snmp_targets = snmp_targets
        self.icmp_targets = icmp_targets
        self.latest = latest
        self.sinks = list(sinks)
        self.store = store
        self.concurrency = concurrency
        self.last_reports: dict[str, CycleReport] = {}
        self.states: dict[str, dict[str, DeviceState]] = {}
        self.alerts = alerts
        self.dispatcher = dispatcher
        self.ssh_targets = list(ssh_targets) if ssh is not None else []
        self._ssh = ssh
        self.archive = archive
        self._evaluating = asyncio.Lock()
        self._first_snmp = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self.last_transitions: list[Any] = []
        factory = functools.partial(make_snmp_collector, profile_dirs, timeout, retries)
        self._pool: WorkerPool | None = None
        self._snmp: Collector | None = None
        if workers > 1 and len(snmp_targets) > workers:
            self._pool = WorkerPool(factory, workers, concurrency, "snmp")
            self._pool.start()
        else:
            self._snmp = factory()
        self._icmp = FpingCollector(count=icmp_count)

    async def poll_snmp(self, progress: ProgressHook | None = None) -> CycleReport:
        if self._pool is not None:
            return await self._cycle("snmp", self._pool.collect(self.snmp_targets), progress)
        assert self._snmp is not None
        return await self._cycle("snmp", poll_targets(self._snmp, self.snmp_targets, self.concurrency), progress)

    async def poll_ssh(self, progress: ProgressHook | None = None) -> CycleReport:
        if self._ssh is None:
            return CycleReport("ssh")
        # netmiko runs in SSH worker processes (or the collector's own thread pool: ssh.processes 0)
        return await self._cycle("ssh", self._ssh.collect(self.ssh_targets), progress)

    async def backup_configs(self) -> list[Any]:
        if self.archive is None:
            return []
        results = await self.archive.backup()
        ok = sum(r.ok for r in results)
        log.info("configuration backup: %d devices, %d ok, %d failed", len(results), ok, len(results) - ok)
        for failed in (r for r in results if not r.ok):
            log.warning("backup of %s failed: %s: %s", failed.device, failed.reason, failed.error)
        await self._refresh_backup_age()
        return results

    async def _refresh_backup_age(self) -> None:
        if self.archive is not None:
            samples = await asyncio.to_thread(self.archive.age_samples)
            self.latest.replace("", "archive", samples)
            self._emit(samples)

    async def poll_icmp(self, progress: ProgressHook | None = None) -> CycleReport:
        return await self._cycle("icmp", self._icmp.collect(self.icmp_targets), progress)

    async def _cycle(self, collector: str, results: AsyncIterator[PollResult],
                     progress: ProgressHook | None) -> CycleReport:
        report = CycleReport(collector)
        started = time.perf_counter()
        cpu_started = _cpu_seconds()
        health: list[tuple[str, str, bool, str, str, float, int]] = []
        batch: list[Sample] = []
        async for result in results:
            report.devices += 1
            report.varbinds += result.varbinds
            report.samples += len(result.samples)
            if result.ok:
                report.ok += 1
            else:
                report.failures.append(Failure(result.device, result.collector, result.reason, result.error))
            self.latest.replace(result.device, result.collector, result.samples)
            self.states.setdefault(result.device, {})[result.collector] = DeviceState(
                result.ok, result.reason, result.error, time.time_ns())
            batch.extend(result.samples)
            if len(batch) >= 5000:
                self._emit(batch)
                batch = []
            health.append((result.device, result.collector, result.ok, result.reason, result.error,
                           result.duration_s, result.varbinds))
            if progress is not None:
                progress(result)
        report.duration_s = time.perf_counter() - started
        worker_cpu = sum(s.cpu_s for s in self._pool.last_stats) if self._pool and collector == "snmp" else 0.0
        report.cpu_s = _cpu_seconds() - cpu_started + worker_cpu
        cycle_sample = _cycle_sample(report)
        batch.append(cycle_sample)
        self._emit(batch)
        self.latest.replace("", f"cycle-{collector}", [cycle_sample])
        for sink in self.sinks:
            sink_health = getattr(sink, "health_samples", None)
            if sink_health is not None:  # spool size and dropped points become series like any other
                self.latest.replace("", f"sink-{getattr(sink, 'name', 'sink')}", sink_health())
        try:
            await asyncio.to_thread(self.store.record_health, health)
        except Exception as exc:  # noqa: BLE001 - a store outage must not stop monitoring; it is reported
            log.error("poll health could not be recorded in the SQL store: %s", exc)
        self.last_reports[collector] = report
        # Until every collector has reported once (after a start or restart) the picture is partial: an alert
        # needing SNMP and ICMP down would see only one and resolve an incident that is still going on.
        if collector == "snmp":
            self._first_snmp.set()
            await self._refresh_backup_age()  # ages grow between backups; old ones are an alert rule
        await self.evaluate_alerts()
        return report

    async def evaluate_alerts(self) -> None:
        expected = {name for name, targets in (("snmp", self.snmp_targets), ("icmp", self.icmp_targets)) if targets}
        if self.alerts is None or not expected <= set(self.last_reports):
            return
        async with self._evaluating:  # a trap and a cycle end may ask at once; the engine's state is one chain
            try:
                # The engine is pure CPU; a thread keeps the API answering while a city's cycle is evaluated.
                self.last_transitions = await asyncio.to_thread(self.alerts.evaluate, self.latest.snapshot(),
                                                                time.time_ns())
            except Exception as exc:  # noqa: BLE001 - alerting failing must not stop monitoring; it is reported
                log.error("alert evaluation failed: %s: %s", type(exc).__name__, exc)
                return
            if self.dispatcher is not None:
                # queued to the outbox before the first attempt; a receiver that is down gets it later
                await self.dispatcher.dispatch(self.last_transitions)

    def ingest_trap(self, samples: Sequence[Sample]) -> None:
        """Trap samples between polls: a linkDown updates the polled interface series at once, and the rules
        are evaluated now rather than at the end of the next cycle."""
        if not samples:
            return
        device = samples[0].tag("device")
        current = {(s.measurement, s.tags): s for s in self.latest.device_samples(device)}
        merged = []
        for sample in samples:
            known = current.get((sample.measurement, sample.tags))
            merged.append(sample._replace(fields={**known.fields, **sample.fields}) if known else sample)
        self.latest.replace(device, "trap", [s for s in merged if s.measurement == "trap"])
        self.latest.update([s for s in merged if s.measurement != "trap"])
        self._emit(merged)
        task = asyncio.get_running_loop().create_task(self.evaluate_alerts())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def interface_tags(self, device: str, if_index: int) -> tuple[tuple[str, str], ...] | None:
        wanted = str(if_index)
        for sample in self.latest.device_samples(device):
            if sample.measurement == "interface" and sample.tag("if_index") == wanted:
                return sample.tags
        return None

    def _emit(self, batch: list[Sample]) -> None:
        for sink in self.sinks:
            sink.add(batch)

    async def run(self, interval_s: float, icmp_interval_s: float, stop: asyncio.Event,
                  ssh_interval_s: float = 900.0, backup_interval_s: float = 86400.0) -> None:
        loops = [self._loop(self.poll_snmp, interval_s, stop), self._loop(self.poll_icmp, icmp_interval_s, stop)]
        # SSH sessions are threads in this process: they start once the first SNMP cycle is in, and backups once
        # the first SSH cycle is, so that a start does not put every kind of work on the cores at once.
        ssh_started = asyncio.Event()
        if self._ssh is not None and self.ssh_targets:
            loops.append(self._after(self._first_snmp, self._loop(self.poll_ssh, ssh_interval_s, stop,
                                                                  done_once=ssh_started)))
        else:
            ssh_started = self._first_snmp
        if self.archive is not None:
            loops.append(self._after(ssh_started, self._every(self.backup_configs, backup_interval_s, stop)))
        if self.dispatcher is not None:
            loops.append(self.dispatcher.run(stop))  # retries between cycles
        await asyncio.gather(*loops)

    @staticmethod
    async def _after(ready: asyncio.Event, job: Awaitable[None]) -> None:
        await ready.wait()
        await job

    async def _loop(self, cycle: Callable[[], Awaitable[CycleReport]], interval_s: float, stop: asyncio.Event,
                    done_once: asyncio.Event | None = None) -> None:
        while not stop.is_set():
            started = time.monotonic()
            report = await cycle()
            if done_once is not None:
                done_once.set()
            log.info("%s cycle: %d devices, %d failed, %d varbinds in %.1f s", report.collector, report.devices,
                     report.failed, report.varbinds, report.duration_s)
            if report.duration_s > interval_s:
                log.warning("%s cycle took %.1f s, longer than its %.0f s interval", report.collector,
                            report.duration_s, interval_s)
            wait = max(0.0, interval_s - (time.monotonic() - started))
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                pass

    async def _every(self, job: Callable[[], Awaitable[object]], interval_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await job()
            except Exception as exc:  # noqa: BLE001 - a failing job is reported and tried again next time
                log.error("%s failed: %s: %s", getattr(job, "__name__", "job"), type(exc).__name__, exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()
        if self._pool is not None:
            self._pool.stop()
        close = getattr(self._snmp, "close", None)
        if close is not None:
            await close()

    def worker_pids(self) -> list[int]:
        return self._pool.pids() if self._pool else []


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _cycle_sample(report: CycleReport) -> Sample:
    return Sample("cycle", (("collector", report.collector),), {
        "duration_seconds": report.duration_s, "devices": float(report.devices), "failed": float(report.failed),
        "varbinds": float(report.varbinds)}, time.time_ns())
