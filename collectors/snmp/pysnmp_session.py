"""SnmpSession on pysnmp 7 (asyncio hlapi): the v3 path, and the reference the fast v2c client is checked against.

pysnmp keeps USM users in its engine keyed by user name, and silently replaces a user whose keys differ. Two
agents that share a user name but not its keys would then break each other's polls, so engines are pooled per
event loop and a second engine is only made when such a clash appears.
"""

from __future__ import annotations

import asyncio
import ipaddress
import weakref
from collections.abc import Sequence
from typing import Any

from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch import asyncio as hlapi
from pysnmp.proto import errind

from collectors.snmp import ber
from collectors.snmp.session import (
    MAX_OIDS_PER_GET,
    TOO_BIG,
    ColumnWalk,
    MalformedResponse,
    SnmpErrorStatus,
    SnmpFailure,
    SnmpTimeout,
    Target,
    V2cCredentials,
    V3Credentials,
    Value,
)

AUTH_PROTOCOLS = {
    "NONE": hlapi.usmNoAuthProtocol,
    "MD5": hlapi.usmHMACMD5AuthProtocol,
    "SHA": hlapi.usmHMACSHAAuthProtocol,
    "SHA1": hlapi.usmHMACSHAAuthProtocol,
    "SHA224": hlapi.usmHMAC128SHA224AuthProtocol,
    "SHA256": hlapi.usmHMAC192SHA256AuthProtocol,
    "SHA384": hlapi.usmHMAC256SHA384AuthProtocol,
    "SHA512": hlapi.usmHMAC384SHA512AuthProtocol,
}
PRIV_PROTOCOLS = {
    "NONE": hlapi.usmNoPrivProtocol,
    "DES": hlapi.usmDESPrivProtocol,
    "3DES": hlapi.usm3DESEDEPrivProtocol,
    "AES": hlapi.usmAesCfb128Protocol,
    "AES128": hlapi.usmAesCfb128Protocol,
    # net-snmp's names: AES192/AES256 extend the key per draft-blumenthal-aes-usm-04, AES192C/AES256C ("Cisco")
    # per the Reeder 3DES draft. pysnmp calls the Reeder variant plain usmAesCfb192Protocol. See usm.py.
    "AES192": hlapi.usmAesBlumenthalCfb192Protocol,
    "AES256": hlapi.usmAesBlumenthalCfb256Protocol,
    "AES192C": hlapi.usmAesCfb192Protocol,
    "AES256C": hlapi.usmAesCfb256Protocol,
}
# Indications that mean the credentials are wrong rather than the agent unreachable.
_AUTH_INDICATIONS = (
    errind.WrongDigest,
    errind.AuthenticationError,
    errind.AuthenticationFailure,
    errind.DecryptionError,
    errind.UnknownUserName,
    errind.UnknownSecurityName,
    errind.UnsupportedSecurityLevel,
    errind.UnsupportedAuthProtocol,
    errind.UnsupportedPrivProtocol,
    errind.NotInTimeWindow,
    errind.UnknownCommunityName,
)

_INT_TAGS = frozenset({ber.INTEGER, ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS, ber.COUNTER64, ber.UINTEGER32})


class PysnmpEngine:
    """Pools pysnmp SnmpEngines (costly to build) for sessions on one event loop; mirrors FastV2cEngine."""

    def __init__(self) -> None:
        self._engines: list[tuple[hlapi.SnmpEngine, dict[str, tuple[str, ...]]]] = []

    def session(self, target: Target, creds: V2cCredentials | V3Credentials) -> PysnmpSession:
        return PysnmpSession(target, creds, self)

    def snmp_engine(self, creds: V2cCredentials | V3Credentials) -> hlapi.SnmpEngine:
        if isinstance(creds, V3Credentials):
            wanted = (creds.auth_protocol, creds.auth_key, creds.priv_protocol, creds.priv_key)
            for engine, users in self._engines:
                if users.setdefault(creds.user, wanted) == wanted:
                    return engine
            engine = hlapi.SnmpEngine()
            self._engines.append((engine, {creds.user: wanted}))
            return engine
        if not self._engines:
            self._engines.append((hlapi.SnmpEngine(), {}))
        return self._engines[0][0]

    async def close(self) -> None:
        for engine, _ in self._engines:
            engine.close_dispatcher()
        self._engines.clear()


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PysnmpEngine] = weakref.WeakKeyDictionary()


def default_engine() -> PysnmpEngine:
    """The running loop's shared engine, for sessions built without one."""
    loop = asyncio.get_running_loop()
    engine = _per_loop.get(loop)
    if engine is None:
        engine = _per_loop[loop] = PysnmpEngine()
    return engine


def _auth_data(creds: V2cCredentials | V3Credentials) -> hlapi.CommunityData | hlapi.UsmUserData:
    if isinstance(creds, V2cCredentials):
        return hlapi.CommunityData(creds.community, mpModel=1)  # noqa: S508 - most of the estate is v2c-only
    auth = AUTH_PROTOCOLS.get(creds.auth_protocol.upper())
    priv = PRIV_PROTOCOLS.get(creds.priv_protocol.upper())
    if auth is None or priv is None:
        raise ValueError(
            f"unsupported SNMPv3 protocols auth={creds.auth_protocol!r} priv={creds.priv_protocol!r}; "
            f"known: {sorted(AUTH_PROTOCOLS)} / {sorted(PRIV_PROTOCOLS)}"
        )
    return hlapi.UsmUserData(
        creds.user,
        authKey=creds.auth_key or None,
        privKey=creds.priv_key or None,
        authProtocol=auth,
        privProtocol=priv,
    )


