"""Equipment (设备升级): per county and model, how many devices, which software versions, the longest uptime and the
vendor's end-of-sale and end-of-life dates; and the replacement list.

Pure: the inventory, what the SSH collector last read of each device (model, version: `yiwang.versions`), their
uptimes and the lifecycle file in; the report out. Only devices with a CLI yiwang reads (collectors/platforms.py
SSH_PLATFORMS) are equipment here; servers are the data centre's. A device whose model has not been read yet is
counted under "unknown model", never dropped: the programme's counts must add up to the inventory.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from collectors.model import Sample
from collectors.platforms import SSH_PLATFORMS
from inventory.model import Inventory, Level
from yiwang.capacity import csv_rows
from yiwang.capacity.lifecycle import Lifecycle, find
from yiwang.versions import KnownVersion

UNKNOWN_MODEL = ""  # the key of devices with no model read; shown as 未知型号 unknown model
Status = Literal["eol-passed", "eol-within-12-months", "eos-passed"]
STATUS_ZH: dict[str, str] = {"eol-passed": "已停服", "eol-within-12-months": "12个月内停服", "eos-passed": "已停售"}


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known of one device: "" where nothing was read."""

    model: str = ""
    version: str = ""
    read_at: float | None = None  # epoch seconds of the SSH reading
    uptime_s: float | None = None


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device: str
    platform: str
    county: str  # area id: the county above the device, or its own area when it sits above county level
    county_name: str
    model: str
    version: str
    read_at: float | None
    uptime_s: float | None
    lifecycle: Lifecycle | None
    status: Status | None

    def as_json(self) -> dict[str, Any]:
        return {"device": self.device, "platform": self.platform, "county": self.county,
                "county_name": self.county_name, "model": self.model or None, "version": self.version or None,
                "read_at": self.read_at, "uptime_s": self.uptime_s, "status": self.status,
                "end_of_sale": _day(self.lifecycle.end_of_sale if self.lifecycle else None),
                "end_of_life": _day(self.lifecycle.end_of_life if self.lifecycle else None),
                "replacement": self.lifecycle.replacement if self.lifecycle else None}


@dataclass(frozen=True, slots=True)
class ModelGroup:
    county: str
    county_name: str
    platform: str
    model: str  # UNKNOWN_MODEL: not read yet
    count: int
    versions: tuple[tuple[str, int], ...]  # (version, devices), most devices first; "" = not read
    longest_uptime_s: float | None
    longest_uptime_device: str | None
    lifecycle: Lifecycle | None

    def as_json(self) -> dict[str, Any]:
        return {"county": self.county, "county_name": self.county_name, "platform": self.platform,
                "model": self.model or None, "count": self.count,
                "versions": [{"version": v or None, "count": n} for v, n in self.versions],
                "longest_uptime_s": self.longest_uptime_s, "longest_uptime_device": self.longest_uptime_device,
                "lifecycle": self.lifecycle.as_json() if self.lifecycle else None}


@dataclass(frozen=True, slots=True)
class EquipmentReport:
    today: date
    groups: tuple[ModelGroup, ...]  # by county, then platform and model
    replacements: tuple[DeviceRow, ...]  # by end-of-life date, then county and device
    devices: tuple[DeviceRow, ...]  # by county and device
    unlisted: tuple[tuple[str, str], ...] = field(default=())  # (platform, model) read but not in the lifecycle file

    def as_json(self) -> dict[str, Any]:
        return {"today": self.today.isoformat(), "devices": len(self.devices),
                "models": [g.as_json() for g in self.groups],
                "replacements": [r.as_json() for r in self.replacements],
                "unlisted_models": [{"platform": p, "model": m} for p, m in self.unlisted]}


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the 29th-31st of a shorter month fall back to its last day."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def status(lifecycle: Lifecycle | None, today: date, horizon_months: int = 12) -> Status | None:
    """Why a device is on the replacement list, the most urgent reason first; None: not (yet) on it."""
    if lifecycle is None:
        return None
    # Both dates are the last day of something (to order; of support): "passed" is from the day after.
    if lifecycle.end_of_life < today:
        return "eol-passed"
    if lifecycle.end_of_life <= add_months(today, horizon_months):
        return "eol-within-12-months"
    if lifecycle.end_of_sale < today:
        return "eos-passed"
    return None


def county_of(inventory: Inventory, area_id: str) -> tuple[str, str]:
    """(id, name) of the county the area lies in; an area above county level (a city's core) is its own row."""
    path = inventory.path(area_id)
    for area in path:
        if area.level == Level.COUNTY:
            return area.id, " / ".join(a.name for a in path[:path.index(area) + 1])
    return path[-1].id, " / ".join(a.name for a in path)


