"""SNMPv3 messages with the User-based Security Model (RFC 3412 6, RFC 3414 2.4), pure: bytes in, bytes out.

The scoped PDU inside is the same PDU ber.py reads for v2c, so a decoded reply is a ``ber.Response`` (version 3,
community empty) plus the USM header it came with. Every fault in a received datagram raises ``ber.BerError``;
a reply whose MAC does not verify (or that should carry one and does not) raises ``Unauthenticated``, a subclass,
so a client can count it apart and must never use it; an authenticated reply that does not decrypt raises
``DecryptionFailed`` (wrong privacy key or protocol on our side).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from collectors.snmp import ber, usm
from collectors.snmp.ber import _header, _integer, _signed, _tlv, _varbinds  # the codec's own primitives

VERSION_3 = 3
USM_SECURITY_MODEL = 3
FLAG_AUTH = 0x01
FLAG_PRIV = 0x02
FLAG_REPORTABLE = 0x04
DEFAULT_MAX_SIZE = 65507  # the largest UDP payload over IPv4
MIN_MAX_SIZE = 484  # RFC 3412 msgMaxSize lower bound

# RFC 3414 usmStats (1.3.6.1.6.3.15.1.1.N.0) and RFC 3412/3413 counters an agent reports, by raw OID content.
USM_STATS = "1.3.6.1.6.3.15.1.1"
REPORT_REASONS = {
    ber.encode_oid(f"{USM_STATS}.1.0"): "unsupportedSecLevels",
    ber.encode_oid(f"{USM_STATS}.2.0"): "notInTimeWindows",
    ber.encode_oid(f"{USM_STATS}.3.0"): "unknownUserNames",
    ber.encode_oid(f"{USM_STATS}.4.0"): "unknownEngineIDs",
    ber.encode_oid(f"{USM_STATS}.5.0"): "wrongDigests",
    ber.encode_oid(f"{USM_STATS}.6.0"): "decryptionErrors",
    ber.encode_oid("1.3.6.1.6.3.11.2.1.1.0"): "unknownSecurityModels",
    ber.encode_oid("1.3.6.1.6.3.11.2.1.2.0"): "invalidMsgs",
    ber.encode_oid("1.3.6.1.6.3.11.2.1.3.0"): "unknownPDUHandlers",
    ber.encode_oid("1.3.6.1.6.3.12.1.4.0"): "unavailableContexts",
    ber.encode_oid("1.3.6.1.6.3.12.1.5.0"): "unknownContexts",
}


class Unauthenticated(ber.BerError):
    """The reply fails authentication: wrong MAC, missing MAC, or another engine than the keys are for."""


class DecryptionFailed(ber.BerError):
    """An authenticated reply whose encryptedPDU does not decrypt to a scoped PDU: our privacy key (or
    protocol) differs from the agent's."""


class Engine(NamedTuple):
    """The authoritative engine's identity and clock as last learned (discovery or an authenticated reply)."""

    engine_id: bytes
    boots: int
    time: int


class Report(NamedTuple):
    reason: str  # a REPORT_REASONS value, or "report" for an OID not listed there
    oid: str
    counter: int | None


class V3Message(NamedTuple):
    msg_id: int
    max_size: int
    flags: int
    engine: Engine
    user: bytes
    authenticated: bool  # the MAC verified with the caller's keys
    context_engine_id: bytes
    context_name: bytes
    pdu: ber.Response
    report: Report | None  # set for a Report-PDU


TIME_WINDOW_S = 150  # RFC 3414 2.2.3
MAX_BOOTS = 2_147_483_647


class Clock(NamedTuple):
    """What a non-authoritative engine keeps per agent (RFC 3414 2.3): boots, the latest engine time received,
    and the caller's monotonic time when it was received. ``now`` is always passed in: this module reads no clock.
    """

    engine_id: bytes
    boots: int
    latest_time: int
    learned_at: float

    def engine(self, now: float) -> Engine:
        """boots/time to put in an outgoing request (the agent's time estimated forward)."""
        return Engine(self.engine_id, self.boots, min(MAX_BOOTS, self.latest_time + max(0, int(now - self.learned_at))))


