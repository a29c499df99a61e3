"""Whether a device's SNMP agent answers over IPv6: the `snmp_ipv6` series (`yiwang_snmp_ipv6_up{reason}`).

The poller walks a device at `host`, which is its IPv4 address whenever it has one, so a dual-stack device would
never be read over IPv6. For such a device the collector also sends one GET of sysUpTime to `host6` each cycle
(same credentials and timeouts): a request per device, not a second walk. An IPv6-only device is polled in full
at `host6`, and its poll's outcome is the answer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from collectors.base import PollTarget
from collectors.model import Sample

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
MEASUREMENT = "snmp_ipv6"


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b  # a name, not an address: only the same text is known to be the same place


def ipv6_probe_host(target: PollTarget) -> str | None:
    """Where the extra IPv6 GET goes: `host6` when the poll itself goes elsewhere; None when there is no IPv6
    address or the poll already uses it (an IPv6-only device)."""
    if not target.host6 or _same_address(target.host, target.host6):
        return None
    return target.host6


def polled_over_ipv6(target: PollTarget) -> bool:
    """The full poll goes to `host6`: its own outcome says whether SNMP answers over IPv6."""
    return bool(target.host6) and _same_address(target.host, target.host6 or "")


def snmp_ipv6_sample(tags: Mapping[str, str], reason: str, duration_s: float, time_ns: int) -> Sample:
    """`reason` is "ok" when the agent answered, else the SnmpFailure's short code (timeout, auth, ...)."""
    return Sample(MEASUREMENT, tuple(sorted({**tags, "reason": reason}.items())),
                  {"up": 1.0 if reason == "ok" else 0.0, "duration_seconds": duration_s}, time_ns)
