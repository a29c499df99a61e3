"""Run collectors over targets with bounded concurrency, in this process or in worker processes on every core.

Failures are data: a collector that raises despite its contract still yields a failed PollResult, so one
device can never stop a cycle.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from collectors.base import Collector, PollResult, PollTarget

CHUNK = 200


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


CollectorFactory = Callable[[], Collector]


@dataclass(slots=True)
class WorkerStats:
    cpu_s: float
    results: int


def _worker_main(conn: Connection, factory: CollectorFactory, targets: list[PollTarget], concurrency: int) -> None:
    asyncio.run(_serve(conn, factory, targets, concurrency))


async def _serve(conn: Connection, factory: CollectorFactory, targets: list[PollTarget], concurrency: int) -> None:
    collector = factory()
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command != "cycle":
            break
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


class WorkerPool:
    """Shards targets over processes; each worker keeps its devices (and their counter memory) for good."""

    def __init__(self, factory: CollectorFactory, targets: Sequence[PollTarget], workers: int,
                 concurrency: int) -> None:
        self._factory = factory
        self._concurrency = concurrency
        # Stable sharding by position keeps each device on one worker, so its counters turn into rates.
        self._shards = [list(targets[i::workers]) for i in range(workers)]
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[tuple[Any, Connection]] = []
        self.last_stats: list[WorkerStats] = []

    def start(self) -> None:
        self._workers = [self._spawn(shard) for shard in self._shards]

    async def cycle(self) -> AsyncIterator[PollResult]:
        queue: asyncio.Queue[tuple[int, str, Any]] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        for index, (process, _) in enumerate(self._workers):
            if not process.is_alive():
                self._workers[index] = self._spawn(self._shards[index])
            self._workers[index][1].send("cycle")

        def pump(index: int, conn: Connection) -> None:
            while True:
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError) as exc:
                    loop.call_soon_threadsafe(queue.put_nowait, (index, "dead", exc))
                    return
                loop.call_soon_threadsafe(queue.put_nowait, (index, kind, payload))
                if kind == "done":
                    return

        pumps = [loop.run_in_executor(None, pump, i, conn) for i, (_, conn) in enumerate(self._workers)]
        pending = set(range(len(self._workers)))
        seen: set[str] = set()
        stats: list[WorkerStats] = []
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
                for target in self._shards[index]:
                    if target.device not in seen:
                        yield PollResult(target.device, "snmp", [], False, "worker-died",
                                         f"{target.device}: poll worker {index} died: {payload!r}")
        await asyncio.gather(*pumps)
        self.last_stats = stats

    def _spawn(self, shard: list[PollTarget]) -> tuple[Any, Connection]:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, self._factory, shard, self._concurrency),
                                        daemon=True)
        process.start()
        child.close()
        return process, parent

    def pids(self) -> list[int]:
        return [p.pid for p, _ in self._workers if p.pid is not None]

    def stop(self) -> None:
        for _, conn in self._workers:
            try:
                conn.send("stop")
            except OSError:
                pass
        for process, _ in self._workers:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        self._workers.clear()
