"""SNMPv3 for the lab's agent: the authoritative side of the User-based Security Model (RFC 3414 3.2).

One USM user per agent (a name, an authentication and a privacy protocol and their passwords); each device has its
own engine ID, derived from its address (RFC 3411 SnmpEngineID format 1/2: IPv4/IPv6 address); the engine's boots
count the responder's starts (kept in a file, as net-snmp keeps snmpEngineBoots, so that a restarted lab is a
rebooted agent to a poller that knew it, never a replay), its time the seconds since this start.
Pure apart from the clock it is handed: datagram in, datagram (or None) out.

What it answers, in RFC 3414 3.2's order:
  - another (or an empty) engine ID: a usmStatsUnknownEngineIDs report with ours, our boots and time (discovery);
  - another user: usmStatsUnknownUserNames; a level the user does not have: usmStatsUnsupportedSecLevels;
  - a MAC that does not verify: usmStatsWrongDigests; a body that does not decrypt: usmStatsDecryptionErrors;
  - boots/time outside the 150 s window: usmStatsNotInTimeWindows, authenticated, so the requester can resync;
  - otherwise the GET/GETNEXT/GETBULK answer from the device's data (the v2c path's own code), authenticated and
    encrypted at the request's level.
Error reports go unauthenticated (noAuthNoPriv), as net-snmp sends them, and only to requests flagged reportable.
"""

from __future__ import annotations

import ipaddress
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from collectors.snmp import ber, usm, v3msg
from collectors.snmp.ber import _header, _integer

if TYPE_CHECKING:
    from lab.agent import Agent
    from lab.mib import Mib

ENTERPRISE = 8072  # net-snmp's enterprise number, as net-snmp-derived agents put in their engine IDs
BOOTS = 1
# Everything of a v3 response besides the varbinds, at most: message and global-data headers (~24), USM parameters
# (engine ID <= 32, user <= 32, MAC <= 48, salt 8, headers ~20), the encryptedPDU header, the scoped PDU's
# context engine ID and name (<= 32 + 32 + headers) and the PDU's own fields (~20).
V3_OVERHEAD = 300

_STAT = {name: ber.encode_oid(f"{v3msg.USM_STATS}.{n}.0") for n, name in enumerate(
    ("unsupportedSecLevels", "notInTimeWindows", "unknownUserNames", "unknownEngineIDs", "wrongDigests",
     "decryptionErrors"), 1)}
_UNKNOWN_CONTEXTS = ber.encode_oid("1.3.6.1.6.3.12.1.5.0")


def engine_id_of(address: str) -> bytes:
    """RFC 3411 SnmpEngineID from the device's address: 0x80 | enterprise, format 1 (IPv4) or 2 (IPv6)."""
    ip = ipaddress.ip_address(address)
    return (0x8000_0000 | ENTERPRISE).to_bytes(4, "big") + bytes((1 if ip.version == 4 else 2,)) + ip.packed


@dataclass(frozen=True, slots=True)
class UsmUser:
    name: str
    auth_password: str = field(repr=False)
    priv_password: str = field(repr=False)
    auth_protocol: str = "SHA"
    priv_protocol: str = "AES"  # "NONE": an authNoPriv user

    def __post_init__(self) -> None:
        usm.auth_protocol(self.auth_protocol)  # UsmError for a protocol the codec does not implement
        usm.priv_protocol(self.priv_protocol)


class _Head(NamedTuple):
    msg_id: int
    max_size: int
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes


