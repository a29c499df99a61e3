"""Durable, retrying delivery of alert notifications, in front of the plain notifiers of alerts.notify.

Every notifier has a queue of its own (yiwang.queue, each append fsync'd) in `outbox_dir/<name>.queue/`, so a
receiver that is down holds back no other. `dispatch(transitions)` appends every `notify=True` transition to every
notifier's queue, then `flush()`es: each notifier gets its pending entries oldest first, and an entry leaves its
queue only after the receiver accepted it; the first failure stops that notifier until its backoff is over. A new
Dispatcher over the same directory resends what the old one left: at least once, exactly once across ordinary
stops. Payloads carry a stable `key`, so a receiver can drop the rare duplicate after a crash or a power loss.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alerts.notify.base import Notifier
from alerts.state import Transition
from yiwang.queue import DurableQueue

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


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


def encode_transition(transition: Transition) -> bytes:
    # ASCII JSON: a lone surrogate in a device's label comes back as it went in.
    return json.dumps(transition.to_dict()).encode("ascii")


def decode_transition(data: bytes) -> Transition:
    return Transition.from_dict(json.loads(data))


def queue_folder(notifier: str) -> str:
    return f"{_UNSAFE.sub('_', notifier)}.queue"


class Dispatcher:
    """Construct, `await open()` (or let the first call open), `dispatch()` each cycle, `run()` to retry between
    cycles, `await close()`; or `async with`. `open()` raises yiwang.queue.QueueLocked when another process sends
    from the same outbox; a Dispatcher whose open() failed is not usable."""

    def __init__(self, notifiers: Sequence[Notifier], outbox_dir: str | os.PathLike[str], *,
                 backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic,
                 max_bytes: int = 64 << 20) -> None:
        names = [n.name for n in notifiers]
        if len(set(names)) != len(names) or len({queue_folder(name) for name in names}) != len(names):
            raise ValueError(f"notifier names must be unique (in letters, digits, '_', '.', '-'): {names}")
        self.notifiers = {n.name: n for n in notifiers}
        self.outbox_dir = Path(outbox_dir)
        self.queues = {name: DurableQueue(self.outbox_dir / queue_folder(name), encode_transition, decode_transition,
                                          max_bytes=max_bytes, durable=True, name=f"outbox-{name}")
                       for name in self.notifiers}
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.health = {name: _Health() for name in self.notifiers}
        self._lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()
        self._opened = False

    async def open(self) -> None:
        async with self._open_lock:
            if self._opened:
                return
            opened = []
            try:
                for name, queue in self.queues.items():
                    report = await queue.open()
                    opened.append(queue)
                    if report.records:
                        log.info("notifier %s: %d notifications from an earlier run to send", name, report.records)
            except BaseException:
                await asyncio.gather(*(queue.close() for queue in opened))
                raise
            self._opened = True

    async def __aenter__(self) -> Dispatcher:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def enqueue(self, transitions: Iterable[Transition]) -> int:
        """Puts every transition to notify on every notifier's queue, on disk when this returns."""
        wanted = [t for t in transitions if t.notify]
        if wanted:
            await self.open()
            dropped = await asyncio.gather(*(queue.append(wanted) for queue in self.queues.values()))
            for name, count in zip(self.queues, dropped, strict=True):
                if count:
                    log.error("outbox of notifier %s is full (%d bytes): dropped the %d oldest notifications", name,
                              self.queues[name].max_bytes, count)
        return len(wanted)

    async def dispatch(self, transitions: Iterable[Transition]) -> FlushReport:
        await self.enqueue(transitions)
        return await self.flush()

    async def flush(self) -> FlushReport:
        await self.open()
        async with self._lock:
            report = FlushReport()
            await asyncio.gather(*(self._flush_one(name, report) for name in self.notifiers))
            return report

    async def close(self) -> None:
        async with self._lock:
            await asyncio.gather(*(queue.close() for queue in self.queues.values()))

    def pending(self) -> dict[str, int]:
        return {name: queue.records for name, queue in self.queues.items()}

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
        queue = self.queues[name]
        sent = 0
        if queue.records and self.clock() >= health.next_attempt:
            while (transition := await queue.peek()) is not None:
                try:
                    await self.notifiers[name].send(transition)
                except Exception as exc:  # noqa: BLE001 - any receiver failure is a retry, never a crash
                    health.failures += 1
                    health.next_attempt = self.clock() + self.backoff.delay(health.failures)
                    health.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    report.errors[name] = health.last_error
                    log.warning("notifier %s failed (%d in a row), retry in %.0fs: %s", name, health.failures,
                                self.backoff.delay(health.failures), health.last_error)
                    break
                await queue.ack()
                sent += 1
                health.failures, health.next_attempt, health.last_error = 0, 0.0, ""
            if sent:
                await queue.sync()  # what was delivered is not sent again after a power loss
        report.sent[name] = sent
        report.pending[name] = queue.records
