"""SNMP trap receiver (v2c and v3 USM) on pysnmp's asyncio engine, and the pure decoding of traps into Samples.

A trap becomes a `trap` sample (device, trap name, if_index; received=1); linkDown/linkUp also become an
`interface` sample with `oper_status` 2/1, so the alert engine acts on a link change before the next poll;
authenticationFailure also becomes a `SecurityEvent`. An unknown sender is kept as device `unknown:<addr>`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto.api import v2c

from collectors.base import PollResult
from collectors.model import Sample, make_tags, now_ns
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
# Traps waiting for the monitor; beyond this a flood is dropped (and counted) rather than eating memory.
QUEUE_LIMIT = 10_000


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
    auth_key: str = field(repr=False)
    priv_key: str = field(repr=False)
    # The sender's snmpEngineID (hex): a v3 trap is authenticated with keys localised to the sender's engine.
    engine_id: str = ""


@dataclass(frozen=True, slots=True)
class TrapListen:
    """Where traps arrive and who may send them: v2c communities and v3 users."""

    host: str = "127.0.0.1"
    port: int = 162
    communities: tuple[str, ...] = field(default=(), repr=False)
    users: tuple[V3User, ...] = ()


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


def _plain(value: Any) -> Any:
    if isinstance(value, v2c.ObjectIdentifier):
        return str(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return value.prettyPrint() if hasattr(value, "prettyPrint") else str(value)


class TrapReceiver:
    """Listens on `host:port` while `results()` is being read; each notification becomes a partial PollResult
    (collector `trap`), and each security event goes to `on_event`."""

    name = "trap"

    def __init__(self, listen: TrapListen, devices: Mapping[str, str] | None = None,
                 on_event: Callable[[SecurityEvent], None] | None = None) -> None:
        self.listen = listen
        self.on_event = on_event
        self.devices = dict(devices or {})
        self.dropped = 0
        self._engine: engine.SnmpEngine | None = None
        self._queue: asyncio.Queue[PollResult] = asyncio.Queue(QUEUE_LIMIT)

    async def results(self) -> AsyncIterator[PollResult]:
        self.start()
        try:
            while True:
                yield await self._queue.get()
        finally:
            self.stop()

    def start(self) -> None:
        """Must run inside the event loop that will serve the socket."""
        if self._engine is not None:
            return
        snmp = engine.SnmpEngine()
        listen = self.listen
        config.add_transport(snmp, udp.DOMAIN_NAME, udp.UdpTransport().open_server_mode((listen.host, listen.port)))
        for number, community in enumerate(listen.communities):
            config.add_v1_system(snmp, f"trap-area-{number}", community)
        for user in listen.users:
            config.add_v3_user(snmp, user.name, config.USM_AUTH_HMAC96_SHA, user.auth_key,
                               config.USM_PRIV_CFB128_AES, user.priv_key,
                               securityEngineId=v2c.OctetString(hexValue=user.engine_id) if user.engine_id else None)
        ntfrcv.NotificationReceiver(snmp, self._received)
        self._engine = snmp

    def stop(self) -> None:
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None

    def _received(self, snmp: engine.SnmpEngine, state_reference: Any, context_engine_id: Any, context_name: Any,
                  varbinds: Sequence[tuple[Any, Any]], cb_ctx: Any) -> None:
        context = snmp.observer.get_execution_context("rfc3412.receiveMessage:request")
        sender = str(context["transportAddress"][0])
        security_name = str(context.get("securityName", ""))
        try:
            decoded = decode(sender, [(str(oid), _plain(value)) for oid, value in varbinds], self.devices, now_ns(),
                             security_name)
        except Exception:  # noqa: BLE001 - one malformed trap must not stop the receiver
            log.exception("undecodable trap from %s", sender)
            return
        device = decoded.samples[0].tag("device")
        try:
            self._queue.put_nowait(PollResult(device, self.name, decoded.samples, True, partial=True))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("trap queue full: %d traps dropped so far", self.dropped)
        if self.on_event:
            for event in decoded.events:
                self.on_event(event)
