"""A device's configuration as ordered sections, and how config-mode lines change it. Pure."""

from __future__ import annotations

import re
from datetime import datetime

from collectors.platforms import PLATFORMS, SSH_PLATFORMS, cli_of
from lab.city import DevicePlan

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


def initial_config(plan: DevicePlan) -> Config:
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
    return tuple(sections)


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


def apply_global(platform: str, config: Config, line: str) -> tuple[Config, str]:
    """Apply one system-view/global line; returns the new config and the interface context entered ("" if none)."""
    line = clean(line)
    neg = negation(platform) + " "
    if line.startswith("interface "):
        head = "interface " + line.split(None, 1)[1]
        if not any(h == head for h, _ in config):
            config = (*config, (head, ()))
        return config, head
    if line.startswith(neg):
        rest = line[len(neg):]
        if rest.startswith("interface "):
            return tuple((h, () if h == rest else b) for h, b in config), ""
        return tuple(s for s in config if not _covers(rest, s[0])), ""
    key = cli_of(platform).name_key + " "
    if line.startswith(key):
        kept = [s for s in config if not s[0].startswith(key)]
        return ((line, ()), *kept), ""
    if any(h == line for h, _ in config):
        return config, ""
    return (*config, (line, ())), ""


def apply_interface(platform: str, config: Config, head: str, line: str) -> Config:
    line = clean(line)
    neg = negation(platform) + " "

    def change(body: tuple[str, ...]) -> tuple[str, ...]:
        if line.startswith(neg):
            return tuple(b for b in body if not _covers(line[len(neg):], b))
        if line.startswith("description "):
            body = tuple(b for b in body if not b.startswith("description "))
            return (line, *body)
        if line in body:
            return body
        return (*body, line)

    return tuple((h, change(b) if h == head else b) for h, b in config)


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
        for head, body in config:
            lines += [head, *(" " + b for b in body), sep]
        lines.append(cli_of(plan.platform).config_end)
    else:
        sep = "!"
        lines = [sep, f"! Last configuration change at {stamp}", sep, f"version {software_version(plan)}"]
        for head, body in config:
            lines += [head, *(" " + b for b in body)]
            if body or head.startswith("interface "):
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
            sections[-1][1].append(line.strip())
            continue
        if not line or line[0] in "!#" or line in CONFIG_ENDS or line.startswith(
                ("Building configuration", "Current configuration", "version ")):
            continue
        sections.append((line, []))
    return tuple((h, tuple(b)) for h, b in sections)
