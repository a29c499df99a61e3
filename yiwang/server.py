"""`yiwang run`: the poll scheduler, the sinks and the FastAPI app in one process and one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Iterator

import uvicorn

from api.app import create_app
from api.security import is_loopback
from yiwang.assemble import SetupError, assemble
from yiwang.config import Settings

log = logging.getLogger("yiwang.server")
# On stop, requests under way (a long capacity report) get this long to answer, then they are cancelled.
API_STOP_GRACE_S = 3


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


def check_exposure(settings: Settings) -> list[str]:
    """Refuse what must not run, and say what should not: the API open to the network without TLS or auth."""
    api = settings.api
    loopback = is_loopback(api.host)
    if not settings.auth.enabled and not loopback:
        raise RuntimeError(f"auth.enabled is false and the API would listen on {api.host}: without authentication "
                           "it may only listen on loopback (127.0.0.1 or ::1)")
    warnings = []
    if api.tls is None and not loopback:
        warnings.append(f"the API listens on {api.host} without TLS: passwords, tokens and session cookies cross "
                        "the network in clear; set api.tls {cert, key}")
    if api.tls is not None:
        for what, path in (("cert", api.tls.cert), ("key", api.tls.key)):
            if not path.is_file():
                raise RuntimeError(f"api.tls.{what}: no file {path}")
    if not settings.auth.enabled:
        warnings.append("authentication is turned off (auth.enabled: false): every caller may do everything")
    return warnings


def announce_first_admin(password: str, settings: Settings) -> None:
    # Straight to the terminal, never through logging: logs are shipped and kept, this must be seen once.
    print(f"\nyiwang: no user existed, so one was created: name admin, password {password}\n"
          f"        (also in {settings.state_dir / 'initial-admin-password'}, readable by its owner only;\n"
          "        log in, create the people who use yiwang, and change or remove this account)\n",
          file=sys.stderr, flush=True)


async def serve(settings: Settings, workers: int | None = None, role: str = "all", member: str | None = None) -> None:
    warnings = check_exposure(settings)
    try:
        if role == "core":
            from yiwang.cluster.roles import assemble_core, member_name

            assembly, _ = await asyncio.to_thread(assemble_core, settings, member_name(member), workers)
        else:
            assembly = await asyncio.to_thread(assemble, settings, workers)
    except SetupError as exc:
        raise RuntimeError(str(exc)) from None
    for problem in assembly.problems:
        log.warning("%s", problem)
    for warning in warnings:
        log.warning("%s", warning)
    auth = assembly.services.auth
    if auth is not None:
        first = await asyncio.to_thread(auth.bootstrap_admin, settings.state_dir)
        if first is not None:
            announce_first_admin(first, settings)
    await assembly.start()
    monitor = assembly.monitor
    app = create_app(assembly.services, settings.api, settings.auth, settings.capacity)
    quiet_garbage_collector()
    tls = settings.api.tls
    server = ApiServer(uvicorn.Config(app, host=settings.api.host, port=settings.api.port,
                                      log_level="warning", lifespan="off",
                                      timeout_graceful_shutdown=API_STOP_GRACE_S,
                                      ssl_certfile=str(tls.cert) if tls else None,
                                      ssl_keyfile=str(tls.key) if tls else None))
    stop = asyncio.Event()
    install_stop_signals(stop)
    log.info("monitoring %s; API on %s://%s:%d",
             ", ".join(f"{len(r.targets)} {name}" for name, r in monitor.collectors.items()),
             "https" if tls else "http", settings.api.host, settings.api.port)
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
        assembly.services.overview.end_streams()  # open event streams would keep the API server waiting
        await asyncio.gather(api_task, poll_task, collector_task, return_exceptions=True)
        await assembly.close()
        log.info("stopped; sinks flushed or spooled")
