"""SNMP trap receiver (v2c and v3 USM) on pysnmp's asyncio engine, and the pure decoding of traps into Samples.

A trap becomes a `trap` sample (device, trap name, if_index; received=1); linkDown/linkUp also become an
`interface` sample with `oper_status` 2/1, so the alert engine acts on a link change before the next poll;
authenticationFailure also becomes a `SecurityEvent`. An unknown sender is kept as device `unknown:<addr>`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto.api import v2c

from collectors.model import Sample, Tags, make_tags, now_ns
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
# (device, if_index) -> the tags the poller gives that interface, so a trap updates the same series.
InterfaceTags = Callable[[str, int], Tags | None]


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


def device_addresses(inventory: Inventory) -> dict[str, str]:
    """Sender address -> device name, for `TrapReceiver(devices=...)`."""
    found: dict[str, str] = {}
    for device in inventory.devices.values():
        for address in (device.address, device.address6):
            if address:
                found[address] = device.name
    return found


def decode(sender: str, varbinds: Sequence[tuple[str, Any]], devices: Mapping[str, str], time_ns: int,
           interface_tags: InterfaceTags | None = None, security_name: str = "") -> Decoded:
    """Pure: one received notification (OIDs as dotted strings, values as Python values) -> samples and events."""
    values = dict(varbinds)
    trap_oid = str(values.get(SNMP_TRAP_OID, ""))
    trap = TRAPS.get(trap_oid, trap_oid or "unknown")
    device = devices.get(sender, f"unknown:{sender}")
    if_index = _if_index(varbinds)
    tags = make_tags(device=device, trap=trap, if_index=str(if_index) if if_index is not None else "")
    out = Decoded([Sample("trap", tags, {"received": 1.0}, time_ns)])
    if trap in OPER_STATUS and if_index is not None:
        known = interface_tags(device, if_index) if interface_tags else None
        out.samples.append(Sample("interface", known or make_tags(device=device, if_index=str(if_index)),
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
    """Listens on `host:port`; each notification is decoded and handed to `on_samples` / `on_event`."""

    def __init__(self, on_samples: Callable[[list[Sample]], None], *, host: str = "127.0.0.1", port: int = 162,
                 communities: Sequence[str] = (), users: Sequence[V3User] = (),
                 devices: Mapping[str, str] | None = None, interface_tags: InterfaceTags | None = None,
                 on_event: Callable[[SecurityEvent], None] | None = None) -> None:
        self.on_samples = on_samples
        self.on_event = on_event
        self.host, self.port = host, port
        self.communities = tuple(communities)
        self.users = tuple(users)
        self.devices = dict(devices or {})
        self.interface_tags = interface_tags
        self._engine: engine.SnmpEngine | None = None

    def start(self) -> None:
        """Must run inside the event loop that will serve the socket."""
        snmp = engine.SnmpEngine()
        config.add_transport(snmp, udp.DOMAIN_NAME, udp.UdpTransport().open_server_mode((self.host, self.port)))
        for number, community in enumerate(self.communities):
            config.add_v1_system(snmp, f"trap-area-{number}", community)
        for user in self.users:
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
                             self.interface_tags, security_name)
        except Exception:  # noqa: BLE001 - one malformed trap must not stop the receiver
            log.exception("undecodable trap from %s", sender)
            return
        self.on_samples(decoded.samples)
        if self.on_event:
            for event in decoded.events:
                self.on_event(event)
