"""Hand-written BER codec for SNMPv2c messages (RFC 3416 / RFC 1905 subset).

pyasn1 spends ~60 µs per varbind building typed objects; polling ~4,400 devices a minute needs a few µs.
OIDs stay as their encoded content bytes (``raw``) while packets move through the poller: for OIDs of two or
more arcs, a subtree's encoding is a byte prefix of every descendant's, so walks compare bytes and only the
final index suffixes are turned into dotted strings.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable, Sequence
from typing import NamedTuple


class BadValue(NamedTuple):
    """A varbind value the decoder could not read (unknown type, wrong length, out of range).

    It takes the value's place in that one varbind, so the rest of the response is kept; readers of values
    treat it as missing and count it. ``reason`` is ours, never device text."""

    tag: int
    reason: str


Value = int | float | bytes | str | BadValue | None

INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42
TIMETICKS = 0x43
OPAQUE = 0x44
COUNTER64 = 0x46
UINTEGER32 = 0x47  # obsolete RFC 1442 type some old agents still send; same range as Gauge32
NO_SUCH_OBJECT = 0x80
NO_SUCH_INSTANCE = 0x81
END_OF_MIB_VIEW = 0x82

GET_REQUEST = 0xA0
GET_NEXT_REQUEST = 0xA1
RESPONSE = 0xA2
SET_REQUEST = 0xA3
GET_BULK_REQUEST = 0xA5
REPORT = 0xA8

VERSION_1 = 0
VERSION_2C = 1

TAG_NAMES = {
    INTEGER: "INTEGER",
    OCTET_STRING: "OCTET STRING",
    NULL: "NULL",
    OBJECT_IDENTIFIER: "OBJECT IDENTIFIER",
    SEQUENCE: "SEQUENCE",
    IP_ADDRESS: "IpAddress",
    COUNTER32: "Counter32",
    GAUGE32: "Gauge32",
    TIMETICKS: "TimeTicks",
    OPAQUE: "Opaque",
    COUNTER64: "Counter64",
    UINTEGER32: "UInteger32",
    NO_SUCH_OBJECT: "noSuchObject",
    NO_SUCH_INSTANCE: "noSuchInstance",
    END_OF_MIB_VIEW: "endOfMibView",
    GET_REQUEST: "GetRequest-PDU",
    GET_NEXT_REQUEST: "GetNextRequest-PDU",
    RESPONSE: "Response-PDU",
    SET_REQUEST: "SetRequest-PDU",
    0xA4: "Trap-PDU (v1)",
    GET_BULK_REQUEST: "GetBulkRequest-PDU",
    0xA6: "InformRequest-PDU",
    0xA7: "SNMPv2-Trap-PDU",
    REPORT: "Report-PDU",
}

_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1
_UINT32_MAX = (1 << 32) - 1
_UINT64_MAX = (1 << 64) - 1
_MAX_SUBID = _UINT32_MAX  # every encoded sub-identifier, the combined first one included (as net-snmp)
_MAX_ARCS = 128  # RFC 2578 section 3.5
_MAX_ARC_DIGITS = 10

# Faults in a non-ASCII OID, each at the start of a sub-identifier (offset 0 or after a byte < 0x80): a leading
# 0x80 (non-minimal), or more than 32 bits (5 bytes whose first carries more than 4 payload bits, or 6+ bytes).
_BAD_ARC = re.compile(rb"(?:^|[\x00-\x7f])(?:\x80|[\x90-\xff][\x80-\xff]{3}|[\x80-\xff]{5})").search
# Two suffixes with the same continuation-bit pattern have arcs of equal widths, so byte order is OID order.
_CONTINUATION_BITS = bytes(b >> 7 for b in range(256))

# str.translate maps each single-byte arc straight to ".<decimal>" in C, avoiding a Python loop per arc.
_DOT_ARC = {i: f".{i}" for i in range(128)}


class BerError(ValueError):
    """Malformed or unsupported bytes. ``request_id``/``community`` are set when the header parsed before the
    fault, so a client can fail exactly the request the broken datagram answered."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message if offset is None else f"{message} at offset {offset}")
        self.offset = offset
        self.request_id: int | None = None
        self.community: bytes | None = None


