"""The User-based Security Model's cryptography (RFC 3414, RFC 3826, RFC 7860), pure: no sockets, no clocks.

Keys: ``password_to_key`` is RFC 3414 A.2 (the 1 MB expansion), ``localize_key`` binds it to an engine ID.
Both are slow on purpose (~2-5 ms), so ``LocalizedKeys`` caches the result per (protocols, secrets, engine ID).

Privacy protocol names follow net-snmp's (snmplib/snmpusm.c ``usm_priv_type``):
  AES / AES128          RFC 3826 AES-128-CFB.
  AES192 / AES256       draft-blumenthal-aes-usm-04 key extension: Kul || H(Kul) || H(Kul || H(Kul)) ...
                        (net-snmp "AES-192"/"AES-256"; pysnmp ``usmAesBlumenthalCfb192Protocol``/``...256``).
  AES192C / AES256C     the Reeder/Cisco extension of draft-reeder-snmpv3-usm-3desede: Kul || localize(
                        password_to_key(Kul)) ... (net-snmp "AES-192-C"/"AES-256-C"; pysnmp
                        ``usmAesCfb192Protocol``/``usmAesCfb256Protocol``, which pysnmp calls plain "AES-192").
  DES                   RFC 3414 8.1 CBC-DES (single DES: ``cryptography``'s decrepit TripleDES with K1=K2=K3).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.decrepit.ciphers.modes import CFB  # RFC 3826 mandates CFB-128
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_EXPANSION = 1_048_576  # RFC 3414 A.2: the password repeated to one megabyte


class AuthProtocol(NamedTuple):
    name: str
    hash: str  # hashlib name
    mac_len: int  # truncated MAC carried in msgAuthenticationParameters


class PrivProtocol(NamedTuple):
    name: str
    cipher: str  # "aes" or "des"
    key_len: int
    extension: str  # "", "blumenthal" or "reeder"


AUTH_PROTOCOLS = {
    "MD5": AuthProtocol("MD5", "md5", 12),
    "SHA": AuthProtocol("SHA", "sha1", 12),
    "SHA1": AuthProtocol("SHA", "sha1", 12),
    "SHA224": AuthProtocol("SHA224", "sha224", 16),
    "SHA256": AuthProtocol("SHA256", "sha256", 24),
    "SHA384": AuthProtocol("SHA384", "sha384", 32),
    "SHA512": AuthProtocol("SHA512", "sha512", 48),
}
PRIV_PROTOCOLS = {
    "DES": PrivProtocol("DES", "des", 16, ""),  # 8 key bytes + 8 pre-IV bytes
    "AES": PrivProtocol("AES", "aes", 16, ""),
    "AES128": PrivProtocol("AES", "aes", 16, ""),
    "AES192": PrivProtocol("AES192", "aes", 24, "blumenthal"),
    "AES256": PrivProtocol("AES256", "aes", 32, "blumenthal"),
    "AES192C": PrivProtocol("AES192C", "aes", 24, "reeder"),
    "AES256C": PrivProtocol("AES256C", "aes", 32, "reeder"),
}


class UsmError(ValueError):
    """Unusable credentials (unknown protocol name, empty password, priv without auth)."""


def auth_protocol(name: str) -> AuthProtocol | None:
    """None for "NONE"/""; UsmError for a name we do not implement (3DES included)."""
    key = name.upper().replace("-", "")
    if key in ("", "NONE", "NOAUTH"):
        return None
    if key not in AUTH_PROTOCOLS:
        raise UsmError(f"unsupported auth protocol {name!r}")
    return AUTH_PROTOCOLS[key]


def priv_protocol(name: str) -> PrivProtocol | None:
    key = name.upper().replace("-", "")
    if key in ("", "NONE", "NOPRIV"):
        return None
    if key not in PRIV_PROTOCOLS:
        raise UsmError(f"unsupported privacy protocol {name!r}")
    return PRIV_PROTOCOLS[key]


# ---------------------------------------------------------------- keys


def password_to_key(password: bytes, hash_name: str) -> bytes:
    """RFC 3414 A.2.1/A.2.2 (and RFC 7860 4 for SHA-2): hash the password repeated to 1,048,576 octets."""
    if not password:
        raise UsmError("empty USM password")
    repeated = password * (_EXPANSION // len(password) + 1)
    return hashlib.new(hash_name, repeated[:_EXPANSION]).digest()


def localize_key(ku: bytes, engine_id: bytes, hash_name: str) -> bytes:
    """RFC 3414 2.6: Kul = H(Ku || snmpEngineID || Ku)."""
    return hashlib.new(hash_name, ku + engine_id + ku).digest()


def localized_priv_key(priv: PrivProtocol, auth: AuthProtocol, password: bytes, engine_id: bytes,
                       to_key: Callable[[bytes, str], bytes] = password_to_key) -> bytes:
    """The privacy key, extended to the cipher's length with the variant's key extension."""
    kul = localize_key(to_key(password, auth.hash), engine_id, auth.hash)
    while len(kul) < priv.key_len:
        if priv.extension == "blumenthal":
            kul += hashlib.new(auth.hash, kul).digest()
        elif priv.extension == "reeder":
            kul += localize_key(password_to_key(kul, auth.hash), engine_id, auth.hash)
        else:
            raise UsmError(f"{priv.name} needs {priv.key_len} key bytes, {auth.name} gives {len(kul)}")
    return kul[: priv.key_len]


@dataclass(frozen=True, slots=True)
class UserKeys:
    """One user's localized keys for one authoritative engine."""

    engine_id: bytes
    auth: AuthProtocol | None
    auth_key: bytes = field(repr=False)
    priv: PrivProtocol | None
    priv_key: bytes = field(repr=False)


