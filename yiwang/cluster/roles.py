"""The roles of one program (issue 15): a poller polls its share and publishes; a core consumes what the pollers
publish and does everything else (API, alerts, notifications, checks, change jobs). `--role all` is `assemble`.

A core runs alone or beside a standby: both join the tooz group "yiwang-core" on the cluster's Redis and only the
elected leader reads the results stream (and so evaluates alerts and dispatches); the standby serves the API from
the same shared store and waits."""

from __future__ import annotations

import asyncio
import contextlib
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
from yiwang.config import ClusterSettings, Settings
from yiwang.latest import LatestStore
from yiwang.pipeline import CycleReport, Monitor, Registered, Stage, default_workers
from yiwang.stages import SinkStage
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
    for name in ("snmp", "icmp"):
        built = COLLECTORS[name](parts)
        if built is not None:
            registered.append(Registered(ShareCollector(built.collector, shares), built.targets,
                                         built.interval_s, aligned=True))
    client = redis_client(settings.cluster.url)
    publisher = StreamPublisher(client, member, lambda: shares.slot)
    from yiwang.assemble import _influx  # the same buffered, spooled influx sink as --role all

    sinks = [_influx(settings)] if settings.influx is not None else []
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
    synchronous, so it runs its heartbeats and watchers in a thread of its own."""

    def __init__(self, cluster: ClusterSettings, member: str, poll_s: float = 0.5) -> None:
        self.cluster = cluster
        self.member = member
        self.poll_s = poll_s
        self.leader = asyncio.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="core election", daemon=True)
        self._thread.start()

    def _elected(self, event: Any) -> None:
        log.warning("elected: this core (%s) now leads; consuming the results stream", self.member)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.leader.set)

    def _run(self) -> None:
        from tooz import coordination

        while not self._stopping.is_set():
            coordinator = None
            try:
                coordinator = coordination.get_coordinator(
                    self.cluster.url, self.member.encode(), timeout=str(int(self.cluster.lease_ttl_s)))
                coordinator.start(start_heart=True)
                with contextlib.suppress(coordination.GroupAlreadyExist):
                    coordinator.create_group(CORE_GROUP.encode()).get()
                with contextlib.suppress(coordination.MemberAlreadyExist):
                    coordinator.join_group(CORE_GROUP.encode()).get()
                coordinator.watch_elected_as_leader(CORE_GROUP.encode(), self._elected)
                while not self._stopping.wait(self.poll_s):
                    coordinator.run_watchers()
                with contextlib.suppress(Exception):
                    coordinator.leave_group(CORE_GROUP.encode()).get()
            except Exception as exc:  # noqa: BLE001 - the engine away: a standby stays one, tried again
                log.warning("core election: %s: %s", type(exc).__name__, exc)
                # A leader that lost the engine cannot know whether another was elected: it stops consuming.
                # (It keeps the results it took; the stream redelivers what it did not acknowledge.)
                self._stopping.wait(1.0)
            finally:
                if coordinator is not None:
                    with contextlib.suppress(Exception):
                        coordinator.stop()

    async def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)


def assemble_core(settings: Settings, member: str, workers: int | None = None) -> tuple[Assembly, CoreElection]:
    """Everything `--role all` has but the collectors: the results stream feeds the same stages."""
    if settings.cluster is None:
        raise SetupError("--role core needs a cluster section in the configuration (cluster: {url: ...})")
    assembly = assemble(settings, workers, with_influx=False)  # the pollers write the samples
    idle = assembly.monitor
    election = CoreElection(settings.cluster, member)
    client = redis_client(settings.cluster.url)
    # pollers' cycles of one slot start together; half the shortest interval is long enough for the slowest to end
    hold_s = min(settings.poll.interval_s, settings.poll.icmp_interval_s) / 2
    feed = ResultsStream(client, member, ready=election.leader, hold_s=hold_s)
    # The collectors built for --role all are not run here; their processes (if any) are never started.
    polls = [r for r in idle.collectors.values() if r.name in ("snmp", "icmp")]
    keep = [r for r in idle.collectors.values() if r not in polls]
    assembly.monitor = Monitor(keep, idle.stages, idle.jobs, idle.streams, feeds=[feed])
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