class Response(NamedTuple):
    version: int
    community: bytes
    pdu_type: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[tuple[bytes, int, Value]]  # (raw oid, value tag, value)


# ---------------------------------------------------------------- OIDs


def encode_oid(oid: str | Sequence[int]) -> bytes:
    """Dotted text (a leading dot is allowed) or arcs -> BER content bytes (no tag/length)."""
    arcs = _parse_arcs(oid) if isinstance(oid, str) else list(oid)
    if len(arcs) < 2:
        raise ValueError(f"OID {oid!r} needs at least two arcs")
    if len(arcs) > _MAX_ARCS:
        raise ValueError(f"OID {oid!r} has {len(arcs)} arcs, SNMP allows {_MAX_ARCS}")
    first, second = arcs[0], arcs[1]
    if first not in (0, 1, 2) or (first < 2 and not 0 <= second < 40):
        raise ValueError(f"OID {oid!r} has invalid leading arcs {first}.{second}")
    for arc in arcs:
        if not 0 <= arc <= _MAX_SUBID:
            raise ValueError(f"OID {oid!r} has arc {arc} outside 0..{_MAX_SUBID}")
    head = first * 40 + second
    if head > _MAX_SUBID:
        raise ValueError(f"OID {oid!r}: leading arcs {first}.{second} encode above {_MAX_SUBID}")
    rest = arcs[2:]
    if head < 0x80 and all(a < 0x80 for a in rest):
        return bytes([head, *rest])
    return b"".join(_encode_arc(a) for a in [head, *rest])


def _parse_arcs(oid: str) -> list[int]:
    text = oid[1:] if oid.startswith(".") else oid
    parts = text.split(".")
    if not all(p.isascii() and p.isdigit() and len(p) <= _MAX_ARC_DIGITS for p in parts):
        raise ValueError(f"OID {oid[:80]!r} is not dotted decimal of arcs up to {_MAX_SUBID}")
    return [int(p) for p in parts]


def _encode_arc(arc: int) -> bytes:
    if arc < 0x80:
        return bytes((arc,))
    out = [arc & 0x7F]
    arc >>= 7
    while arc:
        out.append(0x80 | (arc & 0x7F))
        arc >>= 7
    return bytes(reversed(out))


def decode_arcs(raw: bytes) -> list[int]:
    """Sub-identifiers as encoded, i.e. without splitting the combined first two arcs."""
    if raw.isascii():
        return list(raw)
    arcs = []
    value = 0
    start = True
    for i, byte in enumerate(raw):
        if start and byte == 0x80:
            raise BerError("OID sub-identifier has a non-minimal leading 0x80 byte", i)
        value = (value << 7) | (byte & 0x7F)
        if value > _MAX_SUBID:  # checked per byte, so a long sub-identifier never grows a big integer
            raise BerError(f"OID sub-identifier exceeds {_MAX_SUBID}", i)
        start = not byte & 0x80
        if start:
            arcs.append(value)
            value = 0
    if not start:
        raise BerError("OID ends inside a sub-identifier", len(raw) - 1)
    return arcs


def oid_to_str(raw: bytes) -> str:
    """Encoded OID content -> dotted text without a leading dot."""
    if not raw:
        raise BerError("empty OID")
    if raw.isascii():
        head = raw[0]
        rest = raw[1:].decode("latin-1").translate(_DOT_ARC)
    else:
        arcs = decode_arcs(raw)
        head = arcs[0]
        rest = "".join(f".{a}" for a in arcs[1:])
    if head < 40:
        return f"0.{head}{rest}"
    if head < 80:
        return f"1.{head - 40}{rest}"
    return f"2.{head - 80}{rest}"


def suffix_to_str(raw: bytes) -> str:
    """Encoded arcs that follow a known prefix (e.g. a table index) -> dotted text."""
    if raw.isascii():
        return raw.decode("latin-1").translate(_DOT_ARC)[1:]
    return ".".join(map(str, decode_arcs(raw)))


