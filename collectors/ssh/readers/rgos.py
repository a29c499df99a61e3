"""Ruijie RGOS 10 and 11: its own version layout; IOS-like tables for the rest."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from collectors.ssh.facts import Facts
from collectors.ssh.readers import ios
from collectors.ssh.text import ntc, search, uptime_seconds

TEMPLATES = "ruijie_os"


def version(text: str) -> Facts:
    description = search(r"System description\s*:\s*(.+)$", text, "system description")
    model = re.search(r"(\S+) By Ruijie", description)
    return Facts(model.group(1) if model else "", search(r"System software version\s*:\s*(.+)$", text,
                                                         "software version"),
                 search(r"System serial number\s*:\s*(\S+)", text, "serial"),
                 uptime_seconds(search(r"System uptime\s*:\s*(.+)$", text, "uptime")))


def arp(text: str) -> int:
    return len(ntc(TEMPLATES, "show arp", text))


def nd(text: str) -> int:
    return len(ntc(TEMPLATES, "show ipv6 neighbors", text))


PARSERS: dict[str, Callable[[str], Any]] = {**ios.PARSERS, "version": version, "arp": arp, "nd": nd}
