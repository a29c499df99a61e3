"""The fast engine's SNMPv3 session against Debian's net-snmp agent over real UDP, IPv4 and IPv6: the same values
as its v2c session, each credential fault as its precise reason, an agent reboot mid-polling, forged replies."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from collectors.base import PollTarget
from collectors.snmp.collector import DefaultSessions, SnmpCollector
from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.profile import load_profiles
from collectors.snmp.session import SnmpFailure, SnmpTimeout, Target, V2cCredentials, V3Credentials
from lab.snmpd import SYS_NAME, Agent, stop_snmpd
from tests.snmp_wire import v3agent
from tests.snmp_wire.v3agent import PASS_AUTH, PASS_PRIV, USERS, User

pytestmark = pytest.mark.integration

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_NAME_OID = "1.3.6.1.2.1.1.5.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_TYPE = "1.3.6.1.2.1.2.2.1.3"
HOSTS = ["127.0.0.1", "::1"]
COMPARED = [u for u in USERS if u.name in ("u-sha-aes", "u-sha256-aes256", "u-md5-des", "u-sha512-aes256",
                                           "u-sha384-aes256c", "u-sha256-nopriv")]


@pytest.fixture
async def engine() -> AsyncIterator[FastV2cEngine]:
    async with FastV2cEngine() as fast:
        yield fast


def creds(user: User, auth: str = PASS_AUTH, priv: str = PASS_PRIV, name: str | None = None) -> V3Credentials:
    return V3Credentials(name or user.name, user.auth, auth, user.priv, priv)


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("user", COMPARED, ids=[u.name for u in COMPARED])
async def test_same_values_as_the_v2c_session(agent_port: int, engine: FastV2cEngine, host: str,
                                              user: User) -> None:
    target = Target(host, agent_port, timeout=2.0, retries=1)
    v2c = engine.session(target, V2cCredentials(v3agent.COMMUNITY))
    v3 = engine.session(target, creds(user))
    oids = [SYS_DESCR, SYS_NAME_OID, "1.3.6.1.2.1.1.99.0"]
    assert await v3.get(oids) == await v2c.get(oids)
    columns = [IF_DESCR, IF_TYPE, IF_OPER_STATUS]
    walked = await v3.walk_columns(columns, max_repetitions=2)
    assert walked == await v2c.walk_columns(columns, max_repetitions=2)
    assert walked[IF_DESCR] and walked[IF_DESCR][0][0] == "1"  # lo at least
    uptime = (await v3.get([SYS_UPTIME]))[SYS_UPTIME]
    assert isinstance(uptime, int) and uptime > 0
    assert engine.stats.discoveries == 1  # once per peer, whatever the number of sessions and requests
    assert engine.stats.unauthenticated == engine.stats.timeouts == engine.stats.malformed == 0


async def test_one_discovery_for_concurrent_sessions(agent_port: int, engine: FastV2cEngine) -> None:
    target = Target("::1", agent_port)
    sessions = [engine.session(target, creds(u)) for u in USERS for _ in range(5)]
    results = await asyncio.gather(*(s.get([SYS_DESCR]) for s in sessions))
    assert all(r == {SYS_DESCR: b"yiwang v3 test agent"} for r in results)
    assert engine.stats.discoveries == 1
    assert len(engine.keys) == len({(u.auth, u.priv) for u in USERS})  # keys localised once per secret set


@pytest.mark.parametrize("host", HOSTS)
async def test_wrong_auth_key(agent_port: int, engine: FastV2cEngine, host: str) -> None:
    with pytest.raises(SnmpFailure) as caught:
        await engine.session(Target(host, agent_port, 1.0, 0), creds(USERS[0], auth="not-the-auth")).get([SYS_DESCR])
    assert caught.value.reason == "auth" and "authentication key" in str(caught.value)
    assert "not-the-auth" not in str(caught.value)


@pytest.mark.parametrize("host", HOSTS)
async def test_wrong_priv_key(agent_port: int, engine: FastV2cEngine, host: str) -> None:
    with pytest.raises(SnmpTimeout) as caught:
        await engine.session(Target(host, agent_port, 0.5, 0), creds(USERS[0], priv="not-the-priv")).get([SYS_DESCR])
    assert caught.value.reason == "timeout"
    assert "privacy key" in str(caught.value) and "not-the-priv" not in str(caught.value)


@pytest.mark.parametrize("host", HOSTS)
async def test_unknown_user(agent_port: int, engine: FastV2cEngine, host: str) -> None:
    with pytest.raises(SnmpFailure) as caught:
        await engine.session(Target(host, agent_port, 1.0, 0), creds(USERS[0], name="nobody")).get([SYS_DESCR])
    assert caught.value.reason == "auth" and "unknown SNMPv3 user name 'nobody'" in str(caught.value)


async def test_priv_asked_of_a_user_without_priv(agent_port: int, engine: FastV2cEngine) -> None:
    user = USERS[-1]
    bad = V3Credentials(user.name, user.auth, PASS_AUTH, "AES", PASS_PRIV)
    with pytest.raises(SnmpFailure) as caught:
        await engine.session(Target("127.0.0.1", agent_port, 1.0, 0), bad).get([SYS_DESCR])
    assert caught.value.reason == "auth" and "usmStatsUnsupportedSecLevels" in str(caught.value)


async def test_unsupported_protocol_is_a_config_failure(agent_port: int, engine: FastV2cEngine) -> None:
    bad = V3Credentials("u-sha-aes", "SHA", PASS_AUTH, "3DES", PASS_PRIV)
    with pytest.raises(SnmpFailure) as caught:
        await engine.session(Target("127.0.0.1", agent_port, 1.0, 0), bad).get([SYS_DESCR])
    assert caught.value.reason == "config"


async def test_agent_reboot_mid_polling(tmp_path: Path, engine: FastV2cEngine) -> None:
    proc, port = v3agent.start(tmp_path)
    session = engine.session(Target("127.0.0.1", port, 1.0, 2), creds(USERS[0]))
    try:
        assert (await session.get([SYS_DESCR]))[SYS_DESCR] == b"yiwang v3 test agent"
        peer = ("127.0.0.1", port)
        before = engine.clocks[peer]
        stop_snmpd(proc)
        proc, _ = v3agent.start(tmp_path, port)  # same persistent store: same engine ID, boots + 1
        for _ in range(3):
            assert (await session.get([SYS_DESCR]))[SYS_DESCR] == b"yiwang v3 test agent"
        after = engine.clocks[peer]
        assert after.engine_id == before.engine_id and after.boots == before.boots + 1
        assert engine.stats.discoveries == 1  # resynchronised from the authenticated notInTimeWindows report
        assert engine.stats.timeouts == 0
    finally:
        stop_snmpd(proc)


class _Relay(asyncio.DatagramProtocol):
    """Between client and agent on loopback: before the first authenticated reply it sends a copy with one bit
    flipped, the way a forger racing the agent would; then the genuine reply."""

    def __init__(self, agent: tuple[str, int]) -> None:
        self.agent = agent
        self.transport: Any = None
        self.upstream: socket.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.upstream.setblocking(False)
        self.replies = 0
        self.forged = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        asyncio.ensure_future(self._forward(data, addr))

    async def _forward(self, data: bytes, client: tuple[Any, ...]) -> None:
        loop = asyncio.get_running_loop()
        await loop.sock_sendto(self.upstream, data, self.agent)
        reply = await asyncio.wait_for(loop.sock_recv(self.upstream, 65535), 3)
        self.replies += 1
        if self.replies == 2:  # the first after discovery
            flipped = bytearray(reply)
            flipped[-3] ^= 0x01
            self.transport.sendto(bytes(flipped), client)
            self.forged += 1
        self.transport.sendto(reply, client)


@asynccontextmanager
async def relay(agent_port: int) -> AsyncIterator[tuple[int, _Relay]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Relay(("127.0.0.1", agent_port)), local_addr=("127.0.0.1", 0))
    try:
        yield transport.get_extra_info("sockname")[1], protocol
    finally:
        transport.close()
        protocol.upstream.close()


async def test_bit_flipped_reply_is_counted_and_ignored(agent_port: int, engine: FastV2cEngine) -> None:
    async with relay(agent_port) as (port, proxy):
        session = engine.session(Target("127.0.0.1", port, 2.0, 0), creds(USERS[0]))
        assert (await session.get([SYS_DESCR]))[SYS_DESCR] == b"yiwang v3 test agent"
        assert proxy.forged == 1
    assert engine.stats.unauthenticated == 1  # counted, dropped, and the genuine reply still accepted
    assert engine.stats.retransmits == engine.stats.timeouts == 0


async def test_collector_end_to_end_with_v3(snmpd_agent: Agent) -> None:
    collector = SnmpCollector(load_profiles(), DefaultSessions(), timeout=2.0, retries=1)
    try:
        results = {}
        for name, credential in (("v2c", snmpd_agent.v2c), ("v3", snmpd_agent.v3)):
            for host in HOSTS:
                target = PollTarget(f"{name}-{host}", host, (("device", f"{name}-{host}"),), port=snmpd_agent.port,
                                    profiles=("system", "if-mib"), credential=credential)
                result = await collector.poll(target)
                assert result.ok, result.error
                results[name, host] = result
        for host in HOSTS:
            v2c, v3 = results["v2c", host], results["v3", host]
            assert v3.varbinds == v2c.varbinds > 0
            assert {s.measurement for s in v3.samples} == {s.measurement for s in v2c.samples}
            info = [dict(s.tags) for s in v3.samples if s.measurement == "device_info"]
            assert info and SYS_NAME in info[0].values()
        wrong = V3Credentials(snmpd_agent.v3.user, "SHA", "not-the-auth-key", "AES", snmpd_agent.v3.priv_key)
        bad = await collector.poll(PollTarget("bad", "127.0.0.1", (("device", "bad"),), port=snmpd_agent.port,
                                              profiles=("system",), credential=wrong))
        assert not bad.ok and bad.reason == "auth" and "not-the-auth-key" not in bad.error
    finally:
        await collector.close()