def suffix_greater(a: bytes, b: bytes) -> bool:
    """OID order for two suffixes of one prefix. Byte order equals arc order only while every arc is a
    single byte; a 2-byte arc 0xFF 0x7F (16383) would otherwise sort above 0x81 0x80 0x00 (16384)."""
    if (a.isascii() and b.isascii()) or a.translate(_CONTINUATION_BITS) == b.translate(_CONTINUATION_BITS):
        return a > b
    return decode_arcs(a) > decode_arcs(b)


# ---------------------------------------------------------------- encoding


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    return bytes((tag,)) + _length(n) + content


def _signed(value: int) -> bytes:
    return value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)


def _unsigned(value: int) -> bytes:
    # The leading zero keeps values with the top bit set positive, as BER requires.
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def encode_value(tag: int, value: Value) -> bytes:
    """One typed value as TLV; used for responses in tests and by fake agents."""
    if tag == INTEGER and isinstance(value, int):
        if not _INT32_MIN <= value <= _INT32_MAX:
            raise ValueError(f"INTEGER {value} outside Integer32")
        return _tlv(tag, _signed(value))
    if tag in (COUNTER32, GAUGE32, TIMETICKS, UINTEGER32) and isinstance(value, int):
        if not 0 <= value <= _UINT32_MAX:
            raise ValueError(f"{TAG_NAMES[tag]} {value} outside 0..2**32-1")
        return _tlv(tag, _unsigned(value))
    if tag == COUNTER64 and isinstance(value, int):
        if not 0 <= value <= _UINT64_MAX:
            raise ValueError(f"Counter64 {value} outside 0..2**64-1")
        return _tlv(tag, _unsigned(value))
    if tag in (OCTET_STRING, OPAQUE) and isinstance(value, bytes):
        return _tlv(tag, value)
    if tag == OPAQUE and isinstance(value, float):  # the narrowest of float/double that holds it exactly
        single = struct.pack(">f", value) if abs(value) <= 3.4e38 or not math.isfinite(value) else b""
        if single and struct.unpack(">f", single)[0] == value:
            return _tlv(tag, b"\x9f\x78\x04" + single)
        return _tlv(tag, b"\x9f\x79\x08" + struct.pack(">d", value))
    if tag == OBJECT_IDENTIFIER and isinstance(value, str):
        return _tlv(tag, encode_oid(value))
    if tag == IP_ADDRESS and isinstance(value, str):
        parts = value.split(".")
        if len(parts) != 4 or not all(p.isascii() and p.isdigit() and int(p) < 256 for p in parts):
            raise ValueError(f"IpAddress {value!r} is not a dotted quad")
        return _tlv(tag, bytes(int(p) for p in parts))
    if tag in (NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW) and value is None:
        return bytes((tag, 0))
    raise ValueError(f"cannot encode {value!r} as tag 0x{tag:02x}")


_NULL_VALUE = b"\x05\x00"


def _request_varbinds(oids: Iterable[str | bytes]) -> bytes:
    parts = []
    for oid in oids:
        raw = oid if isinstance(oid, bytes) else encode_oid(oid)
        parts.append(_tlv(SEQUENCE, _tlv(OBJECT_IDENTIFIER, raw) + _NULL_VALUE))
    return _tlv(SEQUENCE, b"".join(parts))


def encode_message(
    community: bytes,
    pdu_type: int,
    request_id: int,
    field2: int,
    field3: int,
    varbind_list: bytes,
    version: int = VERSION_2C,
) -> bytes:
    """field2/field3 are error-status/error-index, or non-repeaters/max-repetitions for GetBulk."""
    pdu = _tlv(
        pdu_type,
        _tlv(INTEGER, _signed(request_id)) + _tlv(INTEGER, _signed(field2)) + _tlv(INTEGER, _signed(field3))
        + varbind_list,
    )
    return _tlv(SEQUENCE, _tlv(INTEGER, _signed(version)) + _tlv(OCTET_STRING, community) + pdu)


def encode_get(community: bytes, request_id: int, oids: Iterable[str | bytes]) -> bytes:
    """``oids`` items are dotted text or raw encoded OIDs (bytes), as returned by the decoder."""
    return encode_message(community, GET_REQUEST, request_id, 0, 0, _request_varbinds(oids))