def build(inventory: Inventory, known: Mapping[str, Facts], lifecycles: Iterable[Lifecycle], today: date,
          area: str | None = None) -> EquipmentReport:
    entries = tuple(lifecycles)
    inside = inventory.subtree(area) if area is not None else None
    counties: dict[str, tuple[str, str]] = {}
    rows: list[DeviceRow] = []
    for device in inventory.devices.values():
        if device.platform not in SSH_PLATFORMS or (inside is not None and device.area not in inside):
            continue
        if device.area not in counties:
            counties[device.area] = county_of(inventory, device.area)
        county, county_name = counties[device.area]
        facts = known.get(device.name, Facts())
        lifecycle = find(entries, device.platform, facts.model) if facts.model else None
        rows.append(DeviceRow(device.name, device.platform, county, county_name, facts.model, facts.version,
                              facts.read_at, facts.uptime_s, lifecycle, status(lifecycle, today)))
    rows.sort(key=lambda r: (r.county_name, r.county, r.device))
    replacements = sorted((r for r in rows if r.status is not None),
                          key=lambda r: (r.lifecycle.end_of_life if r.lifecycle else today, r.county_name, r.device))
    unlisted = sorted({(r.platform, r.model) for r in rows if r.model and r.lifecycle is None})
    return EquipmentReport(today, _groups(rows), tuple(replacements), tuple(rows), tuple(unlisted))


def _groups(rows: list[DeviceRow]) -> tuple[ModelGroup, ...]:
    grouped: dict[tuple[str, str, str, str], list[DeviceRow]] = {}
    for row in rows:
        # models are compared as the lifecycle file compares them: case does not make another model
        key = (row.county_name, row.county, row.platform, row.model.upper())
        grouped.setdefault(key, []).append(row)
    out: list[ModelGroup] = []
    for (county_name, county, platform, _), members in sorted(grouped.items()):
        versions: dict[str, int] = {}
        for member in members:
            versions[member.version] = versions.get(member.version, 0) + 1
        timed = [m for m in members if m.uptime_s is not None]
        longest = max(timed, key=lambda m: (m.uptime_s or 0.0, m.device)) if timed else None
        out.append(ModelGroup(county, county_name, platform, members[0].model, len(members),
                              tuple(sorted(versions.items(), key=lambda vn: (-vn[1], vn[0]))),
                              longest.uptime_s if longest else None, longest.device if longest else None,
                              members[0].lifecycle))
    return tuple(out)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def known_facts(versions: Mapping[str, KnownVersion], uptimes: Mapping[str, float]) -> dict[str, Facts]:
    """Each device's facts from the stored SSH readings (`VersionStore.known()`) and the uptimes at hand."""
    names = set(versions) | set(uptimes)
    return {name: Facts(v.model if v else "", v.version if v else "", v.read_at if v else None, uptimes.get(name))
            for name in names for v in (versions.get(name),)}


def uptime_of(samples: Iterable[Sample]) -> float | None:
    """The uptime in a device's latest samples: the CLI's (`ssh_device`) first, since SNMP's sysUpTime is the
    agent's and wraps after 497 days; then SNMP's (`device`)."""
    found: dict[str, float] = {}
    for sample in samples:
        value = sample.fields.get("uptime_seconds")
        if sample.measurement in ("ssh_device", "device") and isinstance(value, int | float):
            found[sample.measurement] = float(value)
    return found.get("ssh_device", found.get("device"))


CSV_COLUMNS = ("device", "county", "county_name", "platform", "model", "version", "read_at", "uptime_s",
               "end_of_sale", "end_of_life", "status", "replacement")


def csv_text(report: EquipmentReport) -> str:
    """One row per device (the groups and the replacement list are sums and filters of it), as the CLI prints it
    and the API sends it."""
    return csv_rows.csv_text((row.as_json() for row in report.devices), CSV_COLUMNS)


def uptimes(samples: Iterable[Sample]) -> dict[str, float]:
    """Each device's uptime from a snapshot of the latest samples (see uptime_of)."""
    by_device: dict[str, list[Sample]] = {}
    for sample in samples:
        if sample.measurement in ("ssh_device", "device") and "uptime_seconds" in sample.fields:
            by_device.setdefault(sample.tag("device"), []).append(sample)
    return {device: found for device, mine in by_device.items() for found in (uptime_of(mine),) if found is not None}
