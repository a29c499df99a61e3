"""The roles of one program (issue 15): a poller polls its share and publishes; a core consumes what the pollers
publish and does everything else (API, alerts, notifications, checks, change jobs). `--role all` is `assemble`.

A core runs alone or beside a standby: both join the tooz group "yiwang-core" on the cluster's Redis and only the
elected leader reads the results stream (and so evaluates alerts and dispatches); the standby serves the API from
the same shared store and waits."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from collectors.base import PollResult
from collectors.model import Sample, Tags
from yiwang.assemble import COLLECTORS, Assembly, Parts, SetupError, assemble, load
from yiwang.cluster.coordination import PollerMembership
from yiwang.cluster.shares import ShareCollector, Shares, ShareSource
from yiwang.cluster.transport import ResultsStream, StreamPublisher, redis_client
from yiwang.cluster.view import ClusterView
from yiwang.config import ClusterSettings, Settings
from yiwang.latest import LatestStore
from yiwang.pipeline import CycleReport, Job, Monitor, Registered, Stage, default_workers
from yiwang.stages import AlertsStage, SinkStage
from yiwang.targets import build_targets

log = logging.getLogger("yiwang.cluster.roles")

CORE_GROUP = "yiwang-core"


class PollSamples:
    """The poller's `poll` samples for its own sinks (PollHealth's, without its store: the core keeps health)."""

    def __init__(self, tags: Mapping[str, Tags], collectors: frozenset[str]) -> None:
        self._tags = tags
        self._collectors = collectors

    def take(self, result: PollResult) -> None:
        if result.collector not in self._collectors:
            return
        tags = tuple(sorted({**dict(self._tags.get(result.device, (("device", result.device),))),
                             "collector": result.collector, "reason": result.reason}.items()))
        result.samples.append(Sample("poll", tags, {
            "up": 1.0 if result.ok else 0.0, "duration_seconds": result.duration_s,
            "varbinds": float(result.varbinds), "bad_varbinds": float(result.bad_varbinds)}, time.time_ns()))

    async def settle(self, report: CycleReport) -> None:
        return None


@dataclass(slots=True)
class PollerAssembly:
    monitor: Monitor
    publisher: StreamPublisher
    shares: Shares
    problems: list[str] = field(default_factory=list)
    membership: PollerMembership | None = None  # None: a share given by the caller (tests), no engine
    starting: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    closing: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def start(self) -> None:
        for start in self.starting:
            await start()

    async def close(self) -> None:
        await self.monitor.close()
        await self.publisher.flush()
        for close in self.closing:
            await close()


def member_name(member: str | None) -> str:
    return member or f"{socket.gethostname()}-{os.getpid()}"


def assemble_poller(settings: Settings, group: str, member: str, source: ShareSource | None = None,
                    workers: int | None = None) -> PollerAssembly:
    """Collectors over this poller's share of each slot, the influx sink, and the publisher to the core."""
    if settings.cluster is None:
        raise SetupError("--role poller needs a cluster section in the configuration (cluster: {url: ...})")
    inv, inventory_problems = load(settings)
    problems = [str(p) for p in inventory_problems]
    targets = build_targets(inv, secrets_base=settings.state_dir)
    problems.extend(targets.problems)
    slot_s = settings.poll.interval_s
    cluster = settings.cluster
    membership = None
    if source is None:
        from yiwang.cluster.partition import devices_by_key

        membership = PollerMembership(cluster.url, group, member, devices_by_key(inv, group), cluster.lease_ttl_s)
        source = membership
    shares = Shares(source, slot_s)
    parts = Parts(settings, targets, workers if workers is not None else (settings.poll.workers or default_workers()))
    # The polls only: SSH facts, backups, compliance and capacity stay with the core for now.
    registered = []
    polling: dict[str, ShareCollector] = {}
    for name in ("snmp", "icmp"):
        built = COLLECTORS[name](parts)
        if built is not None:
            polling[name] = ShareCollector(built.collector, shares, built.interval_s)
            registered.append(Registered(polling[name], built.targets, built.interval_s, aligned=True))
    client = redis_client(settings.cluster.url)

    def cycle_of(collector: str) -> int:
        polled = polling.get(collector)
        return polled.cycle if polled is not None else shares.slot

    publisher = StreamPublisher(client, member, cycle_of)
    from yiwang.assemble import influx_sink  # the same buffered, spooled influx sink as --role all

    # a spool of its own: pollers on one machine may share a state_dir
    sinks = [influx_sink(settings, f"influx-{member}")] if settings.influx is not None else []
    latest = LatestStore()
    stages: list[Stage] = [publisher, PollSamples({t.device: t.tags for t in targets.icmp},
                                                  frozenset(r.name for r in registered)),
                           SinkStage(sinks, latest)]
    assembly = PollerAssembly(Monitor(registered, stages), publisher, shares, problems, membership)
    if membership is not None:
        assembly.starting.append(membership.start)
        assembly.closing.append(membership.leave)  # the share moves at once, not after the lease runs out
    for sink in sinks:
        assembly.starting.append(sink.start)
        assembly.closing.append(sink.close)
    assembly.closing.append(client.aclose)
    return assembly