def encode_getnext(community: bytes, request_id: int, oids: Iterable[str | bytes]) -> bytes:
    return encode_message(community, GET_NEXT_REQUEST, request_id, 0, 0, _request_varbinds(oids))


def encode_getbulk(
    community: bytes,
    request_id: int,
    non_repeaters: int,
    max_repetitions: int,
    oids: Iterable[str | bytes],
) -> bytes:
    return encode_message(
        community, GET_BULK_REQUEST, request_id, non_repeaters, max_repetitions, _request_varbinds(oids)
    )


def encode_response(
    community: bytes,
    request_id: int,
    varbinds: Iterable[tuple[str | bytes, int, Value]],
    error_status: int = 0,
    error_index: int = 0,
    pdu_type: int = RESPONSE,
    version: int = VERSION_2C,
) -> bytes:
    """The agent side, for fake agents, benchmarks and cross-checks against pyasn1."""
    parts = [encode_varbind(oid, tag, value) for oid, tag, value in varbinds]
    return encode_message(
        community, pdu_type, request_id, error_status, error_index, encode_varbind_list(parts), version
    )


def encode_varbind(oid: str | bytes, tag: int, value: Value) -> bytes:
    """One VarBind SEQUENCE; ``oid`` is dotted text or raw encoded content bytes."""
    raw = oid if isinstance(oid, bytes) else encode_oid(oid)
    return _tlv(SEQUENCE, _tlv(OBJECT_IDENTIFIER, raw) + encode_value(tag, value))


def encode_varbind_list(varbinds: Sequence[bytes]) -> bytes:
    """The VarBindList SEQUENCE around already encoded varbinds (see ``encode_varbind``)."""
    return _tlv(SEQUENCE, b"".join(varbinds))


def encode_tlv(tag: int, content: bytes) -> bytes:
    """Tag, definite length and content: for agents that pre-encode parts of their answers."""
    return _tlv(tag, content)


# ---------------------------------------------------------------- decoding


def _tag_name(tag: int) -> str:
    return f"0x{tag:02x} ({TAG_NAMES[tag]})" if tag in TAG_NAMES else f"0x{tag:02x}"