def check_clock(clock: Clock | None, received: Engine, now: float) -> tuple[bool, Clock | None]:
    """RFC 3414 3.2 step 7b for an AUTHENTICATED message: (in the time window, the clock to keep).

    Call it only with ``V3Message.authenticated`` messages; unauthenticated reports must not move the clock. A
    newer boots/time is adopted; a reply with older boots, or from the same boots more than 150 s behind the latest
    time received, is outside the window (a replay): drop it. ``clock`` None (first authenticated reply) adopts.
    """
    fresh = Clock(received.engine_id, received.boots, received.time, now)
    if clock is None or clock.engine_id != received.engine_id:
        return received.boots < MAX_BOOTS, fresh
    if received.boots > clock.boots or (received.boots == clock.boots and received.time > clock.latest_time):
        clock = fresh
    in_window = received.boots < MAX_BOOTS and received.boots == clock.boots and (
        received.time >= clock.latest_time - TIME_WINDOW_S)
    return in_window, clock


# ---------------------------------------------------------------- encoding


def encode_pdu(pdu_type: int, request_id: int, field2: int, field3: int, varbind_list: bytes) -> bytes:
    return _tlv(
        pdu_type,
        _tlv(ber.INTEGER, _signed(request_id)) + _tlv(ber.INTEGER, _signed(field2))
        + _tlv(ber.INTEGER, _signed(field3)) + varbind_list,
    )


def request_varbinds(oids: Iterable[str | bytes]) -> bytes:
    return ber.encode_varbind_list(
        [ber.encode_varbind(oid, ber.NULL, None) for oid in oids]
    )


def encode_message(
    pdu: bytes,
    msg_id: int,
    user: bytes,
    keys: usm.UserKeys | None,
    engine: Engine,
    salt: int = 0,
    context_engine_id: bytes | None = None,
    context_name: bytes = b"",
    reportable: bool = True,
    max_size: int = DEFAULT_MAX_SIZE,
) -> bytes:
    """A whole v3 message around an encoded PDU. ``keys`` None: noAuthNoPriv; otherwise the level the keys hold.
    ``context_engine_id`` defaults to the authoritative engine ID (RFC 3413 for a command generator)."""
    auth = keys is not None and keys.auth is not None
    priv = auth and keys is not None and keys.priv is not None
    flags = (FLAG_AUTH if auth else 0) | (FLAG_PRIV if priv else 0) | (FLAG_REPORTABLE if reportable else 0)
    scoped = _tlv(
        ber.SEQUENCE,
        _tlv(ber.OCTET_STRING, engine.engine_id if context_engine_id is None else context_engine_id)
        + _tlv(ber.OCTET_STRING, context_name) + pdu,
    )
    priv_params = b""
    if priv:
        assert keys is not None
        encrypted, priv_params = usm.encrypt(keys, engine.boots, engine.time, salt, scoped)
        data = _tlv(ber.OCTET_STRING, encrypted)
    else:
        data = scoped
    mac_len = keys.auth.mac_len if keys is not None and keys.auth is not None else 0
    head = (
        _tlv(ber.OCTET_STRING, engine.engine_id) + _tlv(ber.INTEGER, _signed(engine.boots))
        + _tlv(ber.INTEGER, _signed(engine.time)) + _tlv(ber.OCTET_STRING, user)
    )
    usm_params = head + _tlv(ber.OCTET_STRING, bytes(mac_len)) + _tlv(ber.OCTET_STRING, priv_params)
    security = _tlv(ber.OCTET_STRING, _tlv(ber.SEQUENCE, usm_params))
    global_data = _tlv(
        ber.SEQUENCE,
        _tlv(ber.INTEGER, _signed(msg_id)) + _tlv(ber.INTEGER, _signed(max_size))
        + _tlv(ber.OCTET_STRING, bytes((flags,))) + _tlv(ber.INTEGER, _signed(USM_SECURITY_MODEL)),
    )
    message = _tlv(ber.SEQUENCE, _tlv(ber.INTEGER, _signed(VERSION_3)) + global_data + security + data)
    if not auth:
        return message
    assert keys is not None
    # The MAC field sits len(head) + 2 bytes into the USM SEQUENCE's content, which ends where ``data`` starts.
    at = len(message) - len(data) - len(usm_params) + len(head) + 2
    return message[:at] + usm.mac(keys, message) + message[at + mac_len:]


