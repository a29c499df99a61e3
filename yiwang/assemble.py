"""Wire settings into running parts: inventory, targets, sinks, the monitor. Read once, passed down."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from alerts.notify.config import NotifyConfig, build_notifiers
from alerts.notify.dispatch import Dispatcher
from alerts.rules import RuleError
from collectors.traps import SecurityEvent, TrapReceiver, V3User, device_addresses
from inventory.loader import InventoryProblem, load_inventory
from inventory.model import Inventory, SecretRef
from inventory.secrets import SecretError, resolve
from yiwang.alerting import AlertStage
from yiwang.archive.service import ConfigArchive
from yiwang.config import SecretSetting, Settings, default_inventory_dir
from yiwang.latest import LatestStore
from yiwang.runtime import Monitor, SampleSink, default_workers
from yiwang.sinks.buffered import BufferedSink
from yiwang.sinks.influx import InfluxSink
from yiwang.ssh_workers import SshWork, ssh_work
from yiwang.store import Store
from yiwang.targets import build_targets

log = logging.getLogger("yiwang.assemble")


class SetupError(RuntimeError):
    pass


@dataclass(slots=True)
class Assembly:
    monitor: Monitor
    latest: LatestStore
    buffered: BufferedSink | None
    problems: list[str] = field(default_factory=list)
    ssh: SshWork | None = None

    async def start(self) -> None:
        if self.buffered is not None:
            await self.buffered.start()

    async def close(self) -> None:
        await self.monitor.close()
        if self.ssh is not None:
            await asyncio.to_thread(self.ssh.close)
        if self.buffered is not None:
            await self.buffered.close()
        self.monitor.store.close()


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


def trap_receiver(settings: Settings, monitor: Monitor) -> TrapReceiver | None:
    """Built from the settings; the caller starts it inside its event loop."""
    traps = settings.traps
    if not traps.enabled:
        return None
    try:
        communities = [resolve(c.ref(), base=settings.state_dir) for c in traps.communities]
        users = [V3User(u.name, resolve(u.auth_key.ref(), base=settings.state_dir),
                        resolve(u.priv_key.ref(), base=settings.state_dir), u.engine_id) for u in traps.users]
    except SecretError as exc:
        raise SetupError(f"traps: {exc}") from None
    store = monitor.store

    def security_event(event: SecurityEvent) -> None:
        log.warning("security event: %s from %s (%s)", event.kind, event.device, event.sender)
        store.record_security_event(event.time_ns, event.kind, event.device, event.sender, event.security_name)

    return TrapReceiver(monitor.ingest_trap, host=traps.host, port=traps.port, communities=communities,
                        users=users, devices=device_addresses(monitor.inventory),
                        interface_tags=monitor.interface_tags, on_event=security_event)


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


def assemble(settings: Settings, workers: int | None = None, with_influx: bool = True) -> Assembly:
    inv, inventory_problems = load(settings)
    problems = [str(p) for p in inventory_problems]
    targets = build_targets(inv, secrets_base=settings.state_dir)
    problems.extend(targets.problems)
    latest = LatestStore()
    sinks: list[SampleSink] = []
    buffered = None
    if with_influx and settings.influx is not None:
        influx = settings.influx
        buffered = BufferedSink(
            InfluxSink(influx.url, influx.org, influx.bucket, _token(influx.token, settings.state_dir)),
            spool_dir=settings.state_dir / "spool" / "influx",
            max_spool_bytes=int(influx.spool_max_mb * 1024 * 1024),
        )
        sinks.append(buffered)
    poll = settings.poll
    store = Store(settings.database)
    alerts = None
    if settings.alerts.enabled:
        try:
            alerts = AlertStage.from_files(settings.alerts.rules, inv, store)
        except RuleError as exc:
            raise SetupError(f"alert rules: {exc}") from None
    dispatcher = _dispatcher(settings) if alerts is not None else None
    work = None
    archive = None
    if targets.ssh and (settings.ssh.enabled or settings.archive.enabled):
        work = ssh_work(settings.ssh, settings.state_dir)
        if settings.archive.enabled:
            archive = ConfigArchive.open(inv, targets.ssh, settings.state_dir, settings.database, work.configs)
    monitor = Monitor(inv, targets.snmp, targets.icmp, latest, sinks, store, alerts=alerts, dispatcher=dispatcher,
                      ssh_targets=targets.ssh, ssh=work.facts if work and settings.ssh.enabled else None,
                      archive=archive,
                      concurrency=poll.concurrency,
                      workers=workers if workers is not None else (poll.workers or default_workers()),
                      timeout=poll.timeout_s, retries=poll.retries, icmp_count=poll.icmp_count,
                      profile_dirs=tuple(str(p) for p in settings.profiles_dirs))
    return Assembly(monitor, latest, buffered, problems, work)
