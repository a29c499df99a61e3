"""CPU per varbind of the SNMPv3 message layer: encode an authPriv GETBULK, decode+verify+decrypt its 50-varbind
answer. Beside it the v2c codec on the same PDU, and pysnmp 7's own pieces (pyasn1 codec, HmacSha, Aes) doing the
same steps its engine does, without its dispatcher, so its figure is a lower bound of pysnmp's real cost.

    .venv/bin/python benchmarks/v3_codec.py

Last line: v2c_us_per_varbind=... v3_us_per_varbind=... ratio=... pysnmp_v3_us_per_varbind=...
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

from collectors.snmp import ber, usm, v3msg

COLUMNS = [
    ("1.3.6.1.2.1.2.2.1.2", ber.OCTET_STRING, lambda i: f"GigabitEthernet1/0/{i}".encode()),
    ("1.3.6.1.2.1.2.2.1.8", ber.INTEGER, lambda i: 1 + i % 2),
    ("1.3.6.1.2.1.2.2.1.9", ber.TIMETICKS, lambda i: 123_456_789 + i),
    ("1.3.6.1.2.1.31.1.1.1.6", ber.COUNTER64, lambda i: 98_765_432_109_876 * i),
    ("1.3.6.1.2.1.31.1.1.1.10", ber.COUNTER64, lambda i: 12_345_678_901_234 * i),
]
REPETITIONS = 10
VARBINDS = REPETITIONS * len(COLUMNS)
ENGINE = v3msg.Engine(bytes.fromhex("80001f8880e9b104617361000000"), 3, 86400)
USER = b"yiwang3"
AUTH_PASS, PRIV_PASS = b"auth-secret-123", b"priv-secret-456"


def per_round_us(fn: Callable[[], object], budget_s: float = 1.0) -> float:
    number = max(1, int(budget_s / max(timeit.timeit(fn, number=1), 1e-6) / 5))
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def varbinds() -> list[tuple[str | bytes, int, ber.Value]]:
    return [(f"{oid}.{i}", tag, make(i)) for i in range(10101, 10101 + REPETITIONS) for oid, tag, make in COLUMNS]


def pysnmp_steps(keys: usm.UserKeys, request_oids: list[str]) -> tuple[Callable[[bytes], object],
                                                                        Callable[[], bytes]]:
    import pysnmp.hlapi.v3arch.asyncio  # noqa: F401 - import order pysnmp needs
    from pyasn1.codec.ber import decoder, encoder
    from pyasn1.type import univ
    from pysnmp.proto.api import v2c
    from pysnmp.proto.mpmod.rfc3412 import ScopedPDU, SNMPv3Message
    from pysnmp.proto.secmod.rfc3414.auth.hmacsha import HmacSha
    from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters
    from pysnmp.proto.secmod.rfc3826.priv.aes import Aes

    auth, priv = HmacSha(), Aes()
    auth_key, priv_key = univ.OctetString(keys.auth_key), univ.OctetString(keys.priv_key)

    def decode(data: bytes) -> object:
        msg, _ = decoder.decode(data, asn1Spec=SNMPv3Message())
        sp, _ = decoder.decode(bytes(msg["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
        auth.authenticate_incoming_message(auth_key, sp["msgAuthenticationParameters"], data)
        plain = priv.decrypt_data(priv_key, (int(sp["msgAuthoritativeEngineBoots"]),
                                             int(sp["msgAuthoritativeEngineTime"]), sp["msgPrivacyParameters"]),
                                  msg["msgData"]["encryptedPDU"])
        scoped, _ = decoder.decode(plain, asn1Spec=ScopedPDU())
        pdu = scoped["data"].getComponent()
        return [(tuple(o), v) for o, v in v2c.apiPDU.get_varbinds(pdu)]

    def encode() -> bytes:
        pdu = v2c.GetBulkRequestPDU()
        v2c.apiBulkPDU.set_defaults(pdu)
        v2c.apiBulkPDU.set_request_id(pdu, 1234)
        v2c.apiBulkPDU.set_non_repeaters(pdu, 0)
        v2c.apiBulkPDU.set_max_repetitions(pdu, REPETITIONS)
        v2c.apiBulkPDU.set_varbinds(pdu, [(univ.ObjectIdentifier(o), v2c.null) for o in request_oids])
        scoped = ScopedPDU()
        scoped["contextEngineId"] = ENGINE.engine_id
        scoped["contextName"] = b""
        scoped["data"].setComponentByType(pdu.tagSet, pdu)
        encrypted, salt = priv.encrypt_data(priv_key, (ENGINE.boots, ENGINE.time, None), encoder.encode(scoped))
        sp = UsmSecurityParameters()
        sp["msgAuthoritativeEngineId"] = ENGINE.engine_id
        sp["msgAuthoritativeEngineBoots"] = ENGINE.boots
        sp["msgAuthoritativeEngineTime"] = ENGINE.time
        sp["msgUserName"] = USER
        sp["msgAuthenticationParameters"] = b"\x00" * 12
        sp["msgPrivacyParameters"] = salt
        msg = SNMPv3Message()
        msg["msgVersion"] = 3
        msg["msgGlobalData"]["msgID"] = 1234
        msg["msgGlobalData"]["msgMaxSize"] = 65507
        msg["msgGlobalData"]["msgFlags"] = b"\x07"
        msg["msgGlobalData"]["msgSecurityModel"] = 3
        msg["msgSecurityParameters"] = encoder.encode(sp)
        msg["msgData"]["encryptedPDU"] = encrypted
        return bytes(auth.authenticate_outgoing_message(auth_key, encoder.encode(msg)))

    return decode, encode


def main() -> None:
    cache = usm.LocalizedKeys()
    request_oids = [c for c, _, _ in COLUMNS]
    raw_oids = [ber.encode_oid(c) for c in request_oids]
    vbs = varbinds()
    v2c_reply = ber.encode_response(b"public", 1234, vbs)
    v2c_enc = per_round_us(lambda: ber.encode_getbulk(b"public", 1234, 0, REPETITIONS, raw_oids))
    v2c_dec = per_round_us(lambda: ber.decode_response(v2c_reply))
    print(f"[v2c] GETBULK encode {v2c_enc:7.2f} us, decode {len(v2c_reply)} B / {VARBINDS} varbinds "
          f"{v2c_dec:7.2f} us -> {(v2c_enc + v2c_dec) / VARBINDS:.2f} us/varbind")
    headline = {}
    for auth, priv in [("SHA", "AES"), ("SHA256", "AES256"), ("SHA512", "AES256C"), ("MD5", "DES")]:
        keys = cache.get(ENGINE.engine_id, auth, AUTH_PASS, priv, PRIV_PASS)
        sec = v3msg.Security(USER, keys, ENGINE)
        reply = v3msg.encode_response(1234, vbs, 1234, USER, keys, ENGINE, salt=99)
        got = v3msg.decode_message(reply, keys)
        assert got.authenticated and [(ber.oid_to_str(o), t, v) for o, t, v in got.pdu.varbinds] == vbs
        enc = per_round_us(lambda sec=sec: v3msg.encode_getbulk(sec, 1234, 0, REPETITIONS, raw_oids, salt=5))
        dec = per_round_us(lambda reply=reply, keys=keys: v3msg.decode_message(reply, keys))
        total = (enc + dec) / VARBINDS
        print(f"[v3 {auth}/{priv}] GETBULK encode {enc:7.2f} us, decode+verify+decrypt {len(reply)} B "
              f"{dec:7.2f} us -> {total:.2f} us/varbind")
        headline.setdefault("v3", total)
        if auth == "SHA" and priv == "AES":
            py_decode, py_encode = pysnmp_steps(keys, request_oids)
            theirs = py_decode(reply)
            assert len(theirs) == VARBINDS  # type: ignore[arg-type]
            assert v3msg.decode_message(py_encode(), keys, pdu_types=(ber.GET_BULK_REQUEST,)).authenticated
            p_enc = per_round_us(py_encode, 2.0)
            p_dec = per_round_us(lambda reply=reply, fn=py_decode: fn(reply), 2.0)
            headline["pysnmp"] = (p_enc + p_dec) / VARBINDS
            print(f"[pysnmp SHA/AES]  GETBULK encode {p_enc:7.2f} us, decode+verify+decrypt "
                  f"{p_dec:7.2f} us -> {headline['pysnmp']:.2f} us/varbind")
    expand = per_round_us(lambda: usm.user_keys(ENGINE.engine_id, "SHA", AUTH_PASS, "AES", PRIV_PASS), 1.0)
    print(f"[keys] SHA/AES password-to-key + localisation, both keys: {expand / 1000:.2f} ms (cached per engine)")
    v2c_total = (v2c_enc + v2c_dec) / VARBINDS
    print(f"v2c_us_per_varbind={v2c_total:.2f} v3_us_per_varbind={headline['v3']:.2f} "
          f"ratio={headline['v3'] / v2c_total:.2f} pysnmp_v3_us_per_varbind={headline['pysnmp']:.2f}")


if __name__ == "__main__":
    main()
