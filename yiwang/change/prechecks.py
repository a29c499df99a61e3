"""The checks yiwang makes itself around a change wave, before it hands the wave's devices to ansible-runner and
after: reachable by SNMP and ICMP, a backup younger than an hour (taken if not), no firing alert on the uplink, not
held by another job (busy in it, or inside its maintenance window). The playbook checks SSH facts and the uplink's
state on the device; these are what only yiwang knows.

Each check reuses what `yiwang run` polls with (the fast SNMP engine, fping, the configuration archive, the alert
engine's stored state, the silences table). The decisions are pure functions; the I/O around them is thin, and a
device that does not answer is a problem of that device, never an exception.

A change job's maintenance window is one `silences` row (kind 'maintenance') per device, since the alert engine
matches a silence on one device name: every row of a window carries `created_by` "change job <id>" and the comment
"change job <id>, window <n>", where n is the id of the window's first row.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy
from sqlalchemy import select, update

from alerts.state import AlertRecord, EngineState
from alerts.topology import OUTAGE_RULE, Topology
from collectors.base import PollTarget
from collectors.icmp import FpingCollector, addresses_of
from collectors.snmp.collector import DefaultSessions
from collectors.snmp.session import SnmpFailure, Target
from inventory.model import Inventory
from yiwang.archive.backup import BackupResult, backup
from yiwang.archive.index import ArchiveIndex, BackupStatus
from yiwang.archive.service import ConfigArchive
from yiwang.config import Settings
from yiwang.schema import alert_state, silences
from yiwang.targets import Targets, build_targets

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
WINDOW_OWNER = re.compile(r"^change job (?P<job>[A-Za-z0-9_-]{1,64})$")


@dataclass(frozen=True, slots=True)
class Readiness:
    device: str
    problems: tuple[str, ...] = ()
    backup: str = ""  # "taken now (commit abc1234)", "12 min old", or why there is none

    @property
    def ready(self) -> bool:
        return not self.problems


# --- pure decisions ------------------------------------------------------------------------------------------------

def backup_age_s(status: BackupStatus | None, now_s: float) -> float | None:
    """Seconds since the last good backup; None when there never was one."""
    if status is None or status.last_ok_at is None:
        return None
    return max(0.0, now_s - status.last_ok_at)


def backup_fresh(status: BackupStatus | None, now_s: float, max_age_s: float) -> bool:
    age = backup_age_s(status, now_s)
    return age is not None and age <= max_age_s


def describe_age(age_s: float) -> str:
    return f"{age_s:.0f} s old" if age_s < 60 else f"{age_s / 60:.0f} min old"


def describe_taken(result: BackupResult, before: BackupStatus | None) -> str:
    """What a backup taken now left in the archive: a new commit, or the one the unchanged config already had."""
    if result.commit:
        return f"taken now (commit {result.commit[:7]})"
    last = before.last_commit if before is not None else None
    return f"taken now (unchanged since commit {last[:7]})" if last else "taken now (unchanged)"


def uplink_alerts(inventory: Inventory, device: str, records: Iterable[AlertRecord]) -> list[AlertRecord]:
    """Firing alerts on the uplink of the device's area: the engine labels every alert of an on_link rule with
    `link` = the area the link serves, whichever end's interface raised it."""
    known = inventory.devices.get(device)
    link = inventory.uplink_of(known.area) if known is not None else None
    if link is None:
        return []
    return sorted((r for r in records if r.status == "firing" and r.labels.get("link") == link.area),
                  key=lambda r: (r.rule, r.fingerprint))


def uplink_problem(inventory: Inventory, device: str, record: AlertRecord) -> str:
    known = inventory.devices[device]
    link = inventory.uplink_of(known.area)
    assert link is not None
    ends = [e for e in (link.local, link.remote) if e.device == device]
    name = ends[0].interface if ends else str(link.local)  # a device behind the gateway: the gateway's end
    since = f" (since {_instant(record.firing_since_ns)})" if record.firing_since_ns else ""
    return f"uplink {name} has a firing alert: {record.rule}{since}"


