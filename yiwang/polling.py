"""Run collectors over targets with bounded concurrency, in this process or in worker processes on every core.

Failures are data: a collector that raises despite its contract still yields a failed PollResult, so one
device can never stop a cycle.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from collectors.base import Collector, PollResult, PollTarget

CHUNK = 200
STOP_WAIT_S = 1.0  # for idle workers to end on their own, then for terminated ones


async def poll_targets(collector: Collector, targets: Sequence[PollTarget], concurrency: int
                       ) -> AsyncIterator[PollResult]:
    """Results in the order they complete."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(target: PollTarget) -> PollResult:
        async with semaphore:
            started = time.perf_counter()
            try:
                return await collector.poll(target)
            except Exception as exc:  # noqa: BLE001 - the device boundary: anything becomes a failed result
                return PollResult(target.device, collector.name, [], False, "internal",
                                  f"{target.device}: collector {collector.name} failed: {type(exc).__name__}: {exc}",
                                  time.perf_counter() - started)

    tasks = [asyncio.ensure_future(one(t)) for t in targets]
    try:
        for next_done in asyncio.as_completed(tasks):
            yield await next_done
    finally:
        for task in tasks:
            task.cancel()


class Concurrent:
    """A per-device collector run over a cycle's targets in this process, `concurrency` devices at a time."""

    def __init__(self, collector: Collector, concurrency: int) -> None:
        self.collector = collector
        self.name = collector.name
        self.concurrency = concurrency

    def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        return poll_targets(self.collector, targets, self.concurrency)

    async def close(self) -> None:
        close = getattr(self.collector, "close", None)  # a collector holding no sockets has nothing to close
        if close is not None:
            await close()


CollectorFactory = Callable[[], Collector]


@dataclass(slots=True)
class WorkerStats:
    cpu_s: float
    results: int


def _worker_main(conn: Connection, factory: CollectorFactory, concurrency: int) -> None:
    asyncio.run(_serve(conn, factory, concurrency))


async def _serve(conn: Connection, factory: CollectorFactory, concurrency: int) -> None:
    collector = factory()
    loop = asyncio.get_running_loop()
    targets: list[PollTarget] = []
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if not isinstance(command, tuple) or command[0] != "cycle":
            break
        if command[1] is not None:  # None: the same targets as the cycle before
            targets = command[1]
        chunk: list[PollResult] = []
        count = 0
        started = os.times()
        async for result in poll_targets(collector, targets, concurrency):
            chunk.append(result)
            count += 1
            if len(chunk) >= CHUNK:
                conn.send(("results", chunk))
                chunk = []
        conn.send(("results", chunk))
        ended = os.times()
        # This cycle's CPU only, pickling of the results included.
        cpu = (ended.user + ended.system) - (started.user + started.system)
        conn.send(("done", WorkerStats(cpu, count)))
    close = getattr(collector, "close", None)
    if close is not None:
        await close()


def shard_of(device: str, workers: int) -> int:
    """Stable across cycles and restarts, so a device's counter memory stays in one worker."""
    return zlib.crc32(device.encode("utf-8")) % workers


