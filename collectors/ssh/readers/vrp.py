"""Huawei VRP (VRP5 and VRP8/CloudEngine). Our own patterns: the real outputs vary more between releases than the
ntc-templates templates allow (wrapped ARP rows, legend markers in the state columns, lanes of QSFP modules).
Some readers here are shared with Comware, whose layouts are the same family."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from collectors.ssh.facts import Facts, Interface, Neighbour, Optic
from collectors.ssh.text import ParseError, ipv6_address, optional, uptime_seconds

IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}"
MAC = r"[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
# A state word with the legend's decorations: `*down` (admin), `^down` (standby), `#down`, `up(l)`, `up(s)`, `UP(s)`.
STATE = re.compile(r"^[*^#!]?(up|down)\b", re.IGNORECASE)
# What a name may carry after it in VRP's brief tables: `(10G)` (a 10GE port in a GE slot), `(v)` (virtual port).
NAME_MARK = re.compile(r"\([^()/]*\)$")
DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}$")


def version(text: str) -> Facts:
    """`VRP (R) software, Version 5.170 (S7700 V200R010C00SPC600)` and the line naming the model with its uptime.
    VRP prints no serial here (that is `display esn`)."""
    found = re.search(r"VRP \(R\) software, Version (\S+)\s+\(([^)]*)\)", text, re.IGNORECASE)
    if not found:
        raise ParseError("no 'VRP (R) software, Version' line")
    release = found.group(2).split()
    line = re.search(r"^(?:HUAWEI|Huawei|Quidway)\s+(.+?)\s+uptime is\s+(.+)$", text, re.MULTILINE)
    if not line:
        raise ParseError("no '<model> uptime is' line")
    model = re.sub(r"\s+(?:(?:Terabit\s+)?Routing\s+Switch|Router|Switch)$", "", line.group(1).strip())
    return Facts(model, release[-1] if release else found.group(1), None, uptime_or_none(line.group(2)))


def uptime_or_none(text: str) -> float | None:
    try:
        return uptime_seconds(text)
    except ParseError:
        return None


def serial(text: str) -> str:
    """`display esn` (`ESN of slot 0: 2102...`, `ESN of master: ...`, `ESN of device: ...`; in a stack, every
    member: the first listed is taken) or, where the device refused it, `display device manufacture-info`: the
    chassis row (`backplane`/`chassis`) when there is one, else the first slot's own board (no subcard)."""
    esn = optional(r"^\s*ESN of [^:\n]*:\s*(\S+)", text)  # some releases print the ESN on the next line
    if esn is not None:
        return esn
    rows = [line.split() for line in text.splitlines() if DATE.search(line.strip()) and len(line.split()) >= 3]
    if not rows:
        raise ParseError("no 'ESN of' line and no manufacture-info rows")
    chassis = [r for r in rows if r[0].lower() in ("backplane", "chassis")]
    boards = [r for r in rows if r[0].isdigit() and r[1] in ("-", "--")]
    chosen = (chassis or boards or rows)[0]
    return chosen[-2]


def interfaces(text: str) -> list[Interface]:
    """`display interface brief`: up when both PHY and Protocol read up (`up(l)`, `up(s)` are up; `*down`
    administratively down, `^down` standby). Eth-Trunk members (indented) are interfaces too."""
    rows = _table(text, r"^\s*Interface\s+PHY\s+Protocol\b", "display interface brief")
    out = []
    for cols in rows:
        if len(cols) < 3 or not STATE.match(cols[1]) or not STATE.match(cols[2]):
            continue
        out.append(Interface(NAME_MARK.sub("", cols[0]), _up(cols[1]) and _up(cols[2])))
    return out


def _up(state: str) -> bool:
    found = STATE.match(state)
    return found is not None and state[0] not in "*^#!" and found.group(1).lower() == "up"


def _table(text: str, header: str, what: str) -> list[list[str]]:
    """The whitespace-split rows after the table's header line; ParseError when the header is not there."""
    lines = text.splitlines()
    for at, line in enumerate(lines):
        if re.match(header, line, re.IGNORECASE):
            return [row.split() for row in lines[at + 1:] if row.strip()]
    raise ParseError(f"no {what} header")


def ipv6_interfaces(text: str) -> list[str]:
    """`display ipv6 interface brief` (VRP: the addresses on `[IPv6 Address] ...` lines under each interface;
    Comware: an `IPv6 Address` column). Listed: interfaces up (physical and protocol) with at least one usable
    address, i.e. neither `Unassigned` nor link-local only."""
    rows = _table(text, r"^\s*Interface\s+Physical\s+Protocol\b", "display ipv6 interface brief")
    found: dict[str, tuple[bool, bool]] = {}  # name -> (up, has a usable address)
    current = None
    for cols in rows:
        if cols[0] == "[IPv6" and current is not None:
            up, usable = found[current]
            found[current] = (up, usable or _usable(cols[-1]))
        elif len(cols) >= 3 and STATE.match(cols[1]) and STATE.match(cols[2]):
            current = cols[0]
            found[current] = (_up(cols[1]) and _up(cols[2]), len(cols) > 3 and _usable(cols[3]))
    return [name for name, (up, usable) in found.items() if up and usable]