def window_owner(created_by: str) -> str | None:
    """The change job that owns a maintenance window, or None for a window a person planned."""
    match = WINDOW_OWNER.match(created_by or "")
    return match["job"] if match else None


def window_covers(row: Mapping[str, object], device: str, area_path: Sequence[str], now_ns: int) -> bool:
    """As the alert engine matches a silence: every matcher given must match; an area covers its subtree. A job's
    area row (held for the area's roll-up) covers the devices beneath too: their path upstream is being changed."""
    starts, ends = row["starts_ns"], row["ends_ns"]
    assert isinstance(starts, int) and isinstance(ends, int)
    if not starts <= now_ns < ends or row.get("kind") != "maintenance":
        return False
    if row.get("device") and row["device"] != device:
        return False
    return not (row.get("area") and row["area"] not in area_path)


def window_number(row: Mapping[str, object]) -> int:
    """A job's window is several rows (one per device); its number is the first row's id, kept in the comment."""
    match = re.search(r", window (\d+)$", str(row.get("comment") or ""))
    return int(match[1]) if match else int(str(row["id"]))


def blocking_windows(rows: Iterable[Mapping[str, object]], device: str, area_path: Sequence[str], job_id: str,
                     now_ns: int) -> list[str]:
    """Problems for windows of OTHER change jobs covering the device now. A window no job owns does not block: an
    operator planned it, usually for this very work, and it only holds notifications; the job's own window is the
    one it opened for its wave."""
    found: dict[int, str] = {}
    for row in rows:
        owner = window_owner(str(row.get("created_by") or ""))
        if owner is None or owner == job_id or not window_covers(row, device, area_path, now_ns):
            continue
        ends = row["ends_ns"]
        assert isinstance(ends, int)
        number = window_number(row)
        found.setdefault(number, f"in maintenance window {number} of job {owner} until {_instant(ends)}")
    return [found[n] for n in sorted(found)]


