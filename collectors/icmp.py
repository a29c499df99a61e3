"""ICMP reachability, round-trip time and loss over IPv4 and IPv6: the cheapest link check for every village.

One fping process pings a whole cycle's addresses (as LibreNMS and Smokeping do): at city scale that is ~5 s and
under a second of CPU, where a Python ping per device cost a core for most of a minute.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass

from collectors.base import PollResult, PollTarget
from collectors.model import Sample

FPING = "fping"
_LINE = re.compile(r"^(?P<address>\S+)\s+:\s+(?P<rtts>(?:(?:[0-9.]+|-)\s*)+)$")


@dataclass(frozen=True, slots=True)
class PingFigures:
    sent: int
    received: int
    avg_rtt_s: float | None


class FpingError(RuntimeError):
    pass


def parse_fping(output: str, count: int) -> dict[str, PingFigures]:
    """fping -C output ("addr : 0.05 - 0.04"), one line per address; other lines are not results."""
    figures: dict[str, PingFigures] = {}
    for line in output.splitlines():
        match = _LINE.match(line.strip())
        if match is None:
            continue
        rtts = [float(v) / 1000.0 for v in match["rtts"].split() if v != "-"]
        figures[match["address"]] = PingFigures(count, len(rtts), sum(rtts) / len(rtts) if rtts else None)
    return figures


def icmp_sample(tags: Mapping[str, str], family: str, figures: PingFigures, time_ns: int) -> Sample:
    loss = 1.0 - figures.received / figures.sent if figures.sent else 1.0
    fields = {"up": 1.0 if figures.received else 0.0, "loss_ratio": loss}
    if figures.avg_rtt_s is not None:
        fields["rtt_seconds"] = figures.avg_rtt_s
    return Sample("icmp", tuple(sorted({**tags, "family": family}.items())), fields, time_ns)


def addresses_of(target: PollTarget) -> list[tuple[str, str]]:
    """(address, family) pairs, normalised so they match fping's output."""
    found: dict[str, str] = {}
    for text in (target.host, target.host6):
        if text:
            parsed = ipaddress.ip_address(text)
            found[str(parsed)] = f"ipv{parsed.version}"
    return list(found.items())


def results_from(targets: Iterable[PollTarget], figures: Mapping[str, PingFigures], count: int,
                 duration_s: float, collector: str = "icmp") -> list[PollResult]:
    now = time.time_ns()
    results = []
    for target in targets:
        tags = dict(target.tags)
        samples = []
        silent = []
        for address, family in addresses_of(target):
            got = figures.get(address, PingFigures(count, 0, None))
            samples.append(icmp_sample(tags, family, got, now))
            if not got.received:
                silent.append(f"{target.device} ({address}): no echo reply to {count} requests")
        reachable = any(s.fields["up"] for s in samples)
        results.append(PollResult(target.device, collector, samples, reachable, "ok" if reachable else "unreachable",
                                  "; ".join(silent), duration_s, 0))
    return results


class FpingCollector:
    name = "icmp"

    def __init__(self, count: int = 3, period_ms: int = 100, interval_ms: float = 0.5, timeout_ms: int = 500,
                 binary: str = FPING) -> None:
        self.count = count
        self._args = [f"-C{count}", "-q", f"-p{period_ms}", f"-i{interval_ms}", f"-t{timeout_ms}", "-f", "-"]
        self._binary = binary

    async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        for result in await self.poll_batch(targets):
            yield result

    async def poll_batch(self, targets: Sequence[PollTarget]) -> list[PollResult]:
        started = time.perf_counter()
        # Parsing a city's addresses and building its results is a few hundred ms of CPU: a thread's, so the
        # event loop (and the API on it) keeps answering meanwhile.
        addresses = await asyncio.to_thread(lambda: sorted({a for t in targets for a, _ in addresses_of(t)}))
        try:
            figures = await self.ping(addresses)
        except (FpingError, OSError) as exc:
            duration = time.perf_counter() - started
            return [PollResult(t.device, self.name, [], False, "icmp-error", f"{t.device}: {exc}", duration)
                    for t in targets]
        return await asyncio.to_thread(results_from, targets, figures, self.count, time.perf_counter() - started)

    async def close(self) -> None:
        return None

    async def ping(self, addresses: Sequence[str]) -> dict[str, PingFigures]:
        if not addresses:
            return {}
        binary = shutil.which(self._binary)
        if binary is None:
            raise FpingError(f"{self._binary} is not installed (Debian package 'fping')")
        # Addresses were parsed by ipaddress, and go over stdin: nothing device-supplied reaches an argument.
        process = await asyncio.create_subprocess_exec(
            binary, *self._args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate("\n".join(addresses).encode())
        # 0: all answered, 1: some did not; 2 and up: fping itself failed.
        if process.returncode not in (0, 1):
            raise FpingError(f"fping exited with {process.returncode}: {err.decode(errors='replace').strip()[:500]}")
        return parse_fping(out.decode(errors="replace") + err.decode(errors="replace"), self.count)
