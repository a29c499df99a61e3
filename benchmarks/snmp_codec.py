"""CPU cost per varbind of SNMPv2c decoding: the hand-written codec against pyasn1 on identical bytes.

    .venv/bin/python benchmarks/snmp_codec.py            # codec only, a few seconds
    .venv/bin/python benchmarks/snmp_codec.py --snmpd    # plus end-to-end walks against a local snmpd

The message is a realistic GETBULK answer: 10 ifTable/ifXTable columns x 25 repetitions. Two index flavours,
since ifIndex values above 127 (Cisco 10101, Juniper 5xx) take the codec's multi-byte-arc path.
The last line is machine-readable: ber_decode_us_per_varbind=... pyasn1_decode_us_per_varbind=...
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import timeit
from collections.abc import Callable

from pyasn1.codec.ber import decoder as pyasn1_decoder
from pysnmp.proto.api import v2c

from collectors.snmp import ber
from collectors.snmp.session import ColumnWalk

COLUMNS = [  # (column oid, tag, value maker)
    ("1.3.6.1.2.1.2.2.1.2", ber.OCTET_STRING, lambda i: f"GigabitEthernet1/0/{i}".encode()),
    ("1.3.6.1.2.1.2.2.1.3", ber.INTEGER, lambda i: 6),
    ("1.3.6.1.2.1.2.2.1.4", ber.INTEGER, lambda i: 1500),
    ("1.3.6.1.2.1.2.2.1.5", ber.GAUGE32, lambda i: 1_000_000_000),
    ("1.3.6.1.2.1.2.2.1.7", ber.INTEGER, lambda i: 1),
    ("1.3.6.1.2.1.2.2.1.8", ber.INTEGER, lambda i: 1 + i % 2),
    ("1.3.6.1.2.1.2.2.1.9", ber.TIMETICKS, lambda i: 123_456_789 + i),
    ("1.3.6.1.2.1.2.2.1.14", ber.COUNTER32, lambda i: 17 * i),
    ("1.3.6.1.2.1.31.1.1.1.6", ber.COUNTER64, lambda i: 98_765_432_109_876 * i),
    ("1.3.6.1.2.1.31.1.1.1.10", ber.COUNTER64, lambda i: 12_345_678_901_234 * i),
]
REPETITIONS = 25
VARBINDS = REPETITIONS * len(COLUMNS)


def response_bytes(indexes: list[int]) -> bytes:
    varbinds: list[tuple[str | bytes, int, ber.Value]] = [
        (f"{oid}.{index}", tag, make(index)) for index in indexes for oid, tag, make in COLUMNS
    ]
    return ber.encode_response(b"public", 1234567, varbinds)


def per_varbind_us(fn: Callable[[], object], varbinds: int, budget_s: float = 1.0) -> float:
    number = max(1, int(budget_s / max(timeit.timeit(fn, number=1), 1e-6) / 5))
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number / varbinds * 1e6


def pyasn1_decode(data: bytes) -> object:
    message, _ = pyasn1_decoder.decode(data, asn1Spec=v2c.Message())
    return message


def pyasn1_decode_values(data: bytes) -> list[tuple[tuple[int, ...], object]]:
    message, _ = pyasn1_decoder.decode(data, asn1Spec=v2c.Message())
    pdu = v2c.apiMessage.get_pdu(message)
    return [(tuple(oid), value) for oid, value in v2c.apiPDU.get_varbinds(pdu)]


def walk_feed(data: bytes) -> object:
    walk = ColumnWalk([c for c, _, _ in COLUMNS], "bench")
    walk.feed(ber.decode_response(data).varbinds)
    return walk.result()


def check_same(data: bytes) -> None:
    ours = [(ber.oid_to_str(o), v) for o, _, v in ber.decode_response(data).varbinds]
    theirs = pyasn1_decode_values(data)
    assert len(ours) == len(theirs) == VARBINDS
    for (oid, value), (their_oid, their_value) in zip(ours, theirs, strict=True):
        assert oid == ".".join(map(str, their_oid)), (oid, their_oid)
        assert value == (bytes(their_value) if isinstance(value, bytes) else int(their_value))  # type: ignore[call-overload]


async def live(port: int, rounds: int) -> dict[str, float]:
    from collectors.snmp.fast_v2c import FastV2cEngine
    from collectors.snmp.pysnmp_session import PysnmpEngine
    from collectors.snmp.session import Target, V2cCredentials
    from lab.snmpd import COMMUNITY, SYNTH_TABLE

    columns = [f"{SYNTH_TABLE}.1", f"{SYNTH_TABLE}.2", f"{SYNTH_TABLE}.3"]
    target = Target("127.0.0.1", port, timeout=5, retries=2)
    creds = V2cCredentials(COMMUNITY)
    out = {}
    reference = PysnmpEngine()
    async with FastV2cEngine() as engine:
        sessions = {"fast_v2c": engine.session(target, creds), "pysnmp": reference.session(target, creds)}
        for name, session in sessions.items():
            await session.walk_columns(columns)  # warm up: sockets, engine discovery
            cpu, count = time.process_time(), 0
            for _ in range(rounds):
                walked = await session.walk_columns(columns)
                count += sum(len(rows) for rows in walked.values())
            out[name] = (time.process_time() - cpu) / count * 1e6
    await reference.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--snmpd", action="store_true", help="also walk a local snmpd end to end")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    flavours = {"small ifIndex 1..25": list(range(1, 26)), "large ifIndex 10101..": list(range(10101, 10126))}
    headline = {}
    for label, indexes in flavours.items():
        data = response_bytes(indexes)
        check_same(data)
        ours = per_varbind_us(lambda data=data: ber.decode_response(data), VARBINDS)
        feed = per_varbind_us(lambda data=data: walk_feed(data), VARBINDS)
        theirs = per_varbind_us(lambda data=data: pyasn1_decode(data), VARBINDS, budget_s=2.0)
        theirs_values = per_varbind_us(lambda data=data: pyasn1_decode_values(data), VARBINDS, budget_s=2.0)
        print(f"[{label}] {len(data)} bytes, {VARBINDS} varbinds")
        print(f"  ber.decode_response                 {ours:8.2f} us/varbind")
        print(f"  decode + ColumnWalk.feed + result   {feed:8.2f} us/varbind")
        print(f"  pyasn1 decode (v2c.Message spec)    {theirs:8.2f} us/varbind  ({theirs / ours:.0f}x)")
        print(f"  pyasn1 decode + varbind extraction  {theirs_values:8.2f} us/varbind")
        headline.setdefault("ours", ours)
        headline.setdefault("theirs", theirs)

    oids = [ber.encode_oid(f"{c}.10101") for c, _, _ in COLUMNS]
    encode = per_varbind_us(lambda: ber.encode_getbulk(b"public", 1234567, 0, 25, oids), len(oids))
    print(f"[encode] GETBULK request, {len(oids)} columns: {encode:.2f} us per requested OID")

    if args.snmpd:
        from lab.snmpd import start_snmpd, stop_snmpd

        with tempfile.TemporaryDirectory(prefix="yiwang-bench-") as tmp:
            proc, port = start_snmpd(tmp)
            try:
                results = asyncio.run(live(port, args.rounds))
            finally:
                stop_snmpd(proc)
        for name, us in results.items():
            print(f"[snmpd end-to-end] {name:9s} {us:8.2f} us CPU/varbind in this process (3-column walk)")

    print(f"ber_decode_us_per_varbind={headline['ours']:.2f} pyasn1_decode_us_per_varbind={headline['theirs']:.2f}")


if __name__ == "__main__":
    main()