def _instant(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- I/O ------------------------------------------------------------------------------------------------------------

async def prechecks(devices: Sequence[str], *, settings: Settings, inventory: Inventory, engine: sqlalchemy.Engine,
                    job_id: str, busy: Mapping[str, str], max_backup_age_s: float = 3600.0,
                    now: Callable[[], float] = time.time,
                    archive: ConfigArchive | None = None) -> dict[str, Readiness]:
    """Readiness of each device, in the order given. `busy`: device -> another job (running or awaiting approval)
    that holds it. `archive`: the running service's archive, so that one process writes the git repository; when
    None one is opened (netmiko threads here) and closed again."""
    names = list(dict.fromkeys(devices))
    now_s = now()
    now_ns = int(now_s * 1e9)
    problems: dict[str, list[str]] = {name: [] for name in names}
    known = [n for n in names if n in inventory.devices]
    for name in names:
        if name not in inventory.devices:
            problems[name].append("not in the inventory")
    targets = build_targets(_only(inventory, known), secrets_base=settings.state_dir)

    windows, records, status = await asyncio.to_thread(_read_state, engine, now_ns)
    held: set[str] = set()
    for name in known:
        if name in busy and busy[name] != job_id:
            problems[name].append(f"in job {busy[name]}, which is running or awaiting approval")
        area_path = [a.id for a in inventory.path(inventory.devices[name].area)]
        blocked = blocking_windows(windows, name, area_path, job_id, now_ns)
        problems[name].extend(blocked)
        if problems[name]:
            held.add(name)  # another job's device: not even a backup session is opened to it
        problems[name].extend(uplink_problem(inventory, name, r) for r in uplink_alerts(inventory, name, records))

    stale = [n for n in known if n not in held and not backup_fresh(status.get(n), now_s, max_backup_age_s)]
    snmp, icmp, taken = await asyncio.gather(
        _snmp_problems(targets, settings), _icmp_problems(targets, settings),
        _take_backups(stale, targets, settings, inventory, engine, archive))
    out = {}
    for name in names:
        found = problems[name] + [p for p in (icmp.get(name, ""), snmp.get(name, "")) if p]
        said = ""
        if name in taken:
            result = taken[name]
            if result.ok:
                said = describe_taken(result, status.get(name))
            else:
                said = "none fresh; the backup taken now failed"
                found.append(f"backup failed: {result.error or result.reason}")
        elif name in held:
            said = "not taken: the device is held by another job"
        elif name in inventory.devices:
            age = backup_age_s(status.get(name), now_s)
            said = describe_age(age) if age is not None else "none"
            if name in stale and any(t.device == name for t in targets.ssh):
                found.append("backup failed: the SSH fetch gave no result")
            elif name in stale:
                found.append(_no_ssh(targets, name))
        out[name] = Readiness(name, tuple(found), said)
    return out


async def post_checks(devices: Sequence[str], *, settings: Settings, inventory: Inventory) -> dict[str, str]:
    """Device -> problem, "" when its SNMP agent answers (sysUpTime and sysName read)."""
    names = list(dict.fromkeys(devices))
    known = [n for n in names if n in inventory.devices]
    targets = build_targets(_only(inventory, known), secrets_base=settings.state_dir)
    found = await _snmp_problems(targets, settings)
    return {name: found.get(name, "") if name in inventory.devices else "not in the inventory" for name in names}


def outage_areas(inventory: Inventory, devices: Iterable[str]) -> list[str]:
    """Areas the alert engine would report cut off if these devices went silent: those whose gateways (the local
    end of the area's uplink; every own device of an area without one) are all among them. Their roll-up alert
    (`area_outage`) carries the area, not a device, so a window on device names alone would still page."""
    chosen = set(devices)
    gateways = Topology.from_inventory(inventory).gateways
    return sorted(area for area, names in gateways.items() if names and names <= chosen)


def open_change_window(engine: sqlalchemy.Engine, job_id: str, devices: Sequence[str], *, ends_ns: int,
                       created_by: str, inventory: Inventory, starts_ns: int | None = None) -> int:
    """A maintenance window over the wave's devices, owned by the job: the alert engine holds their notifications
    while they are changed, and other jobs' prechecks see it. Rows: one per device (every rule), and one per area
    the devices are the gateways of, for that area's roll-up only (`area_outage` covers the area and beneath it).
    `created_by` (who released the wave) goes into the comment; the owner field names the job. Returns the
    window's number."""
    if not WINDOW_OWNER.match(f"change job {job_id}"):
        raise ValueError(f"job id {job_id!r} cannot own a window")
    names = list(dict.fromkeys(devices))
    if not names:
        raise ValueError("a change window needs at least one device")
    starts = time.time_ns() if starts_ns is None else starts_ns
    if ends_ns <= starts:
        raise ValueError("a change window must end after it starts")
    owner = f"change job {job_id}"
    matchers = [{"device": n, "area": None, "rule": None} for n in names]
    matchers += [{"device": None, "area": a, "rule": OUTAGE_RULE} for a in outage_areas(inventory, names)]
    with engine.begin() as conn:
        rows = []
        for matcher in matchers:
            key = conn.execute(silences.insert().values(kind="maintenance", starts_ns=starts, ends_ns=ends_ns,
                                                        comment="", created_by=owner, **matcher)).inserted_primary_key
            assert key is not None
            rows.append(int(key[0]))
        number = rows[0]
        conn.execute(update(silences).where(silences.c.id.in_(rows))
                     .values(comment=f"released by {created_by}; {owner}, window {number}"))
    return number


def close_change_window(engine: sqlalchemy.Engine, window_id: int, now_ns: int) -> None:
    """Ends the window now; a window already over keeps its end."""
    with engine.begin() as conn:
        conn.execute(update(silences)
                     .where(silences.c.kind == "maintenance", silences.c.created_by.like("change job %"),
                            silences.c.comment.like(f"%, window {int(window_id)}"), silences.c.ends_ns > now_ns)
                     .values(ends_ns=now_ns))


def _only(inventory: Inventory, names: Iterable[str]) -> Inventory:
    return Inventory(inventory.areas, {n: inventory.devices[n] for n in names}, inventory.links,
                     inventory.credentials, inventory.ipv6_plan)


def _read_state(engine: sqlalchemy.Engine, now_ns: int) -> tuple[list[dict[str, object]], list[AlertRecord],
                                                                 dict[str, BackupStatus]]:
    with engine.connect() as conn:
        windows = [dict(r._mapping) for r in conn.execute(
            select(silences).where(silences.c.kind == "maintenance", silences.c.ends_ns > now_ns))]
        saved = conn.execute(select(alert_state.c.state).where(alert_state.c.id == 1)).first()
    state = EngineState.from_dict(json.loads(saved.state)) if saved is not None else EngineState()
    return windows, list(state.alerts.values()), ArchiveIndex(engine).status()


async def _snmp_problems(targets: Targets, settings: Settings) -> dict[str, str]:
    poll = settings.poll
    sessions = DefaultSessions()
    bound = asyncio.Semaphore(poll.concurrency)

    async def one(target: PollTarget) -> tuple[str, str]:
        where = Target(target.host, target.port, poll.timeout_s, poll.retries)
        async with bound:
            try:
                session = sessions.session(where, target.credential)
                try:
                    got = await session.get([SYS_UPTIME, SYS_NAME])
                finally:
                    await session.close()
            except SnmpFailure as exc:
                return target.device, f"no SNMP answer from {exc}"
            except Exception as exc:  # noqa: BLE001 - the device's problem, never the wave's exception
                return target.device, f"SNMP to {where} failed: {type(exc).__name__}: {exc}"
        if got.get(SYS_UPTIME) is None:
            return target.device, f"SNMP agent at {target.host}:{target.port} did not give sysUpTime"
        return target.device, ""

    try:
        found = dict(await asyncio.gather(*(one(t) for t in targets.snmp)))
    finally:
        await sessions.close()
    for name in {t.device for t in targets.icmp} - found.keys():
        found[name] = "not reachable by SNMP: " + _why_not(targets, name, "SNMP")
    return found


async def _icmp_problems(targets: Targets, settings: Settings) -> dict[str, str]:
    results = await FpingCollector(count=settings.poll.icmp_count).poll_batch(targets.icmp)
    by_name = {t.device: t for t in targets.icmp}
    found = {}
    for result in results:
        if result.ok:
            found[result.device] = ""
        elif result.reason == "unreachable":
            addresses = " or ".join(a for a, _ in addresses_of(by_name[result.device]))
            found[result.device] = f"no ICMP reply from {addresses or 'a device with no address'}"
        else:
            found[result.device] = f"ICMP check failed: {result.error}"
    return found


async def _take_backups(names: Sequence[str], targets: Targets, settings: Settings, inventory: Inventory,
                        engine: sqlalchemy.Engine, archive: ConfigArchive | None) -> dict[str, BackupResult]:
    reachable = [t for t in targets.ssh if t.device in set(names)]
    if not reachable:
        return {}
    own = archive is None
    if archive is None:
        archive = ConfigArchive.open(inventory, targets.ssh, settings.state_dir, ArchiveIndex(engine),
                                     ssh=settings.ssh)
    try:
        results = await backup(reachable, archive.fetcher, archive.git, archive.index)
    finally:
        if own:
            await asyncio.to_thread(archive.close)
    return {r.device: r for r in results}


def _why_not(targets: Targets, name: str, what: str) -> str:
    said = [p for p in targets.problems if repr(name) in p and what in p]
    return said[0] if said else f"the inventory gives it no {what} access"


def _no_ssh(targets: Targets, name: str) -> str:
    return "no backup younger than the limit, and none can be taken: " + _why_not(targets, name, "SSH")
