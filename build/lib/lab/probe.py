"""A minimal synchronous SNMPv2c GET over a plain UDP socket, for readiness checks and sweeps.

The lab must not depend on the poller it is there to test, so this speaks the protocol through pysnmp's
message codecs only: no engine, no MIBs, no event loop.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api

_V2C: Any = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
SYS_NAME = "1.3.6.1.2.1.1.5.0"


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    community: str


def encode_get(community: str, request_id: int, oids: Sequence[str]) -> bytes:
    pdu = _V2C.GetRequestPDU()
    _V2C.apiPDU.set_defaults(pdu)
    _V2C.apiPDU.set_request_id(pdu, request_id)
    _V2C.apiPDU.set_varbinds(pdu, [(oid, _V2C.Null("")) for oid in oids])
    message = _V2C.Message()
    _V2C.apiMessage.set_defaults(message)
    _V2C.apiMessage.set_community(message, community)
    _V2C.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


def decode_response(data: bytes) -> tuple[int, list[tuple[str, Any]]]:
    message, _ = decoder.decode(data, asn1Spec=_V2C.Message())
    pdu = _V2C.apiMessage.get_pdu(message)
    varbinds = [(str(oid), plain(value)) for oid, value in _V2C.apiPDU.get_varbinds(pdu)]
    return int(_V2C.apiPDU.get_request_id(pdu)), varbinds


def plain(value: Any) -> Any:
    """bytes for strings, int for numbers, None for noSuchObject/noSuchInstance/endOfMibView, else str."""
    tag = value.tagSet
    if tag in (_V2C.OctetString.tagSet, _V2C.IpAddress.tagSet):
        return bytes(value.asOctets())
    if value.__class__.__name__ in ("NoSuchObject", "NoSuchInstance", "EndOfMibView"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, PyAsn1Error):
        return str(value)


def snmp_get(target: Target, oids: Sequence[str], timeout: float = 1.0, retries: int = 1) -> dict[str, Any]:
    """{oid: value}; raises TimeoutError when the agent stays silent."""
    answers = sweep([target], oids, timeout=timeout, retries=retries)
    if answers[0] is None:
        raise TimeoutError(f"no SNMP answer from {target.host}:{target.port}")
    return answers[0]


def sweep(targets: Sequence[Target], oids: Sequence[str], timeout: float = 1.0, retries: int = 2,
          window: int = 200) -> list[dict[str, Any] | None]:
    """GET the same OIDs from many agents, `window` requests in flight; None where no answer came."""
    results: list[dict[str, Any] | None] = [None] * len(targets)
    sockets = {family: socket.socket(family, socket.SOCK_DGRAM)
               for family in {socket.AF_INET6 if ":" in t.host else socket.AF_INET for t in targets}}
    try:
        for attempt in range(retries + 1):
            pending = [i for i, r in enumerate(results) if r is None]
            for start in range(0, len(pending), window):
                batch = pending[start:start + window]
                for i in batch:
                    t = targets[i]
                    family = socket.AF_INET6 if ":" in t.host else socket.AF_INET
                    # The request id carries the target's position (and the attempt, so stale answers are ignored).
                    request_id = i * 8 + attempt
                    try:
                        sockets[family].sendto(encode_get(t.community, request_id, oids), (t.host, t.port))
                    except OSError:
                        continue  # e.g. EPERM from a firewall: the same as no answer
                _collect(list(sockets.values()), results, {i * 8 + attempt for i in batch}, timeout)
    finally:
        for sock in sockets.values():
            sock.close()
    return results


def _collect(socks: list[socket.socket], results: list[dict[str, Any] | None], waiting: set[int],
             timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        readable, _, _ = select.select(socks, [], [], left)
        for sock in readable:
            data = sock.recv(65535)
            try:
                request_id, varbinds = decode_response(data)
            except PyAsn1Error:
                continue
            if request_id in waiting:
                waiting.discard(request_id)
                results[request_id // 8] = dict(varbinds)