class CoreElection:
    """tooz leader election in the group "yiwang-core": `leader` is set while this core leads. tooz is
    synchronous, so it runs its heartbeats and watchers in a thread of its own.

    Elected: the `on_elected` steps run first (the alert state re-read from the shared store), then `leader` is set.
    Stepping down: tooz never says a leadership was lost, so this core counts on its own clock, as a poller does
    with its lease: once its last successful heartbeat (which also extends the leader lock) is older than the
    TTL minus a margin, `leader` is cleared; the lock on the server expires later than that, never earlier, so two
    cores never both think they lead. The thread then keeps trying, and wins the lock again if nobody else did."""

    def __init__(self, cluster: ClusterSettings, member: str, poll_s: float = 0.5) -> None:
        self.cluster = cluster
        self.member = member
        self.poll_s = poll_s
        self.leader = asyncio.Event()
        self.on_elected: list[Callable[[], Awaitable[None]]] = []
        self.fence_after_s = cluster.lease_ttl_s - max(0.2, cluster.lease_ttl_s / 5)
        self.elected_at: float | None = None  # unix time this core last began to lead
        self.stepped_down_at: float | None = None
        self.elections = 0
        self.last_error: str | None = None
        self._alive_at: float | None = None  # monotonic time the last successful heartbeat was sent
        self._stopping = threading.Event()
        self._resign = threading.Event()  # stepped down: the thread drops its coordinator (and the lock) and rejoins
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: asyncio.Task[None] | None = None

    def state(self) -> dict[str, Any]:
        return {"member": self.member, "leader": self.leader.is_set(), "elected_at": self.elected_at,
                "stepped_down_at": self.stepped_down_at, "elections": self.elections,
                "last_error": self.last_error}

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="core election", daemon=True)
        self._thread.start()
        self._watchdog = asyncio.create_task(self._watch(), name="core election watchdog")

    def _elected(self, event: Any) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._take_over(), self._loop)

    async def _take_over(self) -> None:
        for step in self.on_elected:
            while True:
                try:
                    await step()
                    break
                except Exception as exc:  # noqa: BLE001 - leading on a stale state would notify twice
                    log.error("elected, but %s failed (%s: %s); not leading until it works", step, type(exc).__name__,
                              exc)
                    await asyncio.sleep(1.0)
                if not self._alive():
                    return
        if not self._alive() or self._stopping.is_set():
            return
        self.elections += 1
        self.elected_at = time.time()
        log.warning("elected: this core (%s) now leads; consuming the results stream", self.member)
        self.leader.set()

    def _alive(self) -> bool:
        alive = self._alive_at
        return alive is not None and time.monotonic() - alive <= self.fence_after_s

    def _step_down(self, why: str) -> None:
        if self.leader.is_set():
            log.warning("core %s steps down: %s; not consuming, evaluating or notifying", self.member, why)
            self.stepped_down_at = time.time()
            # tooz would go on holding (and heartbeating) the leader lock, so no core, this one included, would
            # ever be elected again: the coordinator is stopped, which releases it.
            self._resign.set()
        self.leader.clear()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s / 2)
            if self.leader.is_set() and not self._alive():
                self._step_down(f"no heartbeat to the coordination engine for {self.fence_after_s:.1f} s")

    def _run(self) -> None:
        from tooz import coordination

        ttl = str(max(1, int(self.cluster.lease_ttl_s)))
        while not self._stopping.is_set():
            coordinator = None
            try:
                # Heartbeats by this loop, not tooz's heart thread: the time of the last one that worked is what
                # fences a leader that lost the engine.
                coordinator = coordination.get_coordinator(
                    self.cluster.url, self.member.encode(), timeout=ttl, lock_timeout=ttl, membership_timeout=ttl)
                coordinator.start(start_heart=False)
                with contextlib.suppress(coordination.GroupAlreadyExist):
                    coordinator.create_group(CORE_GROUP.encode()).get()
                with contextlib.suppress(coordination.MemberAlreadyExist):
                    coordinator.join_group(CORE_GROUP.encode()).get()
                coordinator.watch_elected_as_leader(CORE_GROUP.encode(), self._elected)
                self._resign.clear()
                while not self._stopping.is_set() and not self._resign.is_set():
                    sent = time.monotonic()
                    coordinator.heartbeat()
                    coordinator.run_watchers()
                    self._alive_at = sent
                    self.last_error = None
                    self._stopping.wait(self.poll_s)
                with contextlib.suppress(Exception):
                    coordinator.leave_group(CORE_GROUP.encode()).get()
            except Exception as exc:  # noqa: BLE001 - the engine away: a standby stays one, tried again
                log.warning("core election: %s: %s", type(exc).__name__, exc)
                self.last_error = f"{type(exc).__name__}"
                # A leader that lost the engine cannot know whether another was elected: it stops consuming.
                # (It keeps the results it took; the stream redelivers what it did not acknowledge.)
                self._alive_at = None
                if self._loop is not None:
                    self._loop.call_soon_threadsafe(self._step_down, f"coordination engine: {type(exc).__name__}")
                self._stopping.wait(1.0)
            finally:
                if coordinator is not None:
                    with contextlib.suppress(Exception):
                        coordinator.stop()  # releases the leader lock: a standby takes over at once

    async def stop(self) -> None:
        self._stopping.set()
        self._step_down("stopping")
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)


