"""`yiwang run`: the poll scheduler, the sinks and the FastAPI app in one process and one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from api.app import create_app
from yiwang.assemble import SetupError, assemble, trap_receiver
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
    try:
        traps = trap_receiver(settings, assembly.monitor)
        if traps is not None:
            traps.start()
            log.info("receiving traps on %s:%d", traps.host, traps.port)
    except Exception as exc:  # noqa: BLE001 - a bad trap setup stops the start with its reason
        await assembly.close()
        raise RuntimeError(f"trap receiver: {exc}") from None
    monitor = assembly.monitor
    app = create_app(monitor, assembly.latest)
    server = ApiServer(uvicorn.Config(app, host=settings.api.host, port=settings.api.port,
                                      log_level="warning", lifespan="off"))
    stop = asyncio.Event()
    install_stop_signals(stop)
    log.info("monitoring %d SNMP and %d ICMP targets; API on http://%s:%d", len(monitor.snmp_targets),
             len(monitor.icmp_targets), settings.api.host, settings.api.port)
    api_task = asyncio.create_task(server.serve())
    poll_task = asyncio.create_task(monitor.run(settings.poll.interval_s, settings.poll.icmp_interval_s, stop,
                                                settings.ssh.interval_s, settings.archive.interval_s))
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({api_task, poll_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                log.error("stopping: %s", task.exception())
    finally:
        stop.set()
        server.should_exit = True
        poll_task.cancel()
        await asyncio.gather(api_task, poll_task, return_exceptions=True)
        if traps is not None:
            traps.stop()
        await assembly.close()
        log.info("stopped; sinks flushed or spooled")
