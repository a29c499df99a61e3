"""SNMPv2c and SNMPv3 (USM) over one shared UDP socket per address family, on the hand-written BER codec.

Thousands of concurrent sessions share an engine: requests are matched by (peer, request-id) — for v3 by
(peer, msgID), which is the request-id — each with its own retransmit timer, so no per-request task or socket is
created. CPU per varbind is what limits how many devices one process polls, hence the codec and the absence of
per-request tasks. The v3 session itself (discovery, time window, report handling) is in ``fast_v3``; the
engine keeps what outlives a session: each agent's engine clock, the localized keys and the privacy salt.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from collectors.snmp import ber, usm, v3msg
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
    V3Credentials,
    Value,
)

if TYPE_CHECKING:
    from collectors.snmp.fast_v3 import FastV3Session

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
    unauthenticated: int = 0  # v3 replies whose MAC does not verify (forged, altered, other engine): dropped
    decryption_failed: int = 0  # v3 replies authenticated but not decryptable: our privacy key is wrong
    outside_window: int = 0  # authenticated v3 replies outside the time window (replays): dropped
    discoveries: int = 0  # v3 engine discoveries sent (once per agent, again after unknownEngineIDs)


@dataclass(slots=True, eq=False)
class _Pending:
    peer: Peer
    sockaddr: tuple[Any, ...]
    community: bytes
    packet: bytes
    target: Target
    future: asyncio.Future[Any]  # ber.Response for v1/v2c, v3msg.V3Message for v3
    tries_left: int
    timer: asyncio.TimerHandle | None = None
    sent: int = 0
    v3: bool = False
    keys: usm.UserKeys | None = None  # v3: what verifies and decrypts the reply (None: discovery)
    dropped: int = 0  # v3 replies to this request dropped as unauthenticated, undecodable or replayed


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
        # v3 state that outlives sessions (the collector makes one session per poll)
        self.keys = usm.LocalizedKeys()
        self.clocks: dict[Peer, v3msg.Clock] = {}
        self.discovering: dict[Peer, asyncio.Future[v3msg.Clock]] = {}
        self.v3_confirmed: set[tuple[Peer, V3Credentials]] = set()  # got an authenticated reply at least once
        self._salt = random.getrandbits(64)

    async def __aenter__(self) -> FastV2cEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def rcvbuf_granted(self) -> dict[str, int]:
        """SO_RCVBUF as the kernel reports it per family; Linux doubles what was granted (bookkeeping share)."""
        return {_family_name(f): ep.rcvbuf for f, ep in self._endpoints.items()}

    def session(self, target: Target, creds: V2cCredentials | V3Credentials) -> FastV2cSession | FastV3Session:
        if isinstance(creds, V2cCredentials):
            return FastV2cSession(self, target, creds)
        if isinstance(creds, V3Credentials):
            from collectors.snmp.fast_v3 import FastV3Session

            return FastV3Session(self, target, creds)
        raise TypeError(f"FastV2cEngine speaks SNMPv2c and v3, got {type(creds).__name__}")

    def next_salt(self) -> int:
        """RFC 3826 3.1.2.1: a 64-bit counter from a random start, one value per encrypted message."""
        self._salt = (self._salt + 1) & 0xFFFF_FFFF_FFFF_FFFF
        return self._salt

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
        response: ber.Response = await self._exchange(target, address, community, None, build)
        return response

    async def exchange_v3(
        self,
        target: Target,
        address: tuple[int, tuple[Any, ...]],
        keys: usm.UserKeys | None,
        build: Callable[[int], bytes],
    ) -> v3msg.V3Message:
        """Send ``build(msg_id)`` (msgID = request-id) and wait for the reply that ``keys`` authenticate.

        Replies that fail authentication, do not decode or replay an old time are dropped and counted; the
        request keeps waiting, so a forger cannot end it early. Reports come back to the caller to act on."""
        message: v3msg.V3Message = await self._exchange(target, address, b"", keys, build, v3=True)
        return message

    async def _exchange(
        self,
        target: Target,
        address: tuple[int, tuple[Any, ...]],
        community: bytes,
        keys: usm.UserKeys | None,
        build: Callable[[int], bytes],
        v3: bool = False,
    ) -> Any:
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
        pending = _Pending(peer, sockaddr, community, packet, target, loop.create_future(), max(target.retries, 0),
                           v3=v3, keys=keys)
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
        why = "(agent down or ACL)" if pending.v3 else "(agent down, ACL, or wrong community)"
        if pending.dropped:
            why += f"; {pending.dropped} reply(s) dropped as unauthenticated, undecodable or outside the time window"
        self._fail(pending, SnmpTimeout(
            str(target), f"no response after {pending.sent} attempt(s) of {target.timeout:g}s {why}"))

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
        if _is_v3(data) and any(p.v3 for p in by_id.values()):
            self._received_v3(by_id, data)
            return
        # Only v2c requests wait on this peer: a datagram claiming v3 is as undecodable as any other garbage.
        try:
            response = ber.decode_response(data)
        except ber.BerError as exc:
            self.stats.malformed += 1
            self._malformed(by_id, exc)
            return
        pending = by_id.get(response.request_id)
        if pending is None or pending.future.done() or pending.v3:
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

    def _received_v3(self, by_id: dict[int, _Pending], data: bytes) -> None:
        try:
            msg_id = _v3_msg_id(data)
        except ber.BerError:
            self.stats.malformed += 1  # nothing in it can be trusted or attributed
            return
        pending = by_id.get(msg_id)
        if pending is None or pending.future.done() or not pending.v3:
            self.stats.unmatched += 1
            return
        try:
            message = v3msg.decode_message(data, pending.keys)
        except v3msg.Unauthenticated:
            self.stats.unauthenticated += 1
            pending.dropped += 1
            return
        except v3msg.DecryptionFailed as exc:
            # Only the holder of our authentication key could send this: it is the agent, and our privacy key
            # (or protocol) differs from its own.
            self.stats.decryption_failed += 1
            self._fail(pending, SnmpFailure(
                str(pending.target), f"SNMPv3 reply does not decrypt: wrong privacy key or protocol ({exc})",
                reason="auth"))
            return
        except ber.BerError:
            self.stats.malformed += 1  # unauthenticated garbage must not end the request either
            pending.dropped += 1
            return
        if message.authenticated:
            now = asyncio.get_running_loop().time()
            in_window, clock = v3msg.check_clock(self.clocks.get(pending.peer), message.engine, now)
            if clock is not None:
                self.clocks[pending.peer] = clock
            if not in_window:
                self.stats.outside_window += 1
                pending.dropped += 1
                return
            if message.report is None and message.pdu.request_id != msg_id:
                self.stats.unmatched += 1
                pending.dropped += 1
                return
        self.stats.responses += 1
        pending.future.set_result(message)

    def _malformed(self, by_id: dict[int, _Pending], exc: ber.BerError) -> None:
        # Without a parsed request-id the datagram could answer any outstanding request to this peer; failing
        # them all now beats letting each wait out its timeout against an agent that speaks garbage.
        victims = [p for p in by_id.values() if not p.v3]  # v3 requests are only ever failed by what verifies
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


def _is_v3(data: bytes) -> bool:
    """A glance at msgVersion (SEQUENCE header, then INTEGER 3) without parsing: the v2c path stays as it was."""
    if len(data) < 5:
        return False
    first = data[1]
    at = 2 if first < 0x80 else 2 + (first & 0x7F)
    return data[at : at + 3] == b"\x02\x01\x03"


def _v3_msg_id(data: bytes) -> int:
    end = len(data)
    start, stop = ber._header(data, 0, end, ber.SEQUENCE, "message SEQUENCE")
    _, pos = ber._integer(data, start, stop, "msgVersion")
    g_start, g_end = ber._header(data, pos, stop, ber.SEQUENCE, "msgGlobalData")
    msg_id, _ = ber._integer(data, g_start, g_end, "msgID")
    return msg_id


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
            response = await self._get_pdu(raws)
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
        while oids := walk.pending():
            response = await self._bulk_pdu(repetitions, oids)
            if response.error_status == TOO_BIG and repetitions > 1:
                repetitions //= 2
                continue
            self._check_status(response, [ber.oid_to_str(o) for o in oids])
            walk.feed(response.varbinds)
        return walk.result()

    async def close(self) -> None:
        pass  # sockets belong to the engine

    async def _get_pdu(self, raws: list[bytes]) -> ber.Response:
        return await self._request(_get_builder(self._community, raws))

    async def _bulk_pdu(self, repetitions: int, oids: list[bytes]) -> ber.Response:
        return await self._request(_bulk_builder(self._community, repetitions, oids))

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