def _tag(value: Any) -> int:
    tag = value.tagSet[-1]
    return int(tag.tagClass | tag.tagFormat | tag.tagId)


def to_value(value: Any) -> tuple[int, Value]:
    """A pysnmp/pyasn1 value -> (BER tag, the same Python value the hand-written codec yields)."""
    tag = _tag(value)
    if tag in _INT_TAGS:
        return tag, int(value)
    if tag == ber.OCTET_STRING:
        return tag, bytes(value.asOctets())
    if tag == ber.OPAQUE:
        return tag, ber.opaque_value(bytes(value.asOctets()))
    if tag == ber.IP_ADDRESS:
        return tag, ".".join(str(b) for b in value.asOctets())
    if tag == ber.OBJECT_IDENTIFIER:
        return tag, ".".join(str(a) for a in tuple(value))
    return tag, None


class PysnmpSession:
    def __init__(
        self,
        target: Target,
        creds: V2cCredentials | V3Credentials,
        engine: PysnmpEngine | None = None,
    ) -> None:
        self._target = target
        self._where = str(target)
        self._creds = creds
        self._engine = engine
        self._auth = _auth_data(creds)
        context = creds.context if isinstance(creds, V3Credentials) else ""
        self._context = hlapi.ContextData(contextName=context)
        self._transport: hlapi.UdpTransportTarget | hlapi.Udp6TransportTarget | None = None

    def __repr__(self) -> str:
        return f"PysnmpSession({self._where}, {self._creds!r})"

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        out: dict[str, Value] = {}
        names = list(dict.fromkeys(oids))
        for start in range(0, len(names), MAX_OIDS_PER_GET):
            chunk = names[start : start + MAX_OIDS_PER_GET]
            raws = [ber.encode_oid(n) for n in chunk]
            objects = [hlapi.ObjectType(hlapi.ObjectIdentity(ber.oid_to_str(r))) for r in raws]
            status, index, varbinds = await self._call(hlapi.get_cmd, *objects)
            self._check_status(status, index, chunk)
            if len(varbinds) != len(chunk):
                raise MalformedResponse(
                    self._where, f"GET of {len(chunk)} OIDs answered with {len(varbinds)} varbinds"
                )
            for name, raw, (oid, value) in zip(chunk, raws, varbinds, strict=True):
                if self._raw(oid) != raw:
                    raise MalformedResponse(self._where, f"GET of {name} answered with {oid}")
                out[name] = to_value(value)[1]
        return out

    async def walk_columns(
        self, columns: Sequence[str], max_repetitions: int = 25
    ) -> dict[str, list[tuple[str, Value]]]:
        walk = ColumnWalk(columns, self._where)
        repetitions = max(1, max_repetitions)
        while oids := walk.pending():
            objects = [hlapi.ObjectType(hlapi.ObjectIdentity(ber.oid_to_str(o))) for o in oids]
            status, index, varbinds = await self._call(hlapi.bulk_cmd, 0, repetitions, *objects)
            if status == TOO_BIG and repetitions > 1:
                repetitions //= 2
                continue
            self._check_status(status, index, [ber.oid_to_str(o) for o in oids])
            walk.feed([(self._raw(oid), *to_value(value)) for oid, value in varbinds])
        return walk.result()

    async def close(self) -> None:
        pass  # the pooled engine outlives sessions

    async def _call(self, command: Any, *args: Any) -> tuple[int, int, Sequence[Any]]:
        engine = (self._engine or default_engine()).snmp_engine(self._creds)
        try:
            transport = self._transport or await self._make_transport()
        except PySnmpError as exc:
            raise SnmpFailure(self._where, f"pysnmp: {exc}", reason="unreachable") from None
        try:
            indication, status, index, varbinds = await command(
                engine, self._auth, transport, self._context, *args, lookupMib=False
            )
        except PySnmpError as exc:
            raise SnmpFailure(self._where, f"pysnmp: {exc}", reason="snmp-engine") from None
        if indication:
            raise self._indication(indication)
        return int(status), int(index), varbinds

    async def _make_transport(self) -> hlapi.UdpTransportTarget | hlapi.Udp6TransportTarget:
        target = self._target
        try:
            is_v6 = ipaddress.ip_address(target.host).version == 6
        except ValueError:
            is_v6 = False  # a name; pysnmp resolves it as IPv4
        kind = hlapi.Udp6TransportTarget if is_v6 else hlapi.UdpTransportTarget
        self._transport = await kind.create(
            (target.host, target.port), timeout=target.timeout, retries=max(target.retries, 0)
        )
        return self._transport

    def _indication(self, indication: Any) -> SnmpFailure:
        if isinstance(indication, errind.RequestTimedOut):
            attempts = max(self._target.retries, 0) + 1
            return SnmpTimeout(
                self._where,
                f"no response after {attempts} attempt(s) of {self._target.timeout:g}s "
                "(agent down, ACL, wrong community, or wrong SNMPv3 privacy key)",
            )
        if isinstance(indication, _AUTH_INDICATIONS):
            return SnmpFailure(self._where, f"SNMPv3 security: {indication}", reason="auth")
        return SnmpFailure(self._where, f"pysnmp: {indication}", reason="snmp-engine")

    def _raw(self, oid: Any) -> bytes:
        try:
            return ber.encode_oid(tuple(oid))
        except ValueError as exc:  # pyasn1 accepts arcs beyond SNMP's 32-bit limit
            raise MalformedResponse(self._where, f"agent returned an invalid OID: {exc}") from None

    def _check_status(self, status: int, index: int, names: Sequence[str]) -> None:
        if status:
            oid = names[index - 1] if 0 < index <= len(names) else None
            raise SnmpErrorStatus(self._where, status, index, oid)
