"""The BER codec against pyasn1 (both directions), OID arithmetic, and fuzzing for 'only BerError'."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1905
from pysnmp.proto.api import v2c

from collectors.snmp import ber
from collectors.snmp.pysnmp_session import to_value

ALL_TYPES: list[tuple[str, int, ber.Value, Any]] = [  # (oid, tag, python value, pysnmp value)
    ("1.3.6.1.4.1.9.1.1", ber.INTEGER, -(2**31), v2c.Integer(-(2**31))),
    ("1.3.6.1.4.1.9.1.2", ber.INTEGER, -1, v2c.Integer(-1)),
    ("1.3.6.1.4.1.9.1.3", ber.INTEGER, 0, v2c.Integer(0)),
    ("1.3.6.1.4.1.9.1.4", ber.INTEGER, 128, v2c.Integer(128)),
    ("1.3.6.1.4.1.9.1.5", ber.INTEGER, 2**31 - 1, v2c.Integer(2**31 - 1)),
    ("1.3.6.1.4.1.9.1.6", ber.COUNTER32, 0, v2c.Counter32(0)),
    ("1.3.6.1.4.1.9.1.7", ber.COUNTER32, 2**31, v2c.Counter32(2**31)),
    ("1.3.6.1.4.1.9.1.8", ber.COUNTER32, 2**32 - 1, v2c.Counter32(2**32 - 1)),
    ("1.3.6.1.4.1.9.1.9", ber.GAUGE32, 1_000_000_000, v2c.Gauge32(1_000_000_000)),
    ("1.3.6.1.4.1.9.1.10", ber.TIMETICKS, 4_294_967_295, v2c.TimeTicks(4_294_967_295)),
    ("1.3.6.1.4.1.9.1.11", ber.COUNTER64, 0, v2c.Counter64(0)),
    ("1.3.6.1.4.1.9.1.12", ber.COUNTER64, 2**63, v2c.Counter64(2**63)),
    ("1.3.6.1.4.1.9.1.13", ber.COUNTER64, 2**64 - 1, v2c.Counter64(2**64 - 1)),
    ("1.3.6.1.4.1.9.1.14", ber.OCTET_STRING, b"", v2c.OctetString(b"")),
    ("1.3.6.1.4.1.9.1.15", ber.OCTET_STRING, bytes(range(256)) * 3, v2c.OctetString(bytes(range(256)) * 3)),
    ("1.3.6.1.4.1.9.1.16", ber.OCTET_STRING, "网络".encode(), v2c.OctetString("网络".encode())),
    ("1.3.6.1.4.1.9.1.17", ber.OBJECT_IDENTIFIER, "1.3.6.1.4.1.2011.2", v2c.ObjectIdentifier("1.3.6.1.4.1.2011.2")),
    ("1.3.6.1.4.1.9.1.18", ber.OBJECT_IDENTIFIER, "0.0", v2c.ObjectIdentifier("0.0")),
    ("1.3.6.1.4.1.9.1.19", ber.OBJECT_IDENTIFIER, "2.999.16384", v2c.ObjectIdentifier("2.999.16384")),
    ("1.3.6.1.4.1.9.1.20", ber.IP_ADDRESS, "10.0.255.1", v2c.IpAddress("10.0.255.1")),
    ("1.3.6.1.4.1.9.1.21", ber.OPAQUE, 1.0, v2c.Opaque(b"\x9f\x78\x04\x3f\x80\x00\x00")),  # Opaque float
    ("1.3.6.1.4.1.9.1.26", ber.OPAQUE, 0.1, v2c.Opaque(b"\x9f\x79\x08\x3f\xb9\x99\x99\x99\x99\x99\x9a")),  # double
    ("1.3.6.1.4.1.9.1.27", ber.OPAQUE, b"\x01\x02", v2c.Opaque(b"\x01\x02")),
    ("1.3.6.1.4.1.9.1.22", ber.NULL, None, v2c.Null("")),
    ("1.3.6.1.4.1.9.1.23", ber.NO_SUCH_OBJECT, None, rfc1905.noSuchObject),
    ("1.3.6.1.4.1.9.1.24", ber.NO_SUCH_INSTANCE, None, rfc1905.noSuchInstance),
    ("1.3.6.1.4.1.9.1.25", ber.END_OF_MIB_VIEW, None, rfc1905.endOfMibView),
    ("1.3.6.1.2.1.31.1.1.1.6.4294967295", ber.COUNTER64, 7, v2c.Counter64(7)),
    ("1.3.6.1.2.1.2.2.1.2.10101", ber.OCTET_STRING, b"Gi1/0/1", v2c.OctetString(b"Gi1/0/1")),
]


def pyasn1_message(varbinds: list[tuple[str, Any]], request_id: int = 4711, community: bytes = b"c0mm",
                   pdu: Any = None, status: int = 0, index: int = 0) -> bytes:
    pdu = pdu if pdu is not None else v2c.GetResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_error_status(pdu, status)
    v2c.apiPDU.set_error_index(pdu, index)
    v2c.apiPDU.set_varbinds(pdu, varbinds)
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    v2c.apiMessage.set_community(message, community)
    v2c.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


def pyasn1_decode(data: bytes) -> tuple[Any, Any]:
    message, rest = decoder.decode(data, asn1Spec=v2c.Message())
    assert rest == b""
    return message, v2c.apiMessage.get_pdu(message)


def test_pyasn1_encoded_response_decodes_to_the_same_values() -> None:
    data = pyasn1_message([(oid, theirs) for oid, _, _, theirs in ALL_TYPES])
    got = ber.decode_response(data)
    assert (got.version, got.community, got.pdu_type, got.request_id) == (1, b"c0mm", ber.RESPONSE, 4711)
    assert [(ber.oid_to_str(o), t, v) for o, t, v in got.varbinds] == [(o, t, v) for o, t, v, _ in ALL_TYPES]


def test_our_response_decodes_in_pyasn1_to_the_same_values() -> None:
    data = ber.encode_response(b"c0mm", 4711, [(oid, tag, value) for oid, tag, value, _ in ALL_TYPES], 5, 2)
    _, pdu = pyasn1_decode(data)
    assert int(v2c.apiPDU.get_request_id(pdu)) == 4711
    assert (int(v2c.apiPDU.get_error_status(pdu)), int(v2c.apiPDU.get_error_index(pdu))) == (5, 2)
    decoded = [(".".join(map(str, oid)), *to_value(value)) for oid, value in v2c.apiPDU.get_varbinds(pdu)]
    assert decoded == [(oid, tag, value) for oid, tag, value, _ in ALL_TYPES]


@pytest.mark.parametrize("request_id", [1, 127, 128, 2**31 - 1])
def test_our_requests_decode_in_pyasn1(request_id: int) -> None:
    oids = ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.31.1.1.1.6.10101", ".1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5"]
    cases = [
        (ber.encode_get(b"pub", request_id, oids), v2c.GetRequestPDU, None),
        (ber.encode_getnext(b"pub", request_id, oids), v2c.GetNextRequestPDU, None),
        (ber.encode_getbulk(b"pub", request_id, 1, 300, [ber.encode_oid(o) for o in oids]), v2c.GetBulkRequestPDU,
         (1, 300)),
    ]
    for data, pdu_class, bulk in cases:
        message, pdu = pyasn1_decode(data)
        assert int(message["version"]) == 1 and bytes(v2c.apiMessage.get_community(message)) == b"pub"
        assert isinstance(pdu, pdu_class)
        assert int(v2c.apiPDU.get_request_id(pdu)) == request_id
        if bulk:
            assert (int(v2c.apiBulkPDU.get_non_repeaters(pdu)), int(v2c.apiBulkPDU.get_max_repetitions(pdu))) == bulk
        names = [".".join(map(str, oid)) for oid, _ in v2c.apiPDU.get_varbinds(pdu)]
        assert names == [o.lstrip(".") for o in oids]
        assert all(isinstance(value, v2c.Null) for _, value in v2c.apiPDU.get_varbinds(pdu))


def test_decode_request_round_trip() -> None:
    data = ber.encode_getbulk(b"pub", 99, 0, 25, ["1.3.6.1.2.1.2.2.1.2"])
    got = ber.decode_request(data)
    assert (got.pdu_type, got.request_id, got.error_status, got.error_index) == (ber.GET_BULK_REQUEST, 99, 0, 25)
    assert [(ber.oid_to_str(o), t, v) for o, t, v in got.varbinds] == [("1.3.6.1.2.1.2.2.1.2", ber.NULL, None)]


def test_report_pdu_decodes() -> None:
    data = pyasn1_message([("1.3.6.1.6.3.15.1.1.4.0", v2c.Counter32(3))], pdu=v2c.ReportPDU())
    assert ber.decode_response(data).pdu_type == ber.REPORT


@pytest.mark.parametrize(
    "oid, arcs",
    [
        ("0.0", [0, 0]),
        ("1.3", [1, 3]),
        ("1.3.6.1.2.1.1.5.0", [1, 3, 6, 1, 2, 1, 1, 5, 0]),
        ("1.39.127.128.16383.16384.4294967295", [1, 39, 127, 128, 16383, 16384, 4294967295]),
        ("2.39", [2, 39]),
        ("2.40", [2, 40]),
        ("2.999.1", [2, 999, 1]),
    ],
)
def test_oid_round_trip(oid: str, arcs: list[int]) -> None:
    raw = ber.encode_oid(oid)
    assert raw == ber.encode_oid(arcs) == ber.encode_oid("." + oid)
    assert raw == bytes(encoder.encode(v2c.ObjectIdentifier(oid)))[2:]
    assert ber.oid_to_str(raw) == oid


@pytest.mark.parametrize("bad", ["", "1", "3.1", "1.40", "1.3.-1", "1.3.6.x", "1.3.4294967296", "1..3", "1.3.٣",
                                 "1." + ".".join(["1"] * 128), "2.4294967216", "1.3." + "9" * 5000])
def test_encode_oid_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        ber.encode_oid(bad)


def test_head_arc_limit_is_the_encoded_one() -> None:
    assert ber.oid_to_str(ber.encode_oid("2.4294967215")) == "2.4294967215"  # 80 + 4294967215 = 2**32 - 1


LONG_ARC = b"\xff" * 65_000 + b"\x7f"  # one sub-identifier of 65,001 bytes


@pytest.mark.parametrize("raw", [b"\x2b\x90\x80\x80\x80\x00", b"\x2b\x8f\xff\xff\xff\xff\x00", b"\x2b" + LONG_ARC,
                                 LONG_ARC, b"\x90\x80\x80\x80\x00\x01"])
def test_sub_identifiers_above_32_bits_are_ber_errors_on_every_path(raw: bytes) -> None:
    for convert in (ber.decode_arcs, ber.oid_to_str, ber.suffix_to_str):
        with pytest.raises(ber.BerError, match="exceeds 4294967295"):
            convert(raw)
    with pytest.raises(ber.BerError):
        ber.suffix_greater(raw, b"\x01\x80\x01")
    message = ber.encode_message(b"c", ber.RESPONSE, 1, 0, 0, ber.encode_varbind_list([
        ber.encode_tlv(ber.SEQUENCE, ber.encode_tlv(ber.OBJECT_IDENTIFIER, raw) + b"\x05\x00")]))
    with pytest.raises(ber.BerError, match="one above 4294967295"):
        ber.decode_response(message)


def test_largest_sub_identifier_still_decodes() -> None:
    raw = b"\x2b\x8f\xff\xff\xff\x7f"
    assert ber.oid_to_str(raw) == "1.3.4294967295" and ber.suffix_to_str(raw[1:]) == "4294967295"


def test_long_sub_identifiers_cost_linear_time() -> None:
    # The limit is checked per byte: 65 kB of continuation bytes must not build a 455,000-bit integer.
    value = ber.encode_tlv(ber.OBJECT_IDENTIFIER, b"\x2b" + LONG_ARC)
    name = ber.encode_tlv(ber.OBJECT_IDENTIFIER, ber.encode_oid("1.3.6.1.2.1.1.2.0"))
    message = ber.encode_message(b"c", ber.RESPONSE, 1, 0, 0, ber.encode_varbind_list([
        ber.encode_tlv(ber.SEQUENCE, name + value)]))
    started = time.perf_counter()
    for _ in range(20):
        got = ber.decode_response(message)
        for raw in (b"\x2b" + LONG_ARC, LONG_ARC):
            with pytest.raises(ber.BerError):
                ber.oid_to_str(raw)
    assert isinstance(got.varbinds[0][2], ber.BadValue)
    assert time.perf_counter() - started < 0.5  # was 0.33 s per datagram


@pytest.mark.parametrize("content, expected", [
    (b"\x9f\x78\x04\x41\x20\x00\x00", 10.0),
    (b"\x9f\x79\x08\x40\x24\x00\x00\x00\x00\x00\x00", 10.0),
    (b"\x9f\x78\x04\x7f\xc0\x00\x00", math.nan),
    (b"\x41\xf0\x00\x00", b"\x41\xf0\x00\x00"),  # no float tag: an Opaque of raw bytes
    (b"\x9f\x76\x01\x05", b"\x9f\x76\x01\x05"),  # opaque Counter64: left as bytes
    (b"\x9f\x78\x04\x41\x20\x00", ber.BadValue(ber.OPAQUE, "Opaque float with length 4 and 3 octets, expected 4")),
    (b"\x9f\x79\x00", ber.BadValue(ber.OPAQUE, "Opaque double with length 0 and 0 octets, expected 8")),
    (b"\x9f", b"\x9f"),
])
def test_opaque_floats(content: bytes, expected: ber.Value) -> None:
    got = ber.opaque_value(content)
    if isinstance(expected, float) and math.isnan(expected):
        assert isinstance(got, float) and math.isnan(got)
    else:
        assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value", [1.0, 0.1, -2.5e-3, 1e300, math.inf])
def test_opaque_float_round_trip(value: float) -> None:
    tlv = ber.encode_value(ber.OPAQUE, value)
    assert ber.opaque_value(tlv[2:]) == value


def test_subtree_is_a_byte_prefix_and_suffix_order_matches_arc_order() -> None:
    rng = random.Random(7)
    column = "1.3.6.1.2.1.31.1.1.1.6"
    prefix = ber.encode_oid(column)
    arc_pool = [0, 1, 5, 127, 128, 129, 255, 16383, 16384, 2**21 - 1, 2**21, 2**32 - 1]
    suffixes = [[rng.choice(arc_pool) for _ in range(rng.randint(1, 4))] for _ in range(400)]
    for a, b in zip(suffixes, suffixes[1:], strict=False):
        ra = ber.encode_oid(f"{column}." + ".".join(map(str, a)))
        rb = ber.encode_oid(f"{column}." + ".".join(map(str, b)))
        assert ra.startswith(prefix) and rb.startswith(prefix)
        sa, sb = ra[len(prefix):], rb[len(prefix):]
        assert ber.suffix_greater(sa, sb) == (a > b)
        assert ber.suffix_to_str(sa) == ".".join(map(str, a))
    assert ber.suffix_greater(ber.encode_oid("1.3.16384")[1:], ber.encode_oid("1.3.16383")[1:])
    assert not ber.encode_oid("1.3.6.1.2.1.31.1.1.1.60").startswith(prefix + b"\x00")


def test_ber_error_carries_the_parsed_header() -> None:
    good = ber.encode_response(b"pub", 31337, [("1.3.6.1.2.1.1.5.0", ber.OCTET_STRING, b"sw")])
    broken = good[:-4] + b"\x04\x03sw"  # the value's length overruns its varbind
    with pytest.raises(ber.BerError) as caught:
        ber.decode_response(broken)
    assert caught.value.request_id == 31337 and caught.value.community == b"pub"
    assert caught.value.offset is not None and "does not match its varbind" in str(caught.value)
    with pytest.raises(ber.BerError) as caught:
        ber.decode_response(good[:10])
    assert caught.value.request_id is None


def _seeds() -> list[bytes]:
    cases = Path(__file__).parent / "cases"
    seeds = [bytes.fromhex((d / "response.hex").read_text().strip()) for d in sorted(cases.iterdir()) if d.is_dir()]
    seeds.append(ber.encode_response(b"public", 5, [(o, t, v) for o, t, v, _ in ALL_TYPES]))
    return [s for s in seeds if s]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(8)
        pos = rng.randrange(len(buf)) if buf else 0
        if kind == 0 and buf:
            buf[pos] = rng.randrange(256)
        elif kind == 1 and buf:
            buf[pos] ^= 1 << rng.randrange(8)
        elif kind == 2:
            del buf[pos:pos + rng.randint(1, 8)]
        elif kind == 3:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif kind == 4:
            buf = buf[:pos]
        elif kind == 5 and buf:  # a length-like byte: long-form and indefinite lengths
            buf[pos] = rng.choice([0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x85, 0xFF])
        elif kind == 6 and buf:
            buf[pos] = rng.choice([0x02, 0x04, 0x05, 0x06, 0x30, 0x40, 0x41, 0x44, 0x45, 0x46, 0x80, 0x82, 0x9F,
                                   0xA2, 0xA8])
        elif kind == 7:  # a run of continuation bytes: a long or over-32-bit sub-identifier
            buf[pos:pos] = bytes([rng.choice([0x81, 0x90, 0xFF])]) * rng.choice([3, 4, 5, 300])
    return bytes(buf)


def test_fuzz_only_ber_error_escapes() -> None:
    rng = random.Random(20240611)
    seeds = _seeds()
    outcomes = {"ok": 0, "error": 0}
    for i in range(30_000):
        data = _mutate(rng, rng.choice(seeds)) if i % 10 else rng.randbytes(rng.randint(0, 64))
        try:
            got = ber.decode_response(data)
            for oid, _, _ in got.varbinds:  # what the client does with names: text, suffixes, order
                ber.oid_to_str(oid)
                ber.suffix_to_str(oid[1:])
                ber.suffix_greater(oid[1:], oid[:1])
            outcomes["ok"] += 1
        except ber.BerError:
            outcomes["error"] += 1
        # anything else propagates and fails the test, with the seed making it reproducible
    assert outcomes["error"] > 20_000 and outcomes["ok"] > 100
