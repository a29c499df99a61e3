"""A device's configuration text as blocks of lines, each with its 1-based line number. Pure.

Parser decision. hier_config 3.7.1 (installed) reads all four platforms' blocks, but its tree keeps no line
numbers and merges children of the same text, and evidence must quote the line number the assessor can find.
ciscoconfparse2 keeps line numbers but knows IOS-family syntaxes only (VRP's `#` separators and `undo` are not among
its syntaxes) and would be a new dependency with its own dependencies. ttp extracts values with templates, not a
block tree, and reports no line numbers. So this module is a small indentation parser: a line belongs to the nearest
line above it with less indentation; `#` (VRP, Comware) and `!` (IOS, RGOS) lines are separators, not content, and
one in the first column closes every open block.

A configuration cut before its end (the archive's copy of a session that dropped: VRP/Comware without the final
`return`, IOS/RGOS without the final `end`) and an empty one are `ConfigUnreadable`: a rule read from half a
configuration would report absent settings as failures and present ones as passes, neither of which is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from collectors.platforms import UnknownPlatform, cli_of


class ConfigUnreadable(ValueError):
    pass


@dataclass(slots=True, eq=False)
class Line:
    number: int  # 1-based, in the text as stored
    text: str  # without indentation and trailing blanks
    depth: int  # 0 for a top-level line
    children: list[Line] = field(default_factory=list)

    def walk(self) -> Iterator[Line]:
        for child in self.children:
            yield child
            yield from child.walk()


@dataclass(slots=True, eq=False)
class Config:
    platform: str
    family: str  # "vrp" (Huawei, H3C) | "ios" (Cisco, Ruijie)
    top: list[Line]

    def lines(self) -> Iterator[Line]:
        """Every line, depth-first in the order of the text."""
        for line in self.top:
            yield line
            yield from line.walk()

    def find(self, pattern: re.Pattern[str], *, top_only: bool = False) -> list[Line]:
        """Lines whose text matches `pattern` (re.match: anchored at the command's first word)."""
        source = self.top if top_only else self.lines()
        return [line for line in source if pattern.match(line.text)]

    def blocks(self, header: re.Pattern[str]) -> list[Line]:
        """Top-level lines matching `header`, i.e. the blocks they open."""
        return [line for line in self.top if header.match(line.text)]


_SEPARATOR = {"vrp": "#", "ios": "!"}


def parse(text: str, platform: str) -> Config:
    try:
        cli = cli_of(platform)
    except UnknownPlatform:
        raise ConfigUnreadable(f"unknown platform {platform!r}") from None
    raw = text.splitlines()
    content = [s.rstrip() for s in raw if s.strip()]
    if not content:
        raise ConfigUnreadable("the configuration is empty")
    if content[-1].strip() != cli.config_end:
        raise ConfigUnreadable(f"the configuration ends before its final {cli.config_end!r} line (truncated)")
    separator = _SEPARATOR[cli.family]
    top: list[Line] = []
    stack: list[tuple[int, Line]] = []  # (indentation, line) of the open blocks
    for number, raw_line in enumerate(raw, start=1):
        stripped = raw_line.strip()
        indent = len(raw_line) - len(raw_line.lstrip(" \t"))
        if stripped.startswith(separator) and indent == 0:
            # A separator in the first column closes every block. Comware prints a section's global commands one
            # space in (`#` / ` sysname H3C`): after the separator they are top-level lines, not children.
            stack.clear()
            continue
        if not stripped or stripped.startswith(separator):  # `` #`` inside `bgp`, `` !`` inside a block
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        line = Line(number, stripped, len(stack))
        (stack[-1][1].children if stack else top).append(line)
        stack.append((indent, line))
    return Config(platform, cli.family, top)
