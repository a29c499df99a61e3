"""H3C Comware 5 and 7 (H3C, HP and HPE branding). Our own patterns (ntc-templates' interface template loses the
bridge-mode tables' state, and it has no template for the version, ND or optics outputs)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from collectors.ssh.facts import Facts, Interface, Neighbour, Optic
from collectors.ssh.readers.vrp import MAC, arp, ipv6_interfaces, uptime_or_none
from collectors.ssh.text import ParseError, ipv6_address

LINK_STATES = ("UP", "DOWN", "ADM", "STBY")
BRANDS = r"(?:H3C|HPE|HP|Hewlett Packard Enterprise)"


def version(text: str) -> Facts:
    """`H3C Comware Software, Version 7.1.070, Release 6615P05` (Comware 7), `Comware Software, Version 5.20.99,
    Release 1120` (Comware 5; also `..., Release 2511, Standard`, `ESS 1225`, `Alpha 7170`), and the line
    `H3C S6850-56HF uptime is ...` / `HP 5500-24G-4SFP HI Switch with 2 Interface Slots uptime is ...`.
    The serial is never here (that is `display device manuinfo`)."""
    found = re.search(r"Software,?\s+(?:Software\s+)?Version\s+(\d[\w.-]*),\s*(Release|ESS|Alpha|Beta|Feature)\s+(\w+)",
                      text, re.IGNORECASE)
    if not found:
        bare = re.search(r"Comware Software,\s+Version\s+(\d[\w.-]*)", text, re.IGNORECASE)
        if not bare:
            raise ParseError("no 'Comware Software, Version' line")
        release = bare.group(1)
    else:
        release = f"{found.group(1)} {found.group(2)} {found.group(3)}"
    line = re.search(rf"^\s*{BRANDS}\s+(.+?)\s+uptime is\s*(.*)$", text, re.MULTILINE | re.IGNORECASE)
    if not line:
        raise ParseError("no '<model> uptime is' line")
    model = re.sub(r"\s+with\s+\d+\s+\S+\s+Slots?$", "", line.group(1).strip(), flags=re.IGNORECASE)
    model = re.sub(r"\s+(?:Switch|Router)$", "", model)
    uptime = line.group(2).strip() or _next_line(text, line.end())  # some models wrap the uptime onto its own line
    return Facts(model, release, None, uptime_or_none(uptime))


def _next_line(text: str, at: int) -> str:
    rest = text[at:].lstrip("\n").split("\n", 1)
    return rest[0] if rest else ""


# A manuinfo block's title: `Chassis self`, ` Slot 1 CPU 0:`, `Slot 0:`, `slot 0`, `Subslot 1:`, `Fan 1`, `Power 2`.
TITLE = re.compile(r"^\s*(Chassis self|Chassis \d+|Slot \d+(?: CPU \d+)?|Subslot \d+|Fan \d+|Power \d+)\s*:?\s*$",
                   re.IGNORECASE)


def serial(text: str) -> str:
    """`display device manuinfo`: the chassis serial. The `Chassis self` block's DEVICE_SERIAL_NUMBER where the
    device has one (chassis switches, Comware 7); else the first slot's (the lowest member: slot 1 of a standalone
    Comware 7 switch, slot 0 of a Comware 5 chassis); else, on devices that print no titles, the first one.
    Fans, power supplies and subslots are never the chassis. `NONE` or blank is no serial."""
    blocks: list[tuple[str, str]] = []  # (title, serial)
    title = ""
    for line in text.splitlines():
        titled = TITLE.match(line)
        if titled:
            title = titled.group(1).lower()
            continue
        found = re.match(r"^\s*DEVICE_SERIAL_NUMBER\s*:\s*(\S*)", line)
        if found and found.group(1) and found.group(1).upper() != "NONE":
            blocks.append((title, found.group(1)))
    for wanted in ("chassis self", "slot", ""):
        for name, number in blocks:
            if name.startswith(wanted) if wanted else name == "":
                return number
    raise ParseError("no chassis or slot DEVICE_SERIAL_NUMBER")


def interfaces(text: str) -> list[Interface]:
    """`display interface brief`: route-mode tables (a Protocol column: up when Link and Protocol are UP, `UP(s)`
    included; Protocol `--` means no protocol runs there, so the link decides) and bridge-mode tables (layer-2
    ports, no Protocol column: the link decides). `ADM` (administratively down) and `Stby` are down."""
    out = []
    mode = None
    for line in text.splitlines():
        cols = line.split()
        if not cols:
            continue
        if cols[0] == "Interface" and len(cols) > 2 and cols[1] == "Link":
            mode = "route" if cols[2].lower().startswith("protocol") else "bridge"
            continue
        if mode is None or len(cols) < 2 or cols[0].endswith(":") or cols[1].upper() not in LINK_STATES:
            continue
        link = cols[1].upper() == "UP"
        protocol = cols[2].upper() if mode == "route" and len(cols) > 2 else "--"
        out.append(Interface(cols[0], link and (protocol == "--" or protocol.startswith("UP"))))
    if mode is None:
        raise ParseError("no 'Interface Link ...' header")
    return out


def nd(text: str) -> int:
    """Entries of `display ipv6 neighbors all`: one row per neighbour (address, MAC, VLAN, interface...)."""
    if not re.search(r"^\s*IPv6 address\s+(?:MAC address|Link[- ]layer)", text, re.IGNORECASE | re.MULTILINE):
        raise ParseError("no IPv6 neighbor table header")
    return len(re.findall(rf"^\s*[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\s+{MAC}\s", text, re.MULTILINE))


def nd_entries(text: str) -> list[Neighbour]:
    """`display ipv6 neighbors all`: `address  MAC  VID  interface  state  type  age` per row (Comware 5 and 7;
    a long address may stand alone on its line, the rest of its row on the next)."""
    nd(text)  # the header must be there
    out = []
    carried = ""
    for line in text.splitlines():
        words = line.split()
        if len(words) == 1 and ipv6_address(words[0]) is not None:
            carried = words[0]
            continue
        if carried and words and re.fullmatch(MAC, words[0]):
            words = [carried, *words]
        carried = ""
        if len(words) < 5 or not re.fullmatch(MAC, words[1]) or ipv6_address(words[0]) is None:
            continue
        address = ipv6_address(words[0])
        assert address is not None
        out.append(Neighbour(address, words[3], words[4].upper(), words[1]))
    return out


def transceiver(text: str) -> list[Optic]:
    """`display transceiver diagnosis interface`: under each port's `Current diagnostic parameters:`, the
    readings row under the `RX power(dBm)  TX power(dBm)` header; a multi-lane module has a `[channel]` table,
    one row per lane (channel 1 is lane 0)."""
    blocks = re.split(r"^(?=\S+ transceiver diagnostic information:)", text, flags=re.MULTILINE)
    named = [b for b in blocks if re.match(r"\S+ transceiver diagnostic information:", b)]
    if not named:
        raise ParseError("no '<port> transceiver diagnostic information:' block")
    out = []
    for block in named:
        name = block.split(" ", 1)[0]
        current = re.split(r"^\s*Alarm thresholds", block, flags=re.MULTILINE | re.IGNORECASE)[0]
        out.extend(_readings(name, current))
    return out


COLUMN = re.compile(r"RX power\s*\(dBm\)|TX power\s*\(dBm\)|\S+", re.IGNORECASE)


def _readings(name: str, section: str) -> list[Optic]:
    header: list[str] = []
    rows: list[list[float]] = []
    for line in section.splitlines():
        cols = COLUMN.findall(line)
        if any(c.lower().startswith("rx power") for c in cols):
            header = [c.lower() for c in cols]
            continue
        if header and cols and all(re.fullmatch(r"-?\d+(?:\.\d+)?", c) for c in cols) and len(cols) == len(header):
            rows.append([float(c) for c in cols])
    if not header:
        return []
    rx = next(i for i, c in enumerate(header) if c.startswith("rx power"))
    tx = next((i for i, c in enumerate(header) if c.startswith("tx power")), None)
    if tx is None:
        return []
    lanes = header[0] == "[channel]"
    return [Optic(name, row[rx], row[tx], lane if lanes and len(rows) > 1 else None) for lane, row in enumerate(rows)]


PARSERS: dict[str, Callable[[str], Any]] = {
    "version": version, "serial": serial, "interfaces": interfaces, "ipv6_interfaces": ipv6_interfaces, "arp": arp,
    "nd": nd, "nd_entries": nd_entries, "transceiver": transceiver,
}
