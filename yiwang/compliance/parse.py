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
from itertools import compress

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
    # Every line in the order of the text, which is the depth-first order of the blocks, and the texts of both lists:
    # the checks search them some ten times per rule, and walking the tree for each search was a third of a run.
    every: list[Line] = field(default_factory=list)
    texts: list[str] = field(default_factory=list, repr=False)
    top_texts: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.top and not self.every:  # built from a tree (`parse` gives all four)
            self.every = [line for top in self.top for line in (top, *top.walk())]
            self.texts = [line.text for line in self.every]
            self.top_texts = [line.text for line in self.top]

    def lines(self) -> list[Line]:
        """Every line, depth-first in the order of the text."""
        return self.every

    def find(self, pattern: re.Pattern[str], *, top_only: bool = False) -> list[Line]:
        """Lines whose text matches `pattern` (re.match: anchored at the command's first word)."""
        if top_only:
            return list(compress(self.top, map(pattern.match, self.top_texts)))
        return list(compress(self.every, map(pattern.match, self.texts)))

    def blocks(self, header: re.Pattern[str]) -> list[Line]:
        """Top-level lines matching `header`, i.e. the blocks they open."""
        return list(compress(self.top, map(header.match, self.top_texts)))


_SEPARATOR = {"vrp": "#", "ios": "!"}


def parse(text: str, platform: str) -> Config:
    try:
        cli = cli_of(platform)
    except UnknownPlatform:
        raise ConfigUnreadable(f"unknown platform {platform!r}") from None
    raw = text.splitlines()
    last = next((s.strip() for s in reversed(raw) if s.strip()), None)
    if last is None:
        raise ConfigUnreadable("the configuration is empty")
    if last != cli.config_end:
        raise ConfigUnreadable(f"the configuration ends before its final {cli.config_end!r} line (truncated)")
    separator = _SEPARATOR[cli.family]
    top: list[Line] = []
    every: list[Line] = []
    texts: list[str] = []
    top_texts: list[str] = []
    stack: list[tuple[int, Line]] = []  # (indentation, line) of the open blocks
    for number, raw_line in enumerate(raw, start=1):
        stripped = raw_line.strip()
        if not stripped:
            continue
        if stripped[0] == separator:
            # A separator in the first column closes every block. Comware prints a section's global commands one
            # space in (`#` / ` sysname H3C`): after the separator they are top-level lines, not children.
            if raw_line[0] not in " \t":
                stack.clear()
            continue  # `` #`` inside `bgp`, `` !`` inside a block
        indent = len(raw_line) - len(raw_line.lstrip(" \t"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        line = Line(number, stripped, len(stack))
        if stack:
            stack[-1][1].children.append(line)
        else:
            top.append(line)
            top_texts.append(stripped)
        stack.append((indent, line))
        every.append(line)
        texts.append(stripped)
    return Config(platform, cli.family, top, every, texts, top_texts)
