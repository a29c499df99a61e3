"""What the collection's reading modules do (the change is in `change`), each one session, each returning a plain
dict that is the module's result: what failed is in the dict (`failed`, `msg`), never an exception (Nornir's
per-host boundary)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collectors.platforms import cli_of
from collectors.ssh.parse import as_json, parse, parse_all
from collectors.ssh.session import SessionSettings, SshError, session
from yiwang.push.access import Access
from yiwang.push.device import Device
from yiwang.push.plan import hide_secrets

FACT_KINDS = ("version", "interfaces", "ipv6_interfaces")


def settings_for(access: Access, read_timeout: float, connect_timeout: float) -> SessionSettings:
    # The state dir is never used: the pinned file is named outright (Access.known_hosts).
    return SessionSettings(access.known_hosts.parent, conn_timeout=connect_timeout, read_timeout=read_timeout)


def failed(access: Access, message: str, **extra: Any) -> dict[str, Any]:
    return {"failed": True, "changed": False, "msg": f"{access.endpoint.device}: {message}", **extra}


def run_commands(access: Access, commands: Sequence[str], settings: SessionSettings) -> dict[str, Any]:
    """Each command's raw output, and its parsed value where yiwang reads that command on that platform."""
    platform = access.endpoint.platform
    kind_of = {command: kind for kind, command in cli_of(platform).show.items()}
    try:
        with session(access.endpoint, settings, access.known_hosts) as conn:
            device = Device(conn, platform, settings.read_timeout)
            outputs = [device.show(command) for command in commands]
    except SshError as exc:
        return failed(access, str(exc), reason=exc.reason)
    parsed: list[Any] = []
    problems: dict[str, str] = {}
    for command, output in zip(commands, outputs, strict=True):
        kind = kind_of.get(command)
        value = None
        if kind is not None:
            try:
                value = as_json(parse(platform, kind, output))
            except ValueError as exc:
                problems[command] = str(exc)
        parsed.append(value)
    return {"changed": False, "stdout": [hide_secrets(o) for o in outputs],
            "stdout_lines": [hide_secrets(o).splitlines() for o in outputs], "parsed": parsed,
            "parse_failures": problems}


def read_facts(access: Access, settings: SessionSettings) -> dict[str, Any]:
    """The device's version, interfaces and IPv6 interfaces through yiwang's SSH readers, as ansible_facts."""
    platform = access.endpoint.platform
    cli = cli_of(platform)
    kinds = [kind for kind in FACT_KINDS if kind in cli.show]
    try:
        with session(access.endpoint, settings, access.known_hosts) as conn:
            device = Device(conn, platform, settings.read_timeout)
            outputs = {kind: device.show(cli.show[kind]) for kind in kinds}
    except SshError as exc:
        return failed(access, str(exc), reason=exc.reason)
    report = parse_all(platform, outputs)
    facts = {"yiwang_platform": platform, "yiwang_facts": as_json(report.facts),
             "yiwang_interfaces": as_json(report.interfaces), "yiwang_ipv6_up": as_json(report.ipv6_up)}
    return {"changed": False, "ansible_facts": facts, "parse_failures": dict(report.failures)}
