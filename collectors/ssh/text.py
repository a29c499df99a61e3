"""Helpers every platform's reader uses: cleaning what a terminal session leaves in the output, and small
matchers that turn a missing value into a precise ParseError. Pure."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ntc_templates.parse import parse_output

# Terminal control the renderer understands (cursor moves, erase) and the rest, which it drops.
CONTROL = re.compile(r"\x1b\[(\d*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b[=>]|[\x08\r]")
# A pager prompt and the blanks before it, which belong to the prompt, not to the line that follows.
PAGER = re.compile(r"^[ \t]*(?:-{2,}\s*More\s*-{2,}|<--- More --->|--More--)|[ \t]*(?:-{2,}\s*More\s*-{2,}|"
                   r"<--- More --->|--More--)[ \t]*$", re.IGNORECASE)
MAX_LINE = 1024  # no show line we parse is this long; longer ones are terminal garbage
UNITS = {"year": 31536000, "week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
NUM = r"(-?\d+(?:\.\d+)?)"
# What each CLI prints for a command it does not have (VRP/Comware, IOS/RGOS).
REFUSED = re.compile(r"^\s*(?:%\s*|Error:\s*)?(?:Unrecognized command|Invalid input detected|Unknown command|"
                     r"Incomplete command|Wrong parameter)", re.IGNORECASE | re.MULTILINE)


class ParseError(ValueError):
    """Output that does not read as the command's output."""


def clean_output(text: str) -> str:
    """What a screen would show, line by line: each line drawn as a terminal draws it (a pager prompt erased with
    backspaces, spaces or cursor moves is gone, and the line drawn over it keeps its own indentation), prompts
    left standing removed, `\\r\\r\\n` read as one line end, over-long garbage lines dropped."""
    out = []
    for line in re.sub(r"\r*\n", "\n", text).split("\n"):
        drawn = render_line(line)
        unpaged = PAGER.sub("", drawn).rstrip()
        if len(unpaged) > MAX_LINE or (drawn.strip() and not unpaged.strip()):
            continue  # garbage, or a line that was nothing but a pager prompt
        out.append(unpaged)
    return "\n".join(out).strip("\n") + "\n"


def render_line(line: str) -> str:
    """One line as a terminal shows it once every cursor move and erase in it has been applied."""
    screen: list[str] = []
    cursor = 0
    at = 0
    for found in CONTROL.finditer(line):
        cursor = _draw(screen, cursor, line[at:found.start()])
        at = found.end()
        control = found.group(0)
        if control == "\x08":
            cursor = max(0, cursor - 1)
        elif control == "\r":
            cursor = 0
        elif found.group(2) is not None:
            count = int(found.group(1) or 1)
            command = found.group(2)
            if command == "D":
                cursor = max(0, cursor - count)
            elif command == "C":
                cursor += count
            elif command == "K" and found.group(1) == "2" or command == "J":
                screen.clear()
            elif command == "K":
                del screen[cursor:]
    _draw(screen, cursor, line[at:])
    return "".join(screen).rstrip()


def _draw(screen: list[str], cursor: int, text: str) -> int:
    for char in text:
        if cursor < len(screen):
            screen[cursor] = char
        else:
            screen.extend(" " * (cursor - len(screen)))
            screen.append(char)
        cursor += 1
    return cursor


def refused(text: str) -> str | None:
    """The device's own words when it refused the command, else None."""
    found = REFUSED.search(text)
    return found.group(0).strip() if found else None


def uptime_seconds(text: str) -> float:
    pairs = re.findall(r"(\d+)\s+(year|week|day|hour|minute|second)s?", text)
    if not pairs:
        raise ParseError(f"no uptime in {text[:80]!r}")
    return float(sum(int(n) * UNITS[unit] for n, unit in pairs))


def ntc(templates: str, command: str, text: str) -> list[dict[str, Any]]:
    """Rows from the ntc-templates template for this platform and command."""
    try:
        rows = parse_output(platform=templates, command=command, data=text)
    except Exception as exc:  # ntc-templates raises its own ParsingException, textfsm its TextFSMError
        raise ParseError(f"{command!r}: {exc}") from exc
    return list(rows)


def search(pattern: str, text: str, what: str) -> str:
    found = re.search(pattern, text, re.MULTILINE)
    if not found:
        raise ParseError(f"no {what} found")
    return found.group(1).strip()


def optional(pattern: str, text: str) -> str | None:
    found = re.search(pattern, text, re.MULTILINE)
    return found.group(1).strip() if found else None


def ipv6_address(text: str) -> str | None:
    """`text` written as ipaddress writes an IPv6 address (compressed, lower case), so that a device's `FE80::1`
    and a plan's `fe80::1` compare equal; None when it is not one. A zone (`FE80::1%Vlan6`) is dropped."""
    try:
        return str(ipaddress.IPv6Address(text.split("%")[0]))
    except ValueError:
        return None
