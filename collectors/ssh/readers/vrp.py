"""Huawei VRP (VRP5 and VRP8/CloudEngine)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from collectors.ssh.facts import Facts, Interface, Optic
from collectors.ssh.text import NUM, ParseError, ntc, search, uptime_seconds

TEMPLATES = "huawei_vrp"


def version(text: str) -> Facts:
    rows = ntc(TEMPLATES, "display version", text)
    if not rows:
        raise ParseError("display version: no rows")
    row = rows[0]
    product = row["product_version"].split()
    return Facts(row["model"], product[-1] if product else row["vrp_version"],
                 search(r"serial number\s*:\s*(\S+)", text, "serial"), uptime_seconds(row["uptime"]))


def interfaces(text: str) -> list[Interface]:
    return [Interface(r["interface"], r["phy"] == "up" and r["protocol"].startswith("up"))
            for r in ntc(TEMPLATES, "display interface brief", text)]


def ipv6_interfaces(text: str) -> list[str]:
    rows = re.findall(r"^(\S+)\s+(\*?down|up)\s+(\S+)", text, re.MULTILINE)
    return [name for name, phy, proto in rows if phy == "up" and proto.startswith("up")]


def arp(text: str) -> int:
    return len(ntc(TEMPLATES, "display arp all", text))


def nd(text: str) -> int:
    return len(ntc(TEMPLATES, "display ipv6 neighbors", text))


def transceiver(text: str) -> list[Optic]:
    out = []
    for block in re.split(r"^(?=\S+ transceiver information:)", text, flags=re.MULTILINE):
        name = re.match(r"(\S+) transceiver information:", block)
        rx = re.search(rf"RX Power\(dBM\)\s*:\s*{NUM}", block, re.IGNORECASE)
        tx = re.search(rf"TX Power\(dBM\)\s*:\s*{NUM}", block, re.IGNORECASE)
        if name and rx and tx:
            out.append(Optic(name.group(1), float(rx.group(1)), float(tx.group(1))))
    return out


PARSERS: dict[str, Callable[[str], Any]] = {
    "version": version, "interfaces": interfaces, "ipv6_interfaces": ipv6_interfaces, "arp": arp, "nd": nd,
    "transceiver": transceiver,
}
