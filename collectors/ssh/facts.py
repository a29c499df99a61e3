"""What the SSH collector reads from a device: typed facts, one value per command kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Facts:
    """From the version command. Serial and uptime are often elsewhere or absent: None, never a failure."""

    model: str
    version: str
    serial: str | None = None
    uptime_s: float | None = None


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    up: bool


@dataclass(frozen=True, slots=True)
class Optic:
    name: str
    rx_dbm: float
    tx_dbm: float
    lane: int | None = None  # a multi-lane module (QSFP) reports one reading per lane


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One entry of the IPv6 neighbour (ND) table."""

    address: str  # in ipaddress's compressed lower-case form, so that it compares with planned addresses
    interface: str  # as the device prints it: often abbreviated (`GE0/0/1`, `Gi0/1`, `Vl6`)
    state: str  # upper case: INCMP, REACH, STALE, DELAY, PROBE
    mac: str = ""  # as printed; "" where the table has none (an incomplete entry)


@dataclass(slots=True)
class DeviceReport:
    """Each fact that parsed; each that did not is in `failures` as {kind: why}, naming the command."""

    facts: Facts | None = None
    serial: str | None = None  # from the platform's serial command, where `version` does not carry it
    interfaces: list[Interface] | None = None
    ipv6_up: list[str] | None = None
    arp_entries: int | None = None
    nd_entries: int | None = None
    optics: list[Optic] | None = None
    failures: dict[str, str] = field(default_factory=dict)

    def value(self, kind: str) -> Any:
        return getattr(self, FIELD_OF[kind])


FIELD_OF = {"version": "facts", "serial": "serial", "interfaces": "interfaces", "ipv6_interfaces": "ipv6_up",
            "arp": "arp_entries", "nd": "nd_entries", "transceiver": "optics"}
