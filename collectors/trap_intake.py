"""Trap intake, pure: datagram bytes -> a notification (v1, v2c, v3 USM), per-source token buckets, and the
per-source counts a flood leaves behind. The socket loop around it is `collectors.trap_worker`.

Decoding uses the project's codec (`ber`, `v3msg`). ber has no Trap-PDU (v1) reader, so the v1 header is read
here and its varbind list handed to ber's Response decoder inside a synthetic v2c message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from collectors.snmp import ber, usm, v3msg

TRAP_V1 = 0xA4
INFORM = 0xA6
TRAP_V2 = 0xA7
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"  # RFC 3584 3.1 (4)
SNMP_TRAPS = "1.3.6.1.6.3.1.1.5"
MAX_SOURCES = 20_000  # per-source state kept at most; beyond it new sources share one entry ("*")


class Rejected(ber.BerError):
    """A well-formed notification we must not accept: wrong community, unknown v3 user, bad MAC, replay."""


class Notification(NamedTuple):
    version: int  # 0 = v1, 1 = v2c, 3 = v3
    pdu_type: int
    request_id: int
    varbinds: list[tuple[str, ber.Value]]  # dotted OID text, decoded value
    security_name: str  # community is never kept; the v3 user name
    raw_varbinds: list[tuple[bytes, int, ber.Value]]  # for the inform's Response
    community: bytes = b""


@dataclass(frozen=True, slots=True)
class V3Keys:
    """A v3 user's keys localised to the sender's engine (a trap's authoritative engine is its sender)."""

    name: bytes
    keys: usm.UserKeys


@dataclass(slots=True)
class Credentials:
    communities: frozenset[bytes] = frozenset()
    users: tuple[V3Keys, ...] = ()
    clocks: dict[bytes, v3msg.Clock] = field(default_factory=dict)  # per sender engine: replay protection


def parse(data: bytes, creds: Credentials, now: float) -> Notification:
    """One datagram -> a notification, or BerError (malformed) / Rejected (not ours to accept)."""
    if len(data) < 3 or data[0] != ber.SEQUENCE:
        raise ber.BerError("not an SNMP message")
    version = _peek_version(data)
    if version == 3:
        return _parse_v3(data, creds, now)
    if version == ber.VERSION_1:
        return _parse_v1(data, creds)
    if version != ber.VERSION_2C:
        raise ber.BerError(f"unsupported SNMP version {version}")
    msg = ber.decode_message(data, ber.VERSION_2C, (TRAP_V2, INFORM))
    _check_community(msg.community, creds)
    return Notification(1, msg.pdu_type, msg.request_id, _plain(msg.varbinds), "", msg.varbinds, msg.community)


def inform_response(note: Notification) -> bytes:
    """RFC 3416 4.2.7: the Response to an InformRequest echoes its request-id and varbinds."""
    return ber.encode_response(note.community, note.request_id, note.raw_varbinds)


def _peek_version(data: bytes) -> int:
    # SEQUENCE header, then INTEGER version; full validation happens in the decoder that follows.
    pos = 2
    if data[1] & 0x80:
        pos += data[1] & 0x7F
    if pos + 3 > len(data) or data[pos] != ber.INTEGER or data[pos + 1] != 1:
        raise ber.BerError("message version is not a one-octet INTEGER", pos)
    return data[pos + 2]


def _check_community(community: bytes, creds: Credentials) -> None:
    if community not in creds.communities:
        raise Rejected("unknown community")


def _plain(varbinds: list[tuple[bytes, int, ber.Value]]) -> list[tuple[str, ber.Value]]:
    return [(ber.oid_to_str(oid), value) for oid, _tag, value in varbinds]


# ---------------------------------------------------------------- v1


def _tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at pos, within end."""
    if pos + 2 > end:
        raise ber.BerError("truncated TLV", pos)
    tag, n, start = data[pos], data[pos + 1], pos + 2
    if n & 0x80:
        count = n & 0x7F
        if not 0 < count <= 4 or start + count > end:
            raise ber.BerError("bad length", pos)
        n, start = int.from_bytes(data[start:start + count], "big"), start + count
    if start + n > end:
        raise ber.BerError("length runs past its container", pos)
    return tag, start, start + n


def _expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    got, start, stop = _tlv(data, pos, end)
    if got != tag:
        raise ber.BerError(f"expected {what}, got tag 0x{got:02x}", pos)
    return start, stop


def _int(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    start, stop = _expect(data, pos, end, tag, what)
    if not 0 < stop - start <= 5:
        raise ber.BerError(f"{what} of {stop - start} octets", pos)
    return int.from_bytes(data[start:stop], "big", signed=tag == ber.INTEGER), stop


def _parse_v1(data: bytes, creds: Credentials) -> Notification:
    """RFC 1157 Trap-PDU, translated to v2 varbinds as RFC 3584 3.1 says."""
    end = len(data)
    start, msg_end = _expect(data, 0, end, ber.SEQUENCE, "message")
    if msg_end != end:
        raise ber.BerError("trailing bytes after the message", msg_end)
    _, pos = _int(data, start, msg_end, ber.INTEGER, "version")
    c_start, pos = _expect(data, pos, msg_end, ber.OCTET_STRING, "community")
    community = data[c_start:pos]
    p_start, p_end = _expect(data, pos, msg_end, TRAP_V1, "Trap-PDU")
    if p_end != msg_end:
        raise ber.BerError("bytes after the Trap-PDU", p_end)
    e_start, pos = _expect(data, p_start, p_end, ber.OBJECT_IDENTIFIER, "enterprise")
    enterprise = ber.oid_to_str(data[e_start:pos])
    a_start, pos = _expect(data, pos, p_end, ber.IP_ADDRESS, "agent-addr")
    agent = data[a_start:pos]
    generic, pos = _int(data, pos, p_end, ber.INTEGER, "generic-trap")
    specific, pos = _int(data, pos, p_end, ber.INTEGER, "specific-trap")
    uptime, pos = _int(data, pos, p_end, ber.TIMETICKS, "time-stamp")
    v_start, v_end = _expect(data, pos, p_end, ber.SEQUENCE, "varbind list")
    if v_end != p_end or len(agent) != 4 or not 0 <= generic <= 6:
        raise ber.BerError("malformed Trap-PDU fields", pos)
    _check_community(community, creds)
    # The varbind list through ber's own reader: a Response message around it, decoded as any poll reply.
    shell = ber.encode_message(b"", ber.RESPONSE, 0, 0, 0, data[pos:v_end])
    raw = ber.decode_response(shell).varbinds
    trap_oid = f"{SNMP_TRAPS}.{generic + 1}" if generic < 6 else f"{enterprise}.0.{specific}"
    varbinds: list[tuple[str, ber.Value]] = [(SYS_UPTIME, uptime), (SNMP_TRAP_OID, trap_oid), *_plain(raw),
                                             (SNMP_TRAP_ADDRESS, ".".join(map(str, agent)))]
    return Notification(0, TRAP_V1, 0, varbinds, "", raw, community)


# ---------------------------------------------------------------- v3


def _parse_v3(data: bytes, creds: Credentials, now: float) -> Notification:
    """A v3 trap under one of the configured users; informs (where we are the authoritative engine) are not
    accepted over v3 yet."""
    last: ber.BerError | None = None
    for user in creds.users:
        try:
            msg = v3msg.decode_message(data, user.keys, (TRAP_V2,))
        except v3msg.Unauthenticated as exc:
            last = exc
            continue
        if msg.user != user.name or not msg.authenticated:
            last = Rejected("v3 trap from another user or without authentication")
            continue
        in_window, clock = v3msg.check_clock(creds.clocks.get(msg.engine.engine_id), msg.engine, now)
        if clock is not None:
            creds.clocks[msg.engine.engine_id] = clock
        if not in_window:
            raise Rejected("v3 trap outside the time window (replayed?)")
        pdu = msg.pdu
        return Notification(3, pdu.pdu_type, pdu.request_id, _plain(pdu.varbinds), user.name.decode("utf-8", "replace"),
                            pdu.varbinds)
    if last is None:
        raise Rejected("v3 trap but no v3 user configured")
    raise Rejected(f"v3 trap not authenticated by any configured user ({last.args[0]})")


# ---------------------------------------------------------------- rate limits and counts


class Buckets:
    """A token bucket per source address: `rate` notifications a second sustained, `burst` at once."""

    def __init__(self, rate: float, burst: float, max_sources: int = MAX_SOURCES) -> None:
        self.rate = rate
        self.burst = burst
        self.max_sources = max_sources
        self._state: dict[str, list[float]] = {}  # source -> [tokens, last refill]

    def allow(self, source: str, now: float) -> bool:
        state = self._state.get(source)
        if state is None:
            if len(self._state) >= self.max_sources:
                self._forget_full(now)
                if len(self._state) >= self.max_sources:
                    source = "*"
            state = self._state.setdefault(source, [self.burst, now])
        tokens = min(self.burst, state[0] + (now - state[1]) * self.rate)
        state[1] = now
        if tokens >= 1.0:
            state[0] = tokens - 1.0
            return True
        state[0] = tokens
        return False

    def _forget_full(self, now: float) -> None:
        # A bucket idle long enough to be full again is the same as no bucket.
        idle = self.burst / self.rate if self.rate > 0 else float("inf")
        for source in [s for s, (_, last) in self._state.items() if now - last >= idle]:
            del self._state[source]

    def __len__(self) -> int:
        return len(self._state)


@dataclass(slots=True)
class SourceCounts:
    received: int = 0  # datagrams from the source
    dropped: int = 0  # throttled by its bucket or lost to a full queue
    malformed: int = 0
    rejected: int = 0  # wrong community, unknown user, bad MAC, replay
    throttled_at: float | None = None  # when the current flood window began

    def noteworthy(self) -> bool:
        return bool(self.dropped or self.malformed or self.rejected)


class Counts:
    """Per-source counts; `throttled` says when a source first loses traps in a window (one event per window)."""

    def __init__(self, window_s: float, max_sources: int = MAX_SOURCES) -> None:
        self.window_s = window_s
        self.max_sources = max_sources
        self.sources: dict[str, SourceCounts] = {}
        self.changed: set[str] = set()

    def key(self, source: str) -> str:
        return source if source in self.sources or len(self.sources) < self.max_sources else "*"

    def of(self, source: str) -> SourceCounts:
        return self.sources.setdefault(self.key(source), SourceCounts())

    def count(self, source: str, what: str) -> None:
        """One more `malformed` or `rejected` (or `dropped`, without the flood window) datagram."""
        key = self.key(source)
        counts = self.sources.setdefault(key, SourceCounts())
        setattr(counts, what, getattr(counts, what) + 1)
        self.changed.add(key)

    def throttled(self, source: str, now: float) -> bool:
        """Count one dropped notification; True when this starts a new flood window for the source."""
        key = self.key(source)
        counts = self.sources.setdefault(key, SourceCounts())
        counts.dropped += 1
        self.changed.add(key)
        if counts.throttled_at is None or now - counts.throttled_at >= self.window_s:
            counts.throttled_at = now
            return True
        return False

    def take_changed(self) -> dict[str, SourceCounts]:
        """The sources with drops, malformed or rejected datagrams whose counts changed since the last call."""
        out = {s: self.sources[s] for s in self.changed if s in self.sources and self.sources[s].noteworthy()}
        self.changed = set()
        return out
