"""The v3 message layer against Debian's net-snmp agent over real UDP, IPv4 and IPv6, every protocol pair."""

from __future__ import annotations

import pytest

from collectors.snmp import ber, usm, v3msg
from tests.snmp_wire import v3agent
from tests.snmp_wire.v3agent import PASS_AUTH, PASS_PRIV, USERS, User, exchange

pytestmark = pytest.mark.integration

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
HOSTS = ["127.0.0.1", "::1"]
CACHE = usm.LocalizedKeys()


async def discover(host: str, port: int) -> v3msg.Engine:
    reply = v3msg.decode_message(await exchange(host, port, v3msg.encode_discovery(11, 12)), None)
    assert reply.report is not None and reply.report.reason == "unknownEngineIDs"
    assert not reply.authenticated and reply.pdu.request_id == 12 and reply.msg_id == 11
    assert reply.engine.engine_id and reply.engine.boots >= 1
    return reply.engine


def security(user: User, engine: v3msg.Engine, auth_pass: str = PASS_AUTH,
             priv_pass: str = PASS_PRIV) -> v3msg.Security:
    keys = CACHE.get(engine.engine_id, user.auth, auth_pass.encode(), user.priv, priv_pass.encode())
    return v3msg.Security(user.name.encode(), keys, engine)


async def v2c(host: str, port: int, datagram: bytes) -> ber.Response:
    return ber.decode_response(await exchange(host, port, datagram))


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("user", USERS, ids=[u.name for u in USERS])
async def test_get_and_getbulk_match_v2c(agent_port: int, host: str, user: User) -> None:
    engine = await discover(host, agent_port)
    sec = security(user, engine)
    community = v3agent.COMMUNITY.encode()

    reply = v3msg.decode_message(await exchange(host, agent_port, v3msg.encode_get(sec, 101, [SYS_DESCR, SYS_NAME],
                                                                                  salt=0x1234)), sec.keys)
    assert reply.authenticated and reply.report is None
    assert reply.flags & v3msg.FLAG_PRIV == (v3msg.FLAG_PRIV if user.priv != "NONE" else 0)
    assert reply.engine.engine_id == engine.engine_id and reply.context_engine_id == engine.engine_id
    assert reply.pdu.pdu_type == ber.RESPONSE and reply.pdu.request_id == 101 and reply.pdu.error_status == 0
    plain = await v2c(host, agent_port, ber.encode_get(community, 7, [SYS_DESCR, SYS_NAME]))
    assert reply.pdu.varbinds == plain.varbinds
    assert reply.pdu.varbinds[0][2] == b"yiwang v3 test agent"

    bulk = v3msg.decode_message(await exchange(host, agent_port, v3msg.encode_getbulk(sec, 102, 0, 20, [IF_DESCR],
                                                                                    salt=2)), sec.keys)
    plain = await v2c(host, agent_port, ber.encode_getbulk(community, 8, 0, 20, [IF_DESCR]))
    assert bulk.authenticated and bulk.pdu.request_id == 102
    assert bulk.pdu.varbinds == plain.varbinds
    assert bulk.pdu.varbinds[0][0].startswith(ber.encode_oid(IF_DESCR))  # at least lo


@pytest.mark.parametrize("host", HOSTS)
async def test_wrong_auth_key_is_a_wrong_digest_report(agent_port: int, host: str) -> None:
    engine = await discover(host, agent_port)
    sec = security(USERS[0], engine, auth_pass="not-the-password")
    reply = v3msg.decode_message(await exchange(host, agent_port, v3msg.encode_get(sec, 5, [SYS_DESCR])), sec.keys)
    assert reply.report is not None and reply.report.reason == "wrongDigests"
    assert reply.report.oid == "1.3.6.1.6.3.15.1.1.5.0" and isinstance(reply.report.counter, int)
    assert not reply.authenticated


@pytest.mark.parametrize("host", HOSTS)
async def test_unknown_user_report(agent_port: int, host: str) -> None:
    engine = await discover(host, agent_port)
    sec = security(USERS[0], engine)._replace(user=b"nobody-here")
    reply = v3msg.decode_message(await exchange(host, agent_port, v3msg.encode_get(sec, 6, [SYS_DESCR])), sec.keys)
    assert reply.report is not None and reply.report.reason == "unknownUserNames"


@pytest.mark.parametrize("host", HOSTS)
async def test_wrong_priv_key(agent_port: int, host: str) -> None:
    engine = await discover(host, agent_port)
    sec = security(USERS[0], engine, priv_pass="not-the-priv-pass")
    # net-snmp 5.9 decrypts (CFB cannot fail), cannot parse the garbage scoped PDU, counts snmpInASNParseErrs and
    # stays silent: no decryptionErrors report. A client sees a timeout after a discovery that worked.
    with pytest.raises(TimeoutError):
        await exchange(host, agent_port, v3msg.encode_get(sec, 7, [SYS_DESCR]), timeout=1.0)


