"""Wire settings into running parts: inventory, targets, sinks, the monitor. Read once, passed down."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from alerts.notify.config import NotifyConfig, build_notifiers
from alerts.rules import RuleError
from collectors.base import CycleCollector
from collectors.icmp import FpingCollector
from collectors.snmp.collector import make_snmp_collector
from collectors.traps import SecurityEvent, TrapListen, TrapReceiver, V3User, device_addresses
from inventory.loader import InventoryProblem, load_inventory
from inventory.model import Inventory, SecretRef
from inventory.secrets import SecretError, resolve
from yiwang.alerting import AlertStage
from yiwang.archive.ages import BackupAges
from yiwang.archive.service import ConfigArchive
from yiwang.audit import AuditEvent, SyslogForwarder, Trail
from yiwang.audit.sql import open_trail
from yiwang.auth.directory import Directory
from yiwang.auth.roles import Identity
from yiwang.auth.service import AuthService
from yiwang.auth.sessions import Sessions
from yiwang.auth.sql_sessions import open_sessions
from yiwang.change.service import ChangeService, DefaultChecks, audit_recorder, inventory_loader
from yiwang.config import SecretSetting, Settings, default_inventory_dir
from yiwang.jobs import Job as WorkJob
from yiwang.jobs import JobRegistry
from yiwang.latest import LatestStore
from yiwang.notify import Dispatcher
from yiwang.overview_feed import OverviewFeed, RuntimePanels
from yiwang.pipeline import Job, Monitor, Registered, Stage, default_workers
from yiwang.polling import Concurrent, WorkerPool
from yiwang.sinks.buffered import BufferedSink, BufferPolicy
from yiwang.sinks.influx import InfluxSink, InfluxTarget
from yiwang.ssh_workers import SshWork, ssh_work
from yiwang.stages import AlertsStage, LatestStage, PollHealth, SinkStage
from yiwang.store import SchemaError, Store, open_store
from yiwang.targets import Targets, build_targets
from yiwang.versions import VersionStage, VersionStore

if TYPE_CHECKING:
    from yiwang.cluster.view import ClusterView
    from yiwang.compliance.service import ComplianceService

log = logging.getLogger("yiwang.assemble")


class SetupError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Services:
    """What the API and the command line read: the monitor's results, never the monitor itself."""

    inventory: Inventory
    latest: LatestStore
    health: PollHealth
    alerts: AlertStage | None
    archive: ConfigArchive | None
    auth: AuthService | None  # None: authentication turned off (loopback only)
    sessions: Sessions
    audit: Trail
    jobs: JobRegistry
    overview: OverviewFeed  # the one-screen overview's live state (issue 14)
    changes: ChangeService | None = None
    compliance: ComplianceService | None = None  # None: no archive, or compliance turned off
    cluster: ClusterView | None = None  # a core of a cluster (issue 15): its view of the poller group

    @property
    def store(self) -> Store:
        return self.health.store


@dataclass(slots=True)
class Assembly:
    monitor: Monitor
    services: Services
    problems: list[str] = field(default_factory=list)
    starting: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    closing: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)  # after the monitor

    @property
    def latest(self) -> LatestStore:
        return self.services.latest

    async def start(self) -> None:
        for start in self.starting:
            await start()

    async def close(self) -> None:
        await self.monitor.close()
        for close in self.closing:
            done = close()
            if inspect.isawaitable(done):
                await done
        self.services.store.close()


def _token(setting: SecretSetting | None, base: Path) -> str:
    if setting is None:
        return ""
    try:
        return resolve(setting.ref(), base=base)
    except SecretError as exc:
        raise SetupError(f"influx.token: {exc}") from None


def _dispatcher(settings: Settings) -> Dispatcher | None:
    if not settings.alerts.notifiers:
        return None
    entries = []
    for entry in settings.alerts.notifiers:
        password = entry.get("password")
        if isinstance(password, dict):
            try:
                entry = {**entry, "password": str(resolve(SecretRef(**password), base=settings.state_dir))}
            except (SecretError, TypeError) as exc:
                raise SetupError(f"alerts.notifiers {entry.get('name')!r}: password: {exc}") from None
        elif password is not None:
            raise SetupError(f"alerts.notifiers {entry.get('name')!r}: password must be a reference, "
                             "{env: NAME} or {file: PATH}")
        entries.append(entry)
    try:
        config = NotifyConfig.model_validate({"outbox_dir": str(settings.state_dir / "outbox"), "notifiers": entries})
    except ValidationError as exc:
        raise SetupError(f"alerts.notifiers: {exc}") from None
    return Dispatcher(build_notifiers(config), config.outbox_dir)


