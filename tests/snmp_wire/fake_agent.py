"""Scripted UDP agents on loopback for fault tests: each answers a datagram with whatever ``reply`` returns."""

from __future__ import annotations

import asyncio
import bisect
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from collectors.snmp import ber

Reply = Callable[[bytes], Iterable[bytes]]


class RawValue(bytes):
    """A value TLV sent as given (a malformed or unknown value); in ``table_reply`` its tag is ignored."""


def _varbind(oid: str | bytes, tag: int, value: ber.Value) -> bytes:
    if isinstance(value, RawValue):
        raw = oid if isinstance(oid, bytes) else ber.encode_oid(oid)
        return ber.encode_tlv(ber.SEQUENCE, ber.encode_tlv(ber.OBJECT_IDENTIFIER, raw) + value)
    return ber.encode_varbind(oid, tag, value)


def _response(community: bytes, request_id: int, varbinds: Iterable[tuple[str | bytes, int, ber.Value]]) -> bytes:
    parts = [_varbind(oid, tag, value) for oid, tag, value in varbinds]
    return ber.encode_message(community, ber.RESPONSE, request_id, 0, 0, ber.encode_varbind_list(parts))


class FakeAgent(asyncio.DatagramProtocol):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.received: list[bytes] = []
        self.arrived = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        # Bursts of hundreds of requests overflow the default ~200 KiB buffer and would look like client bugs.
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.received.append(data)
        self.arrived.set()
        assert self.transport is not None
        for out in self.reply(data):
            self.transport.sendto(out, addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])


@asynccontextmanager
async def fake_agent(reply: Reply, host: str = "127.0.0.1") -> AsyncIterator[FakeAgent]:
    loop = asyncio.get_running_loop()
    transport, agent = await loop.create_datagram_endpoint(lambda: FakeAgent(reply), local_addr=(host, 0))
    try:
        yield agent
    finally:
        transport.close()


def table_reply(objects: Mapping[str, tuple[int, ber.Value]], community: bytes,
                max_repetitions_limit: int | None = None) -> Reply:
    """A tiny v2c agent over a fixed set of objects: GET and GETBULK, tooBig above a repetition limit."""
    ordered = sorted((ber.decode_arcs(ber.encode_oid(o)), ber.encode_oid(o), t, v) for o, (t, v) in objects.items())
    keys = [arcs for arcs, _, _, _ in ordered]

    def reply(data: bytes) -> list[bytes]:
        request = ber.decode_request(data)
        if request.pdu_type == ber.GET_REQUEST:
            found = {raw: (t, v) for _, raw, t, v in ordered}
            out = [(oid, *found.get(oid, (ber.NO_SUCH_OBJECT, None))) for oid, _, _ in request.varbinds]
            return [_response(community, request.request_id, out)]
        repetitions = request.error_index
        if max_repetitions_limit is not None and repetitions > max_repetitions_limit:
            return [ber.encode_response(community, request.request_id, [], error_status=1)]
        # decode_arcs keeps the first two arcs combined, which sorts the same way as the real arcs
        cursors = [(ber.decode_arcs(oid), oid) for oid, _, _ in request.varbinds]
        out: list[tuple[str | bytes, int, ber.Value]] = []
        for _ in range(repetitions):
            for i, (arcs, raw) in enumerate(cursors):
                at = bisect.bisect_right(keys, arcs)
                if at == len(ordered):
                    out.append((raw, ber.END_OF_MIB_VIEW, None))
                    continue
                next_arcs, next_raw, tag, value = ordered[at]
                out.append((next_raw, tag, value))
                cursors[i] = (next_arcs, next_raw)
        return [_response(community, request.request_id, out)]

    return reply
