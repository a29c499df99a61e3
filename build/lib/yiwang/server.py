"""`yiwang run`: the poll scheduler, the sinks and the FastAPI app in one process and one event loop."""

from __future__ import annotations

import asyncio
import contextlib
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
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({api_task, poll_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                log.error("stopping: %s", task.exception())
    finally:
        stop.set()
        server.should_exit = True
        await asyncio.gather(api_task, poll_task, return_exceptions=True)
        await assembly.close()
        log.info("stopped; sinks flushed or spooled")
