"""The v3 message codec without a network: round trips, authentication rules, and fuzzing (only BerError)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from collectors.snmp import ber, usm, v3msg

ENGINE = v3msg.Engine(bytes.fromhex("80001f8880e9b104617361000000"), 7, 123456)
CACHE = usm.LocalizedKeys()
VARBINDS: list[tuple[str | bytes, int, ber.Value]] = [
    ("1.3.6.1.2.1.1.1.0", ber.OCTET_STRING, b"Linux router 5.10"),
    ("1.3.6.1.2.1.1.3.0", ber.TIMETICKS, 4242),
    ("1.3.6.1.2.1.31.1.1.1.6.3", ber.COUNTER64, 2**63 + 5),
    ("1.3.6.1.2.1.4.20.1.1.10.0.0.1", ber.IP_ADDRESS, "10.0.0.1"),
    ("1.3.6.1.2.1.2.2.1.99.1", ber.NO_SUCH_OBJECT, None),
]
LEVELS = [("NONE", "NONE"), ("SHA", "NONE"), ("SHA", "AES"), ("MD5", "DES"), ("SHA256", "AES256"),
          ("SHA512", "AES256C"), ("SHA", "AES192")]


def keys(auth: str, priv: str, engine: bytes = ENGINE.engine_id) -> usm.UserKeys | None:
    if auth == "NONE":
        return None
    return CACHE.get(engine, auth, b"authpass-x", priv, b"privpass-y")


@pytest.mark.parametrize(("auth", "priv"), LEVELS)
def test_response_round_trip(auth: str, priv: str) -> None:
    k = keys(auth, priv)
    data = v3msg.encode_response(99, VARBINDS, 5, b"alice", k, ENGINE, salt=77, context_name=b"vrf-a")
    got = v3msg.decode_message(data, k)
    assert got.authenticated == (auth != "NONE") and got.engine == ENGINE and got.user == b"alice"
    assert got.context_name == b"vrf-a" and got.msg_id == 5 and got.report is None
    assert got.pdu.request_id == 99
    assert [(ber.oid_to_str(o), t, v) for o, t, v in got.pdu.varbinds] == VARBINDS


@pytest.mark.parametrize(("auth", "priv"), LEVELS)
def test_requests_decode_as_sent(auth: str, priv: str) -> None:
    sec = v3msg.Security(b"bob", keys(auth, priv), ENGINE, context_name=b"ctx")
    bulk = v3msg.encode_getbulk(sec, 321, 1, 25, ["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.2.2.1.2"], salt=9)
    got = v3msg.decode_message(bulk, sec.keys, pdu_types=(ber.GET_BULK_REQUEST,))
    assert got.pdu.pdu_type == ber.GET_BULK_REQUEST and (got.pdu.error_status, got.pdu.error_index) == (1, 25)
    assert got.flags & v3msg.FLAG_REPORTABLE and got.context_engine_id == ENGINE.engine_id
    assert got.context_name == b"ctx" and got.msg_id == 321


def test_two_salts_two_ciphertexts() -> None:
    sec = v3msg.Security(b"bob", keys("SHA", "AES"), ENGINE)
    assert v3msg.encode_get(sec, 1, ["1.3.6.1.2.1.1.1.0"], salt=1) != v3msg.encode_get(
        sec, 1, ["1.3.6.1.2.1.1.1.0"], salt=2)


def test_authentication_rules() -> None:
    k = keys("SHA", "AES")
    signed = v3msg.encode_response(1, VARBINDS, 1, b"alice", k, ENGINE, salt=3)
    with pytest.raises(v3msg.Unauthenticated):  # keys for another engine
        v3msg.decode_message(signed, keys("SHA", "AES", b"\x80\x00\x00\x09other"))
    with pytest.raises(v3msg.Unauthenticated):  # nothing to verify with
        v3msg.decode_message(signed, None)
    with pytest.raises(v3msg.Unauthenticated):  # a Response without a MAC when we expect one
        v3msg.decode_message(v3msg.encode_response(1, VARBINDS, 1, b"alice", None, ENGINE), k)
    report = v3msg.encode_response(1, [("1.3.6.1.6.3.15.1.1.3.0", ber.COUNTER32, 4)], 1, b"alice", None, ENGINE,
                                   pdu_type=ber.REPORT)
    got = v3msg.decode_message(report, k)  # an unauthenticated Report is returned, marked as such
    assert got.report == v3msg.Report("unknownUserNames", "1.3.6.1.6.3.15.1.1.3.0", 4) and not got.authenticated


def test_discovery_request_shape() -> None:
    got = v3msg.decode_message(v3msg.encode_discovery(3, 4), None, pdu_types=(ber.GET_REQUEST,))
    assert got.flags == v3msg.FLAG_REPORTABLE and got.engine == v3msg.Engine(b"", 0, 0) and got.user == b""
    assert got.pdu.varbinds == [] and got.pdu.request_id == 4


def _seeds() -> list[tuple[bytes, usm.UserKeys | None]]:
    seeds = []
    for i, (auth, priv) in enumerate(LEVELS):
        k = keys(auth, priv)
        seeds.append((v3msg.encode_response(i, VARBINDS, i, b"alice", k, ENGINE, salt=i), k))
    for case in sorted((Path(__file__).parent / "v3cases").iterdir()):
        if case.is_dir():
            meta = json.loads((case / "case.json").read_text())
            lines = (case / "datagrams.txt").read_text().splitlines()
            replies = [bytes.fromhex(line[2:]) for line in lines if line[0] == "<"]
            engine_id = v3msg.decode_message(replies[0], None).engine.engine_id
            k = usm.user_keys(engine_id, meta["auth"], meta["auth_pass"].encode(), meta["priv"],
                              meta["priv_pass"].encode())
            seeds += [(replies[0], None), (replies[1], k)]
    return seeds


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3))):
        kind = rng.randrange(6)
        pos = rng.randrange(len(buf)) if buf else 0
        if kind == 0 and buf:
            buf[pos] ^= 1 << rng.randrange(8)
        elif kind == 1 and buf:
            buf[pos] = rng.choice((0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF, rng.randrange(256)))
        elif kind == 2:
            del buf[pos:]
        elif kind == 3:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
        elif kind == 4 and buf:
            del buf[pos:pos + rng.randrange(1, 5)]
        else:
            buf[pos:pos] = buf[rng.randrange(len(buf)):][:rng.randrange(1, 20)] if buf else b""
    return bytes(buf)


def test_fuzz_only_ber_errors() -> None:
    rng = random.Random(20261130)
    seeds = _seeds()
    plaintext_pdu = v3msg.encode_pdu(ber.RESPONSE, 1, 0, 0, ber.encode_varbind_list(
        [ber.encode_varbind(o, t, v) for o, t, v in VARBINDS]))
    counts = {"ok": 0, "rejected": 0, "unauthenticated": 0}
    for n in range(40_000):
        if n % 4 == 3:
            # Mutate the PDU inside a correctly signed and encrypted envelope, so the fuzz reaches the parser
            # behind the MAC and the cipher.
            k = keys(*LEVELS[n % len(LEVELS)])
            data = seed = v3msg.encode_message(_mutate(rng, plaintext_pdu), n, b"alice", k, ENGINE, salt=n)
        else:
            seed, k = seeds[n % len(seeds)]
            data = _mutate(rng, seed)
        try:
            got = v3msg.decode_message(data, k)
            counts["ok"] += 1
            # Whatever authenticates is byte for byte what the signer sent.
            assert not got.authenticated or n % 4 == 3 or data == seed
        except v3msg.Unauthenticated:
            counts["unauthenticated"] += 1
        except ber.BerError:
            counts["rejected"] += 1
    assert sum(counts.values()) == 40_000
    assert counts["rejected"] > 10_000 and counts["unauthenticated"] > 2_000 and counts["ok"] > 1_000, counts


def test_clock_adopts_newer_and_rejects_replays() -> None:
    ok, clock = v3msg.check_clock(None, ENGINE, now=1000.0)
    assert ok and clock == v3msg.Clock(ENGINE.engine_id, 7, 123456, 1000.0)
    assert clock.engine(now=1010.5) == ENGINE._replace(time=123466)
    ok, newer = v3msg.check_clock(clock, ENGINE._replace(time=123500), now=1044.0)
    assert ok and newer is not None and newer.latest_time == 123500
    assert v3msg.check_clock(newer, ENGINE._replace(time=123500 - 150), now=1050.0) == (True, newer)
    assert v3msg.check_clock(newer, ENGINE._replace(time=123500 - 151), now=1050.0) == (False, newer)  # replay
    assert v3msg.check_clock(newer, ENGINE._replace(boots=6, time=999_999), now=1050.0) == (False, newer)
    ok, rebooted = v3msg.check_clock(newer, ENGINE._replace(boots=8, time=3), now=1060.0)  # agent reboot
    assert ok and rebooted == v3msg.Clock(ENGINE.engine_id, 8, 3, 1060.0)
    assert not v3msg.check_clock(rebooted, ENGINE._replace(boots=v3msg.MAX_BOOTS), now=1061.0)[0]


@pytest.mark.parametrize(("auth", "priv", "wrong"), [("SHA", "AES", "AES"), ("SHA", "AES", "AES256"),
                                                     ("MD5", "DES", "DES")])
def test_wrong_priv_key_is_a_decryption_failure(auth: str, priv: str, wrong: str) -> None:
    right = keys(auth, priv)
    assert right is not None
    data = v3msg.encode_response(1, VARBINDS, 1, b"alice", right, ENGINE, salt=3)
    other = CACHE.get(ENGINE.engine_id, auth, b"authpass-x", wrong, b"another-priv-pass")
    with pytest.raises(v3msg.DecryptionFailed):
        v3msg.decode_message(data, other)