def trap_receiver(settings: Settings, inventory: Inventory, store: Store) -> TrapReceiver | None:
    traps = settings.traps
    if not traps.enabled:
        return None
    try:
        communities = [resolve(c.ref(), base=settings.state_dir) for c in traps.communities]
        users = [V3User(u.name, resolve(u.auth_key.ref(), base=settings.state_dir),
                        resolve(u.priv_key.ref(), base=settings.state_dir), u.engine_id) for u in traps.users]
    except SecretError as exc:
        raise SetupError(f"traps: {exc}") from None

    def security_event(event: SecurityEvent) -> None:
        log.warning("security event: %s from %s (%s)", event.kind, event.device, event.sender)
        store.record_security_event(event.time_ns, event.kind, event.device, event.sender, event.security_name)

    return TrapReceiver(TrapListen(traps.host, traps.port, tuple(communities), tuple(users), traps.rate_per_s,
                                   traps.burst),
                        device_addresses(inventory), security_event)


def inventory_paths(settings: Settings) -> list[Path]:
    if settings.inventory:
        return settings.inventory
    path = default_inventory_dir(settings.state_dir)
    if not path.exists():
        raise SetupError(f"no inventory configured and none at {path}; name inventory folders in the configuration "
                         "file (inventory: [...]), or start the simulated city there with `yiwang lab up`")
    return [path]


def load(settings: Settings) -> tuple[Inventory, list[InventoryProblem]]:
    result = load_inventory(inventory_paths(settings))
    return result.inventory, result.problems


@dataclass(slots=True)
class Parts:
    """What the collector builders share: read once, handed to each."""

    settings: Settings
    targets: Targets
    workers: int
    ssh: SshWork | None = None


def _snmp(parts: Parts) -> Registered | None:
    poll = parts.settings.poll
    if not parts.targets.snmp:
        return None
    factory = functools.partial(make_snmp_collector, tuple(str(p) for p in parts.settings.profiles_dirs),
                                poll.timeout_s, poll.retries)
    collector: CycleCollector
    if parts.workers > 1 and len(parts.targets.snmp) > parts.workers:
        collector = WorkerPool(factory, parts.workers, poll.concurrency, "snmp")
    else:
        collector = Concurrent(factory(), poll.concurrency)
    return Registered(collector, parts.targets.snmp, poll.interval_s)


def _icmp(parts: Parts) -> Registered | None:
    poll = parts.settings.poll
    return Registered(FpingCollector(count=poll.icmp_count), parts.targets.icmp, poll.icmp_interval_s)


def _ssh(parts: Parts) -> Registered | None:
    ssh = parts.settings.ssh
    if not ssh.enabled or parts.ssh is None:
        return None
    # Facts start once the first SNMP cycle is in, so that a start does not put every kind of work on the cores
    # at once.
    return Registered(parts.ssh.facts, parts.targets.ssh, ssh.interval_s, after="snmp")


# Adding a collector: a builder here and its settings in yiwang.config.
COLLECTORS: dict[str, Callable[[Parts], Registered | None]] = {"snmp": _snmp, "icmp": _icmp, "ssh": _ssh}
# Alerts wait until these have each reported once, so a restart mid-incident sees the whole picture.
ALERT_INPUTS = ("snmp", "icmp")


