"""Vendor CLI output -> typed facts -> Samples. Pure: no I/O, no clock.

Each platform's readers are in `collectors/ssh/readers/` (ntc-templates where a template reads the real output,
our own patterns where none does). Each command is read on its own: one that defeats its reader is a failure of
that fact, with the command and what was missing, and every other fact of the device still counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from collectors.model import Sample, Tags
from collectors.platforms import cli_of
from collectors.ssh.facts import FIELD_OF, DeviceReport, Facts, Interface, Optic
from collectors.ssh.readers import comware, ios, rgos, vrp
from collectors.ssh.text import ParseError, clean_output, refused, uptime_seconds

__all__ = ["PARSERS", "DeviceReport", "Facts", "Interface", "Optic", "ParseError", "as_json", "clean_output",
           "parse", "parse_all", "to_samples", "uptime_seconds"]

PARSERS: dict[str, Mapping[str, Callable[[str], Any]]] = {
    "huawei_vrp": vrp.PARSERS, "hp_comware": comware.PARSERS, "cisco_ios": ios.PARSERS, "ruijie_os": rgos.PARSERS,
}


def parse(platform: str, kind: str, text: str) -> Any:
    """The typed value of one command's output (see the readers); raises ParseError."""
    try:
        reader = PARSERS[platform][kind]
    except KeyError as exc:
        raise ParseError(f"no reader for {platform} {kind}") from exc
    cleaned = clean_output(text)
    words = refused(cleaned)
    if words is not None:
        raise ParseError(f"the device refused the command: {words}")
    return reader(cleaned)


def parse_all(platform: str, outputs: Mapping[str, str]) -> DeviceReport:
    """Every fact that parses, and for each one that does not: {kind: 'command: why'}. Never raises."""
    report = DeviceReport()
    show = cli_of(platform).show
    for kind, text in outputs.items():
        try:
            setattr(report, FIELD_OF[kind], parse(platform, kind, text))
        except ParseError as exc:
            report.failures[kind] = f"{show.get(kind, kind)}: {exc}"
    return report


def as_json(value: Any) -> Any:
    """Plain JSON shape of a parse result: what expected.json files and `yiwang ssh parse --json` hold."""
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value


def to_samples(report: DeviceReport, tags: Tags, time_ns: int, commands: Mapping[str, str] | None = None
               ) -> list[Sample]:
    """`ssh_device` with the counts that parsed, `device_facts` as an info series, one `transceiver` per optic
    (and lane), and `ssh_command{kind, command}` parsed=1|0 for each command, so a fact that stopped parsing
    is a series an operator can alert on."""
    fields: dict[str, float] = {}
    if report.interfaces is not None:
        up = sum(1 for i in report.interfaces if i.up)
        fields["interfaces_up"] = float(up)
        fields["interfaces_down"] = float(len(report.interfaces) - up)
    for name, value in (("ipv6_interfaces_up", len(report.ipv6_up) if report.ipv6_up is not None else None),
                        ("arp_entries", report.arp_entries), ("nd_entries", report.nd_entries),
                        ("uptime_seconds", report.facts.uptime_s if report.facts is not None else None)):
        if value is not None:
            fields[name] = float(value)
    out = [Sample("ssh_device", tags, fields, time_ns)] if fields else []
    facts = report.facts
    serial = report.serial or (facts.serial if facts is not None else None)
    if facts is not None or serial:
        out.append(Sample("device_facts", _with(tags, model=facts.model if facts else "",
                                                version=facts.version if facts else "", serial=serial or ""),
                          {"info": 1.0}, time_ns))
    for optic in report.optics or ():
        lane = "" if optic.lane is None else str(optic.lane)
        out.append(Sample("transceiver", _with(tags, interface=optic.name, lane=lane),
                          {"rx_dbm": optic.rx_dbm, "tx_dbm": optic.tx_dbm}, time_ns))
    for kind, command in (commands or {}).items():
        out.append(Sample("ssh_command", _with(tags, kind=kind, command=command),
                          {"parsed": 0.0 if kind in report.failures else 1.0}, time_ns))
    return out


def _with(tags: Tags, **extra: str) -> Tags:
    merged = dict(tags)
    merged.update({k: v for k, v in extra.items() if v})
    return tuple(sorted(merged.items()))
