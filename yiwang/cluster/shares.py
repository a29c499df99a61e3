"""A poller's share of the devices, slot by slot: at each slot's start it asks its `ShareSource` which devices (the
devices of the townships granted to it, `yiwang.cluster.coordination`) it may poll in that slot, and each collector
polls only those.

A slot is `floor(unix_time / slot_s)`, the same on every poller. The share is asked once per slot and poller, the
first collector to start in the slot asks, the others use the answer: a claim is recorded per slot, so asking twice
would be refused the second time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from collectors.base import CycleCollector, PollResult, PollTarget
from yiwang.cluster.coordination import slot_of as slot_at
from yiwang.cluster.transport import raise_if_cancelled

log = logging.getLogger("yiwang.cluster.shares")


class ShareSource(Protocol):
    """The devices granted to this poller for a slot; None: no cluster, everything; empty: nothing (fenced)."""

    async def claim(self, slot: int) -> frozenset[str] | None: ...


class Everything:
    async def claim(self, slot: int) -> frozenset[str] | None:
        return None


class Shares:
    """This poller's answer per slot, asked once."""

    def __init__(self, source: ShareSource, slot_s: float, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.slot_s = slot_s
        self.clock = clock
        self.slot = -1
        self.share: frozenset[str] | None = frozenset()
        self._lock = asyncio.Lock()

    async def current(self) -> tuple[int, frozenset[str] | None]:
        async with self._lock:
            now = slot_at(self.clock(), self.slot_s)
            if now != self.slot:
                try:
                    self.share = await self.source.claim(now)
                except Exception as exc:  # noqa: BLE001 - a claim that cannot be made grants nothing (fencing)
                    log.warning("claim for slot %d failed, polling nothing: %s: %s", now, type(exc).__name__, exc)
                    self.share = frozenset()
                raise_if_cancelled()
                self.slot = now
            return self.slot, self.share


def in_share(targets: Sequence[PollTarget], share: frozenset[str] | None) -> list[PollTarget]:
    if share is None:
        return list(targets)
    return [t for t in targets if t.device in share]


class ShareCollector:
    """A collector that polls, each cycle, only the targets of this slot's share; at most one cycle per slot when
    its interval is the slot (a cycle started late in a slot it already polled polls nothing: no device twice)."""

    def __init__(self, inner: CycleCollector, shares: Shares, interval_s: float | None = None) -> None:
        self.inner = inner
        self.shares = shares
        # ICMP may ping more often than the slot; a poll of the slot's length runs once in it
        self.interval_s = interval_s if interval_s is not None else shares.slot_s
        self.once_per_slot = self.interval_s >= shares.slot_s
        self.name = inner.name
        self.slot = -1  # the slot of the running (or last) cycle: its results belong to it
        # floor(start / own interval): the cycle's number, the same on every poller (cycles are aligned), so the
        # core can put the pollers' ends of one cycle together; equal to the slot when the interval is the slot
        self.cycle = -1
        self.polled = 0  # targets in the last cycle

    async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        slot, share = await self.shares.current()
        if self.once_per_slot and slot == self.slot:
            log.warning("%s: a second cycle in slot %d polls nothing", self.name, slot)
            self.polled = 0
            return
        self.slot = slot
        self.cycle = slot_at(self.shares.clock(), self.interval_s)
        mine = in_share(targets, share)
        self.polled = len(mine)
        if not mine:
            return
        async for result in self.inner.collect(mine):
            yield result

    async def close(self) -> None:
        await self.inner.close()