class WhenLeading:
    """A stage that only the leading core runs: alert evaluation and its notifications. A standby, or a leader
    that lost the engine, neither evaluates nor dispatches, traps included."""

    def __init__(self, stage: AlertsStage, leader: asyncio.Event) -> None:
        self.stage = stage
        self.leader = leader

    def take(self, result: PollResult) -> None:
        if self.leader.is_set():
            self.stage.take(result)

    async def settle(self, report: CycleReport) -> None:
        if self.leader.is_set():
            await self.stage.settle(report)


def assemble_core(settings: Settings, member: str, workers: int | None = None) -> tuple[Assembly, CoreElection]:
    """Everything `--role all` has but the collectors: the results stream feeds the same stages."""
    if settings.cluster is None:
        raise SetupError("--role core needs a cluster section in the configuration (cluster: {url: ...})")
    assembly = assemble(settings, workers, with_influx=False)  # the pollers write the samples
    idle = assembly.monitor
    election = CoreElection(settings.cluster, member)
    client = redis_client(settings.cluster.url)
    # Pollers' cycles of one slot start together. Let through without a poller, the alerts would see its devices of
    # the last cycle beside the others' of this one (a county going down in steps, township by township), so the
    # core holds a slot for the slowest two intervals after the first part came: a storm's timeouts can make a
    # cycle run past its slot (the roles e2e saw 8 s cycles in 4 s slots). A dead poller delays the evaluation of
    # one slot by that; it is not waited for after.
    hold_s = 2 * min(settings.poll.interval_s, settings.poll.icmp_interval_s)
    feed = ResultsStream(client, member, ready=election.leader, hold_s=hold_s)
    stages: list[Stage] = []
    for stage in idle.stages:
        if isinstance(stage, AlertsStage):
            election.on_elected.append(stage.resume)
            stages.append(WhenLeading(stage, election.leader))
        else:
            stages.append(stage)
    view = ClusterView(settings.cluster.url, settings.cluster.group, settings.poll.interval_s, client,
                       assembly.services.latest, election.state)
    jobs = [*idle.jobs, Job("cluster", view.refresh, max(1.0, settings.cluster.lease_ttl_s / 3))]
    # The collectors built for --role all are not run here; their processes (if any) are never started.
    polls = [r for r in idle.collectors.values() if r.name in ("snmp", "icmp")]
    keep = [r for r in idle.collectors.values() if r not in polls]
    assembly.monitor = Monitor(keep, stages, jobs, idle.streams, feeds=[feed])
    assembly.services = dataclasses.replace(assembly.services, cluster=view)
    assembly.starting.insert(0, election.start)

    async def close_unused() -> None:
        for r in polls:
            with contextlib.suppress(Exception):
                await r.collector.close()
        await election.stop()
        await client.aclose()

    assembly.closing.append(close_unused)
    return assembly, election


async def serve_poller(settings: Settings, group: str, member: str | None, workers: int | None = None) -> None:
    name = member_name(member)
    try:
        assembly = await asyncio.to_thread(assemble_poller, settings, group, name, None, workers)
    except SetupError as exc:
        raise RuntimeError(str(exc)) from None
    for problem in assembly.problems:
        log.warning("%s", problem)
    await assembly.start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    drained = None
    if assembly.membership is not None:
        drained = asyncio.create_task(_stop_when_drained(assembly.membership, name, stop), name="drain")
    log.info("poller %s of group %s: %s; results to the results stream", name, group,
             ", ".join(f"{len(r.targets)} {n}" for n, r in assembly.monitor.collectors.items()))
    try:
        await assembly.monitor.run(stop)
    finally:
        if drained is not None:
            drained.cancel()
        await assembly.close()
        log.info("poller %s stopped: %d entries sent, %d dropped, %d kept unsent", name, assembly.publisher.sent,
                 assembly.publisher.dropped, len(assembly.publisher.pending))


async def _stop_when_drained(membership: PollerMembership, name: str, stop: asyncio.Event) -> None:
    """A drain (`yiwang cluster drain`) ends the poller once the leader has moved its share away: from then on its
    claims grant nothing, so stopping loses no poll."""
    await membership.drained.wait()
    log.warning("poller %s drained: its share is with the other pollers; stopping", name)
    stop.set()
