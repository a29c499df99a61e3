from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.pysnmp_session import PysnmpEngine
from lab.snmpd import Agent, start_snmpd, stop_snmpd
from tests.snmp_wire import v3agent


@pytest.fixture(scope="module")
def agent_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """net-snmp with one SNMPv3 user per auth/priv combination (tests/snmp_wire/v3agent.py): its UDP port."""
    proc, port = v3agent.start(tmp_path_factory.mktemp("snmpd-v3"))
    try:
        yield port
    finally:
        stop_snmpd(proc)


@pytest.fixture(scope="session")
def snmpd_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """Debian's net-snmp agent on 127.0.0.1 and [::1], shared by the whole test session."""
    proc, port = start_snmpd(tmp_path_factory.mktemp("snmpd"))
    try:
        yield Agent(port)
    finally:
        stop_snmpd(proc)


@pytest.fixture
async def fast_engine() -> AsyncIterator[FastV2cEngine]:
    async with FastV2cEngine() as engine:
        yield engine


@pytest.fixture
async def pysnmp_engine() -> AsyncIterator[PysnmpEngine]:
    engine = PysnmpEngine()
    yield engine
    await engine.close()
