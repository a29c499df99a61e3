"""One varbind the decoder cannot read costs that value only: over a real UDP socket, through the collector."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from collectors.base import PollTarget
from collectors.model import Sample
from collectors.snmp import ber
from collectors.snmp.collector import DefaultSessions, SnmpCollector
from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.profile import load_profiles
from collectors.snmp.session import Target, V2cCredentials

from .fake_agent import RawValue, fake_agent, table_reply

COMMUNITY = b"odd"
CREDS = V2cCredentials("odd")
SYS_UPTIME, SYS_DESCR, SYS_NAME, SYS_OBJECT_ID = (f"1.3.6.1.2.1.1.{n}.0" for n in (3, 1, 5, 2))
IF_DESCR, IF_ADMIN, IF_OPER, IF_IN_OCTETS = (f"1.3.6.1.2.1.2.2.1.{n}" for n in (2, 7, 8, 10))
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"

AGENT: dict[str, tuple[int, ber.Value]] = {
    SYS_DESCR: (ber.OCTET_STRING, b"odd agent"),
    SYS_OBJECT_ID: (ber.OBJECT_IDENTIFIER, "1.3.6.1.4.1.8072.3.2.10"),
    SYS_UPTIME: (ber.TIMETICKS, 12345),
    SYS_NAME: (ber.IP_ADDRESS, RawValue(b"\x40\x10" + bytes(range(16)))),  # a 16-octet "IpAddress"
    f"{IF_DESCR}.1": (ber.OCTET_STRING, b"eth0"),
    f"{IF_DESCR}.2": (ber.OCTET_STRING, b"eth1"),
    f"{IF_ADMIN}.1": (ber.INTEGER, 1),
    f"{IF_ADMIN}.2": (0x45, RawValue(b"\x45\x02\x01\x02")),  # NsapAddress: no SMIv2 type
    f"{IF_OPER}.1": (ber.INTEGER, 1),
    f"{IF_OPER}.2": (ber.INTEGER, 2),
    f"{IF_IN_OCTETS}.1": (ber.COUNTER32, 1000),
    f"{IF_IN_OCTETS}.2": (ber.COUNTER32, 2000),
    f"{IF_HC_IN_OCTETS}.1": (ber.COUNTER64, RawValue(b"\x46\x00")),  # an empty Counter64
    f"{IF_HC_IN_OCTETS}.2": (ber.COUNTER64, 2**40),
}


@pytest.fixture
async def engine() -> AsyncIterator[FastV2cEngine]:
    async with FastV2cEngine() as engine:
        yield engine


async def test_session_keeps_the_other_values(engine: FastV2cEngine) -> None:
    async with fake_agent(table_reply(AGENT, COMMUNITY)) as agent:
        session = engine.session(Target("127.0.0.1", agent.port, timeout=5), CREDS)
        got = await session.get([SYS_DESCR, SYS_NAME, SYS_UPTIME])
        walked = await session.walk_columns([IF_ADMIN, IF_HC_IN_OCTETS])
    assert got[SYS_DESCR] == b"odd agent" and got[SYS_UPTIME] == 12345
    assert got[SYS_NAME] == ber.BadValue(ber.IP_ADDRESS, "IpAddress of 16 octets, expected 4")
    assert walked[IF_ADMIN] == [("1", 1), ("2", ber.BadValue(0x45, "unsupported varbind value type 0x45"))]
    assert walked[IF_HC_IN_OCTETS] == [("1", ber.BadValue(ber.COUNTER64, "Counter64 value of 0 octets")),
                                       ("2", 2**40)]
    assert engine.stats.malformed == 0 and engine.stats.timeouts == 0


async def test_collector_counts_odd_varbinds_as_missing(caplog: pytest.LogCaptureFixture) -> None:
    collector = SnmpCollector(load_profiles(), DefaultSessions(), timeout=5, retries=0)
    async with fake_agent(table_reply(AGENT, COMMUNITY)) as agent:
        target = PollTarget("odd-1", "127.0.0.1", (("device", "odd-1"),), port=agent.port,
                            profiles=("system", "if-mib"), credential=CREDS)
        with caplog.at_level(logging.WARNING, logger="collectors.snmp.collector"):
            try:
                result = await collector.poll(target)
            finally:
                await collector.close()
    assert result.ok and result.reason == "ok", result.error
    assert result.bad_varbinds == 3
    assert "odd-1 (127.0.0.1): 3 varbind(s) undecodable" in caplog.text
    by_name: dict[str, list[Sample]] = {}
    for sample in result.samples:
        by_name.setdefault(sample.measurement, []).append(sample)
    assert by_name["device"][0].fields == {"uptime_seconds": 123.45}
    info = dict(by_name["device_info"][0].tags)
    assert info["sys_descr"] == "odd agent" and "sys_name" not in info  # the bad sysName names nothing
    rows = {dict(s.tags)["if_index"]: s.fields for s in by_name["interface"]}
    assert rows["1"]["admin_status"] == 1.0 and "admin_status" not in rows["2"]
    assert rows["1"]["oper_status"] == 1.0 and rows["2"]["oper_status"] == 2.0
    # row 1's HC counter is unreadable, so that row falls back to ifInOctets; row 2 keeps its HC value
    assert rows["1"]["in_octets_total"] == 1000.0 and rows["2"]["in_octets_total"] == 2.0**40
    counters = {dict(s.tags)["if_index"]: dict(s.tags).get("counters") for s in by_name["interface_info"]}
    assert counters == {"1": "32", "2": "64"}
