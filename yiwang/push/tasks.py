"""The three things the collection's modules do, each one session, each returning a plain dict that is the
module's result: what failed is in the dict (`failed`, `msg`), never an exception (Nornir's per-host boundary)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collectors.platforms import cli_of
from collectors.ssh.parse import as_json, parse, parse_all
from collectors.ssh.session import SessionSettings, SshError, session
from yiwang.push.access import Access
from yiwang.push.device import Device
from yiwang.push.plan import PlanError, hide_secrets, plan_change, typed, way_back

FACT_KINDS = ("version", "interfaces", "ipv6_interfaces")


def settings_for(access: Access, read_timeout: float, connect_timeout: float) -> SessionSettings:
    # The state dir is never used: the pinned file is named outright (Access.known_hosts).
    return SessionSettings(access.known_hosts.parent, conn_timeout=connect_timeout, read_timeout=read_timeout)


def _failed(access: Access, message: str, **extra: Any) -> dict[str, Any]:
    return {"failed": True, "changed": False, "msg": f"{access.endpoint.device}: {message}", **extra}


def change_config(access: Access, lines: Sequence[str], parents: Sequence[str], *, check: bool, save: bool,
                  settings: SessionSettings) -> dict[str, Any]:
    """Read the running configuration, plan, and (unless `check`) type the remediation; a refused line puts back
    what was taken, from the same session, and fails with the line and the device's words."""
    platform = access.endpoint.platform
    try:
        with session(access.endpoint, settings, access.known_hosts) as conn:
            device = Device(conn, platform, settings.read_timeout)
            running = device.running_config()
            plan = plan_change(platform, running, lines, parents)
            result: dict[str, Any] = {"changed": plan.changed, "commands": list(plan.commands),
                                      "rollback": list(plan.rollback), "saved": False,
                                      "diff": {"before": plan.before, "after": plan.after}}
            if check or not plan.changed:
                return result
            done = device.type_lines(typed(platform, plan.commands))
            if done.rejected is not None:
                return _put_back(access, device, running, result, done.rejected, done.error)
            now = device.running_config()
            result["converged"] = not plan_change(platform, now, lines, parents).changed
            if not result["converged"]:
                result["warnings"] = ["the device holds the lines differently from how they were typed; the next "
                                      "run will type them again (write them as the device prints them)"]
            if save:
                device.save()
                result["saved"] = True
            return result
    except SshError as exc:
        return _failed(access, str(exc), reason=exc.reason)
    except PlanError as exc:
        return _failed(access, str(exc), reason="plan")


def _put_back(access: Access, device: Device, running: str, result: dict[str, Any], line: str,
              error: str) -> dict[str, Any]:
    platform = access.endpoint.platform
    back = way_back(platform, device.running_config(), running)
    undone = device.type_lines(typed(platform, back)) if back else None
    left = way_back(platform, device.running_config(), running)
    rolled_back = not left
    message = f"the device rejected {line!r}: {error}; "
    if rolled_back:
        message += f"rolled back ({len(back)} lines), the configuration is as before"
    elif undone is not None and undone.rejected is not None:
        message += f"ROLLBACK FAILED: the device rejected {undone.rejected!r}: {undone.error}"
    else:
        message += "ROLLBACK INCOMPLETE: the configuration differs from before"
    # Changed only if the device is not as it was: a change undone whole leaves nothing changed.
    return {**result, **_failed(access, message), "changed": not rolled_back, "rejected_line": line,
            "device_error": error, "rollback_sent": list(back), "rolled_back": rolled_back, "left_over": list(left)}


def run_commands(access: Access, commands: Sequence[str], settings: SessionSettings) -> dict[str, Any]:
    """Each command's raw output, and its parsed value where yiwang reads that command on that platform."""
    platform = access.endpoint.platform
    kind_of = {command: kind for kind, command in cli_of(platform).show.items()}
    try:
        with session(access.endpoint, settings, access.known_hosts) as conn:
            device = Device(conn, platform, settings.read_timeout)
            outputs = [device.show(command) for command in commands]
    except SshError as exc:
        return _failed(access, str(exc), reason=exc.reason)
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
        return _failed(access, str(exc), reason=exc.reason)
    report = parse_all(platform, outputs)
    facts = {"yiwang_platform": platform, "yiwang_facts": as_json(report.facts),
             "yiwang_interfaces": as_json(report.interfaces), "yiwang_ipv6_up": as_json(report.ipv6_up)}
    return {"changed": False, "ansible_facts": facts, "parse_failures": dict(report.failures)}