def _usable(address: str) -> bool:
    return ":" in address and not address.lower().startswith("fe80")


def arp(text: str) -> int:
    """Entries of `display arp all` (VRP) / `display arp` (Comware): one row per IP address; VRP wraps the
    VLAN onto a continuation line, which is not an entry."""
    if not re.search(r"^\s*IP\s+ADDRESS\s+MAC\s+ADDRESS", text, re.IGNORECASE | re.MULTILINE):
        raise ParseError("no ARP table header")
    return len(re.findall(rf"^\s*{IPV4}\s+(?:{MAC}|Incomplete)\s", text, re.MULTILINE | re.IGNORECASE))


def nd(text: str) -> int:
    """Entries of `display ipv6 neighbors`: one `IPv6 Address :` block each."""
    entries = len(re.findall(r"^\s*IPv6 Address\s*:", text, re.MULTILINE))
    if not entries and not re.search(r"^\s*Total\s*:\s*0\b", text, re.MULTILINE):
        raise ParseError("no IPv6 neighbor entries and no 'Total: 0'")
    return entries


def nd_entries(text: str) -> list[Neighbour]:
    """`display ipv6 neighbors`: one block per entry, `IPv6 Address : X` then `Link-layer : M  State : S` and
    `Interface : I  Age : A` (VRP5 and VRP8 pad the labels differently; some releases drop the VPN line)."""
    nd(text)  # the same proof that this is the table (entries, or `Total: 0`)
    out = []
    for block in re.split(r"^(?=\s*IPv6 Address\s*:)", text, flags=re.MULTILINE):
        head = re.match(r"\s*IPv6 Address\s*:\s*(\S+)", block)
        if head is None:
            continue
        address = ipv6_address(head.group(1))
        interface = re.search(r"^\s*Interface\s*:\s*(\S+)", block, re.MULTILINE)
        state = re.search(r"\bState\s*:\s*(\S+)", block)
        if address is None or interface is None or state is None:
            raise ParseError(f"unreadable neighbour entry {head.group(1)[:60]!r}")
        mac = re.search(rf"^\s*Link-layer\s*:\s*({MAC})", block, re.MULTILINE)
        out.append(Neighbour(address, interface.group(1), state.group(1).upper(), mac.group(1) if mac else ""))
    return out


# The reading's label: VRP5 `RX Power(dBM)`, VRP8/CloudEngine `Current RX Power(dBm)`; never a threshold.
RX = re.compile(r"^\s*(?:Current\s+)?RX\s*Power\s*\(dBm\)\s*:(.*)$", re.IGNORECASE)
TX = re.compile(r"^\s*(?:Current\s+)?TX\s*Power\s*\(dBm\)\s*:(.*)$", re.IGNORECASE)
READING = re.compile(r"-?\d+(?:\.\d+)?|-?Inf\b", re.IGNORECASE)


def transceiver(text: str) -> list[Optic]:
    """`display transceiver verbose` (VRP5) and `display interface transceiver verbose` (VRP8/CloudEngine): one
    block per port. A multi-lane module prints one value per lane (`-1.82|-1.70` and a continuation line, or
    `-1.30|-1.05|-1.59|-1.31`): one Optic per lane. CloudEngine indents the port line (` 100GE1/0/1 transceiver
    information:`) and some releases print a module total first (`-33.98  (All lanes)`) above the per-lane lines:
    the total is not a lane. A reading of `-Inf` (no light at all) is not a number of dBm: that lane is left out."""
    blocks = re.split(r"^(?=[ \t]*\S+ transceiver information:)", text, flags=re.MULTILINE)
    named = [b.lstrip(" \t") for b in blocks if re.match(r"[ \t]*\S+ transceiver information:", b)]
    if not named:
        raise ParseError("no '<port> transceiver information:' block")
    out = []
    for block in named:
        name = block.split(" ", 1)[0]
        rx, tx = _lanes(block, RX), _lanes(block, TX)
        if not rx or len(rx) != len(tx):
            continue  # no diagnostics (copper, or DDM not supported)
        for lane, (r, t) in enumerate(zip(rx, tx, strict=True)):
            if r is not None and t is not None:
                out.append(Optic(name, r, t, lane if len(rx) > 1 else None))
    return out


def _lanes(block: str, label: re.Pattern[str]) -> list[float | None]:
    lines = block.splitlines()
    for at, line in enumerate(lines):
        found = label.match(line)
        if not found:
            continue
        values = [found.group(1)]
        for more in lines[at + 1:]:
            if ":" in more or not more.strip():
                break
            values.append(more)  # a continuation line: the other lanes
        if any(re.search(r"\(\s*Lane", v, re.IGNORECASE) for v in values):
            values = [v for v in values if not re.search(r"All\s+lanes", v, re.IGNORECASE)]  # the total, not a lane
        readings = READING.findall(re.sub(r"\([^)]*\)", "", " ".join(values)))
        return [None if "inf" in v.lower() else float(v) for v in readings]
    return []


PARSERS: dict[str, Callable[[str], Any]] = {
    "version": version, "serial": serial, "interfaces": interfaces, "ipv6_interfaces": ipv6_interfaces, "arp": arp,
    "nd": nd, "nd_entries": nd_entries, "transceiver": transceiver,
}