class Security(NamedTuple):
    """Who sends and to which engine: what a client holds per target after discovery."""

    user: bytes
    keys: usm.UserKeys | None  # None: noAuthNoPriv
    engine: Engine
    context_name: bytes = b""
    context_engine_id: bytes | None = None  # None: the authoritative engine ID


def encode_get(sec: Security, request_id: int, oids: Iterable[str | bytes], salt: int = 0,
               msg_id: int | None = None) -> bytes:
    return _request(sec, ber.GET_REQUEST, request_id, 0, 0, oids, salt, msg_id)


def encode_getnext(sec: Security, request_id: int, oids: Iterable[str | bytes], salt: int = 0,
                   msg_id: int | None = None) -> bytes:
    return _request(sec, ber.GET_NEXT_REQUEST, request_id, 0, 0, oids, salt, msg_id)


def encode_getbulk(sec: Security, request_id: int, non_repeaters: int, max_repetitions: int,
                   oids: Iterable[str | bytes], salt: int = 0, msg_id: int | None = None) -> bytes:
    return _request(sec, ber.GET_BULK_REQUEST, request_id, non_repeaters, max_repetitions, oids, salt, msg_id)


def _request(sec: Security, pdu_type: int, request_id: int, f2: int, f3: int, oids: Iterable[str | bytes],
             salt: int, msg_id: int | None) -> bytes:
    # msg_id defaults to the request-id (one message per request); a retry should send a new msg_id and salt.
    pdu = encode_pdu(pdu_type, request_id, f2, f3, request_varbinds(oids))
    return encode_message(pdu, request_id if msg_id is None else msg_id, sec.user, sec.keys, sec.engine, salt,
                          sec.context_engine_id, sec.context_name)


def encode_discovery(msg_id: int, request_id: int) -> bytes:
    """RFC 3414 4: noAuthNoPriv, empty engine ID and user, reportable, empty GET; the agent answers with a
    usmStatsUnknownEngineIDs report carrying its engine ID, boots and time."""
    pdu = encode_pdu(ber.GET_REQUEST, request_id, 0, 0, ber.encode_varbind_list([]))
    return encode_message(pdu, msg_id, b"", None, Engine(b"", 0, 0), context_engine_id=b"")


# ---------------------------------------------------------------- decoding


def decode_message(
    data: bytes,
    keys: usm.UserKeys | None,
    pdu_types: tuple[int, ...] = (ber.RESPONSE, ber.REPORT),
) -> V3Message:
    """Parse, authenticate and decrypt one datagram.

    ``keys`` are the user's keys for the engine the caller expects (None before discovery). A message flagged
    authenticated is verified with them; a Response that is not authenticated while ``keys`` carry auth raises
    ``Unauthenticated``. Unauthenticated Reports are returned (``authenticated=False``): agents send
    unknownEngineID / unknownUserName / wrongDigest reports without a MAC, and they only ever lead to a failure
    reason or a rediscovery, never to accepted values.
    """
    try:
        return _decode(data, keys, pdu_types)
    except ber.BerError:
        raise
    except (usm.UsmError, ValueError, IndexError, OverflowError) as exc:  # belt and braces: the contract
        raise ber.BerError(f"undecodable v3 message ({exc})") from None


def _octets(data: bytes, pos: int, end: int, what: str) -> tuple[bytes, int]:
    start, stop = _header(data, pos, end, ber.OCTET_STRING, what)
    return data[start:stop], stop


