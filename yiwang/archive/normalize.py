"""A running config with every line that changes without a configuration change removed. Pure."""

from __future__ import annotations

import re

from collectors.platforms import PLATFORMS

# Applied to every platform: the comment and header forms differ, the meaning does not.
VOLATILE = [re.compile(p) for p in (
    r"^[!#]\s*Last configuration (was updated|change) at\b",
    r"^[!#]\s*NVRAM config last updated at\b",
    r"^[!#]\s*(Time|Clock|Uptime|Current time)\s*:",
    r"^Current configuration\s*:\s*\d+ bytes",
    r"^\s*ntp clock-period\s+\d+",
    r"^\s*ntp(-service)?\s+drift\b",
    r"\buptime is\b",
)]
PLATFORM_VOLATILE: dict[str, list[re.Pattern[str]]] = {
    name: [re.compile(p) for p in platform.cli.volatile] for name, platform in PLATFORMS.items() if platform.cli
}


def normalize(platform: str, text: str) -> str:
    rules = VOLATILE + PLATFORM_VOLATILE.get(platform, [])
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = [line.rstrip() for line in lines if not any(rule.search(line) for rule in rules)]
    return "\n".join(kept).strip("\n") + "\n"
