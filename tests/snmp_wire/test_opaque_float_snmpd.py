"""laLoadFloat (UCD-SNMP-MIB): Debian snmpd's Opaque-wrapped floats, read by our client and by net-snmp's snmpget."""

from __future__ import annotations

import asyncio
import os

from collectors.snmp.fast_v2c import FastV2cEngine
from lab.snmpd import COMMUNITY, Agent

LA_LOAD_FLOAT = [f"1.3.6.1.4.1.2021.10.1.6.{i}" for i in (1, 2, 3)]


async def _snmpget(agent: Agent) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        "snmpget", "-v2c", "-c", COMMUNITY, "-On", "-m", "", f"127.0.0.1:{agent.port}", *LA_LOAD_FLOAT,
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "MIBS": "", "MIBDIRS": ""})
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    lines = out.decode().splitlines()
    assert [line.split(" = ")[0] for line in lines] == [f".{oid}" for oid in LA_LOAD_FLOAT]
    assert all(" = Opaque: Float: " in line for line in lines), lines
    return [float(line.rsplit(" ", 1)[1]) for line in lines]


async def test_la_load_float_matches_snmpget(snmpd_agent: Agent, fast_engine: FastV2cEngine) -> None:
    session = fast_engine.session(snmpd_agent.target(), snmpd_agent.v2c)
    for _ in range(5):  # the load average may move between the reads; a stable pair of snmpget reads brackets ours
        before = await _snmpget(snmpd_agent)
        got = await session.get(LA_LOAD_FLOAT)
        after = await _snmpget(snmpd_agent)
        if before == after:
            break
    assert before == after, "load average kept changing"
    values = [got[oid] for oid in LA_LOAD_FLOAT]
    assert all(type(v) is float for v in values), values
    assert [f"{v:f}" for v in values] == [f"{v:f}" for v in before]  # snmpget prints %f of the same float
