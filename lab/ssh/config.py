"""A device's configuration as ordered sections, and how config-mode lines change it. Pure."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collectors.platforms import PLATFORMS, SSH_PLATFORMS, cli_of
from lab.city import DevicePlan
from lab.ssh.grammar import ACL6, AREA, INTERFACE, SYSTEM, Accepted, Rejected, is_logical, sub_view_of, view_of
from lab.ssh.grammar import parse as parse_line
from lab.ssh.secure import security_sections

# (head, body lines); a global one-liner is a section with an empty body.
Section = tuple[str, tuple[str, ...]]
Config = tuple[Section, ...]

VRP_LIKE = tuple(name for name in SSH_PLATFORMS if cli_of(name).family == "vrp")
CONFIG_ENDS = tuple({p.cli.config_end for p in PLATFORMS.values() if p.cli})


def negation(platform: str) -> str:
    return cli_of(platform).negation


def clean(text: str) -> str:
    """A value as a CLI would store it: one line, printable."""
    return re.sub(r"\s+", " ", "".join(c if c.isprintable() or c.isspace() else " " for c in text)).strip()


def initial_config(plan: DevicePlan, community: str | None = None) -> Config:
    """The configuration a device starts with: its hostname, its interfaces, and the security sections its hardening
    level implies (`lab.ssh.secure`; `community` is the lab's SNMP community, for the devices that keep one)."""
    name = re.sub(r"\s+", "_", clean(plan.sys_name))[:64] or plan.name
    sections: list[Section] = [(f"{cli_of(plan.platform).name_key} {name}", ())]
    for iface in plan.interfaces:
        if iface.if_type == 24:
            continue
        body: list[str] = []
        if iface.alias:
            body.append(f"description {clean(iface.alias)[:240]}")
        if not iface.admin_up:
            body.append("shutdown")
        sections.append((f"interface {iface.name}", tuple(body)))
    config = tuple(sections)
    order = global_order(plan.platform)
    for section in security_sections(plan, community):
        config = _insert(config, section, lambda s: _rank(order, s[0]))
    return config


def hostname(platform: str, config: Config) -> str:
    cli = cli_of(platform)
    key = cli.name_key + " "
    for head, _ in config:
        if head.startswith(key):
            return head[len(key):]
    return cli.default_name


def body_of(config: Config, head: str) -> tuple[str, ...]:
    for h, body in config:
        if h == head:
            return body
    return ()


def _covers(prefix: str, line: str) -> bool:
    return line == prefix or line.startswith(prefix + " ")


def interfaces(config: Config) -> list[str]:
    return [h[len("interface "):] for h, _ in config if h.startswith("interface ")]


@dataclass(frozen=True, slots=True)
class Configured:
    config: Config
    head: str = ""  # the section now being edited ("" = the system view)
    sub: str = ""  # a view inside it (OSPFv3 `area 0.0.0.0`)


# Where a device prints each kind of global section and interface line, whatever order they were typed in (the
# orders of the real configurations named in lab.ssh.secure).
_GLOBAL_ORDER = {
    "huawei_vrp": (("sysname", 0), ("ipv6", 5), ("telnet server", 8), ("ftp server", 8), ("http server", 8),
                   ("info-center", 10), ("hwtacacs-server", 15), ("acl", 20), ("aaa", 25), ("interface", 40),
                   ("ospfv3", 60), ("ip route-static", 70), ("ipv6 route-static", 71), ("snmp-agent", 80),
                   ("stelnet server", 82), ("ssh", 82), ("ntp-service", 85), ("user-interface", 90), ("line", 90)),
    "hp_comware": (("sysname", 0), ("ipv6", 5), ("telnet server", 8), ("password-control", 9), ("info-center", 10),
                   ("ssh server", 13), ("ftp server", 14), ("ip http", 14), ("ip https", 14), ("acl", 20),
                   ("interface", 40), ("ospfv3", 60), ("ip route-static", 70), ("ipv6 route-static", 71),
                   ("snmp-agent", 80), ("ntp-service", 85), ("user-interface", 90), ("line", 90),
                   ("hwtacacs scheme", 92), ("radius scheme", 92), ("domain", 93), ("local-user", 95)),
    "cisco_ios": (("service", -1), ("hostname", 0), ("security passwords", 2), ("logging buffered", 3),
                  ("enable", 4), ("aaa new-model", 5), ("aaa group", 6), ("aaa authentication", 7),
                  ("aaa authorization", 7), ("aaa local", 8), ("aaa session-id", 9), ("ipv6 unicast-routing", 10),
                  ("ip domain", 11), ("login", 12), ("username", 13), ("ip ssh", 14), ("interface", 40),
                  ("ip forward-protocol", 50), ("ip http", 51), ("no ip http", 51), ("ipv6 router", 60),
                  ("ip route", 70), ("ipv6 route", 71), ("logging", 73), ("access-list", 74),
                  ("ipv6 access-list", 75), ("snmp-server", 80), ("tacacs server", 85), ("line", 90), ("ntp", 95)),
    "ruijie_os": (("hostname", 0), ("password policy", 2), ("sntp", 3), ("aaa", 5), ("ipv6 unicast-routing", 10),
                  ("username", 13), ("service", 14), ("ip ssh", 14), ("tacacs-server", 15), ("logging", 16),
                  ("enable secret", 17), ("enable password", 17), ("enable service", 18), ("interface", 40),
                  ("ipv6 router", 60), ("ip route", 70), ("ipv6 route", 71), ("ip access-list", 74),
                  ("ipv6 access-list", 75), ("snmp-server", 80), ("line", 90), ("ntp", 95)),
}


def global_order(platform: str) -> tuple[tuple[str, int], ...]:
    """VRP-like platforms without an order of their own print as VRP does."""
    family = cli_of(platform).family
    return _GLOBAL_ORDER.get(platform) or _GLOBAL_ORDER["huawei_vrp" if family == "vrp" else "cisco_ios"]


_BODY_ORDER = {
    "vrp": ("description", "shutdown", "loopback", "ipv6 enable", "ip address", "ipv6 address", "ospfv3", "qos lr"),
    "ios": ("description", "bandwidth", "ip address", "rate-limit", "shutdown", "ipv6 address", "ipv6 enable",
            "ipv6 ospf"),
}


def _rank(order: tuple[tuple[str, int], ...], head: str) -> int:
    found = [(len(prefix), rank) for prefix, rank in order if _covers(prefix, head)]
    return max(found)[1] if found else 50  # the longest prefix decides: `ipv6 route-static` is not `ipv6`


def _body_rank(order: tuple[str, ...], line: str) -> int:
    return next((i for i, prefix in enumerate(order) if _covers(prefix, line)), len(order))


def _insert(items: tuple[Any, ...], item: Any, rank: Callable[[Any], int]) -> tuple[Any, ...]:
    """After the last item that a device prints before or with it."""
    at = max((i + 1 for i, old in enumerate(items) if rank(old) <= rank(item)), default=0)
    return (*items[:at], item, *items[at:])


def configure(platform: str, config: Config, head: str, line: str, sub: str = "") -> Configured | Rejected:
    """One line typed in the system view (`head` ""), in a section (`head`), or in a view inside it (`sub`)."""
    view = SYSTEM if not head else sub_view_of(sub) if sub else view_of(head)
    outcome = parse_line(platform, view, clean(line), interfaces(config))
    if isinstance(outcome, Rejected):
        return outcome
    if not head:
        return _global(platform, config, outcome)
    if outcome.enters:
        return Configured(_set_body(config, head, lambda body: body if outcome.line in body else (*body, outcome.line)),
                          head, outcome.line)
    family = cli_of(platform).family
    if sub and view != AREA:
        return Configured(_set_body(config, head, lambda body: _change_nested(
            body, sub, lambda children: _change_body(platform, family, view, children, outcome))), head, sub)
    return Configured(_set_body(config, head, lambda body: _change_body(platform, family, view, body, outcome)), head,
                      sub)


def _change_nested(body: tuple[str, ...], sub: str, change: Callable[[tuple[str, ...]], tuple[str, ...]]
                   ) -> tuple[str, ...]:
    """Change the lines under `sub` (one space deeper: VRP's `authentication-scheme default` in `aaa`)."""
    start = body.index(sub) + 1
    end = start
    while end < len(body) and body[end].startswith(" "):
        end += 1
    children = change(tuple(b[1:] for b in body[start:end]))
    return (*body[:start], *(" " + c for c in children), *body[end:])


def _set_body(config: Config, head: str, change: Callable[[tuple[str, ...]], tuple[str, ...]]) -> Config:
    return tuple((h, change(b) if h == head else b) for h, b in config)


def _change_body(platform: str, family: str, view: str, body: tuple[str, ...], outcome: Accepted) -> tuple[str, ...]:
    line = outcome.line
    if outcome.negated:
        if outcome.replaces:
            return tuple(b for b in body if not _covers(outcome.replaces, b))
        return tuple(b for b in body if not (b == line if outcome.exact else _covers(line, b)))
    if view == ACL6:
        return _acl_rule(platform, body, line)
    if line in body:
        return body
    if outcome.replaces:
        body = tuple(b for b in body if not _covers(outcome.replaces, b))
    order = _BODY_ORDER[family] if view == INTERFACE else ()
    return _insert(body, line, lambda b: _body_rank(order, b))


def _acl_rule(platform: str, body: tuple[str, ...], line: str) -> tuple[str, ...]:
    """`rule permit source P` is numbered by the device (VRP from 5, Comware from 0, in steps of 5); the same rule
    typed again changes nothing; a numbered rule replaces the rule of that number."""
    words = line.split()
    numbers = [int(b.split()[1]) for b in body]
    if not words[1].isdigit():
        if any(b.split()[2:] == words[1:] for b in body):
            return body
        first = 5 if platform == "huawei_vrp" else 0
        words.insert(1, str((max(numbers) // 5 + 1) * 5 if numbers else first))
    number = int(words[1])
    kept = [b for b in body if int(b.split()[1]) != number]
    return tuple(sorted((*kept, " ".join(words)), key=lambda b: int(b.split()[1])))


def _global(platform: str, config: Config, outcome: Accepted) -> Configured:
    line = outcome.line
    order = global_order(platform)

    def rank(section: Section) -> int:
        return _rank(order, section[0])

    if outcome.negated:
        if line.startswith("interface "):
            if is_logical(platform, line[len("interface "):]):
                return Configured(tuple(s for s in config if s[0] != line))
            return Configured(tuple((h, () if h == line else b) for h, b in config))
        if outcome.replaces:
            return Configured(tuple(s for s in config if not _covers(outcome.replaces, s[0])))
        return Configured(tuple(s for s in config if not (s[0] == line if outcome.exact else _covers(line, s[0]))))
    if outcome.replaces:
        config = tuple(s for s in config if not _covers(outcome.replaces, s[0]) or s[0] == line)
    if not any(h == line for h, _ in config):
        config = _insert(config, (line, ()), rank)
    return Configured(config, line if outcome.enters else "")


def apply_global(platform: str, config: Config, line: str) -> tuple[Config, str]:
    """One system-view line; the new config and the section entered ("" if none). A rejected line changes nothing."""
    done = configure(platform, config, "", line)
    return (config, "") if isinstance(done, Rejected) else (done.config, done.head)


def apply_interface(platform: str, config: Config, head: str, line: str) -> Config:
    done = configure(platform, config, head, line)
    return config if isinstance(done, Rejected) else done.config


def software_version(plan: DevicePlan) -> str:
    found = re.search(r"(V\d{3}R\d{3}C\d{2}\w*)", plan.sys_descr)
    if found:
        return found.group(1)
    found = re.search(r"Version (\S+), Release (\w+)", plan.sys_descr) or re.search(r"(RGOS [\w().]+)", plan.sys_descr)
    if found:
        return ", Release ".join(found.groups())
    found = re.search(r"Version ([\w.()]+)", plan.sys_descr)
    return found.group(1) if found else "1.0"


def render(plan: DevicePlan, config: Config, updated_at: datetime) -> str:
    stamp = updated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    lines: list[str]
    if plan.platform in VRP_LIKE:
        sep = "#"
        if plan.platform == "huawei_vrp":
            lines = [f"!Software Version {software_version(plan)}", f"!Last configuration was updated at {stamp}"]
        else:
            lines = [sep, f"version {software_version(plan)}", f"#Last configuration was updated at {stamp}"]
        lines.append(sep)
        order = global_order(plan.platform)
        for i, (head, body) in enumerate(config):
            lines += [head, *(" " + b for b in body)]
            after = config[i + 1] if i + 1 < len(config) else None
            # One-line commands of a kind print together (`snmp-agent …`, `ntp-service …`), one `#` after the group
            if not (after and not body and not after[1] and _rank(order, head) == _rank(order, after[0])):
                lines.append(sep)
        lines.append(cli_of(plan.platform).config_end)
    else:
        sep = "!"
        lines = [sep, f"! Last configuration change at {stamp}", sep, f"version {software_version(plan)}"]
        for i, (head, body) in enumerate(config):
            lines += [head, *(" " + b for b in body)]
            following = config[i + 1][0] if i + 1 < len(config) else ""
            if (body or head.startswith("interface ")) and not (head.startswith("line ")
                                                                and following.startswith("line ")):
                lines.append(sep)
        lines += [sep, cli_of(plan.platform).config_end]
        text = "\n".join(lines) + "\n"
        lines = ["Building configuration...", "", f"Current configuration : {len(text)} bytes", *lines]
    return "\n".join(lines) + "\n"


def parse(text: str) -> Config:
    """The sections of a rendered configuration (as saved to disk); comments, separators and headers dropped."""
    sections: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if raw.startswith(" ") and sections:
            if line.strip() and line.strip()[0] not in "!#":  # ` #` / ` !` inside a block separate its parts
                sections[-1][1].append(line[1:])  # deeper lines keep their extra indentation (VRP's `aaa`)
            continue
        if not line or line[0] in "!#" or line in CONFIG_ENDS or line.startswith(
                ("Building configuration", "Current configuration", "version ")):
            continue
        sections.append((line, []))
    return tuple((h, tuple(b)) for h, b in sections)


def v6_addresses(config: Config) -> list[tuple[str, ipaddress.IPv6Interface]]:
    """(interface name, address) of every `ipv6 address X/len` line."""
    found = []
    for head, body in config:
        if head.startswith("interface "):
            for line in body:
                words = line.split()
                if words[:2] == ["ipv6", "address"] and len(words) == 3 and "/" in words[2]:
                    found.append((head[len("interface "):], ipaddress.IPv6Interface(words[2])))
    return found
