"""The SNMPv3 (USM) session on FastV2cEngine: discovery, time window and reports around the pure v3msg layer.

A session is cheap (the collector makes one per poll); what outlives it lives in the engine: each agent's
engine clock (discovered once per peer), the localized keys, the privacy salt. A request is sent with the
agent's time estimated forward from the clock; an authenticated notInTimeWindows report (an agent reboot
raises boots) resynchronises the clock and the request is sent once more; an unknownEngineIDs report
(the agent's engine ID changed) leads to one rediscovery. Other reports are failures with reason "auth"
(credentials) or "report".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from collectors.snmp import ber, usm, v3msg
from collectors.snmp.fast_v2c import FastV2cSession
from collectors.snmp.session import SnmpFailure, SnmpTimeout, Target, V3Credentials

if TYPE_CHECKING:
    from collectors.snmp.fast_v2c import FastV2cEngine

_AUTH_REPORTS = {
    "unknownUserNames": "unknown SNMPv3 user name {user!r} on the agent (usmStatsUnknownUserNames)",
    "wrongDigests": "wrong SNMPv3 authentication key or protocol (usmStatsWrongDigests)",
    "decryptionErrors": "wrong SNMPv3 privacy key or protocol (usmStatsDecryptionErrors)",
    "unsupportedSecLevels": "the agent's user {user!r} does not support the security level asked "
                            "(usmStatsUnsupportedSecLevels: authPriv for a user without a privacy key?)",
    "notInTimeWindows": "still outside the agent's time window after resynchronising (usmStatsNotInTimeWindows)",
}


class FastV3Session(FastV2cSession):
    """``get``/``walk_columns``/``close`` as FastV2cSession; only how one PDU travels differs."""

    def __init__(self, engine: FastV2cEngine, target: Target, creds: V3Credentials) -> None:
        # not super().__init__: there is no community
        self._engine = engine
        self._target = target
        self._community = b""
        self._address: tuple[int, tuple[Any, ...]] | None = None
        self._creds = creds
        self._user = creds.user.encode()
        self._context = creds.context.encode()
        self._auth_pass = creds.auth_key.encode()
        self._priv_pass = creds.priv_key.encode()
        self._priv = creds.priv_protocol.upper() not in ("", "NONE", "NOPRIV")

    def __repr__(self) -> str:
        return f"FastV3Session({self._target}, user={self._creds.user!r})"

    async def _get_pdu(self, raws: list[bytes]) -> ber.Response:
        return await self._v3_request(lambda sec, rid, salt: v3msg.encode_get(sec, rid, raws, salt))

    async def _bulk_pdu(self, repetitions: int, oids: list[bytes]) -> ber.Response:
        return await self._v3_request(
            lambda sec, rid, salt: v3msg.encode_getbulk(sec, rid, 0, repetitions, oids, salt))

    async def _v3_request(self, encode: Callable[[v3msg.Security, int, int], bytes]) -> ber.Response:
        engine = self._engine
        target = self._target
        if self._address is None:
            self._address = await engine.resolve(target)
        address = self._address
        peer = address[1][:2]
        clock = await _clock(engine, target, address, rediscover=False)
        resynced = rediscovered = False
        loop = asyncio.get_running_loop()
        while True:
            keys = self._keys(clock.engine_id)

            def build(request_id: int, clock: v3msg.Clock = clock, keys: usm.UserKeys = keys) -> bytes:
                sec = v3msg.Security(self._user, keys, clock.engine(loop.time()), self._context)
                return encode(sec, request_id, engine.next_salt())

            try:
                message = await engine.exchange_v3(target, address, keys, build)
            except SnmpTimeout as exc:
                raise self._timeout(exc, peer) from None
            report = message.report
            if report is None:
                engine.v3_confirmed.add((peer, self._creds))
                return message.pdu
            if report.reason == "notInTimeWindows" and message.authenticated and not resynced:
                resynced = True  # the engine adopted the report's boots/time (check_clock)
                clock = engine.clocks.get(peer, clock)
                continue
            if report.reason == "unknownEngineIDs" and not rediscovered:
                rediscovered = True
                clock = await _clock(engine, target, address, rediscover=True)
                continue
            raise self._report_failure(report)

    def _keys(self, engine_id: bytes) -> usm.UserKeys:
        creds = self._creds
        try:
            return self._engine.keys.get(engine_id, creds.auth_protocol, self._auth_pass, creds.priv_protocol,
                                         self._priv_pass)
        except usm.UsmError as exc:
            raise SnmpFailure(str(self._target), f"SNMPv3 credentials unusable: {exc}", reason="config") from None

    def _timeout(self, exc: SnmpTimeout, peer: tuple[str, int]) -> SnmpTimeout:
        if self._priv and (peer, self._creds) not in self._engine.v3_confirmed:
            # net-snmp drops what it cannot decrypt without a report: silence right after a discovery that
            # answered is the signature of a wrong privacy key.
            return SnmpTimeout(exc.target, f"{exc.detail}; the agent answered SNMPv3 engine discovery, so a wrong "
                                           "privacy key (or privacy protocol) is likely")
        return exc

    def _report_failure(self, report: v3msg.Report) -> SnmpFailure:
        where = str(self._target)
        template = _AUTH_REPORTS.get(report.reason)
        if template is not None:
            return SnmpFailure(where, template.format(user=self._creds.user), reason="auth")
        if report.reason in ("unknownContexts", "unavailableContexts"):
            return SnmpFailure(where, f"SNMPv3 context {self._creds.context!r}: {report.reason}", reason="report")
        return SnmpFailure(where, f"agent sent a Report-PDU ({report.reason}, {report.oid})", reason="report")


async def _clock(engine: FastV2cEngine, target: Target, address: tuple[int, tuple[Any, ...]],
                 rediscover: bool) -> v3msg.Clock:
    """The agent's engine clock, discovered once per peer; concurrent sessions share one discovery."""
    peer = address[1][:2]
    if not rediscover:
        clock = engine.clocks.get(peer)
        if clock is not None:
            return clock
    running = engine.discovering.get(peer)
    if running is None:
        running = asyncio.ensure_future(_discover(engine, target, address))
        engine.discovering[peer] = running
        running.add_done_callback(lambda _: engine.discovering.pop(peer, None))
    return await asyncio.shield(running)


async def _discover(engine: FastV2cEngine, target: Target, address: tuple[int, tuple[Any, ...]]) -> v3msg.Clock:
    engine.stats.discoveries += 1
    try:
        message = await engine.exchange_v3(target, address, None, lambda rid: v3msg.encode_discovery(rid, rid))
    except SnmpTimeout as exc:
        raise SnmpTimeout(exc.target, f"SNMPv3 engine discovery: {exc.detail}") from None
    found = message.engine
    if message.report is None or not found.engine_id:
        raise SnmpFailure(str(target), "SNMPv3 engine discovery answered without an engine ID", reason="report")
    clock = v3msg.Clock(found.engine_id, found.boots, found.time, asyncio.get_running_loop().time())
    engine.clocks[address[1][:2]] = clock
    return clock
