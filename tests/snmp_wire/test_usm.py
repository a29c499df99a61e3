"""USM keys and ciphers against published vectors (RFC 3414 A.3, NIST SP 800-38A) and an outside implementation
(pysnmp's localkey / AES key extensions) where no vector is published (RFC 7860 gives none)."""

from __future__ import annotations

import hashlib

import pytest

from collectors.snmp import usm

ENGINE = bytes.fromhex("000000000000000000000002")


@pytest.mark.parametrize(("hash_name", "ku", "kul"), [
    # RFC 3414 A.3.1 (MD5) and A.3.2 (SHA)
    ("md5", "9faf3283884e92834ebc9847d8edd963", "526f5eed9fcce26f8964c2930787d82b"),
    ("sha1", "9fb5cc0381497b3793528939ff788d5d79145211", "6695febc9288e36282235fc7151f128497b38f3f"),
])
def test_rfc3414_a3_vectors(hash_name: str, ku: str, kul: str) -> None:
    got = usm.password_to_key(b"maplesyrup", hash_name)
    assert got.hex() == ku
    assert usm.localize_key(got, ENGINE, hash_name).hex() == kul


@pytest.mark.parametrize("auth", ["SHA224", "SHA256", "SHA384", "SHA512"])
def test_sha2_keys_match_pysnmp(auth: str) -> None:
    import pysnmp.hlapi.v3arch.asyncio  # noqa: F401 - pysnmp's modules import in this order only
    from pyasn1.type import univ
    from pysnmp.proto.secmod.rfc3414 import localkey

    proto = usm.AUTH_PROTOCOLS[auth]
    theirs = localkey.password_to_key(univ.OctetString(b"maplesyrup"), univ.OctetString(ENGINE),
                                      getattr(hashlib, proto.hash))
    keys = usm.user_keys(ENGINE, auth, b"maplesyrup")
    assert keys.auth_key == bytes(theirs)
    assert len(keys.auth_key) == {"SHA224": 28, "SHA256": 32, "SHA384": 48, "SHA512": 64}[auth]
    assert proto.mac_len == {"SHA224": 16, "SHA256": 24, "SHA384": 32, "SHA512": 48}[auth]  # RFC 7860 4.2


@pytest.mark.parametrize(("priv", "cls_name"), [
    ("AES192", "AesBlumenthal192"), ("AES256", "AesBlumenthal256"),  # net-snmp AES-192/AES-256
    ("AES192C", "Aes192"), ("AES256C", "Aes256"),  # net-snmp AES-192-C/AES-256-C = pysnmp's "Reeder" classes
])
@pytest.mark.parametrize("auth", ["MD5", "SHA", "SHA256"])
def test_aes_key_extensions_match_pysnmp(priv: str, cls_name: str, auth: str) -> None:
    import pysnmp.hlapi.v3arch.asyncio  # noqa: F401
    from pyasn1.type import univ
    from pysnmp.proto.secmod.eso.priv import aes192, aes256
    from pysnmp.proto.secmod.rfc3414.auth import hmacmd5, hmacsha
    from pysnmp.proto.secmod.rfc7860.auth import hmacsha2

    cls = getattr(aes192 if "192" in priv else aes256, cls_name)
    service = {"MD5": hmacmd5.HmacMd5.SERVICE_ID, "SHA": hmacsha.HmacSha.SERVICE_ID,
               "SHA256": hmacsha2.HmacSha2.SHA256_SERVICE_ID}[auth]
    proto = usm.AUTH_PROTOCOLS[auth]
    ku = univ.OctetString(usm.password_to_key(b"maplesyrup", proto.hash))
    theirs = bytes(cls().localize_key(service, ku, univ.OctetString(ENGINE)))
    keys = usm.user_keys(ENGINE, auth, b"auth-pass", priv, b"maplesyrup")
    assert keys.priv_key == theirs


def test_extensions_differ_where_they_should() -> None:
    blumenthal = usm.user_keys(ENGINE, "SHA", b"a" * 8, "AES256", b"maplesyrup").priv_key
    reeder = usm.user_keys(ENGINE, "SHA", b"a" * 8, "AES256C", b"maplesyrup").priv_key
    assert blumenthal[:20] == reeder[:20] and blumenthal != reeder
    # With SHA-256 the localized key already has 32 bytes: both variants are plain truncation.
    assert (usm.user_keys(ENGINE, "SHA256", b"a" * 8, "AES256", b"maplesyrup").priv_key
            == usm.user_keys(ENGINE, "SHA256", b"a" * 8, "AES256C", b"maplesyrup").priv_key)


@pytest.mark.parametrize(("key", "block1"), [
    # NIST SP 800-38A F.3.13 / F.3.15 / F.3.17 (CFB128-AES128/192/256.Encrypt), first block
    ("2b7e151628aed2a6abf7158809cf4f3c", "3b3fd92eb72dad20333449f8e83cfb4a"),
    ("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b", "cdc80d6fddf18cab34c25909c99a4174"),
    ("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", "dc7e84bfda79164b7ecd8486985d3860"),
])
def test_aes_cfb_iv_layout_against_sp800_38a(key: str, block1: str) -> None:
    # The vectors' IV 000102...0f is engineBoots 0x00010203 | engineTime 0x04050607 | salt 0x08..0f (RFC 3826).
    priv = usm.PrivProtocol("AES", "aes", len(key) // 2, "")
    keys = usm.UserKeys(ENGINE, usm.AUTH_PROTOCOLS["SHA"], b"", priv, bytes.fromhex(key))
    plain = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    cipher, params = usm.encrypt(keys, 0x00010203, 0x04050607, 0x08090A0B0C0D0E0F, plain)
    assert cipher.hex() == block1
    assert params == bytes.fromhex("08090a0b0c0d0e0f")
    assert usm.decrypt(keys, 0x00010203, 0x04050607, params, cipher) == plain


def test_des_round_trip_and_padding() -> None:
    keys = usm.user_keys(ENGINE, "MD5", b"maplesyrup", "DES", b"maplesyrup")
    cipher, params = usm.encrypt(keys, 7, 99, 12345, b"0123456789")
    assert len(cipher) == 16 and params == (7).to_bytes(4, "big") + (12345).to_bytes(4, "big")
    assert usm.decrypt(keys, 7, 0, params, cipher)[:10] == b"0123456789"
    with pytest.raises(usm.UsmError):
        usm.decrypt(keys, 7, 0, params, cipher[:-1])


def test_cache_expands_once_per_engine() -> None:
    cache = usm.LocalizedKeys(max_entries=2)
    a = cache.get(ENGINE, "SHA", b"maplesyrup", "AES", b"maplesyrup")
    assert cache.get(ENGINE, "SHA", b"maplesyrup", "AES", b"maplesyrup") is a
    cache.get(b"other", "SHA", b"maplesyrup", "AES", b"maplesyrup")
    cache.get(b"third", "SHA", b"maplesyrup", "AES", b"maplesyrup")
    assert len(cache) == 2


def test_bad_credentials() -> None:
    for call in (lambda: usm.user_keys(ENGINE, "SHA", b""), lambda: usm.user_keys(ENGINE, "SHA1024", b"x"),
                 lambda: usm.user_keys(ENGINE, "NONE", b"", "AES", b"x"),
                 lambda: usm.user_keys(ENGINE, "SHA", b"x", "3DES", b"x")):
        with pytest.raises(usm.UsmError):
            call()
