"""SNMPv2c over one shared UDP socket per address family, on the hand-written BER codec.

Thousands of concurrent sessions share an engine: requests are matched by (peer, request-id), each with its
own retransmit timer, so no per-request task or socket is created. CPU per varbind is what limits how many
devices one process polls, hence the codec and the absence of per-request tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectors.snmp import ber
from collectors.snmp.session import (
    MAX_OIDS_PER_GET,
    TOO_BIG,
    ColumnWalk,
    MalformedResponse,
    SnmpErrorStatus,
    SnmpFailure,
    SnmpTimeout,
    Target,
    V2cCredentials,
    Value,
)

_RCVBUF_WANTED = 8 << 20

Peer = tuple[str, int]


@dataclass(slots=True)
class EngineStats:
    """Counters for poller-health samples."""

    requests: int = 0
    retransmits: int = 0
    timeouts: int = 0
    responses: int = 0
    malformed: int = 0
    bad_community: int = 0
    unmatched: int = 0  # late, duplicate or unsolicited datagrams
    send_errors: int = 0


@dataclass(slots=True, eq=False)
class _Pending:
    peer: Peer
    sockaddr: tuple[Any, ...]
    community: bytes
    packet: bytes
    target: Target
    future: asyncio.Future[ber.Response]
    tries_left: int
    timer: asyncio.TimerHandle | None = None
    sent: int = 0


@dataclass(slots=True, eq=False)
class _Endpoint:
    sock: socket.socket
    transport: asyncio.DatagramTransport
    rcvbuf: int
    pending: dict[Peer, dict[int, _Pending]] = field(default_factory=dict)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, engine: FastV2cEngine, family: int) -> None:
        self._engine = engine
        self._family = family

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self._engine._received(self._family, data, addr)

    def error_received(self, exc: Exception) -> None:
        # Unconnected UDP sockets get no per-peer ICMP errors on Linux; nothing to attribute, the timer decides.
        pass


class FastV2cEngine:
    """Owns the sockets; ``session(target, creds)`` is cheap and may be called per poll."""

    def __init__(self, rcvbuf: int = _RCVBUF_WANTED, max_oids_per_get: int = MAX_OIDS_PER_GET) -> None:
        self.stats = EngineStats()
        self.max_oids_per_get = max_oids_per_get
        self._rcvbuf_wanted = rcvbuf
        self._endpoints: dict[int, _Endpoint] = {}
        self._opening: dict[int, asyncio.Future[_Endpoint]] = {}
        self._ids: set[int] = set()
        self._resolved: dict[Peer, tuple[int, tuple[Any, ...]]] = {}
        self._closed = False

    async def __aenter__(self) -> FastV2cEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def rcvbuf_granted(self) -> dict[str, int]:
        """SO_RCVBUF as the kernel reports it per family; Linux doubles what was granted (bookkeeping share)."""
        return {_family_name(f): ep.rcvbuf for f, ep in self._endpoints.items()}

    def session(self, target: Target, creds: V2cCredentials) -> FastV2cSession:
        if not isinstance(creds, V2cCredentials):
            raise TypeError(f"FastV2cEngine speaks SNMPv2c only, got {type(creds).__name__}")
        return FastV2cSession(self, target, creds)

    async def close(self) -> None:
        self._closed = True
        for endpoint in self._endpoints.values():
            for by_id in list(endpoint.pending.values()):
                for pending in list(by_id.values()):
                    self._fail(pending, SnmpFailure(str(pending.target), "engine closed", reason="closed"))
            endpoint.transport.close()
        self._endpoints.clear()

    async def resolve(self, target: Target) -> tuple[int, tuple[Any, ...]]:
        """(address family, sockaddr); sessions resolve once and pass the result to ``exchange``."""
        return await _resolve(target, self._resolved)

    async def exchange(
        self,
        target: Target,
        address: tuple[int, tuple[Any, ...]],
        community: bytes,
        build: Callable[[int], bytes],
    ) -> ber.Response:
        """Send ``build(request_id)`` and wait for the matching response, retransmitting on timeout."""
        if self._closed:
            raise SnmpFailure(str(target), "engine closed", reason="closed")
        family, sockaddr = address
        endpoint = self._endpoints.get(family)
        if endpoint is None:
            try:
                endpoint = await self._endpoint(family)
            except OSError as exc:
                raise SnmpFailure(
                    str(target), f"cannot open {_family_name(family)} socket: {exc}", reason="unreachable"
                ) from None
        request_id = self._new_id()
        try:
            packet = build(request_id)
        except BaseException:
            self._ids.discard(request_id)
            raise
        peer: Peer = sockaddr[:2]
        by_id = endpoint.pending.setdefault(peer, {})
        loop = asyncio.get_running_loop()
        pending = _Pending(peer, sockaddr, community, packet, target, loop.create_future(), max(target.retries, 0))
        by_id[request_id] = pending
        self.stats.requests += 1
        try:
            self._send(endpoint, pending)
            return await pending.future
        finally:
            if pending.timer is not None:
                pending.timer.cancel()
            self._ids.discard(request_id)
            del by_id[request_id]
            if not by_id and endpoint.pending.get(peer) is by_id:
                del endpoint.pending[peer]

    def _new_id(self) -> int:
        ids = self._ids
        while True:
            request_id = random.getrandbits(31)
            if request_id and request_id not in ids:
                ids.add(request_id)
                return request_id

    def _send(self, endpoint: _Endpoint, pending: _Pending) -> None:
        pending.sent += 1
        try:
            # Writing to the socket directly surfaces per-destination errors (ENETUNREACH, EACCES) right here,
            # where asyncio's transport would swallow them into error_received() without an address.
            endpoint.sock.sendto(pending.packet, pending.sockaddr)
        except (BlockingIOError, InterruptedError):
            endpoint.transport.sendto(pending.packet, pending.sockaddr)
        except OSError as exc:
            self.stats.send_errors += 1
            self._fail(pending, SnmpFailure(str(pending.target), f"send failed: {exc}", reason="unreachable"))
            return
        pending.timer = asyncio.get_running_loop().call_later(
            pending.target.timeout, self._expired, endpoint, pending
        )

    def _expired(self, endpoint: _Endpoint, pending: _Pending) -> None:
        pending.timer = None
        if pending.future.done():
            return
        if pending.tries_left > 0:
            pending.tries_left -= 1
            self.stats.retransmits += 1
            self._send(endpoint, pending)
            return
        self.stats.timeouts += 1
        target = pending.target
        self._fail(pending, SnmpTimeout(
            str(target),
            f"no response after {pending.sent} attempt(s) of {target.timeout:g}s "
            "(agent down, ACL, or wrong community)",
        ))

    @staticmethod
    def _fail(pending: _Pending, exc: SnmpFailure) -> None:
        if not pending.future.done():
            pending.future.set_exception(exc)

    def _received(self, family: int, data: bytes, addr: tuple[Any, ...]) -> None:
        endpoint = self._endpoints.get(family)
        by_id = endpoint.pending.get(addr[:2]) if endpoint else None
        if not by_id:
            self.stats.unmatched += 1  # decoding datagrams nobody waits for would only burn CPU
            return
        try:
            response = ber.decode_response(data)
        except ber.BerError as exc:
            self.stats.malformed += 1
            self._malformed(by_id, exc)
            return
        pending = by_id.get(response.request_id)
        if pending is None or pending.future.done():
            self.stats.unmatched += 1
            return
        if response.community != pending.community:
            self.stats.bad_community += 1
            return
        self.stats.responses += 1
        if response.pdu_type == ber.REPORT:
            oids = ", ".join(ber.oid_to_str(oid) for oid, _, _ in response.varbinds)
            self._fail(pending, SnmpFailure(str(pending.target), f"agent sent a Report-PDU ({oids})", "report"))
            return
        pending.future.set_result(response)

    def _malformed(self, by_id: dict[int, _Pending], exc: ber.BerError) -> None:
        # Without a parsed request-id the datagram could answer any outstanding request to this peer; failing
        # them all now beats letting each wait out its timeout against an agent that speaks garbage.
        victims = list(by_id.values())
        if exc.community is not None:
            victims = [p for p in victims if p.community == exc.community]
            if not victims:
                self.stats.bad_community += 1
                return
        if exc.request_id is not None:
            victims = [p for p in victims if by_id.get(exc.request_id) is p]
            if not victims:
                self.stats.unmatched += 1
                return
        for pending in victims:
            self._fail(pending, MalformedResponse(str(pending.target), f"undecodable response: {exc}"))

    async def _endpoint(self, family: int) -> _Endpoint:
        opening = self._opening.get(family)
        if opening is None:
            opening = asyncio.ensure_future(self._open(family))
            self._opening[family] = opening
        try:
            return await asyncio.shield(opening)
        finally:
            if opening.done():
                self._opening.pop(family, None)

    async def _open(self, family: int) -> _Endpoint:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            rcvbuf = _grow_rcvbuf(sock, self._rcvbuf_wanted)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # IPv4 has its own socket
            sock.bind(("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self, family), sock=sock)
        except BaseException:
            sock.close()
            raise
        endpoint = _Endpoint(sock, transport, rcvbuf)
        self._endpoints[family] = endpoint
        return endpoint


def _grow_rcvbuf(sock: socket.socket, wanted: int) -> int:
    # Bursts of answers from hundreds of agents arrive faster than one loop iteration drains them; the default
    # ~200 KiB buffer drops datagrams, which then look like timeouts. SO_RCVBUFFORCE passes rmem_max as root.
    force = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform == "linux" else None)  # Python 3.11 lacks the name
    if force is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, force, wanted)
            return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


def _family_name(family: int) -> str:
    return "ipv6" if family == socket.AF_INET6 else "ipv4"


async def _resolve(target: Target, cache: dict[Peer, tuple[int, tuple[Any, ...]]]) -> tuple[int, tuple[Any, ...]]:
    """Peer key formatting must match what recvfrom() reports, so numeric hosts go through getaddrinfo too."""
    key = (target.host, target.port)
    hit = cache.get(key)
    if hit is not None:
        return hit
    try:
        infos = socket.getaddrinfo(
            target.host, target.port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
        )
        numeric = True
    except socket.gaierror:
        numeric = False
        try:
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise SnmpFailure(str(target), f"cannot resolve host: {exc}", reason="unreachable") from None
    family, _, _, _, sockaddr = infos[0]
    result = (int(family), tuple(sockaddr))
    if numeric:
        cache[key] = result  # names may move; only literals are cached for good
    return result


class FastV2cSession:
    def __init__(self, engine: FastV2cEngine, target: Target, creds: V2cCredentials) -> None:
        self._engine = engine
        self._target = target
        self._community = creds.community.encode()
        self._address: tuple[int, tuple[Any, ...]] | None = None

    def __repr__(self) -> str:
        return f"FastV2cSession({self._target})"

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        out: dict[str, Value] = {}
        step = self._engine.max_oids_per_get
        names = list(dict.fromkeys(oids))
        for start in range(0, len(names), step):
            chunk = names[start : start + step]
            raws = [ber.encode_oid(o) for o in chunk]
            response = await self._request(_get_builder(self._community, raws))
            self._check_status(response, chunk)
            if len(response.varbinds) != len(raws):
                raise MalformedResponse(
                    str(self._target), f"GET of {len(raws)} OIDs answered with {len(response.varbinds)} varbinds"
                )
            for name, raw, (oid, _, value) in zip(chunk, raws, response.varbinds, strict=True):
                if oid != raw:
                    raise MalformedResponse(
                        str(self._target), f"GET of {name} answered with {ber.oid_to_str(oid)}"
                    )
                out[name] = value
        return out

    async def walk_columns(
        self, columns: Sequence[str], max_repetitions: int = 25
    ) -> dict[str, list[tuple[str, Value]]]:
        walk = ColumnWalk(columns, str(self._target))
        repetitions = max(1, max_repetitions)
        community = self._community
        while oids := walk.pending():
            response = await self._request(_bulk_builder(community, repetitions, oids))
            if response.error_status == TOO_BIG and repetitions > 1:
                repetitions //= 2
                continue
            self._check_status(response, [ber.oid_to_str(o) for o in oids])
            walk.feed(response.varbinds)
        return walk.result()

    async def close(self) -> None:
        pass  # sockets belong to the engine

    async def _request(self, build: Callable[[int], bytes]) -> ber.Response:
        if self._address is None:
            self._address = await self._engine.resolve(self._target)
        return await self._engine.exchange(self._target, self._address, self._community, build)

    def _check_status(self, response: ber.Response, names: Sequence[str]) -> None:
        status = response.error_status
        if status:
            index = response.error_index
            oid = names[index - 1] if 0 < index <= len(names) else None
            raise SnmpErrorStatus(str(self._target), status, index, oid)


def _get_builder(community: bytes, oids: list[bytes]) -> Callable[[int], bytes]:
    def build(request_id: int) -> bytes:
        return ber.encode_get(community, request_id, oids)

    return build


def _bulk_builder(community: bytes, repetitions: int, oids: list[bytes]) -> Callable[[int], bytes]:
    def build(request_id: int) -> bytes:
        return ber.encode_getbulk(community, request_id, 0, repetitions, oids)

    return build
