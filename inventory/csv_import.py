"""Bulk import of villages from a CSV: one row a village with its access device and uplink."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from inventory.model import PLATFORMS, Endpoint, Inventory, Level, check_address, check_code

REQUIRED = ("township_id", "village", "device", "platform", "uplink_interface", "parent_interface",
            "carrier", "bandwidth_mbps")
OPTIONAL = ("village_id", "village_code", "village_name_en", "address", "address6", "role", "snmp_credential",
            "snmp_profiles")


@dataclass(slots=True)
class CsvImport:
    areas: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {"areas": self.areas, "devices": self.devices, "links": self.links}


def import_villages(text: str, source: str, inv: Inventory) -> CsvImport:
    """Rows that are wrong are reported by line and column and left out; the good rows are imported."""
    result = CsvImport()
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        result.problems.append(f"{source}: header: missing columns {missing}")
        return result
    seen_devices = set(inv.devices)
    seen_codes = {a.code for a in inv.areas.values() if a.code}
    for row in reader:
        line = reader.line_num
        try:
            area, device, link = _row(row, inv, seen_devices, seen_codes)
        except ValueError as exc:
            result.problems.append(f"{source}:{line}: {exc}")
            continue
        seen_devices.add(device["name"])
        if "code" in area:
            seen_codes.add(area["code"])
        result.areas.append(area)
        result.devices.append(device)
        result.links.append(link)
    return result


def _row(row: dict[str, str], inv: Inventory, seen_devices: set[str],
         seen_codes: set[str]) -> tuple[dict[str, Any], ...]:
    values = {k: (row.get(k) or "").strip() for k in REQUIRED + OPTIONAL}
    for column in REQUIRED:
        if not values[column]:
            raise ValueError(f"column {column!r}: is empty")
    township = inv.areas.get(values["township_id"])
    if township is None or township.level is not Level.TOWNSHIP:
        raise ValueError(f"column 'township_id': {values['township_id']!r} is not a township in the inventory")
    parent_device = next((d for d in inv.devices.values() if d.area == township.id), None)
    if parent_device is None:
        raise ValueError(f"column 'township_id': township {township.id!r} has no device to uplink to")
    code = values["village_code"]
    if code:
        try:
            check_code(code, Level.VILLAGE)
        except ValueError as exc:
            raise ValueError(f"column 'village_code': {exc}") from None
        if code in seen_codes:
            raise ValueError(f"column 'village_code': {code!r} already exists")
    village_id = values["village_id"] or _village_id(township.id, values["village_name_en"] or values["village"], code)
    if village_id in inv.areas:
        raise ValueError(f"column 'village_id': {village_id!r} already exists")
    if values["device"] in seen_devices:
        raise ValueError(f"column 'device': {values['device']!r} already exists")
    if values["platform"] not in PLATFORMS:
        raise ValueError(f"column 'platform': {values['platform']!r} is not one of {list(PLATFORMS)}")
    device: dict[str, Any] = {"name": values["device"], "platform": values["platform"],
                              "role": values["role"] or "access", "area": village_id}
    for column, version in (("address", 4), ("address6", 6)):
        if values[column]:
            try:
                device[column] = check_address(values[column], version)
            except ValueError as exc:
                raise ValueError(f"column {column!r}: {exc}") from None
    if "address" not in device and "address6" not in device:
        raise ValueError("column 'address': a device needs an IPv4 or an IPv6 address")
    if values["snmp_credential"]:
        profiles = [p for p in re.split(r"[;| ]+", values["snmp_profiles"] or "system;if-mib") if p]
        device["snmp"] = {"credential": values["snmp_credential"], "profiles": profiles}
    try:
        bandwidth = float(values["bandwidth_mbps"])
    except ValueError:
        raise ValueError(f"column 'bandwidth_mbps': {values['bandwidth_mbps']!r} is not a number") from None
    if bandwidth <= 0:
        raise ValueError("column 'bandwidth_mbps': must be positive")
    local = Endpoint(values["device"], values["uplink_interface"])
    remote = Endpoint(parent_device.name, values["parent_interface"])
    area = {"id": village_id, "name": values["village"], "level": "village", "parent": township.id}
    if code:
        area["code"] = code
    if values["village_name_en"]:
        area["name_en"] = values["village_name_en"]
    link = {"area": village_id, "local": str(local), "remote": str(remote), "carrier": values["carrier"],
            "bandwidth_mbps": bandwidth}
    return area, device, link


def _village_id(township_id: str, name: str, code: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    # A Chinese name alone gives no slug; the code is unique and stable, so it does.
    if not slug:
        slug = code
    if not slug:
        raise ValueError("column 'village_id': needed when the village has neither a Latin name nor a code")
    return f"{township_id}.{slug}"
