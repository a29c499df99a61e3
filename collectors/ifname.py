"""Interface names as devices print them and as the inventory gives them: a brief or a neighbour table
abbreviates (`GE0/0/1`, `XGE1/0/1`, `Gi0/1`, RGOS `Gi 0/1`) what the configuration spells out."""

from __future__ import annotations

import re

# Abbreviations the devices print that are not a prefix of the full name (VRP, Comware). The others (IOS `Gi`,
# `Te`, `Vl`, VRP `Eth-Trunk`) are prefixes of the name they stand for.
SHORT_NAMES = {"ge": ("gigabitethernet",), "xge": ("xgigabitethernet", "ten-gigabitethernet"),
               "mge": ("multigige",), "fge": ("fortygige", "fortygigabitethernet"),
               "hge": ("hundredgige", "hundredgigabitethernet"), "eth": ("ethernet", "eth-trunk")}
NAME = re.compile(r"^([A-Za-z][A-Za-z-]*?)-?(\d.*)$")


def same_interface(printed: str, planned: str) -> bool:
    """Whether a printed interface (a brief's or an ND table's, often abbreviated: `GE0/0/1`, `XGE1/0/1`,
    `Gi0/1`, RGOS `Gi 0/1`) names the inventory's port (`GigabitEthernet0/0/1`, `GigabitEthernet 0/1`): the
    numbers equal, the word the same, a prefix of it, or a known short form of it."""
    a, b = printed.replace(" ", "").lower(), planned.replace(" ", "").lower()
    if a == b:
        return True
    short, full = NAME.match(a), NAME.match(b)
    if short is None or full is None or short.group(2) != full.group(2):
        return False
    word, name = short.group(1), full.group(1)
    return name.startswith(word) or name in SHORT_NAMES.get(word, ())