@pytest.mark.parametrize("host", HOSTS)
async def test_security_level_refusals(agent_port: int, host: str) -> None:
    engine = await discover(host, agent_port)
    # A user without a privacy key asked for authPriv: USM refuses with usmStatsUnsupportedSecLevels.
    nopriv_user = USERS[-1]
    keys = CACHE.get(engine.engine_id, nopriv_user.auth, PASS_AUTH.encode(), "AES", PASS_PRIV.encode())
    sec = v3msg.Security(nopriv_user.name.encode(), keys, engine)
    reply = v3msg.decode_message(await exchange(host, agent_port, v3msg.encode_get(sec, 8, [SYS_DESCR])), keys)
    assert reply.report is not None and reply.report.reason == "unsupportedSecLevels"
    # A priv-only user (rouser ... priv) asking authNoPriv passes USM; VACM answers authorizationError (16).
    full = security(USERS[0], engine)
    assert full.keys is not None
    auth_only = full._replace(keys=usm.UserKeys(engine.engine_id, full.keys.auth, full.keys.auth_key, None, b""))
    reply = v3msg.decode_message(await exchange(host, agent_port, v3msg.encode_get(auth_only, 9, [SYS_DESCR])),
                                 auth_only.keys)
    assert reply.authenticated and reply.report is None and reply.pdu.error_status == 16


@pytest.mark.parametrize("host", HOSTS)
async def test_stale_time_gets_not_in_time_window_report(agent_port: int, host: str) -> None:
    engine = await discover(host, agent_port)
    stale = engine._replace(time=engine.time + 1000)  # RFC 3414 3.2 step 7: outside +-150 s
    sec = security(USERS[0], stale)
    reply = v3msg.decode_message(await exchange(host, agent_port, v3msg.encode_get(sec, 9, [SYS_DESCR])), sec.keys)
    assert reply.report is not None and reply.report.reason == "notInTimeWindows"
    assert reply.authenticated  # RFC 3414 3.2 step 7: this report is authenticated, and gives the true time
    assert engine.time <= reply.engine.time < stale.time


@pytest.mark.parametrize("host", HOSTS)
async def test_bit_flipped_reply_is_rejected(agent_port: int, host: str) -> None:
    engine = await discover(host, agent_port)
    sec = security(USERS[0], engine)
    data = await exchange(host, agent_port, v3msg.encode_get(sec, 10, [SYS_DESCR]))
    v3msg.decode_message(data, sec.keys)
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        with pytest.raises(ber.BerError):
            v3msg.decode_message(bytes(flipped), sec.keys)
    other_engine = security(USERS[0], engine._replace(engine_id=b"\x80\x00\x1f\x88\x04other"))
    with pytest.raises(v3msg.Unauthenticated):
        v3msg.decode_message(data, other_engine.keys)


@pytest.mark.parametrize("user", [u for u in USERS if u.priv.startswith("AES") and u.priv != "AES"],
                         ids=lambda u: u.name)
async def test_pysnmp_session_names_match_netsnmp(agent_port: int, user: User) -> None:
    """The same protocol names through the pysnmp reference session reach the same net-snmp users."""
    from collectors.snmp.pysnmp_session import PysnmpEngine
    from collectors.snmp.session import Target, V3Credentials

    engine = PysnmpEngine()
    try:
        creds = V3Credentials(user.name, user.auth, PASS_AUTH, user.priv, PASS_PRIV)
        session = engine.session(Target("127.0.0.1", agent_port, timeout=1.0, retries=0), creds)
        got = await session.get([SYS_DESCR])
        assert got[SYS_DESCR] == b"yiwang v3 test agent"
    finally:
        await engine.close()


@pytest.mark.parametrize("host", HOSTS)
async def test_same_values_as_fast_v2c_session(agent_port: int, host: str) -> None:
    """The production v2c client and the v3 layer read the same sysDescr and the same ifDescr column."""
    from collectors.snmp.fast_v2c import FastV2cEngine
    from collectors.snmp.session import ColumnWalk, Target, V2cCredentials

    async with FastV2cEngine() as fast:
        session = fast.session(Target(host, agent_port, timeout=2.0, retries=1), V2cCredentials(v3agent.COMMUNITY))
        v2c_get = await session.get([SYS_DESCR])
        v2c_walk = await session.walk_columns([IF_DESCR])
    engine = await discover(host, agent_port)
    sec = security(USERS[7], engine)  # SHA-256 / AES-256
    reply = v3msg.decode_message(await exchange(host, agent_port, v3msg.encode_get(sec, 1, [SYS_DESCR])), sec.keys)
    assert reply.pdu.varbinds[0][2] == v2c_get[SYS_DESCR]
    walk = ColumnWalk([IF_DESCR], str(host))
    for n in range(2, 50):
        pending = walk.pending()
        if not pending:
            break
        bulk = await exchange(host, agent_port, v3msg.encode_getbulk(sec, n, 0, 3, pending, salt=n))
        walk.feed(v3msg.decode_message(bulk, sec.keys).pdu.varbinds)
    assert walk.result() == v2c_walk and len(v2c_walk[IF_DESCR]) >= 1
