"""Vendor CLI output -> typed facts -> Samples. Pure: no I/O, no clock.

ntc-templates where one exists for the lab's output; small regexes elsewhere. Ruijie RGOS prints the IOS layout for
interfaces, ARP and ND, so the Cisco templates read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ntc_templates.parse import parse_output

from collectors.model import Sample, Tags
from collectors.platforms import cli_of

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")
PAGER = re.compile(r"-{2,}\s*More\s*-{2,}|<--- More --->|--More--", re.IGNORECASE)
MAX_LINE = 1024  # no show line we parse is this long; longer ones are terminal garbage
UNITS = {"year": 31536000, "week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
NUM = r"(-?\d+(?:\.\d+)?)"


class ParseError(ValueError):
    """Output that does not read as the command's output."""


@dataclass(frozen=True, slots=True)
class Facts:
    model: str
    serial: str
    version: str
    uptime_s: float


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    up: bool


@dataclass(frozen=True, slots=True)
class Optic:
    name: str
    rx_dbm: float
    tx_dbm: float


@dataclass(slots=True)
class DeviceReport:
    facts: Facts
    interfaces: list[Interface] = field(default_factory=list)
    ipv6_up: list[str] = field(default_factory=list)
    arp_entries: int = 0
    nd_entries: int = 0
    optics: list[Optic] = field(default_factory=list)


def clean_output(text: str) -> str:
    """Drop escapes, pager prompts, CRs and over-long garbage lines, keeping every real line."""
    out = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        cleaned = ANSI.sub("", line).rstrip()
        if PAGER.search(cleaned):  # the prompt is erased with spaces before the next line is drawn over it
            cleaned = PAGER.sub("", cleaned).strip()
        if len(cleaned) > MAX_LINE or (line.strip() and not cleaned.strip()):
            continue  # garbage, or a line that was nothing but a pager prompt
        out.append(cleaned)
    return "\n".join(out).strip("\n") + "\n"


def uptime_seconds(text: str) -> float:
    pairs = re.findall(r"(\d+)\s+(year|week|day|hour|minute|second)s?", text)
    if not pairs:
        raise ParseError(f"no uptime in {text[:80]!r}")
    return float(sum(int(n) * UNITS[unit] for n, unit in pairs))


def _ntc(platform: str, kind: str, text: str) -> list[dict[str, Any]]:
    cli = cli_of(platform)
    command = cli.show[kind]
    try:
        rows = parse_output(platform=cli.templates, command=command, data=text)
    except Exception as exc:  # ntc-templates raises its own ParsingException, textfsm its TextFSMError
        raise ParseError(f"{platform} {command!r}: {exc}") from exc
    return list(rows)


def _search(pattern: str, text: str, what: str) -> str:
    found = re.search(pattern, text, re.MULTILINE)
    if not found:
        raise ParseError(f"no {what} found")
    return found.group(1).strip()


# --- version ----------------------------------------------------------------------------------------------------

def _vrp_version(text: str) -> Facts:
    rows = _ntc("huawei_vrp", "version", text)
    if not rows:
        raise ParseError("display version: no rows")
    row = rows[0]
    product = row["product_version"].split()
    return Facts(row["model"], _search(r"serial number\s*:\s*(\S+)", text, "serial"),
                 product[-1] if product else row["vrp_version"], uptime_seconds(row["uptime"]))


def _comware_version(text: str) -> Facts:
    version = re.search(r"Software Version (\S+?),? Release (\S+)", text)
    if not version:
        raise ParseError("no Comware software version found")
    return Facts(_search(r"^H3C (\S+) uptime is", text, "model"),
                 _search(r"DEVICE_SERIAL_NUMBER\s*:\s*(\S+)", text, "serial"),
                 f"{version.group(1)} Release {version.group(2)}",
                 uptime_seconds(_search(r"uptime is (.+)$", text, "uptime")))


def _ios_version(text: str) -> Facts:
    rows = _ntc("cisco_ios", "version", text)
    if not rows:
        raise ParseError("show version: no rows")
    row = rows[0]
    hardware, serial = row["hardware"] or [""], row["serial"] or [""]
    return Facts(hardware[0], serial[0], row["version"], uptime_seconds(row["uptime"]))


def _rgos_version(text: str) -> Facts:
    description = _search(r"System description\s*:\s*(.+)$", text, "system description")
    model = re.search(r"(\S+) By Ruijie", description)
    return Facts(model.group(1) if model else "", _search(r"System serial number\s*:\s*(\S+)", text, "serial"),
                 _search(r"System software version\s*:\s*(.+)$", text, "software version"),
                 uptime_seconds(_search(r"System uptime\s*:\s*(.+)$", text, "uptime")))


# --- interfaces -------------------------------------------------------------------------------------------------

def _vrp_interfaces(text: str) -> list[Interface]:
    return [Interface(r["interface"], r["phy"] == "up" and r["protocol"].startswith("up"))
            for r in _ntc("huawei_vrp", "interfaces", text)]


def _comware_interfaces(text: str) -> list[Interface]:
    return [Interface(r["interface"], r["link"] == "UP" and r["protocol"].startswith("UP"))
            for r in _ntc("hp_comware", "interfaces", text)]


def _ios_interfaces(text: str) -> list[Interface]:
    return [Interface(r["interface"], r["status"] == "up" and r["proto"] == "up")
            for r in _ntc("cisco_ios", "interfaces", text)]


