"""The lab responder's SNMPv3 (lab.agent_v3) for real: a responder process with a USM user on loopback (and ::1),
asked by yiwang's fast v3 client and by net-snmp's snmpget: the same values as over v2c, and each credential fault
as its precise reason."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from collectors.snmp import usm, v3msg
from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.session import SnmpFailure, Target, V2cCredentials, V3Credentials
from lab.agent_v3 import UsmUser, engine_id_of, usm_user_json
from lab.city import CityPlan
from lab.probe import SYS_NAME
from lab.state import write_atomic
from tests.lab.test_responder import COMMUNITY, IF_HC_IN, IF_NAME, Running, start

pytestmark = pytest.mark.integration

USER = UsmUser("lab-v3", "auth-pass-2026", "priv-pass-2026")
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


@pytest.fixture(scope="module")
def responder(tmp_path_factory: pytest.TempPathFactory, small: CityPlan) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("v3responder")
    user_file = tmp / "usm.json"
    write_atomic(user_file, usm_user_json(USER), mode=0o600)
    running = start(tmp, small, ("--usm-user-file", str(user_file)))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def engine() -> AsyncIterator[FastV2cEngine]:
    async with FastV2cEngine() as fast:
        yield fast


def v3(auth: str = USER.auth_password, priv: str = USER.priv_password, user: str = USER.name,
       priv_protocol: str = "AES") -> V3Credentials:
    return V3Credentials(user, "SHA", auth, priv_protocol, priv)


@pytest.mark.parametrize("name", ["hg-core-01", "hb-egov-pe01"])  # IPv4 and ::1
async def test_fast_v3_client_reads_the_same_values_as_v2c(responder: Running, engine: FastV2cEngine,
                                                            name: str) -> None:
    device, host = responder.device(name)
    target = Target(host, responder.port, 2.0, 1)
    v2c = engine.session(target, V2cCredentials(COMMUNITY))
    secure = engine.session(target, v3())
    assert (await secure.get([SYS_NAME]))[SYS_NAME] == name.encode()
    oids = [SYS_NAME, "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.99.0"]
    assert await secure.get(oids) == await v2c.get(oids)
    columns = [IF_NAME, IF_DESCR, IF_OPER]
    walked = await secure.walk_columns(columns, max_repetitions=7)
    assert walked == await v2c.walk_columns(columns, max_repetitions=7)
    assert [value for _, value in walked[IF_NAME]] == [i.name.encode() for i in device.interfaces]
    # Counters move with time: read both ways, v3 between two v2c reads.
    before = dict(await v2c.walk_columns([IF_HC_IN]))[IF_HC_IN]
    middle = dict(await secure.walk_columns([IF_HC_IN]))[IF_HC_IN]
    after = dict(await v2c.walk_columns([IF_HC_IN]))[IF_HC_IN]
    assert [i for i, _ in middle] == [i for i, _ in before]
    assert all(b <= m <= a for (_, b), (_, m), (_, a) in zip(before, middle, after, strict=True))  # type: ignore[operator]
    assert engine.stats.discoveries == 1
    assert engine.clocks[(host, responder.port)].engine_id == engine_id_of(host)
    assert engine.stats.unauthenticated == engine.stats.timeouts == engine.stats.malformed == 0


async def test_one_big_bulk_answer_fits_and_is_encrypted(responder: Running, engine: FastV2cEngine) -> None:
    device, host = responder.device("hg-core-01")
    session = engine.session(Target(host, responder.port, 2.0, 1), v3())
    walked = await session.walk_columns([IF_NAME, IF_HC_IN, IF_DESCR, IF_OPER], max_repetitions=200)
    assert len(walked[IF_NAME]) == len(device.interfaces)


@pytest.mark.parametrize(("creds", "why"), [
    (v3(auth="not-the-auth-key"), "usmStatsWrongDigests"),
    (v3(priv="not-the-priv-key"), "usmStatsDecryptionErrors"),
    (v3(user="nobody"), "usmStatsUnknownUserNames"),
    (V3Credentials(USER.name, "SHA", USER.auth_password, "NONE", ""), None),  # authNoPriv: the user allows it
    (V3Credentials(USER.name, "NONE", "", "NONE", ""), "usmStatsUnsupportedSecLevels"),
], ids=["wrong-auth", "wrong-priv", "unknown-user", "auth-no-priv", "no-auth"])
async def test_credential_faults_are_precise(responder: Running, engine: FastV2cEngine, creds: V3Credentials,
                                             why: str | None) -> None:
    _, host = responder.device("hg-core-01")
    session = engine.session(Target(host, responder.port, 1.0, 0), creds)
    if why is None:
        assert (await session.get([SYS_NAME]))[SYS_NAME] == b"hg-core-01"
        return
    with pytest.raises(SnmpFailure) as caught:
        await session.get([SYS_NAME])
    assert caught.value.reason == "auth" and why in str(caught.value)
    assert USER.auth_password not in str(caught.value) and "not-the" not in str(caught.value)


def snmpget_v3(running: Running, host: str, *options: str) -> subprocess.CompletedProcess[str]:
    agent = f"udp6:[{host}]:{running.port}" if ":" in host else f"{host}:{running.port}"
    return subprocess.run(["snmpget", "-v3", "-t", "1", "-r", "0", "-Ov", *options, agent, SYS_NAME],
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", ["hg-core-01", "hb-egov-pe01"])
def test_net_snmp_authpriv_and_its_errors(responder: Running, name: str) -> None:
    if not shutil.which("snmpget"):
        pytest.skip("net-snmp's snmpget is not installed")
    _, host = responder.device(name)
    good = ("-l", "authPriv", "-u", USER.name, "-a", "SHA", "-A", USER.auth_password, "-x", "AES",
            "-X", USER.priv_password)
    done = snmpget_v3(responder, host, *good)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f'STRING: "{name}"' or done.stdout.strip() == f"STRING: {name}"
    wrong = snmpget_v3(responder, host, *good[:7], "wrong-auth-key", *good[8:])
    assert "Authentication failure" in wrong.stderr
    nobody = snmpget_v3(responder, host, "-l", "authPriv", "-u", "nobody", *good[4:])
    assert "Unknown user name" in nobody.stderr


async def test_outside_the_time_window_is_an_authenticated_report(responder: Running) -> None:
    """A request with the right keys but a time 1,000 s ahead: usmStatsNotInTimeWindows, authenticated, with the
    agent's true boots and time (what lets a client resynchronise)."""
    _, host = responder.device("hg-core-01")
    engine_id = engine_id_of(host)
    keys = usm.user_keys(engine_id, "SHA", USER.auth_password.encode(), "AES", USER.priv_password.encode())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.sendto(v3msg.encode_discovery(7, 7), (host, responder.port))
        found = v3msg.decode_message(sock.recv(65535), None)
        assert found.report is not None and found.report.reason == "unknownEngineIDs"
        assert found.engine.engine_id == engine_id and found.engine.boots == 1
        ahead = v3msg.Engine(engine_id, found.engine.boots, found.engine.time + 1000)
        sock.sendto(v3msg.encode_get(v3msg.Security(USER.name.encode(), keys, ahead), 8, [SYS_NAME], salt=1),
                    (host, responder.port))
        reply = v3msg.decode_message(sock.recv(65535), keys)
    assert reply.report is not None and reply.report.reason == "notInTimeWindows"
    assert reply.authenticated and reply.msg_id == 8 and reply.engine.boots == 1
    assert abs(reply.engine.time - found.engine.time) <= 2
    assert not re.search("priv-pass", repr(reply))