def _decode(data: bytes, keys: usm.UserKeys | None, pdu_types: tuple[int, ...]) -> V3Message:
    end = len(data)
    start, msg_end = _header(data, 0, end, ber.SEQUENCE, "message SEQUENCE")
    if msg_end != end:
        raise ber.BerError(f"{end - msg_end} trailing bytes after the message", msg_end)
    version, pos = _integer(data, start, msg_end, "msgVersion")
    if version != VERSION_3:
        raise ber.BerError(f"message version {version}, expected 3", start)
    g_start, g_end = _header(data, pos, msg_end, ber.SEQUENCE, "msgGlobalData")
    msg_id, p = _integer(data, g_start, g_end, "msgID")
    max_size, p = _integer(data, p, g_end, "msgMaxSize")
    flag_bytes, p = _octets(data, p, g_end, "msgFlags")
    model, p = _integer(data, p, g_end, "msgSecurityModel")
    if p != g_end:
        raise ber.BerError("extra bytes in msgGlobalData", p)
    if len(flag_bytes) != 1:
        raise ber.BerError(f"msgFlags of {len(flag_bytes)} octets", g_start)
    flags = flag_bytes[0]
    if flags & FLAG_PRIV and not flags & FLAG_AUTH:
        raise ber.BerError("msgFlags privacy without authentication", g_start)
    if model != USM_SECURITY_MODEL:
        raise ber.BerError(f"security model {model}, only USM (3) is supported", g_start)
    if msg_id < 0 or max_size < MIN_MAX_SIZE:
        raise ber.BerError(f"msgID {msg_id} / msgMaxSize {max_size} out of range", g_start)
    s_start, s_end = _header(data, g_end, msg_end, ber.OCTET_STRING, "msgSecurityParameters")
    u_start, u_end = _header(data, s_start, s_end, ber.SEQUENCE, "UsmSecurityParameters")
    if u_end != s_end:
        raise ber.BerError("extra bytes after UsmSecurityParameters", u_end)
    engine_id, p = _octets(data, u_start, u_end, "msgAuthoritativeEngineID")
    boots, p = _integer(data, p, u_end, "msgAuthoritativeEngineBoots")
    engine_time, p = _integer(data, p, u_end, "msgAuthoritativeEngineTime")
    user, p = _octets(data, p, u_end, "msgUserName")
    a_start, a_end = _header(data, p, u_end, ber.OCTET_STRING, "msgAuthenticationParameters")
    priv_params, p = _octets(data, a_end, u_end, "msgPrivacyParameters")
    if p != u_end:
        raise ber.BerError("extra bytes in UsmSecurityParameters", p)
    if boots < 0 or engine_time < 0 or len(engine_id) > 32 or len(user) > 32:
        raise ber.BerError("USM engine ID, boots, time or user name out of range", u_start)
    engine = Engine(engine_id, boots, engine_time)

    authenticated = False
    if flags & FLAG_AUTH:
        if keys is None or keys.auth is None:
            raise Unauthenticated("authenticated reply but no authentication key to verify it")
        if engine_id != keys.engine_id:
            raise Unauthenticated(f"reply from engine {engine_id.hex()}, keys are for {keys.engine_id.hex()}")
        if a_end - a_start != keys.auth.mac_len:
            raise Unauthenticated(f"MAC of {a_end - a_start} octets, {keys.auth.name} uses {keys.auth.mac_len}")
        zeroed = data[:a_start] + bytes(a_end - a_start) + data[a_end:]
        if not usm.verify(keys, zeroed, data[a_start:a_end]):
            raise Unauthenticated("MAC does not verify (wrong auth key or altered message)")
        authenticated = True

    if flags & FLAG_PRIV:
        assert keys is not None
        if keys.priv is None:
            raise ber.BerError("encrypted reply but no privacy key")
        c_start, c_end = _header(data, u_end, msg_end, ber.OCTET_STRING, "encryptedPDU")
        if c_end != msg_end:
            raise ber.BerError("bytes after encryptedPDU", c_end)
        try:
            scoped = usm.decrypt(keys, boots, engine_time, priv_params, data[c_start:c_end])
            # DES pads to 8 bytes: the scoped PDU may end before the plaintext does (RFC 3414 8.3.2).
            sp_start, sp_end = _header(scoped, 0, len(scoped), ber.SEQUENCE, "decrypted scopedPDU")
        except (usm.UsmError, ber.BerError) as exc:
            raise DecryptionFailed(f"cannot decrypt: {exc}") from None
        if len(scoped) - sp_end > 7:
            raise DecryptionFailed("decrypted scopedPDU followed by more than padding")
    else:
        scoped = data
        sp_start, sp_end = _header(data, u_end, msg_end, ber.SEQUENCE, "scopedPDU")
        if sp_end != msg_end:
            raise ber.BerError("bytes after scopedPDU", sp_end)

    context_engine_id, p = _octets(scoped, sp_start, sp_end, "contextEngineID")
    context_name, p = _octets(scoped, p, sp_end, "contextName")
    pdu = _pdu(scoped, p, sp_end, pdu_types)
    # Reports may come unauthenticated; any other PDU must carry the level we asked for.
    if keys is not None and keys.auth is not None and not authenticated and pdu.pdu_type != ber.REPORT:
        raise Unauthenticated(f"{ber.TAG_NAMES[pdu.pdu_type]} without authentication")
    report = _report(pdu) if pdu.pdu_type == ber.REPORT else None
    return V3Message(msg_id, max_size, flags, engine, user, authenticated, context_engine_id, context_name, pdu,
                     report)


