"""How well each simulated device is hardened for 等保 2.0: a pure function of the city seed and the device.

A device is `hardened` (its configuration passes every configuration rule of /work/shared/compliance/
mlps-l3-rules.md), `partial` (it breaks 2 to 5 of them: a hardening drive that stopped half-way) or `neglected` (it
breaks each rule with a chance of 85 %, as a box configured once at install time and never again). The mix differs
per county, as it does in a real city: the share of each level per county is `MIX` below. The draw is
`random.Random(f"{seed}:hardening:{name}")`, so a device's level does not change when another device is added, and
the small lab (a slice of the city) holds the same devices with the same levels as the city.

The rules are named by their catalogue ids; `lab.ssh.secure` writes the configuration sections each one implies.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

LEVELS = ("hardened", "partial", "neglected")

# The 13 rules of the catalogue read from a device's configuration, in the catalogue's order.
CONFIG_RULES = (
    "pw-irreversible", "pw-policy", "login-lockout", "idle-timeout", "remote-mgmt-encrypted", "central-aaa",
    "no-default-account", "syslog-server", "ntp-server", "insecure-services-off", "mgmt-acl", "snmp-v3-priv-only",
    "snmp-traps-to-nms",
)

# Percent of (hardened, partial, neglected) devices per area. The city's own core and the province uplink are run by
# the city's network centre; the counties differ: Tuanfeng and Wuxue ran a hardening drive before their last
# assessment, Macheng and Luotian (the largest and the most remote) did not, Huangzhou (the city seat, and the small
# lab) is half-way through one.
MIX: Mapping[str, tuple[int, int, int]] = {
    "city": (80, 20, 0),
    "huangzhou": (35, 40, 25),
    "tuanfeng": (70, 25, 5),
    "hongan": (20, 45, 35),
    "luotian": (15, 40, 45),
    "yingshan": (40, 40, 20),
    "xishui": (55, 35, 10),
    "qichun": (30, 45, 25),
    "huangmei": (25, 45, 30),
    "macheng": (10, 35, 55),
    "wuxue": (60, 30, 10),
}
NEGLECTED_BREAKS = 0.85  # the chance that a neglected device breaks any one rule
PARTIAL_BREAKS = (2, 5)  # how many rules a partly hardened device breaks, at least and at most


@dataclass(frozen=True, slots=True)
class Hardening:
    level: str  # one of LEVELS
    broken: frozenset[str] = frozenset()  # catalogue ids of the rules the configuration fails

    def breaks(self, rule: str) -> bool:
        return rule in self.broken


HARDENED = Hardening("hardened")


def county_of(area: str) -> str:
    """The county slug of an area id (`hb.hg.macheng.t03.v012` -> `macheng`), or "city" above the counties."""
    parts = area.split(".")
    return parts[2] if len(parts) > 2 else "city"


def hardening_of(seed: int, name: str, area: str) -> Hardening:
    rng = random.Random(f"{seed}:hardening:{name}")
    level = rng.choices(LEVELS, MIX.get(county_of(area), MIX["city"]))[0]
    if level == "hardened":
        return HARDENED
    if level == "partial":
        return Hardening(level, frozenset(rng.sample(CONFIG_RULES, rng.randint(*PARTIAL_BREAKS))))
    broken = frozenset(rule for rule in CONFIG_RULES if rng.random() < NEGLECTED_BREAKS)
    return Hardening(level, broken or frozenset({rng.choice(CONFIG_RULES)}))
