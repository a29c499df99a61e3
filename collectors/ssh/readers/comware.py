"""H3C Comware 5 and 7 (H3C, HP and HPE branding)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from collectors.ssh.facts import Facts, Interface, Optic
from collectors.ssh.readers.vrp import ipv6_interfaces
from collectors.ssh.text import NUM, ParseError, ntc, search, uptime_seconds

TEMPLATES = "hp_comware"


def version(text: str) -> Facts:
    found = re.search(r"Software Version (\S+?),? Release (\S+)", text)
    if not found:
        raise ParseError("no Comware software version found")
    return Facts(search(r"^H3C (\S+) uptime is", text, "model"), f"{found.group(1)} Release {found.group(2)}",
                 search(r"DEVICE_SERIAL_NUMBER\s*:\s*(\S+)", text, "serial"),
                 uptime_seconds(search(r"uptime is (.+)$", text, "uptime")))


def interfaces(text: str) -> list[Interface]:
    return [Interface(r["interface"], r["link"] == "UP" and r["protocol"].startswith("UP"))
            for r in ntc(TEMPLATES, "display interface brief", text)]


def arp(text: str) -> int:
    return len(ntc(TEMPLATES, "display arp", text))


def nd(text: str) -> int:
    return len(re.findall(r"^[0-9A-Fa-f:]*:[0-9A-Fa-f:]+\s+[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}\s", text, re.MULTILINE))


def transceiver(text: str) -> list[Optic]:
    out = []
    for block in re.split(r"^(?=\S+ transceiver diagnostic information:)", text, flags=re.MULTILINE):
        name = re.match(r"(\S+) transceiver diagnostic information:", block)
        row = re.search(rf"^\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s*$", block, re.MULTILINE)
        if name and row:
            out.append(Optic(name.group(1), float(row.group(4)), float(row.group(5))))
    return out


PARSERS: dict[str, Callable[[str], Any]] = {
    "version": version, "interfaces": interfaces, "ipv6_interfaces": ipv6_interfaces, "arp": arp, "nd": nd,
    "transceiver": transceiver,
}