def user_keys(engine_id: bytes, auth_name: str, auth_password: bytes, priv_name: str = "NONE",
              priv_password: bytes = b"", to_key: Callable[[bytes, str], bytes] = password_to_key) -> UserKeys:
    """``to_key``: password_to_key, or a cache of it (LocalizedKeys): only localisation depends on the engine."""
    auth = auth_protocol(auth_name)
    priv = priv_protocol(priv_name)
    if auth is None:
        if priv is not None:
            raise UsmError("privacy needs authentication (RFC 3414: no noAuthPriv level)")
        return UserKeys(engine_id, None, b"", None, b"")
    auth_key = localize_key(to_key(auth_password, auth.hash), engine_id, auth.hash)
    priv_key = localized_priv_key(priv, auth, priv_password, engine_id, to_key) if priv else b""
    return UserKeys(engine_id, auth, auth_key, priv, priv_key)


class LocalizedKeys:
    """Cache of ``user_keys`` per (protocols, secrets, engine ID): the 1 MB expansion runs once per key.

    Bounded: when full the oldest entry goes (a device replaced with a new engine ID leaves one stale entry).
    Every agent has its own engine ID, so the password-to-key expansion (Ku, the slow part) is cached apart, per
    (password, hash): a new engine then costs one localisation (two hashes), not two 1 MB expansions.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._cache: dict[tuple[str, bytes, str, bytes, bytes], UserKeys] = {}
        self._master: dict[tuple[bytes, str], bytes] = {}

    def _to_key(self, password: bytes, hash_name: str) -> bytes:
        found = self._master.get((password, hash_name))
        if found is None:
            found = password_to_key(password, hash_name)
            if len(self._master) >= 1024:
                del self._master[next(iter(self._master))]
            self._master[(password, hash_name)] = found
        return found

    def get(self, engine_id: bytes, auth_name: str, auth_password: bytes, priv_name: str = "NONE",
            priv_password: bytes = b"") -> UserKeys:
        key = (auth_name, auth_password, priv_name, priv_password, engine_id)
        found = self._cache.get(key)
        if found is None:
            found = user_keys(engine_id, auth_name, auth_password, priv_name, priv_password, self._to_key)
            if len(self._cache) >= self._max:
                del self._cache[next(iter(self._cache))]
            self._cache[key] = found
        return found

    def __len__(self) -> int:
        return len(self._cache)


# ---------------------------------------------------------------- authentication


def mac(keys: UserKeys, whole_message: bytes) -> bytes:
    """msgAuthenticationParameters for a message whose own parameters field holds zeros (RFC 3414 6.3.1)."""
    assert keys.auth is not None
    return hmac.digest(keys.auth_key, whole_message, keys.auth.hash)[: keys.auth.mac_len]


def verify(keys: UserKeys, zeroed_message: bytes, received: bytes) -> bool:
    return hmac.compare_digest(mac(keys, zeroed_message), received)


# ---------------------------------------------------------------- privacy


def encrypt(keys: UserKeys, boots: int, engine_time: int, salt: int, plaintext: bytes) -> tuple[bytes, bytes]:
    """(encryptedPDU, msgPrivacyParameters). ``salt`` is the sender's 64-bit counter (AES) or 32-bit (DES)."""
    priv = keys.priv
    assert priv is not None
    if priv.cipher == "aes":
        params = (salt & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big")
        encryptor = Cipher(algorithms.AES(keys.priv_key), CFB(_aes_iv(boots, engine_time, params))).encryptor()
        return encryptor.update(plaintext) + encryptor.finalize(), params
    params = (boots & 0xFFFF_FFFF).to_bytes(4, "big") + (salt & 0xFFFF_FFFF).to_bytes(4, "big")
    padded = plaintext + b"\x00" * (-len(plaintext) % 8)  # RFC 3414 8.1.1.2: any padding; the BER length rules
    encryptor = _des(keys, params).encryptor()
    return encryptor.update(padded) + encryptor.finalize(), params


def decrypt(keys: UserKeys, boots: int, engine_time: int, params: bytes, ciphertext: bytes) -> bytes:
    """The scopedPDU bytes; UsmError when the parameters cannot be used (the caller reports decryptionError)."""
    priv = keys.priv
    assert priv is not None
    if len(params) != 8:
        raise UsmError(f"msgPrivacyParameters of {len(params)} octets, expected 8")
    if priv.cipher == "aes":
        decryptor = Cipher(algorithms.AES(keys.priv_key), CFB(_aes_iv(boots, engine_time, params))).decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()
    if len(ciphertext) % 8:
        raise UsmError(f"DES encryptedPDU of {len(ciphertext)} octets is not a multiple of 8")
    decryptor = _des(keys, params).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()


def _aes_iv(boots: int, engine_time: int, salt: bytes) -> bytes:
    # RFC 3826 3.1.2.1: the IV is engineBoots || engineTime || salt, the authoritative engine's values.
    return (boots & 0xFFFF_FFFF).to_bytes(4, "big") + (engine_time & 0xFFFF_FFFF).to_bytes(4, "big") + salt


def _des(keys: UserKeys, salt: bytes) -> Cipher[modes.CBC]:
    iv = bytes(a ^ b for a, b in zip(keys.priv_key[8:16], salt, strict=True))
    return Cipher(TripleDES(keys.priv_key[:8] * 3), modes.CBC(iv))
