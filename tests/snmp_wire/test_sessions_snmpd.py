"""Both SnmpSession implementations against Debian's net-snmp agent on loopback (IPv4 and IPv6)."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.pysnmp_session import PysnmpEngine
from collectors.snmp.session import SnmpFailure, SnmpSession, SnmpTimeout, V2cCredentials, V3Credentials
from lab.snmpd import SYNTH_SCALARS, SYNTH_TABLE, SYS_NAME, Agent, synth_rows

pytestmark = pytest.mark.integration

SYS_NAME_OID = "1.3.6.1.2.1.1.5.0"
SYS_UPTIME_OID = "1.3.6.1.2.1.1.3.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_COLUMNS = [IF_DESCR, IF_OPER_STATUS, IF_HC_IN_OCTETS]
SYNTH_COLUMNS = list(synth_rows())
HOSTS = ["127.0.0.1", "::1"]


def both(agent: Agent, fast: FastV2cEngine, reference: PysnmpEngine, host: str) -> dict[str, SnmpSession]:
    target = agent.target(host)
    return {"fast_v2c": fast.session(target, agent.v2c), "pysnmp": reference.session(target, agent.v2c)}


@pytest.mark.parametrize("host", HOSTS)
async def test_get_system(snmpd_agent: Agent, fast_engine: FastV2cEngine, pysnmp_engine: PysnmpEngine,
                          host: str) -> None:
    for name, session in both(snmpd_agent, fast_engine, pysnmp_engine, host).items():
        got = await session.get([SYS_NAME_OID, SYS_UPTIME_OID, "1.3.6.1.2.1.1.99.0", "1.3.6.1.2.1.1.5.1"])
        assert got[SYS_NAME_OID] == SYS_NAME.encode(), name
        assert isinstance(got[SYS_UPTIME_OID], int) and got[SYS_UPTIME_OID] >= 0, name
        assert got["1.3.6.1.2.1.1.99.0"] is None and got["1.3.6.1.2.1.1.5.1"] is None, name


async def test_get_synthetic_scalars_of_every_kind(snmpd_agent: Agent, fast_engine: FastV2cEngine,
                                                   pysnmp_engine: PysnmpEngine) -> None:
    expected = {oid: value for oid, (_, _, value) in SYNTH_SCALARS.items()}
    for session in both(snmpd_agent, fast_engine, pysnmp_engine, "127.0.0.1").values():
        assert await session.get(list(expected)) == expected


async def test_get_more_oids_than_one_pdu_carries(snmpd_agent: Agent, fast_engine: FastV2cEngine,
                                                  pysnmp_engine: PysnmpEngine) -> None:
    oids = [f"{SYNTH_TABLE}.1.{i}" for i in range(1, 41)] + [f"{SYNTH_TABLE}.2.{i}" for i in range(1, 41)]
    fast, reference = [await s.get(oids) for s in both(snmpd_agent, fast_engine, pysnmp_engine,
                                                         "127.0.0.1").values()]
    assert fast == reference and list(fast) == oids and fast[f"{SYNTH_TABLE}.2.40"] == b"row-40"
    assert fast_engine.stats.requests == 2  # split at 60 OIDs per GET


@pytest.mark.parametrize("host", HOSTS)
async def test_ifmib_walk_agrees_between_implementations(snmpd_agent: Agent, fast_engine: FastV2cEngine,
                                                         pysnmp_engine: PysnmpEngine, host: str) -> None:
    results = {name: await s.walk_columns(IF_COLUMNS, max_repetitions=2)
               for name, s in both(snmpd_agent, fast_engine, pysnmp_engine, host).items()}
    fast, reference = results["fast_v2c"], results["pysnmp"]
    assert list(fast) == IF_COLUMNS
    assert fast[IF_DESCR] and fast[IF_DESCR] == reference[IF_DESCR]
    assert fast[IF_OPER_STATUS] == reference[IF_OPER_STATUS]
    # octet counters move between the two walks (our own traffic crosses lo); rows and types must not
    assert [i for i, _ in fast[IF_HC_IN_OCTETS]] == [i for i, _ in reference[IF_HC_IN_OCTETS]]
    assert all(isinstance(v, int) and v >= 0 for _, v in fast[IF_HC_IN_OCTETS])


def net_snmp_walk(agent: Agent, column: str, tmp: str) -> list[tuple[str, str]]:
    env = {**os.environ, "SNMP_PERSISTENT_DIR": tmp}
    assert isinstance(agent.v2c, V2cCredentials)
    out = subprocess.run(
        ["snmpbulkwalk", "-v2c", "-c", agent.v2c.community, "-Onqe", "-m", "", "-Cr7",
         f"127.0.0.1:{agent.port}", column],
        capture_output=True, text=True, check=True, env=env, timeout=30,
    ).stdout
    rows = []
    for line in out.splitlines():
        oid, _, value = line.partition(" ")
        rows.append((oid.removeprefix(f".{column}."), value.strip('"')))
    return rows


async def test_walks_agree_with_net_snmp_tools(snmpd_agent: Agent, fast_engine: FastV2cEngine,
                                               tmp_path: pytest.TempPathFactory) -> None:
    walked = await fast_engine.session(snmpd_agent.target(), snmpd_agent.v2c).walk_columns(
        [IF_DESCR, IF_OPER_STATUS, *SYNTH_COLUMNS])
    for column in [IF_DESCR, IF_OPER_STATUS, *SYNTH_COLUMNS]:
        ours = [(i, v.decode() if isinstance(v, bytes) else str(v)) for i, v in walked[column]]
        assert ours == net_snmp_walk(snmpd_agent, column, str(tmp_path)), column


@pytest.mark.parametrize("max_repetitions", [1, 3, 25, 200])
async def test_synthetic_table_walk_is_exact(snmpd_agent: Agent, fast_engine: FastV2cEngine,
                                             pysnmp_engine: PysnmpEngine, max_repetitions: int) -> None:
    for name, session in both(snmpd_agent, fast_engine, pysnmp_engine, "::1").items():
        assert await session.walk_columns(SYNTH_COLUMNS, max_repetitions) == synth_rows(), name


async def test_ip_address_values(snmpd_agent: Agent, fast_engine: FastV2cEngine,
                                 pysnmp_engine: PysnmpEngine) -> None:
    column = "1.3.6.1.2.1.4.20.1.1"  # ipAdEntAddr
    results = [await s.walk_columns([column]) for s in both(snmpd_agent, fast_engine, pysnmp_engine,
                                                              "127.0.0.1").values()]
    assert results[0] == results[1]
    assert ("127.0.0.1", "127.0.0.1") in results[0][column]


@pytest.mark.parametrize("host", HOSTS)
async def test_v3_auth_priv_through_pysnmp(snmpd_agent: Agent, pysnmp_engine: PysnmpEngine, host: str) -> None:
    session = pysnmp_engine.session(snmpd_agent.target(host), snmpd_agent.v3)
    assert (await session.get([SYS_NAME_OID]))[SYS_NAME_OID] == SYS_NAME.encode()
    assert await session.walk_columns(SYNTH_COLUMNS, 10) == synth_rows()


async def test_v3_wrong_auth_key_is_an_auth_failure(snmpd_agent: Agent, pysnmp_engine: PysnmpEngine) -> None:
    v3 = snmpd_agent.v3
    wrong = V3Credentials(v3.user, v3.auth_protocol, "not-the-auth-key", v3.priv_protocol, v3.priv_key)
    with pytest.raises(SnmpFailure) as caught:
        await pysnmp_engine.session(snmpd_agent.target(timeout=1, retries=0), wrong).get([SYS_NAME_OID])
    # net-snmp answers a usmStatsWrongDigests Report, so this is told apart from a dead agent
    assert caught.value.reason == "auth"
    assert f"127.0.0.1:{snmpd_agent.port}" in str(caught.value)
    assert "not-the-auth-key" not in str(caught.value)


async def test_v3_wrong_priv_key_times_out(snmpd_agent: Agent, pysnmp_engine: PysnmpEngine) -> None:
    v3 = snmpd_agent.v3
    wrong = V3Credentials(v3.user, v3.auth_protocol, v3.auth_key, v3.priv_protocol, "not-the-priv-key")
    with pytest.raises(SnmpTimeout) as caught:
        await pysnmp_engine.session(snmpd_agent.target(timeout=0.5, retries=0), wrong).get([SYS_NAME_OID])
    # net-snmp drops PDUs it cannot decrypt without a Report (net-snmp's snmpget times out too)
    assert "not-the-priv-key" not in str(caught.value)


async def test_users_sharing_a_name_with_different_keys_do_not_clobber_each_other(
        snmpd_agent: Agent, pysnmp_engine: PysnmpEngine) -> None:
    v3 = snmpd_agent.v3
    wrong = V3Credentials(v3.user, v3.auth_protocol, "not-the-auth-key", v3.priv_protocol, v3.priv_key)
    good = pysnmp_engine.session(snmpd_agent.target(), v3)
    bad = pysnmp_engine.session(snmpd_agent.target(timeout=1, retries=0), wrong)
    results = await asyncio.gather(good.get([SYS_NAME_OID]), bad.get([SYS_NAME_OID]), good.get([SYS_NAME_OID]),
                                   return_exceptions=True)
    assert results[0] == results[2] == {SYS_NAME_OID: SYS_NAME.encode()}
    assert isinstance(results[1], SnmpFailure) and results[1].reason == "auth"


@pytest.mark.parametrize("implementation", ["fast_v2c", "pysnmp"])
async def test_wrong_community_times_out_naming_the_target(snmpd_agent: Agent, fast_engine: FastV2cEngine,
                                                           pysnmp_engine: PysnmpEngine, implementation: str) -> None:
    target = snmpd_agent.target("::1", timeout=0.3, retries=1)
    wrong = V2cCredentials("not-the-community")
    engine = fast_engine if implementation == "fast_v2c" else pysnmp_engine
    with pytest.raises(SnmpTimeout) as caught:
        await engine.session(target, wrong).walk_columns(IF_COLUMNS)
    assert caught.value.reason == "timeout"
    assert f"[::1]:{snmpd_agent.port}" in str(caught.value)
    assert "not-the-community" not in str(caught.value)


async def test_200_concurrent_walks_through_one_engine(snmpd_agent: Agent, fast_engine: FastV2cEngine) -> None:
    target = snmpd_agent.target(timeout=5, retries=3)
    sessions = [fast_engine.session(target, snmpd_agent.v2c) for _ in range(200)]
    results = await asyncio.gather(*(s.walk_columns(SYNTH_COLUMNS, max_repetitions=10) for s in sessions))
    assert all(r == synth_rows() for r in results)
    assert fast_engine.stats.timeouts == 0 and fast_engine.stats.malformed == 0
