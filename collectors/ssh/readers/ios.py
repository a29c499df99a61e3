"""Cisco IOS and IOS-XE. The tables are read by our own patterns, shared with RGOS, because the real layouts vary
more than one strict template allows (an `Age(min)` or `Age (min)` header, a transceiver table with or without a
Current column, alarm flags after the values, one row per lane on multi-lane modules)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from collectors.ssh.facts import Facts, Interface, Neighbour, Optic
from collectors.ssh.text import ParseError, ipv6_address, ntc, uptime_seconds

TEMPLATES = "cisco_ios"
IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}"
MAC = r"[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}"
# An interface name: one word, or (RGOS) a word, one space and a slot/port number: `GigabitEthernet 0/7`.
NAME = r"[A-Za-z][\w./:-]*(?: \d+(?:/\d+)*(?:[.:]\d+)?)?"
FLAGS = {"++", "+", "-", "--"}  # high alarm, high warning, low warning, low alarm (the legend above the table)


def version(text: str) -> Facts:
    rows = ntc(TEMPLATES, "show version", text)
    if not rows or not rows[0]["version"]:
        raise ParseError("show version: no software version")
    row = rows[0]
    hardware, serial = row["hardware"] or [""], row["serial"] or [""]
    return Facts(hardware[0], row["version"], serial[0] or None,
                 uptime_seconds(row["uptime"]) if row["uptime"] else None)


def interfaces(text: str) -> list[Interface]:
    """`show ip interface brief`, IOS or RGOS: up when Status and Protocol are both up. RGOS prints each secondary
    address beyond the first on a line of its own under `IP-Address(Sec)`: not an interface."""
    lines = _after_header(text, r"^Interface\s+IP-Address.*Status\s+Protocol\s*$", "show ip interface brief header")
    out: list[Interface] = []
    for line in lines:
        if out and re.fullmatch(rf"\s+{IPV4}(?:/\d+)?\s*", line):
            continue
        found = re.match(rf"^({NAME})\s+\S.*?(\S+)\s+(\S+)\s*$", line)
        if found is None:
            raise ParseError(f"unreadable interface row {line[:80]!r}")
        name, status, protocol = found.groups()
        out.append(Interface(name, status == "up" and protocol == "up"))
    return out


def ipv6_interfaces(text: str) -> list[str]:
    """`show ipv6 interface brief`: `Name [status/protocol]` and its addresses indented below. Up with IPv6 when
    both are up and a usable address is listed: not `unassigned`, not link-local only (FE80::, as the VRP and
    Comware readers count)."""
    blocks: list[tuple[str, bool, list[str]]] = []
    for line in text.splitlines():
        head = re.match(r"^(\S.*?)\s*\[([^/\]]+)/([^\]]+)\]", line)
        if head is not None:
            blocks.append((head.group(1), head.group(2) == "up" and head.group(3) == "up", []))
        elif line.strip() and line[:1].isspace() and blocks:
            blocks[-1][2].append(line.strip())
        elif line.strip():
            raise ParseError(f"unreadable line {line[:80]!r}")
    if not blocks:
        raise ParseError("no interface in show ipv6 interface brief")
    return [name for name, up, addresses in blocks if up and any(_usable(a) for a in addresses)]


def arp(text: str) -> int:
    """Rows of the ARP table (IOS `Internet  10.0.0.1  -  c4f7.d564.b716  ARPA  Vlan10`, incomplete ones too)."""
    lines = _after_header(text, r"^\s*Protocol\s+Address\s+Age", "ARP table header")
    return sum(1 for line in lines if re.match(rf"^\s*Internet\s+{IPV4}\s", line))


def nd(text: str) -> int:
    """Rows of the IPv6 neighbour table: each begins with an IPv6 address."""
    lines = _after_header(text, r"^\s*IPv6 Address\s", "IPv6 neighbour table header")
    return sum(1 for line in lines if _is_ipv6(line.split()[0]) if line.split())


ND_STATES = ("INCMP", "REACH", "STALE", "DELAY", "PROBE")
# IOS (and RGOS 11): `address  age  MAC  state  interface`; age and MAC are `-` on a link without link layer.
IOS_ND = re.compile(rf"^\s*(\S+)\s+(?:\d+|-)\s+({MAC}|-)\s+([A-Za-z?]+)\s+(\S.*?)\s*$")
# RGOS 10: `address  MAC  interface` (`vlan 1`), and under it `State: Reach/H Age: - asked: 0`.
RGOS_ND = re.compile(rf"^\s*(\S+)\s+({MAC}|-)\s+(\S.*?)\s*$")
RGOS_STATE = re.compile(r"^\s*State\s*:\s*([A-Za-z?]+)", re.IGNORECASE)


def nd_entries(text: str) -> list[Neighbour]:
    """`show ipv6 neighbors` in the IOS layout (IOS, RGOS 11) or RGOS 10's two-line entries."""
    out: list[Neighbour] = []
    for line in _after_header(text, r"^\s*IPv6 Address\s", "IPv6 neighbour table header"):
        state = RGOS_STATE.match(line)
        if state is not None and out and out[-1].state == "":
            last = out.pop()
            out.append(Neighbour(last.address, last.interface, state.group(1).upper(), last.mac))
            continue
        words = line.split()
        address = ipv6_address(words[0])
        if address is None:
            continue
        row = IOS_ND.match(line)
        if row is not None and row.group(3).upper() in ND_STATES:
            mac = row.group(2)
            out.append(Neighbour(address, row.group(4), row.group(3).upper(), "" if mac == "-" else mac))
            continue
        two_line = RGOS_ND.match(line)
        if two_line is None:
            raise ParseError(f"unreadable neighbour row {line[:80]!r}")
        mac = two_line.group(2)
        out.append(Neighbour(address, two_line.group(3), "", "" if mac == "-" else mac))
    if any(n.state == "" for n in out):
        raise ParseError("a neighbour row without its state")
    return out


