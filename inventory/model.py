"""Inventory: one recursive Area, devices and links. Pure data, validated on construction."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from inventory.datacentre import Datacentre

if TYPE_CHECKING:
    from inventory.addressing import Ipv6Plan


class Level(IntEnum):
    # Ordered top-down so that `child.level == parent.level + 1` is the whole shape rule.
    PROVINCE = 0
    CITY = 1
    COUNTY = 2
    TOWNSHIP = 3
    VILLAGE = 4

    @property
    def label(self) -> str:
        return self.name.lower()


LEVELS: tuple[str, ...] = tuple(level.label for level in Level)
PLATFORMS = ("huawei_vrp", "hp_comware", "ruijie_os", "cisco_ios", "linux")


# Digits of an administrative division code (GB/T 2260 and the statistics bureau's extension) by level: six down to
# the county, nine for a township, twelve for a village.
CODE_DIGITS: dict[Level, int] = {Level.PROVINCE: 6, Level.CITY: 6, Level.COUNTY: 6, Level.TOWNSHIP: 9,
                                 Level.VILLAGE: 12}


@dataclass(frozen=True, slots=True)
class Area:
    id: str
    name: str
    level: Level
    parent: str | None = None
    # The administrative division code ("421102"): what maps and other government systems key areas by.
    code: str | None = None
    name_en: str | None = None
    # The poller group that polls this area's devices (issue 15); the nearest one up the chain applies.
    poller_group: str | None = None


def check_code(text: str, level: Level) -> str:
    digits = CODE_DIGITS[level]
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{text!r} is not an administrative code: digits only")
    if len(text) != digits:
        raise ValueError(f"{text!r} has {len(text)} digits; a {level.label}'s code has {digits}")
    return text


@dataclass(frozen=True, slots=True)
class SnmpAccess:
    credential: str
    profiles: tuple[str, ...]
    port: int = 161


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    platform: str
    role: str
    area: str
    address: str | None = None
    address6: str | None = None
    snmp: SnmpAccess | None = None
    ssh_credential: str | None = None
    site: str | None = None
    cabinet: str | None = None
    ssh_port: int = 22

    @property
    def host(self) -> str:
        """The management address polled: IPv4 when present, else IPv6."""
        return self.address or self.address6 or ""


@dataclass(frozen=True, slots=True)
class Endpoint:
    device: str
    interface: str

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        device, sep, interface = text.partition(":")
        if not sep or not device or not interface:
            raise ValueError(f"endpoint {text!r} is not 'device:interface'")
        return cls(device, interface)

    def __str__(self) -> str:
        return f"{self.device}:{self.interface}"


@dataclass(frozen=True, slots=True)
class Link:
    """An area's uplink to its parent area."""

    area: str
    local: Endpoint
    remote: Endpoint
    carrier: str
    bandwidth_mbps: float


@dataclass(frozen=True, slots=True)
class Carrier:
    """A carrier and its contract: the availability (and optionally the latency) it promises per month."""

    name: str  # as the links' `carrier` names it
    name_zh: str
    sla_availability_pct: float
    sla_latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret lives; the value itself is never held in inventory."""

    env: str | None = None
    file: str | None = None

    def __repr__(self) -> str:
        return f"SecretRef(env={self.env!r})" if self.env else f"SecretRef(file={self.file!r})"


@dataclass(frozen=True, slots=True)
class Credential:
    name: str
    kind: str  # snmp_v2c | snmp_v3 | ssh
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    # Plain settings that are not secret (user name, protocols, context).
    options: Mapping[str, str] = field(default_factory=dict)


def check_address(text: str, version: int) -> str:
    parsed = ipaddress.ip_address(text)
    if parsed.version != version:
        raise ValueError(f"{text!r} is not an IPv{version} address")
    return str(parsed)


@dataclass(slots=True)
class Inventory:
    areas: dict[str, Area] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    credentials: dict[str, Credential] = field(default_factory=dict)
    # The IPv6 address plan (`ipv6-plan.yaml`): what the change will configure, not what devices have today.
    ipv6_plan: Ipv6Plan | None = None
    # The cloud centre (`datacentre.yaml`): empty when the inventory has none.
    datacentre: Datacentre = field(default_factory=Datacentre)
    # The carriers' SLAs (`carriers:`), by name; a link may name a carrier that has none here.
    carriers: dict[str, Carrier] = field(default_factory=dict)

    def path(self, area_id: str) -> list[Area]:
        """The areas from the province down to `area_id`."""
        chain: list[Area] = []
        current: str | None = area_id
        while current is not None:
            area = self.areas[current]
            chain.append(area)
            current = area.parent
        chain.reverse()
        return chain

    def path_labels(self, area_id: str) -> dict[str, str]:
        """{"province": ..., "city": ..., ...} down to the area's level; the label values are area names."""
        return {area.level.label: area.name for area in self.path(area_id)}

    def children(self) -> dict[str | None, list[Area]]:
        tree: dict[str | None, list[Area]] = {}
        for area in self.areas.values():
            tree.setdefault(area.parent, []).append(area)
        return tree

    def devices_in(self, area_id: str) -> Iterator[Device]:
        """Devices in the area or anywhere beneath it."""
        inside = self.subtree(area_id)
        return (d for d in self.devices.values() if d.area in inside)

    def subtree(self, area_id: str) -> set[str]:
        tree = self.children()
        found: set[str] = set()
        stack = [area_id]
        while stack:
            current = stack.pop()
            found.add(current)
            stack.extend(child.id for child in tree.get(current, []))
        return found

    def uplink_of(self, area_id: str) -> Link | None:
        return next((link for link in self.links if link.area == area_id), None)
