"""The vendor CLI as a pure state machine: `handle(state, line, now) -> (state, text)`.

The text is exactly what the device writes back: the echo of the line, the output and the next prompt, with "\\n"
line ends (the SSH shell turns them into "\\r\\n"). The SSH server only feeds lines in and writes text out.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from collectors.platforms import cli_of
from lab.city import DevicePlan
from lab.ssh import ping
from lab.ssh.config import VRP_LIKE, Configured, body_of, configure, hostname
from lab.ssh.grammar import (
    AAA,
    ACL6,
    DOMAIN,
    IPV6_ACL,
    LOCAL_USER,
    OSPFV3,
    ROUTER,
    SERVER,
    VTY,
    Rejected,
    error_text,
    view_of,
)
from lab.ssh.show import ND_SHOWS, SHOWS, Renderer
from lab.ssh.state import DeviceMemory, NoNetwork

CLOSED = "closed"
# What the lab answers to the pager commands netmiko types (collectors.platforms has the commands themselves).
PAGER_REPLY = {"screen-length 0 temporary": "Info: The configuration takes effect on the current user terminal "
                                            "interface only.\n"}
PASSWORD_CHANGE = "The password needs to be changed. Change now? [Y/N]:"  # noqa: S105
# Rows of a VTY whose session set no length: output longer than a screen stops at the pager's prompt every
# SCREEN_LENGTH - 1 lines (the prompt takes the last row) until the session types `screen-length 0 temporary`,
# `screen-length disable` or `terminal length 0` (what netmiko types at login).
SCREEN_LENGTH = 24
# The pager's prompt and what the device writes to erase it once a key is pressed.
MORE = {
    "huawei_vrp": ("  ---- More ----", "\x1b[42D" + " " * 42 + "\x1b[42D"),
    "hp_comware": ("  ---- More ----", "\x1b[16D" + " " * 16 + "\x1b[16D"),
    "cisco_ios": (" --More-- ", "\b" * 10 + " " * 10 + "\b" * 10),
    "ruijie_os": (" --More-- ", "\b" * 10 + " " * 10 + "\b" * 10),
}


@dataclass(frozen=True, slots=True)
class CliState:
    plan: DevicePlan
    memory: DeviceMemory
    mode: str = "user"  # user | enable | config | interface (any section) | closed
    context: str = ""  # the section being edited: "interface X", "ospfv3 1", "acl ipv6 number 2001", ...
    sub: str = ""  # a view inside the section: OSPFv3 "area 0.0.0.0"
    pending: str = ""  # a question awaiting its answer: "password-change" | "save"
    screen_length: int = SCREEN_LENGTH  # 0: never page
    paused: tuple[str, ...] = ()  # output lines not yet shown, the pager waiting for a key
    network: ping.Network = field(default_factory=NoNetwork)  # the other devices, for ping

    @property
    def platform(self) -> str:
        return self.plan.platform


# IOS-family prompts of the views other than an interface (RGOS names the OSPF and ACL views its own way).
_IOS_VIEWS = {ROUTER: "(config-rtr)#", IPV6_ACL: "(config-ipv6-acl)#", VTY: "(config-line)#",
              SERVER: "(config-sg-tacacs+)#"}
_RGOS_VIEWS = {**_IOS_VIEWS, ROUTER: "(config-router)#", IPV6_ACL: "(config-ipv6-nacl)#"}


def _vrp_view(platform: str, head: str, sub: str) -> str:
    """`GigabitEthernet0/0/1`, `ospfv3-1`, `ospfv3-1-area-0.0.0.0`, `acl6-basic-2001`, `ui-vty0-4`."""
    words = head.split()
    view = view_of(head)
    if view == OSPFV3:
        return f"ospfv3-{words[1]}" + (f"-area-{sub.split()[1]}" if sub else "")
    if view == ACL6:
        return f"acl6-basic-{words[-1]}" if platform == "huawei_vrp" else f"acl-ipv6-basic-{words[-1]}"
    if view == VTY:
        kind = "ui-" if platform == "huawei_vrp" else "line-"
        if words[1] in ("con", "aux"):  # `[HUAWEI-ui-console0]`, `[H3C-line-aux0]`
            return kind + {"con": "console", "aux": "aux"}[words[1]] + words[-1]
        return kind + f"vty{words[-2]}-{words[-1]}"
    if view == AAA:  # `[HUAWEI-aaa]`, `[HUAWEI-aaa-authen-default]`, `[HUAWEI-aaa-lupp-admin]`
        if sub.startswith("authentication-scheme "):
            return f"aaa-authen-{sub.split()[-1]}"
        if sub.startswith("domain "):
            return f"aaa-domain-{sub.split()[-1]}"
        return "aaa-lupp-admin" if sub else "aaa"
    if view == SERVER:  # `[HUAWEI-hwtacacs-yiwang-tac]`
        return f"hwtacacs-{words[-1]}"
    if view == DOMAIN:  # `[H3C-isp-system]`
        return f"isp-{words[-1]}"
    if view == LOCAL_USER:  # `[H3C-luser-manage-netops]`
        return f"luser-{words[-1]}-{words[1]}"
    return head.split(None, 1)[1].replace(" ", "")


def prompt(state: CliState) -> str:
    name = hostname(state.platform, state.memory.running)
    if state.platform in VRP_LIKE:
        if state.mode == "config":
            return f"[{name}]"
        if state.mode == "interface":
            return f"[{name}-{_vrp_view(state.platform, state.context, state.sub)}]"
        return f"<{name}>"
    if state.mode == "interface" and not state.context.startswith("interface "):
        views = _RGOS_VIEWS if state.platform == "ruijie_os" else _IOS_VIEWS
        if state.context.startswith("tacacs server "):
            return name + "(config-server-tacacs)#"
        return name + views[view_of(state.context)]
    return name + {"user": ">", "enable": "#", "config": "(config)#", "interface": "(config-if)#"}[state.mode]


def login(plan: DevicePlan, memory: DeviceMemory, now: datetime,
          network: ping.Network | None = None) -> tuple[CliState, str]:
    state = CliState(plan, memory, network=network or NoNetwork())
    if plan.platform == "huawei_vrp":
        banner = ("\nInfo: The max number of VTY users is 10, and the number\n"
                  "      of current VTY users on line is 1.\n"
                  f"      The current login time is {now:%Y-%m-%d %H:%M:%S}.\n")
        return replace(state, pending="password-change"), banner + PASSWORD_CHANGE
    if plan.platform == "hp_comware":
        stars = "*" * 78
        banner = ("\n" + stars + "\n* Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved.*\n"
                  "* Without the owner's prior written consent,                                 *\n"
                  "* no decompiling or reverse-engineering shall be allowed.                    *\n" + stars + "\n\n")
        return state, banner + prompt(state)
    return state, "\n" + prompt(state)


def lookup(table: dict[str, Renderer] | dict[str, str], line: str) -> str | None:
    """The table key that `line` abbreviates (each word a prefix of the key's word), exact keys first."""
    if line in table:
        return line
    words = line.split()
    for key in table:
        parts = key.split()
        if len(parts) == len(words) and all(p.startswith(w) for w, p in zip(words, parts, strict=True)):
            return key
    return None


def handle(state: CliState, line: str, now: datetime) -> tuple[CliState, str]:
    line = line.strip()
    echo = line + "\n"
    if state.pending:
        new, body = _answer(state, line)
    elif not line:
        new, body = state, ""
    elif state.mode in ("config", "interface"):
        new, body = _configure(state, line)
    else:
        new, body = _exec(state, line, now)
    if new.memory.running != state.memory.running:
        new = replace(new, memory=replace(new.memory, updated_at=now))
    if new.mode == CLOSED or new.pending:
        return new, echo + body
    lines = body.split("\n")
    page = max(new.screen_length - 1, 1)
    if new.screen_length and len(lines) - 1 > page:  # the text after the last line end is not a row yet
        more, _ = MORE[new.platform]
        return replace(new, paused=tuple(lines[page:])), echo + "\n".join(lines[:page]) + "\n" + more
    return new, echo + body + prompt(new)


def key(state: CliState, typed: str) -> tuple[CliState, str]:
    """A key pressed while the pager waits: space shows the next screen, Enter the next line, any other key ends
    the output. The device first erases its prompt."""
    more, erase = MORE[state.platform]
    rows = {" ": max(state.screen_length - 1, 1), "\r": 1, "\n": 1}.get(typed, 0)
    if not rows:
        return replace(state, paused=()), erase + prompt(state)
    shown, rest = state.paused[:rows], state.paused[rows:]
    if len(rest) > 1 or (rest and rest[0]):
        return replace(state, paused=rest), erase + "\n".join(shown) + "\n" + more
    return replace(state, paused=()), erase + "\n".join((*shown, *rest)) + prompt(state)


def _answer(state: CliState, line: str) -> tuple[CliState, str]:
    yes = line.lower().startswith("y")
    if state.pending == "save" and yes:
        return _save(replace(state, pending=""))
    if state.pending == "password-change" and yes:
        return replace(state, pending=""), "Info: Password change is not available here.\n"
    return replace(state, pending=""), ""


def _save(state: CliState) -> tuple[CliState, str]:
    memory = replace(state.memory, startup=state.memory.running)
    return replace(state, memory=memory), cli_of(state.platform).save_done


def _show(state: CliState, line: str, now: datetime) -> str | None:
    uptime = state.plan.uptime_s + int((now - state.memory.started_at).total_seconds())
    words = line.split(None, 3)
    if state.platform in ("cisco_ios", "ruijie_os") and words[:3] == ["show", "running-config", "interface"]:
        head = "interface " + (words[3] if len(words) > 3 else "")
        found = [h for h, _ in state.memory.running if h == head]
        block = "".join(f"{h}\n" + "".join(f" {b}\n" for b in body_of(state.memory.running, h)) for h in found)
        return f"Building configuration...\n\nCurrent configuration : {len(block)} bytes\n!\n{block}!\n"
    key = lookup(SHOWS[state.platform], line)
    if key is None:
        return None
    learned = ND_SHOWS[state.platform].get(key)
    if learned is not None:
        return learned(state.plan, state.memory, ping.link_peers(state.plan, state.memory.running, state.network))
    return SHOWS[state.platform][key](state.plan, state.memory, uptime)


def _exec(state: CliState, line: str, now: datetime) -> tuple[CliState, str]:
    platform = state.platform
    shown = _show(state, line, now)
    if shown is not None:
        return state, shown
    answered = _ping(state, line)
    if answered is not None:
        return state, answered
    cli = cli_of(platform)
    pager = lookup(dict.fromkeys(cli.pager_off, ""), line)
    if pager is not None:
        length = 0 if "length" in pager else state.screen_length  # `terminal width 511` sets no length
        return replace(state, screen_length=length), PAGER_REPLY.get(pager, "")
    rows = _screen_length(state, line)
    if rows is not None:
        return replace(state, screen_length=rows), ""
    vrp = platform in VRP_LIKE
    if (vrp or state.mode == "enable") and lookup({cli.config_enter: ""}, line):
        return replace(state, mode="config"), ("Enter system view, return user view with Ctrl+Z.\n" if vrp else
                                               "Enter configuration commands, one per line.  End with CNTL/Z.\n")
    question = cli.save.get(line)
    if question is not None and (vrp or state.mode == "enable"):
        return (replace(state, pending="save"), question) if question else _save(state)
    if line in ("quit", "exit", "logout"):
        return replace(state, mode=CLOSED), ""
    if not vrp:
        if line in ("enable", "en"):
            return replace(state, mode="enable"), ""
        if line == "disable":
            return replace(state, mode="user"), ""
    return state, _error(state, line)


def _screen_length(state: CliState, line: str) -> int | None:
    """`screen-length N temporary` (VRP), `undo screen-length disable` (Comware), `terminal length N` (IOS, RGOS)."""
    words = line.split()
    if state.platform == "huawei_vrp" and len(words) == 3 and words[0] == "screen-length" and words[1].isdigit():
        return int(words[1])
    if state.platform == "hp_comware" and words == ["undo", "screen-length", "disable"]:
        return SCREEN_LENGTH
    if cli_of(state.platform).family == "ios" and words[:2] == ["terminal", "length"] and words[2:3] and \
            words[2].isdigit():
        return int(words[2])
    return None


def _error(state: CliState, line: str) -> str:
    """A command the device does not have: the caret under the first word it cannot take (the second one after a
    verb it knows, such as `display bogus`)."""
    tokens = [(m.start(), m.group()) for m in re.finditer(r"\S+", line)]
    verbs = {key.split()[0] for key in SHOWS[state.platform]} | {"ping"}
    if tokens[0][1] in verbs and len(tokens) == 1:
        rejected = Rejected(len(line) + 1, "incomplete")
    else:
        rejected = Rejected(tokens[1][0] if tokens[0][1] in verbs else 0, "unrecognized")
    return error_text(state.platform, len(prompt(state)), rejected)


def _ping(state: CliState, line: str) -> str | None:
    """`ping ipv6 X` (every platform), `ping X` with an IPv6 literal (IOS, RGOS); None for anything else."""
    words = line.split()
    ios = cli_of(state.platform).family == "ios"
    if words[:2] == ["ping", "ipv6"] and len(words) == 3:
        typed = words[2]
    elif ios and len(words) == 2 and words[0] == "ping" and ":" in words[1]:
        typed = words[1]
    else:
        return None
    try:
        target = ipaddress.IPv6Address(typed)
    except ValueError:
        return error_text(state.platform, len(prompt(state)), Rejected(line.rindex(typed), "wrong"))
    running = state.memory.running
    ok = ping.reachable(state.plan, running, target, state.network)
    return ping.output(state.plan, running, typed, target, ok)


def _configure(state: CliState, line: str) -> tuple[CliState, str]:
    vrp = state.platform in VRP_LIKE
    if vrp and line in cli_of(state.platform).save:
        return _exec(state, line, state.memory.updated_at)
    if vrp and line.startswith(("display ", "dis ", "ping ")):
        return _exec_show(state, line)
    if not vrp and line.startswith("do "):
        return _exec_show(state, line[3:])
    if line == cli_of(state.platform).config_leave:
        return replace(state, mode="user" if vrp else "enable", context="", sub=""), ""
    if line == ("quit" if vrp else "exit"):
        if state.sub:
            return replace(state, sub=""), ""
        if state.mode == "interface":
            return replace(state, mode="config", context=""), ""
        return replace(state, mode="user" if vrp else "enable"), ""
    head = state.context if state.mode == "interface" else ""
    done = configure(state.platform, state.memory.running, head, line, state.sub)
    if isinstance(done, Rejected) and head:
        # A system-view command typed inside a section runs in the system view, as on the devices.
        upper = configure(state.platform, state.memory.running, "", line)
        if isinstance(upper, Configured) or upper.column > done.column:
            done = upper
    if isinstance(done, Rejected):
        return state, error_text(state.platform, len(prompt(state)), done)
    return applied(state, done), ""


def applied(state: CliState, done: Configured) -> CliState:
    memory = replace(state.memory, running=done.config)
    return replace(state, memory=memory, mode="interface" if done.head else "config", context=done.head, sub=done.sub)


def reject(state: CliState, line: str, column: int) -> str:
    """The device refusing a line it would otherwise take (a fault): its own words, nothing changed."""
    return error_text(state.platform, len(prompt(state)), Rejected(column, "unrecognized"))


def _exec_show(state: CliState, line: str) -> tuple[CliState, str]:
    shown = _show(state, line, state.memory.updated_at)
    if shown is None:
        shown = _ping(state, line)
    return state, shown if shown is not None else _error(state, line)
