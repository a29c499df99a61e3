"""The stages every poll result goes through, in this order: poll health, latest store, sinks, alerts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from collectors.base import PollResult
from collectors.model import Sample, Tags
from inventory.model import Inventory
from yiwang.alerting import AlertStage
from yiwang.latest import LatestStore
from yiwang.pipeline import CycleReport
from yiwang.status import AreaCounts, DeviceState, area_counts
from yiwang.store import Store

log = logging.getLogger("yiwang.stages")

FLUSH_EVERY = 5000  # samples: a city's cycle reaches the sinks in slices, not all at its end


class PollHealth:
    """The one owner of poll health: each polled device's last outcome per collector, in memory for the API
    and the roll-up, in SQL for history, and as `poll` samples (`yiwang_poll_up{collector, reason}`) for
    Prometheus and the alert rules. Only the collectors it is given count as polls (not traps, not cycles).

    The roll-up of statuses up the area tree is counted once per settled cycle, off the event loop, so the API
    reads counts instead of walking the whole city on every request."""

    def __init__(self, store: Store, tags: Mapping[str, Tags], collectors: Iterable[str],
                 inventory: Inventory | None = None) -> None:
        self.store = store
        self.states: dict[str, dict[str, DeviceState]] = {}
        self._tags = tags
        self._collectors = frozenset(collectors)
        self._rows: list[tuple[str, str, bool, str, str, float, int]] = []
        self._inventory = inventory if inventory is not None else Inventory()
        self._counts: AreaCounts | None = None

    @property
    def counts(self) -> AreaCounts:
        """Devices per status under every area, as of the last settled cycle."""
        if self._counts is None:
            self._counts = area_counts(self._inventory, self.states)
        return self._counts

    def take(self, result: PollResult) -> None:
        if result.collector not in self._collectors:
            return
        now = time.time_ns()
        self.states.setdefault(result.device, {})[result.collector] = DeviceState(
            result.ok, result.reason, result.error, now)
        self._rows.append((result.device, result.collector, result.ok, result.reason, result.error,
                           result.duration_s, result.varbinds))
        tags = tuple(sorted({**dict(self._tags.get(result.device, (("device", result.device),))),
                             "collector": result.collector, "reason": result.reason}.items()))
        result.samples.append(Sample("poll", tags, {
            "up": 1.0 if result.ok else 0.0, "duration_seconds": result.duration_s,
            "varbinds": float(result.varbinds), "bad_varbinds": float(result.bad_varbinds)}, now))

    async def settle(self, report: CycleReport) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        states = {device: dict(by_collector) for device, by_collector in self.states.items()}
        self._counts = await asyncio.to_thread(area_counts, self._inventory, states)
        try:
            await asyncio.to_thread(self.store.record_health, rows)
        except Exception as exc:  # noqa: BLE001 - a store outage must not stop monitoring; it is reported
            log.error("poll health could not be recorded in the SQL store: %s", exc)


class LatestStage:
    """Each result replaces what its device and collector said last time. A partial result (a trap) updates
    fields of series already known instead, and its samples are completed with their full tags, so the stages
    after this one write the same series the poller writes."""

    def __init__(self, latest: LatestStore) -> None:
        self.latest = latest

    def take(self, result: PollResult) -> None:
        if not result.partial:
            self.latest.replace(result.device, result.collector, result.samples)
            return
        result.samples[:] = [self.latest.completed(s) for s in result.samples]
        known = [s for s in result.samples if self.latest.has_series(s)]
        self.latest.replace(result.device, result.collector, [s for s in result.samples if s not in known])
        self.latest.update(known)

    async def settle(self, report: CycleReport) -> None:
        return None


class HealthReporting(Protocol):
    name: str

    def add(self, samples: Sequence[Sample]) -> None: ...

    def health_samples(self) -> list[Sample]: ...


class SinkStage:
    """Samples to the sinks in slices; after each cycle the sinks' own health (spool size, dropped points)
    becomes series like any other."""

    def __init__(self, sinks: Sequence[HealthReporting], latest: LatestStore) -> None:
        self.sinks = list(sinks)
        self.latest = latest
        self._batch: list[Sample] = []

    def take(self, result: PollResult) -> None:
        if not self.sinks:
            return
        self._batch.extend(result.samples)
        if len(self._batch) >= FLUSH_EVERY:
            self.flush()

    async def settle(self, report: CycleReport) -> None:
        self.flush()
        for sink in self.sinks:
            self.latest.replace("", f"sink-{sink.name}", sink.health_samples())

    def flush(self) -> None:
        """Hands what was taken to the sinks; on stop too, for a cycle cancelled before its settle."""
        batch, self._batch = self._batch, []
        if batch:
            for sink in self.sinks:
                sink.add(batch)


class Dispatching(Protocol):
    async def dispatch(self, transitions: Iterable[Any]) -> Any: ...


class AlertsStage:
    """Evaluates the rules over the latest samples when a cycle or a trap is in, and hands what changed to the
    notifiers. Until every collector in `wait_for` has reported once (after a start or restart) the picture
    is partial: a rule needing SNMP and ICMP down would see only one and resolve an incident still going on."""

    def __init__(self, alerts: AlertStage, latest: LatestStore, dispatcher: Dispatching | None,
                 wait_for: Iterable[str]) -> None:
        self.alerts = alerts
        self.latest = latest
        self.dispatcher = dispatcher
        self.wait_for = frozenset(wait_for)
        self._waiting = set(wait_for)
        self._lock = asyncio.Lock()
        self.last_transitions: list[Any] = []

    def take(self, result: PollResult) -> None:
        return None

    async def resume(self) -> None:
        """Take over from another core: its state from the store, and a whole picture awaited again before the
        first evaluation (the latest samples here are only what arrived since)."""
        async with self._lock:
            await asyncio.to_thread(self.alerts.reload)
            self._waiting = set(self.wait_for)

    async def settle(self, report: CycleReport) -> None:
        self._waiting.discard(report.collector)
        if self._waiting:
            return
        async with self._lock:  # a trap and a cycle end may ask at once; the engine's state is one chain
            # The engine is pure CPU; a thread keeps the API answering while a city's cycle is evaluated.
            self.last_transitions = await asyncio.to_thread(self._evaluate)
            if self.dispatcher is not None:
                # queued durably before the first attempt; a receiver that is down gets it later
                await self.dispatcher.dispatch(self.last_transitions)

    def _evaluate(self) -> list[Any]:
        # the snapshot too: copying a city's series is milliseconds the loop does not have
        return self.alerts.evaluate(self.latest.snapshot(), time.time_ns())
