"""ICMP reachability, round-trip time and loss over IPv4 and IPv6: the cheapest link check for every village."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from icmplib import async_ping
from icmplib.exceptions import ICMPLibError

from collectors.base import PollResult, PollTarget
from yiwang.model import Sample


@dataclass(frozen=True, slots=True)
class PingFigures:
    sent: int
    received: int
    avg_rtt_s: float | None


Pinger = Callable[[str, int, float, float], Awaitable[PingFigures]]


async def icmplib_ping(address: str, count: int, interval: float, wait_s: float) -> PingFigures:
    # Raw sockets need root or CAP_NET_RAW; otherwise fall back to the kernel's unprivileged ICMP sockets.
    try:
        host = await async_ping(address, count=count, interval=interval, timeout=wait_s, privileged=True)
    except PermissionError:
        host = await async_ping(address, count=count, interval=interval, timeout=wait_s, privileged=False)
    return PingFigures(host.packets_sent, host.packets_received,
                       host.avg_rtt / 1000.0 if host.packets_received else None)


def icmp_sample(tags: dict[str, str], family: str, figures: PingFigures, time_ns: int) -> Sample:
    loss = 1.0 - figures.received / figures.sent if figures.sent else 1.0
    fields = {"up": 1.0 if figures.received else 0.0, "loss_ratio": loss}
    if figures.avg_rtt_s is not None:
        fields["rtt_seconds"] = figures.avg_rtt_s
    return Sample("icmp", tuple(sorted({**tags, "family": family}.items())), fields, time_ns)


class IcmpCollector:
    name = "icmp"

    def __init__(self, count: int = 3, interval: float = 0.2, timeout: float = 1.0,
                 pinger: Pinger = icmplib_ping) -> None:
        self._count = count
        self._interval = interval
        self._timeout = timeout
        self._ping = pinger

    async def poll(self, target: PollTarget) -> PollResult:
        started = time.perf_counter()
        tags = dict(target.tags)
        samples: list[Sample] = []
        errors: list[str] = []
        for address in dict.fromkeys(a for a in (target.host, target.host6) if a):
            family = f"ipv{ipaddress.ip_address(address).version}"
            try:
                figures = await self._ping(address, self._count, self._interval, self._timeout)
            except (ICMPLibError, OSError) as exc:
                errors.append(f"{target.device} ({address}): ping failed: {exc}")
                figures = PingFigures(0, 0, None)
            samples.append(icmp_sample(tags, family, figures, time.time_ns()))
            if not figures.received and not errors:
                errors.append(f"{target.device} ({address}): no echo reply to {figures.sent} requests")
        reachable = any(s.fields["up"] for s in samples)
        reason = "ok" if reachable else "unreachable"
        return PollResult(target.device, self.name, samples, reachable, reason, "; ".join(errors),
                          time.perf_counter() - started, 0)