def assemble(settings: Settings, workers: int | None = None, with_influx: bool = True) -> Assembly:
    inv, inventory_problems = load(settings)
    problems = [str(p) for p in inventory_problems]
    targets = build_targets(inv, secrets_base=settings.state_dir)
    problems.extend(targets.problems)
    try:
        store = open_store(settings.database)  # brings the schema up to date first
    except SchemaError as exc:
        raise SetupError(str(exc)) from None
    latest = LatestStore()
    sinks = [influx_sink(settings)] if with_influx and settings.influx is not None else []
    parts = Parts(settings, targets, workers if workers is not None else (settings.poll.workers or default_workers()))
    if targets.ssh and (settings.ssh.enabled or settings.archive.enabled):
        parts.ssh = ssh_work(settings.ssh, settings.state_dir)  # netmiko in worker processes of its own
    registered = [r for build in COLLECTORS.values() if (r := build(parts)) is not None]
    jobs: list[Job] = []
    archive = None
    compliance = None
    if settings.archive.enabled and parts.ssh is not None:
        archive = ConfigArchive.open(inv, targets.ssh, settings.state_dir, store.archive, parts.ssh.configs)
        registered.append(Registered(BackupAges(archive), targets.ssh, AGES_INTERVAL_S))
        after_backup = None
        if settings.compliance.enabled:
            compliance = compliance_service(settings, inv, archive, store, latest)
            after_backup = functools.partial(_compliance_run, compliance)
            from yiwang.compliance.samples import ComplianceCollector  # the rule engine loads only when used

            registered.append(Registered(ComplianceCollector(compliance.samples), targets.ssh,
                                         settings.compliance.samples_interval_s))
        jobs.append(Job("backup", functools.partial(backup_job, archive, after_backup), settings.archive.interval_s,
                        after="ssh" if any(r.name == "ssh" for r in registered) else "snmp"))
    carrier_slas = None
    if settings.capacity.history_url and inv.links:
        from yiwang.capacity.samples import CapacityCollector
        from yiwang.capacity.service import history_of
        from yiwang.capacity.sla_panel import CarrierSlas

        history = history_of(settings.capacity)
        assert history is not None
        registered.append(Registered(CapacityCollector(inv, settings.capacity, history), (),
                                     settings.capacity.samples_interval_s))
        carrier_slas = CarrierSlas(inv, settings.capacity, history)
    polled = {r.name for r in registered}
    health = PollHealth(store, {t.device: t.tags for t in targets.icmp}, polled - NOT_POLLS, inv)
    to_sinks = SinkStage(sinks, latest)
    stages: list[Stage] = [health, LatestStage(latest), to_sinks]
    if "ssh" in polled:
        stages.append(VersionStage(VersionStore(store.engine)))  # for runs without yiwang run's latest samples
    alerts = None
    dispatcher = None
    if settings.alerts.enabled:
        try:
            alerts = AlertStage.from_files(settings.alerts.rules, inv, store)
        except RuleError as exc:
            raise SetupError(f"alert rules: {exc}") from None
        dispatcher = _dispatcher(settings)
        if dispatcher is not None:
            jobs.append(Job("notifications", dispatcher.flush, 1.0))  # retries between cycles
        stages.append(AlertsStage(alerts, latest, dispatcher, [n for n in ALERT_INPUTS if n in polled]))
    overview = OverviewFeed(inv, health, latest, alerts)  # after the alerts: each cycle's state is evaluated
    stages.append(overview)
    if carrier_slas is not None:  # the carriers panel on the capacity samples' timer, sent to the pages when done
        overview.carriers = carrier_slas
        jobs.append(Job("carriers", functools.partial(carrier_slas.refresh, overview.refresh),
                        settings.capacity.samples_interval_s))
    traps = trap_receiver(settings, inv, store)
    monitor = Monitor(registered, stages, jobs, [traps] if traps is not None else [])
    auth, audit = access(settings, store)
    jobs_registry = JobRegistry(functools.partial(record_job_step, audit))
    sessions = open_sessions(settings, store.engine)
    changes = ChangeService(settings, store.engine, inventory_loader(settings),
                            record=audit_recorder(audit, "yiwang"),
                            checks=DefaultChecks(settings, store.engine, archive))
    overview.panels = RuntimePanels(changes, compliance)
    services = Services(inv, latest, health, alerts, archive, auth, sessions, audit, jobs_registry, overview,
                        changes, compliance)
    assembly = Assembly(monitor, services, problems)
    assembly.starting.append(functools.partial(_watch_changes, assembly, changes))
    assembly.closing.insert(0, changes.close)
    assembly.closing.append(jobs_registry.close)
    assembly.closing.append(functools.partial(asyncio.to_thread, audit.close))
    if parts.ssh is not None:
        assembly.closing.append(functools.partial(asyncio.to_thread, parts.ssh.close))
    if dispatcher is not None:
        # a second process on the same outbox is refused at start, not at the first alert
        assembly.starting.append(dispatcher.open)
        assembly.closing.append(dispatcher.close)
    assembly.closing.append(to_sinks.flush)  # what a cycle cut short by the stop had taken
    for sink in sinks:
        assembly.starting.append(sink.start)
        assembly.closing.append(sink.close)  # flushed, or spooled for the next start
    return assembly


AGES_INTERVAL_S = 60.0
NOT_POLLS = frozenset({"archive", "compliance", "capacity"})  # sources of samples that are no poll of a device