async def test_a_restarted_responder_is_a_rebooted_agent(tmp_path: Path, small: CityPlan,
                                                          engine: FastV2cEngine) -> None:
    """The boots file counts starts: a poller that knew the agent resynchronises on the authenticated
    notInTimeWindows report (boots went up) instead of taking the restarted agent's early time for a replay."""
    user_file, boots = tmp_path / "usm.json", tmp_path / "snmp.engine-boots"
    write_atomic(user_file, usm_user_json(USER), mode=0o600)
    extra = ("--usm-user-file", str(user_file), "--boots-file", str(boots))
    first = start(tmp_path / "one", small, extra)
    _, host = first.device("hg-core-01")
    try:
        session = engine.session(Target(host, first.port, 1.0, 1), v3())
        assert (await session.get([SYS_NAME]))[SYS_NAME] == b"hg-core-01"
        assert engine.clocks[(host, first.port)].boots == 1
    finally:
        first.stop()
    second = start(tmp_path / "two", small, extra, port=first.port)
    try:
        assert (await session.get([SYS_NAME]))[SYS_NAME] == b"hg-core-01"
        assert engine.clocks[(host, first.port)].boots == 2
        assert engine.stats.discoveries == 1  # same engine ID: a resync, not a rediscovery
    finally:
        second.stop()
    assert boots.read_text().strip() == "2"
