"""The one wrapper that owns retries, backoff and the outbox, in front of plain notifiers.

`dispatch(transitions)` spools every `notify=True` transition for every notifier, then `flush()`es: each notifier
gets its pending entries oldest first; the first failure stops that notifier until its backoff is over, and the
entry stays on disk. A new Dispatcher over the same directory picks up what the old one left.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alerts.notify.base import Notifier
from alerts.notify.outbox import Entry, Outbox
from alerts.state import Transition

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float = 5.0
    factor: float = 2.0
    max_s: float = 600.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th consecutive failure (1, 2, ...)."""
        return min(self.max_s, self.base_s * self.factor ** max(0, failures - 1))


@dataclass(slots=True)
class _Health:
    failures: int = 0
    next_attempt: float = 0.0
    last_error: str = ""


@dataclass(slots=True)
class FlushReport:
    sent: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)


class Dispatcher:
    def __init__(self, notifiers: Sequence[Notifier], outbox_dir: str | os.PathLike[str], *,
                 backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        names = [n.name for n in notifiers]
        if len(set(names)) != len(names):
            raise ValueError(f"notifier names must be unique: {names}")
        self.notifiers = {n.name: n for n in notifiers}
        self.outbox = Outbox(Path(outbox_dir))
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.health = {name: _Health() for name in self.notifiers}
        self._lock = asyncio.Lock()

    def enqueue(self, transitions: Iterable[Transition]) -> int:
        wanted = [t for t in transitions if t.notify]
        for name in self.notifiers:
            self.outbox.append(name, [Entry(uuid.uuid4().hex, t) for t in wanted])
        return len(wanted)

    async def dispatch(self, transitions: Iterable[Transition]) -> FlushReport:
        self.enqueue(transitions)
        return await self.flush()

    async def flush(self) -> FlushReport:
        async with self._lock:
            report = FlushReport()
            await asyncio.gather(*(self._flush_one(name, report) for name in self.notifiers))
            return report

    def close(self) -> None:
        self.outbox.close()

    def pending(self) -> dict[str, int]:
        return {name: len(self.outbox.pending(name)) for name in self.notifiers}

    async def run(self, stop: asyncio.Event, tick_s: float = 1.0) -> None:
        """Retry between evaluation cycles until `stop` is set."""
        while not stop.is_set():
            await self.flush()
            try:
                await asyncio.wait_for(stop.wait(), tick_s)
            except TimeoutError:
                pass

    async def _flush_one(self, name: str, report: FlushReport) -> None:
        health = self.health[name]
        entries = self.outbox.pending(name)
        sent = 0
        if entries and self.clock() >= health.next_attempt:
            for entry in entries:
                try:
                    await self.notifiers[name].send(entry.transition)
                except Exception as exc:  # noqa: BLE001 - any receiver failure is a retry, never a crash
                    health.failures += 1
                    health.next_attempt = self.clock() + self.backoff.delay(health.failures)
                    health.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    report.errors[name] = health.last_error
                    log.warning("notifier %s failed (%d in a row), retry in %.0fs: %s", name, health.failures,
                                self.backoff.delay(health.failures), health.last_error)
                    break
                self.outbox.remove(name, entry.id)
                sent += 1
                health.failures, health.next_attempt, health.last_error = 0, 0.0, ""
        report.sent[name] = sent
        report.pending[name] = len(entries) - sent