def access(settings: Settings, store: Store) -> tuple[AuthService | None, Trail]:
    """Who may use the API (None: nobody is asked) and the trail of what they did."""
    forwarder = SyslogForwarder(settings.audit.syslog) if settings.audit.syslog is not None else None
    audit = open_trail(settings, forwarder, store.engine)
    if not settings.auth.enabled:
        return None, audit
    directory: Directory | None = None
    if settings.auth.ldap is not None:
        from yiwang.auth.ldap import LdapConfigError, directory_from_settings

        try:
            directory = directory_from_settings(settings.auth.ldap, base=settings.state_dir)
        except (SecretError, LdapConfigError) as exc:
            raise SetupError(f"auth.ldap: {exc}") from None

    def security_event(kind: str, subject: str, source: str, detail: str) -> None:
        log.warning("security event: %s for %s from %s", kind, subject, source)
        store.record_security_event(time.time_ns(), kind, subject, source, detail)
        if kind == "account-locked":  # the failures that led to it are records already (their requests)
            audit.append(AuditEvent(identity=subject, identity_kind="user", roles=[], source=source,
                                    action="security.account-locked", target=f"user={subject}",
                                    parameters={"detail": detail}, outcome="locked"))

    return AuthService(store.engine, settings.auth, directory=directory, on_security_event=security_event), audit


def record_job_step(audit: Trail, job: WorkJob, step: str, identity: Identity | None,
                    detail: Mapping[str, Any]) -> Awaitable[Any]:
    """Each step of a job is a record of its own; a step no person took (the job ended) is the starter's."""
    event = AuditEvent(
        identity=identity.name if identity is not None else job.started_by,
        identity_kind=identity.kind if identity is not None else "job",
        roles=identity.role_names if identity is not None else [],
        source="yiwang", action=f"job.{job.kind}.{step}", target=f"job={job.id} {job.target}",
        parameters=dict(detail), outcome="ok" if step != "finished" or job.state == "done" else job.state)
    return asyncio.to_thread(audit.append, event)


async def _watch_changes(assembly: Assembly, changes: ChangeService) -> None:
    """Change jobs left running by a process that stopped are taken up (they resume in their wave)."""
    watcher = asyncio.create_task(changes.watch(), name="change jobs")
    assembly.closing.insert(0, functools.partial(_cancel, watcher))


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def backup_job(archive: ConfigArchive, after: Callable[[], Awaitable[object]] | None = None) -> None:
    """A backup cycle, then (`after`) the compliance run over what it archived; a failing run is logged and
    never stops the backups."""
    results = await archive.backup()
    ok = sum(r.ok for r in results)
    log.info("configuration backup: %d devices, %d ok, %d failed", len(results), ok, len(results) - ok)
    for failed in (r for r in results if not r.ok):
        log.warning("backup of %s failed: %s: %s", failed.device, failed.reason, failed.error)
    if after is not None:
        try:
            await after()
        except Exception:  # noqa: BLE001 - the run's failure is logged; the next cycle tries again
            log.exception("the compliance run after the backup failed")


def compliance_service(settings: Settings, inventory: Inventory, archive: ConfigArchive, store: Store,
                       latest: LatestStore) -> ComplianceService:
    """The pack, exemptions and advisories are read once here, so that a broken file stops the start; each run
    reads them again (an exemption added is used by the next run)."""
    from yiwang.compliance.advisories import AdvisoryFileError
    from yiwang.compliance.history import ComplianceHistory
    from yiwang.compliance.pack import PackError
    from yiwang.compliance.run import data_sources, rule_pack
    from yiwang.compliance.service import ComplianceService

    try:
        rule_pack(settings.compliance)
        data_sources(settings.compliance)
    except (PackError, AdvisoryFileError) as exc:
        raise SetupError(f"compliance: {exc}") from None
    return ComplianceService(settings.compliance, inventory, archive.git, archive.index,
                             ComplianceHistory(store.engine), list(archive.targets.values()), latest.device_samples,
                             VersionStore(store.engine).known)


async def _compliance_run(compliance: ComplianceService) -> object:
    """The run after each backup cycle (an operator's run under way: this one waits for it, then runs)."""
    summary = await compliance.run("backup")
    log.info("compliance run %d: %d devices, %d failing results, %d newly failing, %d fixed, %.1f s",
             summary.run.id, summary.run.devices, summary.run.failed, len(summary.changes.newly_failing),
             len(summary.changes.fixed), summary.read_s + summary.evaluate_s + summary.store_s)
    return summary


def influx_sink(settings: Settings, spool: str = "influx") -> BufferedSink:
    """The buffered, spooling InfluxDB sink; `spool` names its folder under state_dir/spool (one per process: two
    processes replaying one spool would write its batches twice)."""
    influx = settings.influx
    assert influx is not None
    return BufferedSink(InfluxSink(InfluxTarget(influx.url, influx.org, influx.bucket),
                                   _token(influx.token, settings.state_dir)),
                        settings.state_dir / "spool" / spool,
                        BufferPolicy(max_spool_bytes=int(influx.spool_max_mb * 1024 * 1024)))