def transceiver(text: str) -> list[Optic]:
    """`show interfaces transceiver`: the table under the dashes. Its header says whether a Current column is
    there; values may carry alarm flags; a multi-lane module prints `Fo1/0/1 1` .. `Fo1/0/1 4` (lanes 0..3 here).
    A port whose Tx or Rx reads N/A has no reading to report."""
    lines = text.splitlines()
    rule = next((i for i, line in enumerate(lines) if re.match(r"^\s*-{4,}(?:\s+-{4,})+\s*$", line)), None)
    if rule is None or not any("Tx Power" in line for line in lines[:rule]):
        raise ParseError("no transceiver table (Tx Power header and dashes)")
    units = " ".join(lines[max(0, rule - 3):rule])
    tx_at, rx_at = (3, 4) if "Current" in units or "(mA)" in units else (2, 3)
    out = []
    for line in lines[rule + 1:]:
        words = [w for w in line.split() if w not in FLAGS]
        if not words:
            continue
        name, lane = words[0], None
        if len(words) > 1 and re.fullmatch(r"\d+", words[1]):
            lane, words = int(words[1]) - 1, words[:1] + words[2:]
        values = words[1:]
        if len(values) <= rx_at or not all(re.fullmatch(r"-?\d+(?:\.\d+)?|N/?A", v) for v in values[:rx_at + 1]):
            raise ParseError(f"unreadable transceiver row {line[:80]!r}")
        tx, rx = values[tx_at], values[rx_at]
        if "N" not in tx + rx:
            out.append(Optic(name, float(rx), float(tx), lane))
    return out


def _after_header(text: str, header: str, what: str) -> list[str]:
    lines = text.splitlines()
    at = next((i for i, line in enumerate(lines) if re.search(header, line)), None)
    if at is None:
        raise ParseError(f"no {what}")
    return [line for line in lines[at + 1:] if line.strip()]


def _usable(address: str) -> bool:
    """A global (or unique-local) IPv6 address; RGOS may print it with its prefix length (`2001:db8::1/64`)."""
    word = address.split()[0].split("/")[0] if address.split() else ""
    return _is_ipv6(word) and not ipaddress.IPv6Address(word.split("%")[0]).is_link_local


def _is_ipv6(word: str) -> bool:
    try:
        ipaddress.IPv6Address(word.split("%")[0])
    except ValueError:
        return False
    return True


PARSERS: dict[str, Callable[[str], Any]] = {
    "version": version, "interfaces": interfaces, "ipv6_interfaces": ipv6_interfaces, "arp": arp, "nd": nd,
    "nd_entries": nd_entries, "transceiver": transceiver,
}
