"""The overview's live state and its stream: a pipeline stage that, once per settled cycle (and so once per alert
evaluation, which settles just before it), computes the overview from memory, diffs it against the last one and
hands the changes to every connected page.

Each page has a bounded queue. The poller never waits for a page: a page whose queue is full is dropped (its
stream ends; the browser reconnects after `retry` and is sent a full snapshot), so one slow client costs nothing
but itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from alerts.topology import Topology
from collectors.base import PollResult
from collectors.model import Sample
from inventory.model import Inventory
from yiwang.overview import (
    AlertLike,
    Rollout,
    alerts_by_area,
    alerts_by_device,
    alerts_summary,
    area_rows,
    capacity_panel,
    changed_areas,
    changed_devices,
    compliance_panel,
    device_statuses,
    firing_alerts,
    iso,
    rollout_panel,
    root_area,
)
from yiwang.pipeline import CycleReport
from yiwang.status import AreaCounts, DeviceState

log = logging.getLogger("yiwang.overview")

QUEUE_EVENTS = 64  # per page: a page that falls this far behind is dropped, never waited for


class HealthSource(Protocol):
    @property
    def states(self) -> Mapping[str, Mapping[str, DeviceState]]: ...

    @property
    def counts(self) -> AreaCounts: ...


class AlertSource(Protocol):
    topology: Topology

    @property
    def state(self) -> Any: ...  # alerts.state.EngineState: replaced, never changed, by each evaluation


class SampleSource(Protocol):
    def device_samples(self, device: str) -> Iterable[Sample]: ...


class CarrierSource(Protocol):
    """The carriers' SLA figures as last computed on their timer (yiwang.capacity.sla_panel.CarrierSlas)."""

    @property
    def panel(self) -> Mapping[str, Any]: ...


NO_CARRIERS: Mapping[str, Any] = {"month": None, "computed_at": None, "carriers": [], "problem": None}