class WorkerPool:
    """A per-device collector in worker processes, each with its own event loop (and GIL): the parent's loop
    only receives finished results. Each device always goes to the same worker (see `shard_of`)."""

    def __init__(self, factory: CollectorFactory, workers: int, concurrency: int, name: str) -> None:
        self.name = name
        self._factory = factory
        self._concurrency = concurrency
        self._count = max(1, workers)
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[tuple[Any, Connection]] = []
        self._one_cycle = asyncio.Lock()  # a worker's pipe carries one cycle at a time; a second caller waits
        # Each worker's results are read by a thread for the whole cycle: threads of its own, so that pools running
        # at once never take all of the loop's default executor (asyncio.to_thread) for the length of a cycle.
        self._readers = ThreadPoolExecutor(max_workers=self._count, thread_name_prefix=f"{name}-results")
        self.last_stats: list[WorkerStats] = []
        self._sent: list[Sequence[PollTarget] | None] = []  # per worker: the targets it holds

    def start(self) -> None:
        if not self._workers:
            self._workers = [self._spawn() for _ in range(self._count)]
            self._sent = [None] * self._count

    async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        async with self._one_cycle:
            async for result in self._cycle(targets):
                yield result

    async def _cycle(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        self.start()
        shards: list[list[PollTarget]] = [[] for _ in range(self._count)]
        for target in targets:
            shards[shard_of(target.device, self._count)].append(target)
        queue: asyncio.Queue[tuple[int, str, Any]] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        for index, (process, _) in enumerate(self._workers):
            if not process.is_alive():
                self._workers[index] = self._spawn()
                self._sent[index] = None

        def pump(index: int, conn: Connection) -> None:
            # Sent from this thread: pickling a city's targets, and a pipe that is full until the worker reads,
            # would otherwise hold the event loop. A worker keeps its targets until they change.
            try:
                conn.send(("cycle", None if self._sent[index] is targets else shards[index]))
            except OSError as exc:
                loop.call_soon_threadsafe(queue.put_nowait, (index, "dead", exc))
                return
            self._sent[index] = targets
            while True:
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError) as exc:
                    loop.call_soon_threadsafe(queue.put_nowait, (index, "dead", exc))
                    return
                loop.call_soon_threadsafe(queue.put_nowait, (index, kind, payload))
                if kind == "done":
                    return

        pumps = [loop.run_in_executor(self._readers, pump, i, conn) for i, (_, conn) in enumerate(self._workers)]
        pending = set(range(len(self._workers)))
        seen: set[str] = set()
        stats: list[WorkerStats] = []
        dead: set[int] = set()
        while pending:
            index, kind, payload = await queue.get()
            if kind == "results":
                for result in payload:
                    seen.add(result.device)
                    yield result
            elif kind == "done":
                stats.append(payload)
                pending.discard(index)
            else:  # the worker died: its unfinished devices fail with the reason, the others carry on
                pending.discard(index)
                dead.add(index)
                for target in shards[index]:
                    if target.device not in seen:
                        yield PollResult(target.device, self.name, [], False, "worker-died",
                                         f"{target.device}: {self.name} worker {index} died: {payload!r}")
        await asyncio.gather(*pumps)
        self.last_stats = stats
        for index in dead:
            await asyncio.to_thread(self._replace, index)

    def _replace(self, index: int) -> None:
        """A new worker for one whose pipe broke. Not left to the next cycle's `is_alive()`: a killed worker's
        pipe closes before it can be reaped, so it could still look alive then (seen under load)."""
        process, conn = self._workers[index]
        conn.close()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
        self._workers[index] = self._spawn()
        self._sent[index] = None

    @property
    def cpu_s(self) -> float:
        """CPU the workers spent on the last cycle (the parent's own is measured by the caller)."""
        return sum(s.cpu_s for s in self.last_stats)

    def _spawn(self) -> tuple[Any, Connection]:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, self._factory, self._concurrency),
                                        daemon=True)
        process.start()
        child.close()
        return process, parent

    def pids(self) -> list[int]:
        return [p.pid for p, _ in self._workers if p.pid is not None]

    async def close(self) -> None:
        await asyncio.to_thread(self.stop)

    def stop(self) -> None:
        """An idle worker reads "stop" and ends at once; one still busy with a cycle (cancelled by the stop: its
        results are no longer wanted, and it reads commands only between cycles) is terminated after STOP_WAIT_S,
        all workers together."""
        for _, conn in self._workers:
            try:
                conn.send("stop")
            except OSError:
                pass
        deadline = time.monotonic() + STOP_WAIT_S
        for process, _ in self._workers:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        for process, _ in self._workers:
            if process.is_alive():
                process.terminate()
        for process, _ in self._workers:
            process.join(timeout=STOP_WAIT_S)
            if process.is_alive():
                process.kill()
                process.join(timeout=STOP_WAIT_S)
        self._workers.clear()
