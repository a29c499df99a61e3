"""`yiwang run`: the poll scheduler, the sinks and the FastAPI app in one process and one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Iterator

import uvicorn

from api.app import create_app
from yiwang.assemble import SetupError, assemble
from yiwang.config import Settings

log = logging.getLogger("yiwang.server")


class ApiServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its own shutdown, which would kill us before the sinks flush;
    our handlers stop polling first, then the API, then flush or spool the sinks."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


# Measured on the simulated city (benchmarks/ssh_isolation.py), the API's slowest answers were the garbage
# collector's pauses, not its work. A collection is triggered by allocations minus deallocations, and each cycle
# replaces a city's samples: the old ones freed cancel the new ones counted, so the young generation grew to a
# million objects before one collection of 300-800 ms. A full collection also walked the start-up heap (modules,
# the inventory: 200-250 ms). So the start-up heap is frozen out of later collections, the young generation is
# collected on a clock instead, small each time, and full collections come only after many young ones.
YOUNG_EVERY_S = 0.1
GC_THRESHOLDS = (700, 10, 1000)


def quiet_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def collect_young(stop: asyncio.Event) -> None:
    while not stop.is_set():
        gc.collect(0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), YOUNG_EVERY_S)


async def serve(settings: Settings, workers: int | None = None) -> None:
    try:
        assembly = await asyncio.to_thread(assemble, settings, workers)
    except SetupError as exc:
        raise RuntimeError(str(exc)) from None
    for problem in assembly.problems:
        log.warning("%s", problem)
    await assembly.start()
    monitor = assembly.monitor
    app = create_app(assembly.services)
    quiet_garbage_collector()
    server = ApiServer(uvicorn.Config(app, host=settings.api.host, port=settings.api.port,
                                      log_level="warning", lifespan="off"))
    stop = asyncio.Event()
    install_stop_signals(stop)
    log.info("monitoring %s; API on http://%s:%d",
             ", ".join(f"{len(r.targets)} {name}" for name, r in monitor.collectors.items()),
             settings.api.host, settings.api.port)
    if settings.traps.enabled:
        log.info("receiving traps on %s:%d", settings.traps.host, settings.traps.port)
    api_task = asyncio.create_task(server.serve())
    poll_task = asyncio.create_task(monitor.run(stop))
    collector_task = asyncio.create_task(collect_young(stop))
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({api_task, poll_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                log.error("stopping: %s", task.exception())
    finally:
        stop.set()
        server.should_exit = True
        await asyncio.gather(api_task, poll_task, collector_task, return_exceptions=True)
        await assembly.close()
        log.info("stopped; sinks flushed or spooled")
