"""Ruijie RGOS 10 and 11: its own `show version` layout (`System ... : value` lines); the tables are read by the
IOS readers, which also take RGOS's names with a space (`GigabitEthernet 0/7`) and its `IP-Address(Pri)` columns."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from collectors.ssh.facts import Facts
from collectors.ssh.readers import ios
from collectors.ssh.text import UNITS, optional, search, uptime_seconds


def version(text: str) -> Facts:
    """The model is the device name in the System description (`...Switch(S2628G-E) By Ruijie Networks`, or the
    word before `By Ruijie`); uptime is `d:h:m:s` (RGOS 10 and 11) or words; no serial line -> None."""
    description = search(r"^\s*System description\s*:\s*(.+)$", text, "System description")
    software = search(r"^\s*System software version\s*:\s*(.+)$", text, "System software version")
    serial = optional(r"^\s*System serial number\s*:\s*(\S+)", text)
    uptime = optional(r"^\s*System uptime\s*:\s*(.+)$", text)
    return Facts(_model(description), software, serial, _uptime(uptime) if uptime else None)


def _model(description: str) -> str:
    bracketed = re.search(r"\(([^()\s]+)\)\s*By Ruijie", description, re.IGNORECASE)
    if bracketed is not None:
        return bracketed.group(1)
    word = re.search(r"(\S+)\s*(?:\([^()]*\)\s*)?By Ruijie", description, re.IGNORECASE)
    return word.group(1) if word is not None else ""


def _uptime(text: str) -> float | None:
    clock = re.fullmatch(r"(\d+):(\d+):(\d+):(\d+)", text.strip())
    if clock is not None:
        days, hours, minutes, seconds = (int(n) for n in clock.groups())
        return float(days * UNITS["day"] + hours * UNITS["hour"] + minutes * UNITS["minute"] + seconds)
    return uptime_seconds(text)


PARSERS: dict[str, Callable[[str], Any]] = {**ios.PARSERS, "version": version}