def _head(data: bytes) -> _Head:
    """The global data and USM parameters, before anything is verified: enough to choose keys or a report."""
    end = len(data)
    start, msg_end = _header(data, 0, end, ber.SEQUENCE, "message SEQUENCE")
    _, pos = _integer(data, start, msg_end, "msgVersion")
    g_start, g_end = _header(data, pos, msg_end, ber.SEQUENCE, "msgGlobalData")
    msg_id, p = _integer(data, g_start, g_end, "msgID")
    max_size, p = _integer(data, p, g_end, "msgMaxSize")
    f_start, f_end = _header(data, p, g_end, ber.OCTET_STRING, "msgFlags")
    if f_end - f_start != 1:
        raise ber.BerError("msgFlags is not one octet", f_start)
    model, p = _integer(data, f_end, g_end, "msgSecurityModel")
    flags = data[f_start]
    # RFC 3412 7.2 steps 2-5 and the ranges of RFC 3412/3414: a message outside them is dropped, never answered.
    if (not 0 <= msg_id <= v3msg.MAX_BOOTS or not v3msg.MIN_MAX_SIZE <= max_size <= v3msg.MAX_BOOTS
            or model != v3msg.USM_SECURITY_MODEL or (flags & v3msg.FLAG_PRIV and not flags & v3msg.FLAG_AUTH)):
        raise ber.BerError("msgGlobalData out of range", g_start)
    s_start, s_end = _header(data, g_end, msg_end, ber.OCTET_STRING, "msgSecurityParameters")
    u_start, u_end = _header(data, s_start, s_end, ber.SEQUENCE, "UsmSecurityParameters")
    e_start, e_end = _header(data, u_start, u_end, ber.OCTET_STRING, "msgAuthoritativeEngineID")
    boots, p = _integer(data, e_end, u_end, "msgAuthoritativeEngineBoots")
    engine_time, p = _integer(data, p, u_end, "msgAuthoritativeEngineTime")
    n_start, n_end = _header(data, p, u_end, ber.OCTET_STRING, "msgUserName")
    if (not 0 <= boots <= v3msg.MAX_BOOTS or not 0 <= engine_time <= v3msg.MAX_BOOTS or e_end - e_start > 32
            or n_end - n_start > 32):
        raise ber.BerError("USM engine ID, boots, time or user name out of range", u_start)
    return _Head(msg_id, max_size, flags, data[e_start:e_end], boots, engine_time, data[n_start:n_end])


def next_boots(path: Path) -> int:
    """snmpEngineBoots for this start: one more than the last start recorded in ``path`` (1 the first time)."""
    try:
        boots = int(path.read_text(encoding="utf-8").strip()) + 1
    except (FileNotFoundError, ValueError):
        boots = 1
    boots = min(max(boots, 1), v3msg.MAX_BOOTS)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"{boots}\n", encoding="utf-8")
    tmp.replace(path)
    return boots


