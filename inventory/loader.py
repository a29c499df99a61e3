"""Load the inventory from YAML files kept in git.

Every broken entry becomes an `InventoryProblem` naming the file, the entry and the field; the entry is left
out and reported, the rest loads. Nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from inventory.addressing import parse_plan
from inventory.datacentre import parse_datacentre
from inventory.model import (
    PLATFORMS,
    Area,
    Carrier,
    Credential,
    Device,
    Endpoint,
    Inventory,
    Level,
    Link,
    SecretRef,
    SnmpAccess,
    check_address,
    check_code,
)

# libyaml's parser is several times faster on a city's 4,400 devices; it parses the same safe subset.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SECTIONS = ("areas", "devices", "links", "credentials", "ipv6_plan", "sites", "rooms", "cabinets", "servers",
            "carriers")
# A poller group's name becomes part of coordination keys and command lines: keep it plain.
_GROUP_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
SECRET_FIELDS = {"snmp_v2c": ("community",), "snmp_v3": ("auth_key", "priv_key"), "ssh": ("password",)}


@dataclass(frozen=True, slots=True)
class InventoryProblem:
    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.entry}"
        return f"{where}: field '{self.field}': {self.message}" if self.field else f"{where}: {self.message}"


class EntryError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(slots=True)
class LoadResult:
    inventory: Inventory
    problems: list[InventoryProblem]


def load_inventory(paths: Iterable[Path]) -> LoadResult:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.y*ml")) if path.is_dir() else [path])
    raw: dict[str, list[tuple[str, int, Any]]] = {section: [] for section in SECTIONS}
    problems: list[InventoryProblem] = []
    for file in files:
        try:
            document = yaml.load(file.read_text(encoding="utf-8"), Loader=SafeLoader) or {}  # noqa: S506 - a safe loader
        except (OSError, yaml.YAMLError) as exc:
            problems.append(InventoryProblem(str(file), "(file)", "", f"cannot be read as YAML: {exc}"))
            continue
        if not isinstance(document, dict):
            problems.append(InventoryProblem(str(file), "(file)", "", "top level must be a mapping of sections"))
            continue
        for key, entries in document.items():
            if key not in SECTIONS:
                problems.append(InventoryProblem(str(file), "(file)", str(key), f"unknown section; use {SECTIONS}"))
                continue
            if not isinstance(entries, list):
                problems.append(InventoryProblem(str(file), key, "", "section must be a list of entries"))
                continue
            raw[key].extend((str(file), index, entry) for index, entry in enumerate(entries))
    return build_inventory(raw, problems)


def build_inventory(raw: Mapping[str, list[tuple[str, int, Any]]], problems: list[InventoryProblem]) -> LoadResult:
    inv = Inventory()
    _add_all(raw.get("credentials", []), "credential", _parse_credential, inv.credentials, problems)
    _add_all(raw.get("areas", []), "area", _parse_area, inv.areas, problems)
    _check_codes(inv, raw.get("areas", []), problems)
    _add_all(raw.get("carriers", []), "carrier", _parse_carrier, inv.carriers, problems)
    _check_area_tree(inv, raw.get("areas", []), problems)
    _add_all(raw.get("devices", []), "device", lambda e: _parse_device(e, inv), inv.devices, problems)
    for file, index, entry in raw.get("links", []):
        label = _label("link", index, entry, "area")
        try:
            inv.links.append(_parse_link(entry, inv))
        except EntryError as exc:
            problems.append(InventoryProblem(file, label, exc.field, exc.message))
    inv.ipv6_plan, plan_problems = parse_plan(raw.get("ipv6_plan", []))
    problems += [InventoryProblem(*problem) for problem in plan_problems]
    inv.datacentre, dc_problems = parse_datacentre(raw, inv.devices)
    problems += [InventoryProblem(*problem) for problem in dc_problems]
    return LoadResult(inv, problems)


def _label(kind: str, index: int, entry: Any, key: str) -> str:
    name = entry.get(key) if isinstance(entry, dict) else None
    return f"{kind} {name!r}" if name else f"{kind} #{index + 1}"


def _add_all(entries: list[tuple[str, int, Any]], kind: str, parse: Any, into: dict[str, Any],
             problems: list[InventoryProblem]) -> None:
    key = "id" if kind == "area" else "name"
    for file, index, entry in entries:
        label = _label(kind, index, entry, key)
        try:
            item = parse(entry)
        except EntryError as exc:
            problems.append(InventoryProblem(file, label, exc.field, exc.message))
            continue
        ident = getattr(item, key)
        if ident in into:
            problems.append(InventoryProblem(file, label, key, f"duplicate {kind} {ident!r}"))
            continue
        into[ident] = item


def _mapping(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise EntryError("", f"entry must be a mapping, got {type(entry).__name__}")
    return entry


def _text(entry: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None or value == "":
        if required:
            raise EntryError(key, "is required")
        return None
    if not isinstance(value, str | int):
        raise EntryError(key, f"must be text, got {type(value).__name__}")
    return str(value)


def _only(entry: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise EntryError(unknown[0], "unknown field")


def _parse_area(entry: Any) -> Area:
    entry = _mapping(entry)
    _only(entry, ("id", "name", "level", "parent", "code", "name_en", "poller_group"))
    level_text = _text(entry, "level")
    try:
        level = Level[str(level_text).upper()]
    except KeyError:
        raise EntryError("level", f"{level_text!r} is not one of {[lv.label for lv in Level]}") from None
    code = entry.get("code")
    if code is not None:
        # YAML reads an unquoted 421102 as an int, which is fine; 4.2e5 or true is not a code.
        if isinstance(code, bool) or not isinstance(code, str | int):
            raise EntryError("code", f"must be text of digits, got {type(code).__name__}")
        try:
            code = check_code(str(code), level)
        except ValueError as exc:
            raise EntryError("code", str(exc)) from None
    group = _text(entry, "poller_group", required=False)
    if group is not None and not _GROUP_NAME.fullmatch(group):
        raise EntryError("poller_group", "letters, digits, '.', '_' or '-', at most 64")
    return Area(str(_text(entry, "id")), str(_text(entry, "name")), level, _text(entry, "parent", required=False),
                code, _text(entry, "name_en", required=False), group)


def _check_codes(inv: Inventory, entries: list[tuple[str, int, Any]], problems: list[InventoryProblem]) -> None:
    """A code names one area: the first keeps it, a later area with the same code is left out and reported."""
    where = {str(e.get("id")): f for f, _, e in entries if isinstance(e, dict)}
    owner: dict[str, str] = {}
    for area in list(inv.areas.values()):
        if area.code is None:
            continue
        if area.code in owner:
            problems.append(InventoryProblem(where.get(area.id, "?"), f"area {area.id!r}", "code",
                                             f"duplicate code {area.code!r}, already area {owner[area.code]!r}"))
            del inv.areas[area.id]
            continue
        owner[area.code] = area.id


def _parse_carrier(entry: Any) -> Carrier:
    entry = _mapping(entry)
    _only(entry, ("name", "name_zh", "sla_availability_pct", "sla_latency_ms"))
    availability = _number(entry, "sla_availability_pct")
    if availability is None:
        raise EntryError("sla_availability_pct", "is required")
    if not 0 < availability <= 100:
        raise EntryError("sla_availability_pct", f"{entry.get('sla_availability_pct')!r} is not a percentage in "
                                                 "(0, 100], e.g. 99.9")
    latency = _number(entry, "sla_latency_ms")
    if latency is not None and latency <= 0:
        raise EntryError("sla_latency_ms", f"{latency!r} is not a positive number of milliseconds")
    return Carrier(str(_text(entry, "name")), str(_text(entry, "name_zh")), availability, latency)


def _number(entry: dict[str, Any], key: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise EntryError(key, f"must be a number, got {type(value).__name__}")
    return float(value)


def _check_area_tree(inv: Inventory, entries: list[tuple[str, int, Any]], problems: list[InventoryProblem]) -> None:
    """The level rule: village -> township -> county -> city -> province is the only shape allowed."""
    where = {str(e.get("id")): f for f, _, e in entries if isinstance(e, dict)}
    changed = True
    while changed:  # removing a bad area orphans its children, which are reported in the next pass
        changed = False
        for area in list(inv.areas.values()):
            message = field = ""
            if area.level is Level.PROVINCE:
                if area.parent is not None:
                    field, message = "parent", "a province has no parent"
            elif area.parent is None:
                field, message = "parent", f"a {area.level.label} needs a parent {Level(area.level - 1).label}"
            elif area.parent not in inv.areas:
                field, message = "parent", f"unknown or broken area {area.parent!r}"
            elif inv.areas[area.parent].level != area.level - 1:
                parent = inv.areas[area.parent]
                field = "parent"
                message = (f"a {area.level.label} must sit under a {Level(area.level - 1).label}, "
                           f"not under {parent.level.label} {parent.id!r}")
            if message:
                problems.append(InventoryProblem(where.get(area.id, "?"), f"area {area.id!r}", field, message))
                del inv.areas[area.id]
                changed = True


def _parse_secret(value: Any, field: str) -> SecretRef:
    if isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
        return SecretRef(env=value["env"])
    if isinstance(value, dict) and set(value) == {"file"} and isinstance(value["file"], str):
        return SecretRef(file=value["file"])
    # Never echo the value: it may be a literal secret someone pasted in.
    raise EntryError(field, "must be a secret reference {env: NAME} or {file: PATH}, never a literal value")


def _parse_credential(entry: Any) -> Credential:
    entry = _mapping(entry)
    kind = str(_text(entry, "kind"))
    if kind not in SECRET_FIELDS:
        raise EntryError("kind", f"{kind!r} is not one of {sorted(SECRET_FIELDS)}")
    secret_fields = SECRET_FIELDS[kind]
    option_fields = ("user", "auth_protocol", "priv_protocol", "context")
    _only(entry, ("name", "kind", *secret_fields, *option_fields))
    secrets = {f: _parse_secret(entry[f], f) for f in secret_fields if f in entry}
    if kind == "snmp_v2c" and "community" not in secrets:
        raise EntryError("community", "is required")
    if kind == "snmp_v3":
        for required in ("user",):
            _text(entry, required)
    options = {f: str(entry[f]) for f in option_fields if f in entry}
    return Credential(str(_text(entry, "name")), kind, secrets, options)


DEVICE_FIELDS = ("name", "platform", "role", "area", "address", "address6", "snmp", "ssh", "site", "cabinet")


def _parse_device(entry: Any, inv: Inventory) -> Device:
    entry = _mapping(entry)
    _only(entry, DEVICE_FIELDS)
    name = str(_text(entry, "name"))
    platform = str(_text(entry, "platform"))
    if platform not in PLATFORMS:
        raise EntryError("platform", f"{platform!r} is not one of {list(PLATFORMS)}")
    area = str(_text(entry, "area"))
    if area not in inv.areas:
        raise EntryError("area", f"unknown or broken area {area!r}")
    address = _address(entry, "address", 4)
    address6 = _address(entry, "address6", 6)
    if not address and not address6:
        raise EntryError("address", "a device needs an IPv4 'address' or an IPv6 'address6'")
    snmp = _parse_snmp(entry.get("snmp"), inv) if "snmp" in entry else None
    ssh = entry.get("ssh")
    ssh_credential = None
    ssh_port = 22
    if ssh is not None:
        if not isinstance(ssh, dict) or not isinstance(ssh.get("credential"), str) or set(ssh) - {"credential",
                                                                                                  "port"}:
            raise EntryError("ssh", "must be {credential: NAME} with an optional port")
        ssh_credential = ssh["credential"]
        if ssh_credential not in inv.credentials or inv.credentials[ssh_credential].kind != "ssh":
            raise EntryError("ssh.credential", f"unknown SSH credential {ssh_credential!r}")
        ssh_port = ssh.get("port", 22)
        if not isinstance(ssh_port, int) or not 0 < ssh_port < 65536:
            raise EntryError("ssh.port", f"{ssh_port!r} is not a TCP port")
    return Device(name, platform, str(_text(entry, "role")), area, address, address6, snmp, ssh_credential,
                  _text(entry, "site", required=False), _text(entry, "cabinet", required=False), ssh_port)


def _address(entry: dict[str, Any], key: str, version: int) -> str | None:
    text = _text(entry, key, required=False)
    if text is None:
        return None
    try:
        return check_address(text, version)
    except ValueError as exc:
        raise EntryError(key, str(exc)) from None


def _parse_snmp(value: Any, inv: Inventory) -> SnmpAccess:
    if not isinstance(value, dict):
        raise EntryError("snmp", "must be a mapping with credential and profiles")
    unknown = sorted(set(value) - {"credential", "profiles", "port"})
    if unknown:
        raise EntryError(f"snmp.{unknown[0]}", "unknown field")
    credential = value.get("credential")
    if not isinstance(credential, str) or credential not in inv.credentials:
        raise EntryError("snmp.credential", f"unknown credential {credential!r}")
    if not inv.credentials[credential].kind.startswith("snmp"):
        raise EntryError("snmp.credential", f"credential {credential!r} is not an SNMP credential")
    profiles = value.get("profiles")
    if not isinstance(profiles, list) or not profiles or not all(isinstance(p, str) for p in profiles):
        raise EntryError("snmp.profiles", "must be a non-empty list of profile names")
    port = value.get("port", 161)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise EntryError("snmp.port", f"{port!r} is not a UDP port")
    return SnmpAccess(credential, tuple(profiles), port)


def _parse_link(entry: Any, inv: Inventory) -> Link:
    entry = _mapping(entry)
    _only(entry, ("area", "local", "remote", "carrier", "bandwidth_mbps"))
    area = str(_text(entry, "area"))
    if area not in inv.areas:
        raise EntryError("area", f"unknown or broken area {area!r}")
    ends = []
    for key in ("local", "remote"):
        try:
            endpoint = Endpoint.parse(str(_text(entry, key)))
        except ValueError as exc:
            raise EntryError(key, str(exc)) from None
        if endpoint.device not in inv.devices:
            raise EntryError(key, f"unknown or broken device {endpoint.device!r}")
        ends.append(endpoint)
    bandwidth = entry.get("bandwidth_mbps")
    if not isinstance(bandwidth, int | float) or isinstance(bandwidth, bool) or bandwidth <= 0:
        raise EntryError("bandwidth_mbps", f"{bandwidth!r} is not a positive number")
    return Link(area, ends[0], ends[1], str(_text(entry, "carrier")), float(bandwidth))