class PanelSources(Protocol):
    """The slow-moving inputs of the panels, read in a thread once per cycle: active change jobs, rule titles."""

    def rollouts(self) -> list[Rollout]: ...

    def rule_titles(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class OverviewState:
    generated_ns: int
    root: str | None
    statuses: Mapping[str, str]  # device -> up | down | unknown
    device_alerts: Mapping[str, int]
    areas: Mapping[str, Mapping[str, Any]]  # id -> AREA row, parents before children
    alerts: Mapping[str, Any]
    panels: Mapping[str, Any]
    _json: list[bytes] = field(default_factory=list, compare=False, repr=False)

    def overview(self) -> dict[str, Any]:
        return {"generated_at": iso(self.generated_ns), "root": self.root, "areas": list(self.areas.values()),
                "alerts": self.alerts}

    def overview_json(self) -> bytes:
        """Serialised once per state: every page that loads in the same cycle gets the same bytes."""
        if not self._json:
            self._json.append(json.dumps(self.overview(), ensure_ascii=False, separators=(",", ":")).encode())
        return self._json[0]


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str  # areas | devices | alerts | panels
    data: str  # JSON

    def encode(self) -> bytes:
        return f"id: {self.id}\nevent: {self.kind}\ndata: {self.data}\n\n".encode()


def events_between(old: OverviewState | None, new: OverviewState, inv: Inventory,
                   first_id: int) -> list[Event]:
    """What a page holding `old` needs to hold `new`: only what changed, in the order devices, areas, alerts,
    panels (a county's row turns red after its devices did)."""
    found: list[tuple[str, Any]] = []
    devices = changed_devices(old.statuses if old else {}, new.statuses, inv)
    if devices:
        found.append(("devices", devices))
    areas = changed_areas(old.areas if old else {}, list(new.areas.values()))
    if areas:
        found.append(("areas", areas))
    if old is None or old.alerts != new.alerts:
        found.append(("alerts", new.alerts))
    if old is None or old.panels != new.panels:
        found.append(("panels", new.panels))
    return [Event(first_id + i, kind, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
            for i, (kind, data) in enumerate(found)]


class Subscription:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=size)
        self.dropped = False


def build_state(inv: Inventory, topology: Topology, states: Mapping[str, Mapping[str, DeviceState]],
                counts: AreaCounts, records: list[AlertLike], samples: list[Sample],
                rollouts: list[Rollout], titles: Mapping[str, str], now_ns: int,
                carriers: Mapping[str, Any] = NO_CARRIERS) -> OverviewState:
    firing = firing_alerts(records)
    rows = area_rows(inv, counts, alerts_by_area(inv, firing, topology.areas_of))
    panels = {"rollouts": rollout_panel(inv, rollouts), "compliance": compliance_panel(inv, samples, titles),
              "capacity": capacity_panel(inv, samples), "carriers": carriers}
    return OverviewState(now_ns, root_area(inv), device_statuses(inv, states), alerts_by_device(firing),
                         {row["id"]: row for row in rows}, alerts_summary(inv, records, counts, topology.areas_of),
                         panels)


class OverviewFeed:
    """A stage of the pipeline (after the alerts) and the one owner of the overview's live state."""

    def __init__(self, inventory: Inventory, health: HealthSource, latest: SampleSource,
                 alerts: AlertSource | None = None, panels: PanelSources | None = None,
                 queue_size: int = QUEUE_EVENTS, clock: Callable[[], int] = time.time_ns) -> None:
        self.inventory = inventory
        self.health = health
        self.latest = latest
        self.alerts = alerts
        self.panels = panels
        self.carriers: CarrierSource | None = None  # set when a metric history is configured
        self.topology = alerts.topology if alerts is not None else Topology.from_inventory(inventory)
        self.queue_size = queue_size
        self.clock = clock
        self.state: OverviewState | None = None
        self.next_id = 1
        self.subscribers: set[Subscription] = set()
        self.dropped = 0  # pages dropped for falling behind, since start
        self.last_diff_s = 0.0
        self._lock = asyncio.Lock()

    # --- the stage -------------------------------------------------------------------------------------------
    def take(self, result: PollResult) -> None:
        return None

    async def settle(self, report: CycleReport) -> None:
        await self.refresh()

    async def refresh(self) -> list[Event]:
        async with self._lock:  # a trap's settle and a cycle's may come together; states are one chain
            inputs = self._inputs()  # on the loop: the poller changes these dicts between awaits, never during
            new = await asyncio.to_thread(self._build, *inputs)
            started = time.perf_counter()
            events = events_between(self.state, new, self.inventory, self.next_id)
            self.last_diff_s = time.perf_counter() - started
            self.state = new
            self.next_id += len(events)
            self.publish(events)
            return events

    def current(self) -> OverviewState:
        """The last state; before the first cycle, one built now (every device unknown)."""
        if self.state is None:
            self.state = self._build(*self._inputs())
        return self.state

    def _inputs(self) -> tuple[dict[str, dict[str, DeviceState]], AreaCounts, list[AlertLike], list[Sample],
                               Mapping[str, Any]]:
        states = {device: dict(by) for device, by in self.health.states.items()}
        records = list(self.alerts.state.alerts.values()) if self.alerts is not None else []
        # Area-wide samples (compliance, capacity) belong to no device: the last run's, never history.
        samples = [s for s in self.latest.device_samples("") if s.measurement in ("compliance", "link")]
        carriers = self.carriers.panel if self.carriers is not None else NO_CARRIERS  # replaced, never changed
        return states, self.health.counts, records, samples, carriers

    def _build(self, states: dict[str, dict[str, DeviceState]], counts: AreaCounts, records: list[AlertLike],
               samples: list[Sample], carriers: Mapping[str, Any]) -> OverviewState:
        rollouts: list[Rollout] = []
        titles: Mapping[str, str] = {}
        if self.panels is not None:
            try:
                rollouts, titles = self.panels.rollouts(), self.panels.rule_titles()
            except Exception as exc:  # noqa: BLE001 - a store hiccup costs the panels one cycle, not the overview
                log.warning("overview panels: %s: %s", type(exc).__name__, exc)
        return build_state(self.inventory, self.topology, states, counts, records, samples, rollouts, titles,
                           self.clock(), carriers)

    # --- the pages ---------------------------------------------------------------------------------------------
    def subscribe(self) -> Subscription:
        subscription = Subscription(self.queue_size)
        self.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscribers.discard(subscription)

    def end_streams(self) -> None:
        """On stop: every page's stream ends now (the browser shows the lost connection and reconnects to the next
        start), since the API server waits for open responses before it exits."""
        for subscription in list(self.subscribers):
            self.subscribers.discard(subscription)
            while not subscription.queue.empty():
                subscription.queue.get_nowait()
            subscription.queue.put_nowait(None)

    def publish(self, events: list[Event]) -> None:
        """On the event loop; never blocks: a page that cannot take an event now is dropped."""
        for subscription in list(self.subscribers):
            for event in events:
                try:
                    subscription.queue.put_nowait(event)
                except asyncio.QueueFull:
                    self._drop(subscription)
                    break

    def _drop(self, subscription: Subscription) -> None:
        self.subscribers.discard(subscription)
        subscription.dropped = True
        self.dropped += 1
        while not subscription.queue.empty():  # what it missed is replaced by a snapshot on its reconnect
            subscription.queue.get_nowait()
        subscription.queue.put_nowait(None)  # the end of its stream
        log.info("overview stream: a page fell %d events behind and was dropped", self.queue_size)

    def snapshot_event(self) -> Event:
        state = self.current()
        return Event(self.next_id - 1 if self.next_id > 1 else 0, "areas",
                     json.dumps(list(state.areas.values()), ensure_ascii=False, separators=(",", ":")))


class RuntimePanels:
    """PanelSources from the running services: active change jobs from their store, rule titles from the pack
    (read once; read again when a rule appears that the titles do not name)."""

    def __init__(self, changes: Any | None, compliance: Any | None) -> None:
        self.changes = changes
        self.compliance = compliance
        self._titles: dict[str, str] = {}

    def rollouts(self) -> list[Rollout]:
        if self.changes is None:
            return []
        from yiwang.change.jobs import ACTIVE_JOB

        store = self.changes.store
        return [Rollout(job.id, job.kind, job.area, job.state, {d.device: d.state for d in store.devices(job.id)})
                for job in store.jobs(ACTIVE_JOB)]

    def rule_titles(self) -> Mapping[str, str]:
        if self.compliance is not None and not self._titles:
            self._titles = {r.id: f"{r.title_zh} / {r.title_en}" for r in self.compliance.pack().rules}
        return self._titles