def _pdu(data: bytes, pos: int, end: int, pdu_types: tuple[int, ...]) -> ber.Response:
    if pos + 2 > end:
        raise ber.BerError("truncated: expected PDU", pos)
    pdu_type = data[pos]
    if pdu_type not in pdu_types:
        raise ber.BerError(f"unexpected PDU tag 0x{pdu_type:02x}", pos)
    start, pdu_end = _header(data, pos, end, pdu_type, "PDU")
    if pdu_end != end:
        raise ber.BerError(f"{end - pdu_end} bytes after the PDU inside the scopedPDU", pdu_end)
    request_id, p = _integer(data, start, pdu_end, "request-id")
    try:
        error_status, p = _integer(data, p, pdu_end, "error-status")
        error_index, p = _integer(data, p, pdu_end, "error-index")
        v_start, v_end = _header(data, p, pdu_end, ber.SEQUENCE, "varbind list SEQUENCE")
        if v_end != pdu_end:
            raise ber.BerError(f"{pdu_end - v_end} bytes after the varbind list inside the PDU", v_end)
        varbinds = _varbinds(data, v_start, v_end)
    except ber.BerError as exc:
        exc.request_id = request_id
        raise
    return ber.Response(VERSION_3, b"", pdu_type, request_id, error_status, error_index, varbinds)


def _report(pdu: ber.Response) -> Report:
    if not pdu.varbinds:
        return Report("report", "", None)
    oid, _tag, value = pdu.varbinds[0]
    counter = value if isinstance(value, int) else None
    return Report(REPORT_REASONS.get(oid, "report"), ber.oid_to_str(oid), counter)


def encode_response(
    request_id: int,
    varbinds: Iterable[tuple[str | bytes, int, ber.Value]],
    msg_id: int,
    user: bytes,
    keys: usm.UserKeys | None,
    engine: Engine,
    salt: int = 0,
    pdu_type: int = ber.RESPONSE,
    context_name: bytes = b"",
) -> bytes:
    """The agent side (tests, fuzzing, benchmarks): a Response or Report from the authoritative engine."""
    vbl = ber.encode_varbind_list([ber.encode_varbind(oid, tag, value) for oid, tag, value in varbinds])
    return encode_message(encode_pdu(pdu_type, request_id, 0, 0, vbl), msg_id, user, keys, engine, salt,
                          context_name=context_name, reportable=False)