def read_usm_user(path: Path) -> UsmUser:
    """The user as ``write_usm_user`` left it (a 0600 file: the passwords never go on a command line)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return UsmUser(str(data["name"]), str(data["auth_password"]), str(data["priv_password"]),
                   str(data.get("auth_protocol", "SHA")), str(data.get("priv_protocol", "AES")))


def usm_user_json(user: UsmUser) -> str:
    return json.dumps({"name": user.name, "auth_protocol": user.auth_protocol, "auth_password": user.auth_password,
                       "priv_protocol": user.priv_protocol, "priv_password": user.priv_password}) + "\n"


@dataclass(slots=True)
class V3Stats:
    v3_answered: int = 0
    unknown_engine_ids: int = 0
    unknown_user_names: int = 0
    unsupported_sec_levels: int = 0
    wrong_digests: int = 0
    decryption_errors: int = 0
    not_in_time_windows: int = 0
    unknown_contexts: int = 0

    def line(self) -> str:
        return " ".join(f"{name}={getattr(self, name)}" for name in self.__slots__)  # type: ignore[attr-defined]


class UsmAgent:
    """The v3 half of ``lab.agent.Agent``: authenticates and decrypts, then lets the agent answer the PDU."""

    def __init__(self, user: UsmUser, started: float, boots: int = BOOTS) -> None:
        self.user = user
        self.user_name = user.name.encode()
        self.started = started
        self.boots = boots
        self.stats = V3Stats()
        self._auth = usm.auth_protocol(user.auth_protocol)
        self._priv = usm.priv_protocol(user.priv_protocol)
        self._keys = usm.LocalizedKeys()  # per engine ID; the password expansion runs once per password
        self._salt = random.getrandbits(64)

    def keys(self, engine_id: bytes) -> usm.UserKeys:
        u = self.user
        return self._keys.get(engine_id, u.auth_protocol, u.auth_password.encode(), u.priv_protocol,
                              u.priv_password.encode())

    def engine(self, engine_id: bytes, now: float) -> v3msg.Engine:
        return v3msg.Engine(engine_id, self.boots, max(0, int(now - self.started)))

    def answer(self, agent: Agent, mib: Mib, data: bytes, now: float, engine_id: bytes) -> bytes | None:
        stats = self.stats
        try:
            head = _head(data)
        except ber.BerError:
            agent.stats.malformed += 1
            return None
        reportable = bool(head.flags & v3msg.FLAG_REPORTABLE)
        engine = self.engine(engine_id, now)
        if head.engine_id != engine_id:
            stats.unknown_engine_ids += 1
            return self._report(head, reportable, engine, "unknownEngineIDs", stats.unknown_engine_ids)
        if head.user != self.user_name:
            stats.unknown_user_names += 1
            return self._report(head, reportable, engine, "unknownUserNames", stats.unknown_user_names)
        wants_auth, wants_priv = bool(head.flags & v3msg.FLAG_AUTH), bool(head.flags & v3msg.FLAG_PRIV)
        if not wants_auth or (wants_priv and self._priv is None):
            stats.unsupported_sec_levels += 1
            return self._report(head, reportable, engine, "unsupportedSecLevels", stats.unsupported_sec_levels)
        keys = self.keys(engine_id)
        try:
            message = v3msg.decode_message(data, keys, _ANY_PDU)
        except v3msg.Unauthenticated:
            stats.wrong_digests += 1
            return self._report(head, reportable, engine, "wrongDigests", stats.wrong_digests)
        except v3msg.DecryptionFailed:
            stats.decryption_errors += 1
            return self._report(head, reportable, engine, "decryptionErrors", stats.decryption_errors)
        except ber.BerError:
            # (A wrong privacy key almost always fails at the decrypted scopedPDU's own header: DecryptionFailed.)
            agent.stats.malformed += 1
            return None
        if message.pdu.pdu_type not in _REQUEST_PDUS:
            agent.stats.unsupported += 1  # a trap, inform or response sent to the agent port
            return None
        level_keys = keys if wants_priv else usm.UserKeys(engine_id, keys.auth, keys.auth_key, None, b"")
        # RFC 3414 3.2 step 7a: the authoritative engine's window is its own boots and time +-150 s.
        if (message.engine.boots != engine.boots or message.engine.boots >= v3msg.MAX_BOOTS
                or abs(message.engine.time - engine.time) > v3msg.TIME_WINDOW_S):
            stats.not_in_time_windows += 1
            auth_only = usm.UserKeys(engine_id, keys.auth, keys.auth_key, None, b"")
            return self._report(head, reportable, engine, "notInTimeWindows", stats.not_in_time_windows,
                                auth_only, message.pdu.request_id)
        if message.context_name:
            stats.unknown_contexts += 1
            return self._encode(head.msg_id, message.pdu.request_id, ber.REPORT,
                                [_counter(_UNKNOWN_CONTEXTS, stats.unknown_contexts)], level_keys, engine, b"",
                                message.context_name) if reportable else None
        limit = min(agent.max_size, max(message.max_size, v3msg.MIN_MAX_SIZE))
        status, index, parts = agent.respond(mib, message.pdu, now, limit - V3_OVERHEAD)
        answer = self._encode(head.msg_id, message.pdu.request_id, ber.RESPONSE, parts, level_keys, engine,
                              message.context_engine_id, b"", status, index)
        if len(answer) > limit:
            agent.stats.too_big += 1
            return None
        if status == 0:
            agent.stats.varbinds += len(parts)
        agent.stats.answered += 1
        stats.v3_answered += 1
        return answer

    def _report(self, head: _Head, reportable: bool, engine: v3msg.Engine, reason: str, counter: int,
                keys: usm.UserKeys | None = None, request_id: int | None = None) -> bytes | None:
        """A Report-PDU (RFC 3412 7.1 3b), unauthenticated unless ``keys`` are given; request-id 0 when the
        request's own could not be read (it was encrypted or not authenticated), the msgID matches it anyway."""
        if not reportable:
            return None
        return self._encode(head.msg_id, request_id or 0, ber.REPORT, [_counter(_STAT[reason], counter)], keys,
                            engine, engine.engine_id, b"", user=head.user)

    def _encode(self, msg_id: int, request_id: int, pdu_type: int, parts: list[bytes], keys: usm.UserKeys | None,
                engine: v3msg.Engine, context_engine_id: bytes, context_name: bytes, status: int = 0,
                index: int = 0, user: bytes | None = None) -> bytes:
        self._salt = (self._salt + 1) & 0xFFFF_FFFF_FFFF_FFFF
        pdu = v3msg.encode_pdu(pdu_type, request_id, status, index, ber.encode_varbind_list(parts))
        return v3msg.encode_message(pdu, msg_id, self.user_name if user is None else user, keys, engine,
                                    self._salt, context_engine_id or engine.engine_id, context_name,
                                    reportable=False)


_REQUEST_PDUS = (ber.GET_REQUEST, ber.GET_NEXT_REQUEST, ber.GET_BULK_REQUEST, ber.SET_REQUEST)
_ANY_PDU = (*_REQUEST_PDUS, ber.RESPONSE, 0xA6, 0xA7, ber.REPORT)  # InformRequest, SNMPv2-Trap


def _counter(oid: bytes, value: int) -> bytes:
    return ber.encode_varbind(oid, ber.COUNTER32, value & 0xFFFF_FFFF)
