"""The vendor CLI as a pure state machine: `handle(state, line, now) -> (state, text)`.

The text is exactly what the device writes back: the echo of the line, the output and the next prompt, with "\\n"
line ends (the SSH shell turns them into "\\r\\n"). The SSH server only feeds lines in and writes text out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from collectors.platforms import cli_of
from lab.city import DevicePlan
from lab.ssh.config import VRP_LIKE, apply_global, apply_interface, body_of, hostname
from lab.ssh.show import SHOWS, Renderer
from lab.ssh.state import DeviceMemory

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
    mode: str = "user"  # user | enable | config | interface | closed
    context: str = ""  # the "interface X" section being edited
    pending: str = ""  # a question awaiting its answer: "password-change" | "save"
    screen_length: int = SCREEN_LENGTH  # 0: never page
    paused: tuple[str, ...] = ()  # output lines not yet shown, the pager waiting for a key

    @property
    def platform(self) -> str:
        return self.plan.platform


def prompt(state: CliState) -> str:
    name = hostname(state.platform, state.memory.running)
    if state.platform in VRP_LIKE:
        if state.mode == "config":
            return f"[{name}]"
        if state.mode == "interface":
            return f"[{name}-{state.context.split(None, 1)[1].replace(' ', '')}]"
        return f"<{name}>"
    return name + {"user": ">", "enable": "#", "config": "(config)#", "interface": "(config-if)#"}[state.mode]


def login(plan: DevicePlan, memory: DeviceMemory, now: datetime) -> tuple[CliState, str]:
    state = CliState(plan, memory)
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
    return None if key is None else SHOWS[state.platform][key](state.plan, state.memory, uptime)


def _exec(state: CliState, line: str, now: datetime) -> tuple[CliState, str]:
    platform = state.platform
    shown = _show(state, line, now)
    if shown is not None:
        return state, shown
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
    return " " * (len(prompt(state)) + len(line.split()[0])) + "^\n" + cli_of(state.platform).unknown_command


def _configure(state: CliState, line: str) -> tuple[CliState, str]:
    vrp = state.platform in VRP_LIKE
    if vrp and line in cli_of(state.platform).save:
        return _exec(state, line, state.memory.updated_at)
    if vrp and line.startswith(("display ", "dis ")):
        return _exec_show(state, line)
    if not vrp and line.startswith("do "):
        return _exec_show(state, line[3:])
    if line == cli_of(state.platform).config_leave:
        return replace(state, mode="user" if vrp else "enable", context=""), ""
    if line == ("quit" if vrp else "exit"):
        if state.mode == "interface":
            return replace(state, mode="config", context=""), ""
        return replace(state, mode="user" if vrp else "enable"), ""
    memory = state.memory
    if state.mode == "interface" and not line.startswith("interface "):
        changed = apply_interface(state.platform, memory.running, state.context, line)
        return replace(state, memory=replace(memory, running=changed)), ""
    changed, context = apply_global(state.platform, memory.running, line)
    mode = "interface" if context else "config"
    return replace(state, memory=replace(memory, running=changed), mode=mode, context=context), ""


def _exec_show(state: CliState, line: str) -> tuple[CliState, str]:
    shown = _show(state, line, state.memory.updated_at)
    return state, shown if shown is not None else _error(state, line)