def _long_length(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """Long-form length whose first octet ``first`` sits at ``pos``; returns (length, content start)."""
    count = first & 0x7F
    if count == 0:
        raise BerError("indefinite length is not allowed in SNMP", pos)
    if count > 4:
        raise BerError(f"length field of {count} octets is too large", pos)
    end = pos + 1 + count
    if end > len(data):
        raise BerError(f"truncated length: {count} length octets announced, {len(data) - pos - 1} present", pos)
    return int.from_bytes(data[pos + 1 : end], "big"), end


def _header(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """Expect ``tag`` at ``pos``; returns (content start, content end), checked against ``end``."""
    if pos + 2 > end:
        raise BerError(f"truncated: expected {what} tag {_tag_name(tag)} and length", pos)
    got = data[pos]
    if got != tag:
        raise BerError(f"expected {what} tag {_tag_name(tag)}, got {_tag_name(got)}", pos)
    n = data[pos + 1]
    start = pos + 2
    if n & 0x80:
        n, start = _long_length(data, pos + 1, n)
    if start + n > end:
        within = "the datagram" if end == len(data) else "its container"
        raise BerError(f"{what} length {n} runs {start + n - end} bytes past {within}", pos)
    return start, start + n


def _integer(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    start, stop = _header(data, pos, end, INTEGER, what)
    n = stop - start
    if n == 0:
        raise BerError(f"{what} INTEGER has no content octets", pos)
    if n > 4 and not (n == 5 and data[start] in (0, 0xFF)):
        raise BerError(f"{what} INTEGER of {n} octets overflows Integer32", pos)
    value = int.from_bytes(data[start:stop], "big", signed=True)
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise BerError(f"{what} INTEGER {value} overflows Integer32", pos)
    return value, stop


def decode_response(data: bytes, version: int = VERSION_2C) -> Response:
    """Parse a Response (or Report) message; any fault raises BerError and nothing else."""
    return decode_message(data, version, (RESPONSE, REPORT))


def decode_request(data: bytes, version: int = VERSION_2C,
                   pdu_types: tuple[int, ...] = (GET_REQUEST, GET_NEXT_REQUEST, GET_BULK_REQUEST)) -> Response:
    """The agent side. For GetBulk, error_status/error_index hold non-repeaters/max-repetitions, as on the
    wire. Values are decoded too (a request carries NULLs, a SetRequest real values)."""
    return decode_message(data, version, pdu_types)


def decode_message(data: bytes, version: int, pdu_types: tuple[int, ...]) -> Response:
    community: bytes | None = None
    request_id: int | None = None
    try:
        end = len(data)
        start, msg_end = _header(data, 0, end, SEQUENCE, "message SEQUENCE")
        if msg_end != end:
            raise BerError(f"{end - msg_end} trailing bytes after the message", msg_end)
        got_version, pos = _integer(data, start, msg_end, "version")
        if got_version != version:
            raise BerError(f"message version {got_version}, expected {version}", start)
        start, pos = _header(data, pos, msg_end, OCTET_STRING, "community")
        community = got_community = data[start:pos]
        if pos + 2 > msg_end:
            raise BerError("truncated: expected PDU", pos)
        pdu_type = data[pos]
        if pdu_type not in pdu_types:
            wanted = " or ".join(TAG_NAMES[t] for t in pdu_types)
            raise BerError(f"expected {wanted}, got {_tag_name(pdu_type)}", pos)
        start, pdu_end = _header(data, pos, msg_end, pdu_type, "PDU")
        if pdu_end != msg_end:
            raise BerError(f"{msg_end - pdu_end} bytes after the PDU inside the message", pdu_end)
        got_request_id, pos = _integer(data, start, pdu_end, "request-id")
        request_id = got_request_id
        error_status, pos = _integer(data, pos, pdu_end, "error-status")
        error_index, pos = _integer(data, pos, pdu_end, "error-index")
        start, vbl_end = _header(data, pos, pdu_end, SEQUENCE, "varbind list SEQUENCE")
        if vbl_end != pdu_end:
            raise BerError(f"{pdu_end - vbl_end} bytes after the varbind list inside the PDU", vbl_end)
        varbinds = _varbinds(data, start, vbl_end)
    except BerError as exc:
        exc.community = community
        exc.request_id = request_id
        raise
    return Response(version, got_community, pdu_type, got_request_id, error_status, error_index, varbinds)


def _varbinds(data: bytes, pos: int, end: int) -> list[tuple[bytes, int, Value]]:
    # Hot loop: one pass, inline length handling; the checks against vb_end keep every read inside the varbind.
    out: list[tuple[bytes, int, Value]] = []
    append = out.append
    from_bytes = int.from_bytes
    while pos < end:
        if data[pos] != SEQUENCE:
            raise BerError(f"expected varbind SEQUENCE tag 0x30, got {_tag_name(data[pos])}", pos)
        if pos + 2 > end:
            raise BerError("truncated varbind header", pos)
        n = data[pos + 1]
        p = pos + 2
        if n & 0x80:
            n, p = _long_length(data, pos + 1, n)
        vb_end = p + n
        if vb_end > end:
            raise BerError(f"varbind length {n} runs {vb_end - end} bytes past the varbind list", pos)
        if p + 2 > vb_end or data[p] != OBJECT_IDENTIFIER:
            got = _tag_name(data[p]) if p < vb_end else "end of varbind"
            raise BerError(f"expected varbind name OBJECT IDENTIFIER tag 0x06, got {got}", p)
        n = data[p + 1]
        q = p + 2
        if n & 0x80:
            n, q = _long_length(data, p + 1, n)
        oid_end = q + n
        if n == 0 or oid_end + 2 > vb_end:
            raise BerError(f"varbind name OID length {n} does not fit its varbind", p)
        oid = data[q:oid_end]
        if not oid.isascii() and (oid[-1] & 0x80 or _BAD_ARC(oid)):
            raise BerError(
                f"varbind name OID ends inside a sub-identifier, has a non-minimal one or one above {_MAX_SUBID}", q)
        tag = data[oid_end]
        n = data[oid_end + 1]
        q = oid_end + 2
        if tag & 0x1F == 0x1F:  # a multi-byte tag: the varbind's own length still bounds it
            append((oid, tag, BadValue(tag, f"unsupported varbind value type {_tag_name(tag)} (multi-byte tag)")))
            pos = vb_end
            continue
        if n & 0x80:
            n, q = _long_length(data, oid_end + 1, n)
        if q + n != vb_end:
            raise BerError(f"{_tag_name(tag)} value length {n} does not match its varbind", oid_end)
        # The common well-formed values inline; everything else, faults included, in _value.
        if tag == OCTET_STRING:
            value: Value = data[q:vb_end]
        elif tag == INTEGER and 0 < n < 5:
            value = from_bytes(data[q:vb_end], "big", signed=True)
        elif tag == COUNTER64 and 0 < n < 9:
            # Unsigned read on purpose: agents commonly drop the leading zero BER needs for the top bit.
            value = from_bytes(data[q:vb_end], "big")
        elif (COUNTER32 <= tag <= TIMETICKS or tag == UINTEGER32) and 0 < n < 5:
            value = from_bytes(data[q:vb_end], "big")
        else:
            value = _value(tag, data[q:vb_end])
        append((oid, tag, value))
        pos = vb_end
    return out


def _value(tag: int, content: bytes) -> Value:
    """One value outside the fast path; a fault becomes a BadValue for this varbind only."""
    n = len(content)
    if tag == INTEGER:
        if n == 0 or n > 5:
            return BadValue(tag, f"INTEGER value of {n} octets")
        value = int.from_bytes(content, "big", signed=True)
        if not _INT32_MIN <= value <= _INT32_MAX:
            return BadValue(tag, f"INTEGER value {value} overflows Integer32")
        return value
    if tag == COUNTER64:
        if n == 0 or n > 9:
            return BadValue(tag, f"Counter64 value of {n} octets")
        value = int.from_bytes(content, "big")
        return value if value <= _UINT64_MAX else BadValue(tag, f"Counter64 value {value} overflows 64 bits")
    if COUNTER32 <= tag <= TIMETICKS or tag == UINTEGER32:
        if n == 0 or n > 5:
            return BadValue(tag, f"{TAG_NAMES[tag]} value of {n} octets")
        value = int.from_bytes(content, "big")
        return value if value <= _UINT32_MAX else BadValue(tag, f"{TAG_NAMES[tag]} value {value} overflows 32 bits")
    if tag == NULL or tag == NO_SUCH_OBJECT or tag == NO_SUCH_INSTANCE or tag == END_OF_MIB_VIEW:
        return BadValue(tag, f"{TAG_NAMES[tag]} with {n} content octets") if n else None
    if tag == OBJECT_IDENTIFIER:
        try:
            return oid_to_str(content)
        except BerError as exc:
            return BadValue(tag, f"bad OBJECT IDENTIFIER value ({exc.args[0]})")
    if tag == IP_ADDRESS:
        if n != 4:
            return BadValue(tag, f"IpAddress of {n} octets, expected 4")
        return "%d.%d.%d.%d" % tuple(content)  # noqa: UP031 - fastest for four small ints
    if tag == OPAQUE:
        return opaque_value(content)
    return BadValue(tag, f"unsupported varbind value type {_tag_name(tag)}")


# draft-perkins-opaque-01: an Opaque holding a BER value with an extension tag, 0x9f 0x78 (float) or 0x79 (double).
_OPAQUE_FLOATS = {0x78: ("float", 4, struct.Struct(">f")), 0x79: ("double", 8, struct.Struct(">d"))}


def opaque_value(content: bytes) -> Value:
    """Opaque floats and doubles (net-snmp's laLoadFloat) as float; any other Opaque stays bytes."""
    kind = _OPAQUE_FLOATS.get(content[1]) if len(content) >= 2 and content[0] == 0x9F else None
    if kind is None:
        return content
    name, size, unpack = kind
    if len(content) != 3 + size or content[2] != size:
        got = f"length {content[2]} and {len(content) - 3} octets"
        return BadValue(OPAQUE, f"Opaque {name} with {got}, expected {size}")
    value: float = unpack.unpack_from(content, 3)[0]
    return value