def _vrp_like_ipv6_up(text: str) -> list[str]:
    rows = re.findall(r"^(\S+)\s+(\*?down|up)\s+(\S+)", text, re.MULTILINE)
    return [name for name, phy, proto in rows if phy == "up" and proto.startswith("up")]


def _ios_ipv6_up(text: str) -> list[str]:
    rows = _ntc("cisco_ios", "ipv6_interfaces", text)
    return [r["interface"] for r in rows
            if r["admin"] == "up" and r["protocol"] == "up" and any(a != "unassigned" for a in r["ipv6_address"])]


# --- neighbours -------------------------------------------------------------------------------------------------

def _rows(platform: str, kind: str) -> Callable[[str], int]:
    return lambda text: len(_ntc(platform, kind, text))


def _comware_nd(text: str) -> int:
    return len(re.findall(r"^[0-9A-Fa-f:]*:[0-9A-Fa-f:]+\s+[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}\s", text, re.MULTILINE))


# --- transceivers -----------------------------------------------------------------------------------------------

def _vrp_optics(text: str) -> list[Optic]:
    out = []
    for block in re.split(r"^(?=\S+ transceiver information:)", text, flags=re.MULTILINE):
        name = re.match(r"(\S+) transceiver information:", block)
        rx = re.search(rf"RX Power\(dBM\)\s*:\s*{NUM}", block, re.IGNORECASE)
        tx = re.search(rf"TX Power\(dBM\)\s*:\s*{NUM}", block, re.IGNORECASE)
        if name and rx and tx:
            out.append(Optic(name.group(1), float(rx.group(1)), float(tx.group(1))))
    return out


def _comware_optics(text: str) -> list[Optic]:
    out = []
    for block in re.split(r"^(?=\S+ transceiver diagnostic information:)", text, flags=re.MULTILINE):
        name = re.match(r"(\S+) transceiver diagnostic information:", block)
        row = re.search(rf"^\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s*$", block, re.MULTILINE)
        if name and row:
            out.append(Optic(name.group(1), float(row.group(4)), float(row.group(5))))
    return out


def _ios_optics(text: str) -> list[Optic]:
    rows = re.findall(rf"^(\S+)\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s*$", text, re.MULTILINE)
    return [Optic(name, float(rx), float(tx)) for name, _, _, _, tx, rx in rows]


PARSERS: dict[str, dict[str, Callable[[str], Any]]] = {
    "huawei_vrp": {"version": _vrp_version, "interfaces": _vrp_interfaces, "ipv6_interfaces": _vrp_like_ipv6_up,
                   "arp": _rows("huawei_vrp", "arp"), "nd": _rows("huawei_vrp", "nd"), "transceiver": _vrp_optics},
    "hp_comware": {"version": _comware_version, "interfaces": _comware_interfaces,
                   "ipv6_interfaces": _vrp_like_ipv6_up, "arp": _rows("hp_comware", "arp"), "nd": _comware_nd,
                   "transceiver": _comware_optics},
    "cisco_ios": {"version": _ios_version, "interfaces": _ios_interfaces, "ipv6_interfaces": _ios_ipv6_up,
                  "arp": _rows("cisco_ios", "arp"), "nd": _rows("cisco_ios", "nd"), "transceiver": _ios_optics},
}
PARSERS["ruijie_os"] = {**PARSERS["cisco_ios"], "version": _rgos_version,
                        "arp": _rows("ruijie_os", "arp"), "nd": _rows("ruijie_os", "nd")}


def parse(platform: str, kind: str, text: str) -> Any:
    """The typed value of one command's output (see PARSERS); raises ParseError."""
    try:
        parser = PARSERS[platform][kind]
    except KeyError as exc:
        raise ParseError(f"no parser for {platform} {kind}") from exc
    return parser(clean_output(text))


def parse_all(platform: str, outputs: Mapping[str, str]) -> DeviceReport:
    def get(kind: str) -> Any:
        return parse(platform, kind, outputs[kind])

    return DeviceReport(get("version"), get("interfaces"), get("ipv6_interfaces"), get("arp"), get("nd"),
                        get("transceiver"))


def as_json(value: Any) -> Any:
    """Plain JSON shape of a parse result, for expected.json files."""
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value


def to_samples(report: DeviceReport, tags: Tags, time_ns: int) -> list[Sample]:
    up = sum(1 for i in report.interfaces if i.up)
    facts = report.facts
    out = [
        Sample("ssh_device", tags, {
            "uptime_seconds": facts.uptime_s, "interfaces_up": float(up),
            "interfaces_down": float(len(report.interfaces) - up), "ipv6_interfaces_up": float(len(report.ipv6_up)),
            "arp_entries": float(report.arp_entries), "nd_entries": float(report.nd_entries)}, time_ns),
        Sample("device_facts", _with(tags, model=facts.model, serial=facts.serial, version=facts.version),
               {"info": 1.0}, time_ns),
    ]
    out += [Sample("transceiver", _with(tags, interface=o.name), {"rx_dbm": o.rx_dbm, "tx_dbm": o.tx_dbm}, time_ns)
            for o in report.optics]
    return out


def _with(tags: Tags, **extra: str) -> Tags:
    merged = dict(tags)
    merged.update({k: v for k, v in extra.items() if v})
    return tuple(sorted(merged.items()))
