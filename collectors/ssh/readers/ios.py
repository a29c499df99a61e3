"""Cisco IOS and IOS-XE."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from collectors.ssh.facts import Facts, Interface, Optic
from collectors.ssh.text import NUM, ParseError, ntc, uptime_seconds

TEMPLATES = "cisco_ios"


def version(text: str) -> Facts:
    rows = ntc(TEMPLATES, "show version", text)
    if not rows:
        raise ParseError("show version: no rows")
    row = rows[0]
    hardware, serial = row["hardware"] or [""], row["serial"] or [""]
    return Facts(hardware[0], row["version"], serial[0] or None, uptime_seconds(row["uptime"]))


def interfaces(text: str) -> list[Interface]:
    return [Interface(r["interface"], r["status"] == "up" and r["proto"] == "up")
            for r in ntc(TEMPLATES, "show ip interface brief", text)]


def ipv6_interfaces(text: str) -> list[str]:
    rows = ntc(TEMPLATES, "show ipv6 interface brief", text)
    return [r["interface"] for r in rows
            if r["admin"] == "up" and r["protocol"] == "up" and any(a != "unassigned" for a in r["ipv6_address"])]


def arp(text: str) -> int:
    return len(ntc(TEMPLATES, "show arp", text))


def nd(text: str) -> int:
    return len(ntc(TEMPLATES, "show ipv6 neighbors", text))


def transceiver(text: str) -> list[Optic]:
    rows = re.findall(rf"^(\S+)\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s*$", text, re.MULTILINE)
    return [Optic(name, float(rx), float(tx)) for name, _, _, _, tx, rx in rows]


PARSERS: dict[str, Callable[[str], Any]] = {
    "version": version, "interfaces": interfaces, "ipv6_interfaces": ipv6_interfaces, "arp": arp, "nd": nd,
    "transceiver": transceiver,
}
