"""SNMP over IPv6 for IPv6 readiness, against Debian's net-snmp over real UDP on 127.0.0.1 and [::1]: a dual-stack
device is walked at its IPv4 address and asked one GET at its IPv6 address, and the answer (or why not) reaches
the readiness `snmp` check through the latest store, as the monitor runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from collectors.base import PollResult, PollTarget
from collectors.snmp.collector import DefaultSessions, SnmpCollector
from collectors.snmp.profile import load_profiles
from inventory.model import Device, Inventory
from lab.agents import SnmpdAgent, start_snmpd_agents, stop_snmpd_agents
from lab.snmpd import COMMUNITY, Agent, free_udp_port
from yiwang.compliance.ipv6 import Ipv6Check, assess
from yiwang.latest import LatestStore

pytestmark = pytest.mark.integration

PROFILES = ("system", "if-mib")


@pytest.fixture(scope="module")
def ipv4_only_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """snmpd on 127.0.0.1:port only; nobody listens on [::1]:port (the port was free on both)."""
    port = free_udp_port()
    agents: list[SnmpdAgent] = start_snmpd_agents(["127.0.0.1"], COMMUNITY, tmp_path_factory.mktemp("v4only"),
                                                  port=port)
    try:
        yield port
    finally:
        stop_snmpd_agents(agents)


@pytest.fixture(scope="module")
def ipv6_only_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """snmpd on [::1]:port only; nobody listens on 127.0.0.1:port."""
    port = free_udp_port()
    agents = start_snmpd_agents(["::1"], COMMUNITY, tmp_path_factory.mktemp("v6only"), port=port)
    try:
        yield port
    finally:
        stop_snmpd_agents(agents)


@pytest.fixture
async def collector() -> AsyncIterator[SnmpCollector]:
    polling = SnmpCollector(load_profiles(), DefaultSessions(), timeout=0.5, retries=1)
    yield polling
    await polling.close()


def target(name: str, host: str, host6: str | None, port: int, credential: object) -> PollTarget:
    return PollTarget(name, host, (("device", name),), port=port, host6=host6, profiles=PROFILES,
                      credential=credential)


def snmp_check(results: list[PollResult]) -> dict[str, Ipv6Check]:
    """The readiness `snmp` check of each polled device, read from the latest store as the service reads it."""
    latest = LatestStore()
    devices = {}
    for result in results:
        latest.replace(result.device, "snmp", result.samples)
        address = None if result.device.startswith("v6only") else "127.0.0.1"
        devices[result.device] = Device(result.device, "cisco_ios", "village-access", "x", address, "::1")
    found, _ = assess(Inventory({}, devices), {}, {name: latest.device_samples(name) for name in devices})
    return {d.device: next(c for c in d.checks if c.check == "snmp") for d in found}


async def first_poll(polled: PollTarget) -> PollResult:
    """A device's first poll on a collector of its own (a first poll reads the facts and labels too)."""
    polling = SnmpCollector(load_profiles(), DefaultSessions(), timeout=0.5, retries=1)
    try:
        return await polling.poll(polled)
    finally:
        await polling.close()


def series(result: PollResult) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {s.series_key for s in result.samples}


async def test_dual_stack_answering_on_both_is_ready_for_snmp(collector: SnmpCollector,
                                                               snmpd_agent: Agent) -> None:
    port = snmpd_agent.port
    results = [await collector.poll(target("dual-v2c", "127.0.0.1", "::1", port, snmpd_agent.v2c)),
               await collector.poll(target("dual-v3", "127.0.0.1", "::1", port, snmpd_agent.v3)),
               await collector.poll(target("v6only", "::1", "::1", port, snmpd_agent.v2c))]
    for result in results:
        assert result.ok, result.error
        answer = [s for s in result.samples if s.measurement == "snmp_ipv6"]
        assert [(s.tag("reason"), s.fields["up"]) for s in answer] == [("ok", 1.0)], result.device
    checks = snmp_check(results)
    assert {name: c.status for name, c in checks.items()} == {"dual-v2c": "pass", "dual-v3": "pass",
                                                             "v6only": "pass"}
    assert checks["dual-v2c"].reason == "SNMP answered at ::1"
    ipv4_only = await first_poll(target("dual-v2c", "127.0.0.1", None, port, snmpd_agent.v2c))
    # the IPv4 poll is the same poll it was before: the IPv6 answer is one series more, nothing else
    assert series(results[0]) - series(ipv4_only) == {("snmp_ipv6", (("device", "dual-v2c"), ("reason", "ok")))}
    assert series(ipv4_only) <= series(results[0])
    assert results[0].varbinds == ipv4_only.varbinds > 0


async def test_silent_ipv6_fails_readiness_and_keeps_the_ipv4_poll(collector: SnmpCollector,
                                                                   ipv4_only_agent: int) -> None:
    port = ipv4_only_agent
    credential = Agent(port).v2c
    dual = await collector.poll(target("dual-dead6", "127.0.0.1", "::1", port, credential))
    plain = await first_poll(target("dual-dead6", "127.0.0.1", None, port, credential))
    assert dual.ok and dual.reason == "ok", dual.error
    assert series(plain) and series(plain) <= series(dual)  # every IPv4 series still collected
    assert any(s.measurement == "interface" for s in dual.samples)
    assert dual.varbinds == plain.varbinds
    answer = [s for s in dual.samples if s.measurement == "snmp_ipv6"]
    assert [(s.tag("reason"), s.fields["up"]) for s in answer] == [("timeout", 0.0)]
    assert answer[0].fields["duration_seconds"] >= 1.0  # two attempts of 0.5 s: the same timeouts as the poll
    check = snmp_check([dual])["dual-dead6"]
    assert (check.status, check.reason) == ("fail", "SNMP did not answer at ::1 (timeout)")


async def test_the_answer_is_exported_like_any_series(collector: SnmpCollector, snmpd_agent: Agent,
                                                      ipv4_only_agent: int) -> None:
    latest = LatestStore()
    for name, port, credential in (("up6", snmpd_agent.port, snmpd_agent.v2c),
                                   ("down6", ipv4_only_agent, Agent(ipv4_only_agent).v2c)):
        result = await collector.poll(target(name, "127.0.0.1", "::1", port, credential))
        latest.replace(name, "snmp", result.samples)
    text = latest.render().decode()
    assert 'yiwang_snmp_ipv6_up{device="up6",reason="ok"} 1.0' in text
    assert 'yiwang_snmp_ipv6_up{device="down6",reason="timeout"} 0.0' in text



async def test_a_silent_ipv4_address_does_not_hide_the_ipv6_answer(collector: SnmpCollector,
                                                                   ipv6_only_agent: int) -> None:
    result = await collector.poll(target("dual-dead4", "127.0.0.1", "::1", ipv6_only_agent,
                                         Agent(ipv6_only_agent).v2c))
    assert not result.ok and result.reason == "timeout"
    assert [(s.measurement, s.tag("reason"), s.fields["up"]) for s in result.samples] == [("snmp_ipv6", "ok", 1.0)]
    assert snmp_check([result])["dual-dead4"].status == "pass"
