"""SNMP trap receiver, and the pure decoding of traps into Samples.

A trap becomes a `trap` sample (device, trap name, if_index; received=1); linkDown/linkUp also become an
`interface` sample with `oper_status` 2/1, so the alert engine acts on a link change before the next poll;
authenticationFailure also becomes a `SecurityEvent`. An unknown sender is kept as device `unknown:<addr>`.

The socket is read in a worker process (`collectors.trap_worker`) that throttles each source address with a token
bucket, so a flooding device costs that process's CPU and its own traps, never the monitor's event loop. Dropped,
malformed and rejected datagrams are counted per source (`trap_intake` samples), and a source's first throttled
trap in a window raises a `trap-flood` SecurityEvent.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from collectors.base import PollResult
from collectors.model import Sample, make_tags
from inventory.model import Inventory

log = logging.getLogger(__name__)

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_TABLE = "1.3.6.1.2.1.2.2.1."
TRAPS = {
    "1.3.6.1.6.3.1.1.5.1": "coldStart",
    "1.3.6.1.6.3.1.1.5.2": "warmStart",
    "1.3.6.1.6.3.1.1.5.3": "linkDown",
    "1.3.6.1.6.3.1.1.5.4": "linkUp",
    "1.3.6.1.6.3.1.1.5.5": "authenticationFailure",
}
OPER_STATUS = {"linkDown": 2.0, "linkUp": 1.0}
# Results waiting for the monitor; beyond this a flood is dropped (and counted) rather than eating memory.
QUEUE_LIMIT = 10_000
# After a device's result goes to the monitor, its next waits this long and takes in every trap of the device
# that arrives meanwhile: each result costs the monitor an alert evaluation, so a busy device costs at most two a
# second, while the first trap of any quiet device goes at once.
COALESCE_S = 0.5
RESTARTS = 5  # worker deaths tolerated within RESTART_WINDOW_S before the stream ends with an error
RESTART_WINDOW_S = 60.0
RCVBUF = 4 << 20  # kernel buffer for the socket: bursts wait there, not in Python


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    kind: str
    device: str
    sender: str
    time_ns: int
    security_name: str = ""


@dataclass(slots=True)
class Decoded:
    samples: list[Sample] = field(default_factory=list)
    events: list[SecurityEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class V3User:
    name: str
    auth_key: str = field(repr=False)  # the passphrases (RFC 3414 A.2 turns them into keys)
    priv_key: str = field(repr=False)
    # The sender's snmpEngineID (hex): a v3 trap is authenticated with keys localised to the sender's engine.
    engine_id: str = ""
    auth: str = "SHA"
    priv: str = "AES"


@dataclass(frozen=True, slots=True)
class TrapListen:
    """Where traps arrive, who may send them (v2c communities and v3 users), and how much each source may send."""

    host: str = "127.0.0.1"
    port: int = 162
    communities: tuple[str, ...] = field(default=(), repr=False)
    users: tuple[V3User, ...] = ()
    rate_per_s: float = 50.0  # per source address, sustained
    burst: float = 200.0  # per source address, at once
    queue_limit: int = QUEUE_LIMIT  # decoded traps waiting for the parent, in the worker
    flood_window_s: float = 60.0  # at most one trap-flood event per source in this long


def device_addresses(inventory: Inventory) -> dict[str, str]:
    """Sender address -> device name, for `TrapReceiver(devices=...)`."""
    found: dict[str, str] = {}
    for device in inventory.devices.values():
        for address in (device.address, device.address6):
            if address:
                found[address] = device.name
    return found


def decode(sender: str, varbinds: Sequence[tuple[str, Any]], devices: Mapping[str, str], time_ns: int,
           security_name: str = "") -> Decoded:
    """Pure: one received notification (OIDs as dotted strings, values as Python values) -> samples and events.

    The interface sample carries only the device and ifIndex: the pipeline completes it with the tags the poller
    gave that interface (see `PollResult.partial`)."""
    values = dict(varbinds)
    trap_oid = str(values.get(SNMP_TRAP_OID, ""))
    trap = TRAPS.get(trap_oid, trap_oid or "unknown")
    device = devices.get(sender, f"unknown:{sender}")
    if_index = _if_index(varbinds)
    tags = make_tags(device=device, trap=trap, if_index=str(if_index) if if_index is not None else "")
    out = Decoded([Sample("trap", tags, {"received": 1.0}, time_ns)])
    if trap in OPER_STATUS and if_index is not None:
        out.samples.append(Sample("interface", make_tags(device=device, if_index=str(if_index)),
                                  {"oper_status": OPER_STATUS[trap]}, time_ns))
    if trap == "authenticationFailure":
        out.events.append(SecurityEvent(trap, device, sender, time_ns, security_name))
    return out


def _if_index(varbinds: Sequence[tuple[str, Any]]) -> int | None:
    for oid, value in varbinds:
        if oid.startswith(IF_INDEX + "."):
            try:
                return int(value)
            except (TypeError, ValueError):
                return int(oid.rsplit(".", 1)[1])
    for oid, _ in varbinds:
        if oid.startswith(IF_TABLE):
            return int(oid.rsplit(".", 1)[1])
    return None


def bind(listen: TrapListen) -> socket.socket:
    """The UDP socket, IPv4 or IPv6 as the host says; a port in use fails here, in the caller's process."""
    family, kind, proto, _, address = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class TrapReceiver:
    """Listens on `host:port` while `results()` is being read; each notification becomes a partial PollResult
    (collector `trap`), per-source intake counts a PollResult of collector `trap-intake`, and each security event
    goes to `on_event`. The worker process does the reading; this side only takes its batches."""

    name = "trap"

    def __init__(self, listen: TrapListen, devices: Mapping[str, str] | None = None,
                 on_event: Callable[[SecurityEvent], None] | None = None) -> None:
        self.listen = listen
        self.on_event = on_event
        self.devices = dict(devices or {})
        self.dropped = 0  # results the monitor did not take in time (the worker counts its own per source)
        self.restarts = 0
        self._sock: socket.socket | None = None
        self._process: Any = None
        self._conn: Connection | None = None
        self._pending: dict[tuple[str, str], PollResult] = {}  # (device, collector) -> what waits for the monitor
        self._due: dict[tuple[str, str], float] = {}  # the earliest a key's next result may go
        self._wake = asyncio.Event()
        self._failure: BaseException | None = None
        self._deaths: list[float] = []

    async def results(self) -> AsyncIterator[PollResult]:
        self.start()
        try:
            while True:
                if self._failure is not None:
                    failure, self._failure = self._failure, None
                    self._restart(failure)
                now = time.monotonic()
                key = next((k for k in self._pending if self._due.get(k, 0.0) <= now), None)
                if key is None:
                    await self._sleep(min((self._due[k] for k in self._pending), default=now + 3600) - now)
                    continue
                self._due[key] = now + COALESCE_S
                yield self._pending.pop(key)
        finally:
            self.stop()

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), max(0.0, seconds))
        except TimeoutError:
            pass

    def start(self) -> None:
        """Binds the socket and starts the worker; must run inside the event loop that takes the results."""
        if self._sock is not None:
            return
        self._sock = bind(self.listen)
        self._spawn()

    def stop(self) -> None:
        process, conn, sock = self._process, self._conn, self._sock
        self._process = self._conn = self._sock = None
        if process is not None:
            process.terminate()
            process.join(timeout=2)
            if process.is_alive():
                process.kill()
                process.join(timeout=2)
        if conn is not None:
            conn.close()
        if sock is not None:
            sock.close()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _spawn(self) -> None:
        from collectors import trap_worker  # noqa: PLC0415 - the worker module imports this one

        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=trap_worker.main, args=(self._sock, child, self.listen, self.devices),
                                  daemon=True, name="yiwang-traps")
        process.start()
        child.close()
        self._process, self._conn = process, parent
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, args=(parent, process, loop), daemon=True, name="trap-reader").start()

    def _read(self, conn: Connection, process: Any, loop: asyncio.AbstractEventLoop) -> None:
        # One call into the loop per batch, never one per trap.
        try:
            while True:
                _, results, events = conn.recv()
                loop.call_soon_threadsafe(self._deliver, results, events)
        except (EOFError, OSError, TypeError, ValueError) as exc:
            if self._conn is conn:  # not our own stop()
                process.join(timeout=2)
                reason = RuntimeError(f"trap worker {process.pid} died (exit code {process.exitcode}): "
                                      f"{type(exc).__name__}")
                try:
                    loop.call_soon_threadsafe(self._fail, reason)
                except RuntimeError:  # the loop is closed: nobody is listening any more
                    pass

    def _deliver(self, results: Sequence[PollResult], events: Sequence[SecurityEvent]) -> None:
        for result in results:
            self._hold(result)
        self._wake.set()
        if self.on_event:
            for event in events:
                self.on_event(event)

    def _hold(self, result: PollResult) -> None:
        key = (result.device, result.collector)
        held = self._pending.get(key)
        if held is None:
            if len(self._pending) >= QUEUE_LIMIT:
                self.dropped += 1
                if self.dropped % 1000 == 1:
                    log.warning("trap queue full: %d traps dropped so far", self.dropped)
                return
            self._pending[key] = result
            if len(self._due) > 2 * QUEUE_LIMIT:  # forget the keys whose pause is over
                now = time.monotonic()
                self._due = {k: t for k, t in self._due.items() if t > now}
        elif result.partial:  # traps of one device: the newest sample of each series wins
            merged = {(s.measurement, s.tags): s for s in held.samples}
            for sample in result.samples:
                merged.pop((sample.measurement, sample.tags), None)
                merged[(sample.measurement, sample.tags)] = sample
            held.samples[:] = list(merged.values())
        else:  # intake counts are cumulative: the newest replaces
            self._pending[key] = result

    def _fail(self, reason: BaseException) -> None:
        self._failure = reason
        self._wake.set()

    def _restart(self, reason: BaseException) -> None:
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < RESTART_WINDOW_S] + [now]
        if len(self._deaths) > RESTARTS:
            raise RuntimeError(f"{reason}; {len(self._deaths)} deaths in {RESTART_WINDOW_S:.0f} s, giving up")
        log.error("%s; restarting it", reason)
        self.restarts += 1
        old, self._conn = self._conn, None
        if old is not None:
            old.close()
        self._spawn()
