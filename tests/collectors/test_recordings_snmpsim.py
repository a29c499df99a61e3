"""The SNMP collector against recordings served by a real snmpsim: devices without ifXTable or ifName, Windows
strings ending in NUL, and the walk each device costs once discovery has seen what it answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest

from collectors.base import PollResult, PollTarget
from collectors.model import Sample
from collectors.snmp.collector import SnmpCollector
from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.profile import load_profiles
from collectors.snmp.session import SnmpSession, Target, V2cCredentials, Value
from tests.collectors.snmpsim_responder import Responder, start_responder

pytestmark = pytest.mark.integration

PROFILES = load_profiles()
IF_TABLE = "1.3.6.1.2.1.2.2.1."
HC = {"1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.31.1.1.1.7", "1.3.6.1.2.1.31.1.1.1.10", "1.3.6.1.2.1.31.1.1.1.11"}
HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
FALLBACKS = {"1.3.6.1.2.1.2.2.1.10", "1.3.6.1.2.1.2.2.1.11", "1.3.6.1.2.1.2.2.1.16", "1.3.6.1.2.1.2.2.1.17",
             "1.3.6.1.2.1.2.2.1.5"}
WRAP_AFTER_S = 20  # old-switch's port 1 ifInOctets wraps this long after snmpsim starts (make_recordings.py)


@pytest.fixture(scope="module")
def responder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Responder]:
    served = start_responder(tmp_path_factory.mktemp("snmpsim"))
    try:
        yield served
    finally:
        served.stop()


class _Tapped:
    """A real session whose walks are noted, so a test can see what each poll put on the wire."""

    def __init__(self, inner: SnmpSession, walks: list[list[str]]) -> None:
        self._inner = inner
        self._walks = walks

    async def get(self, oids: Sequence[str]) -> dict[str, Value]:
        return await self._inner.get(oids)

    async def walk_columns(self, columns: Sequence[str], max_repetitions: int = 25
                           ) -> dict[str, list[tuple[str, Value]]]:
        self._walks.append(list(columns))
        return await self._inner.walk_columns(columns, max_repetitions)

    async def close(self) -> None:
        await self._inner.close()


class TappedSessions:
    def __init__(self) -> None:
        self.engine = FastV2cEngine()
        self.walks: list[list[str]] = []

    def session(self, target: Target, credential: object) -> SnmpSession:
        assert isinstance(credential, V2cCredentials)
        return _Tapped(self.engine.session(target, credential), self.walks)

    async def close(self) -> None:
        await self.engine.close()


@pytest.fixture
async def tapped() -> AsyncIterator[tuple[SnmpCollector, TappedSessions]]:
    sessions = TappedSessions()
    collector = SnmpCollector(PROFILES, sessions, timeout=2.0, retries=1)
    try:
        yield collector, sessions
    finally:
        await collector.close()


def _target(responder: Responder, community: str, profiles: tuple[str, ...] = ("system", "if-mib")) -> PollTarget:
    return PollTarget(community, "127.0.0.1", (("device", community),), port=responder.port, profiles=profiles,
                      credential=V2cCredentials(community))


async def _two_polls(collector: SnmpCollector, target: PollTarget, gap_s: float = 2.0) -> PollResult:
    first = await collector.poll(target)
    assert first.ok, first.error
    await asyncio.sleep(gap_s)
    second = await collector.poll(target)
    assert second.ok, second.error
    return second


def _interfaces(result: PollResult) -> dict[str, Sample]:
    return {s.tag("interface"): s for s in result.samples if s.measurement == "interface"}


def _counters(result: PollResult) -> dict[str, str]:
    return {s.tag("interface"): s.tag("counters") for s in result.samples if s.measurement == "interface_info"}


def _no_nul(result: PollResult) -> None:
    for sample in result.samples:
        assert not any("\x00" in k or "\x00" in v for k, v in sample.tags), sample


async def test_old_switch_without_ifxtable(responder: Responder, tapped: tuple[SnmpCollector, TappedSessions]) -> None:
    collector, sessions = tapped
    result = await _two_polls(collector, _target(responder, "old-switch"))
    rows = _interfaces(result)
    assert set(rows) == {"RMON:10/100 Port 1 on Unit 1", "RMON:10/100 Port 2 on Unit 1",
                         "RMON:10/100 Port 3 on Unit 1", "RMON:1000 Port 25 on Unit 1"}
    assert set(_counters(result).values()) == {"32"}
    port1, port2, uplink = (rows[f"RMON:{n}"] for n in ("10/100 Port 1 on Unit 1", "10/100 Port 2 on Unit 1",
                                                         "1000 Port 25 on Unit 1"))
    assert port1.fields["speed_mbps"] == 100.0 and uplink.fields["speed_mbps"] == 1000.0
    assert port1.fields["in_bps"] == pytest.approx(8_000_000, rel=0.1)
    assert port1.fields["out_bps"] == pytest.approx(2_000_000, rel=0.1)
    assert port1.fields["in_pps"] == pytest.approx(1000, rel=0.1)
    assert port2.fields["in_bps"] == pytest.approx(100_000, rel=0.1)
    assert uplink.fields["in_bps"] == pytest.approx(40_000_000, rel=0.1)
    info = next(s for s in result.samples if s.measurement == "device_info")
    assert info.tag("sys_name") == "v7-sw-old"  # sent NUL-terminated
    _no_nul(result)
    # first poll: labels, the primaries (HC answered nothing), then the 32-bit columns at once; second: only those
    labels, first_walk, extra, steady = sessions.walks
    assert HC <= set(first_walk) and set(extra) == FALLBACKS
    assert not set(steady) & (HC | {HIGH_SPEED}) and FALLBACKS <= set(steady)


async def test_partial_ifxtable_with_empty_ifname(responder: Responder,
                                                 tapped: tuple[SnmpCollector, TappedSessions]) -> None:
    collector, sessions = tapped
    result = await _two_polls(collector, _target(responder, "old-switch-partial-ifx"))
    rows = _interfaces(result)
    assert set(rows) == {"RMON Port 01 on unit 1", "RMON Port 02 on unit 1", "Console Port 192.168.101.1   on unit 1"}
    assert rows["RMON Port 01 on unit 1"].fields["speed_mbps"] == 100.0  # ifHighSpeed: it answers that
    assert rows["RMON Port 01 on unit 1"].fields["in_bps"] == pytest.approx(1_000_000, rel=0.1)
    assert set(_counters(result).values()) == {"32"}
    steady = sessions.walks[-1]
    assert HIGH_SPEED in steady and IF_TABLE + "5" not in steady and not set(steady) & HC


async def test_rows_without_ifname_fall_back_alone(responder: Responder,
                                                   tapped: tuple[SnmpCollector, TappedSessions]) -> None:
    collector, sessions = tapped
    result = await _two_polls(collector, _target(responder, "no-ifname"))
    rows = _interfaces(result)
    assert set(rows) == {"Gi0/0", "Gi0/1", "Tunnel0", "Null0"}
    assert _counters(result) == {"Gi0/0": "64", "Gi0/1": "64", "Tunnel0": "32", "Null0": "32"}
    assert rows["Gi0/0"].fields["in_octets_total"] > 2**32  # the HC counter, not ifInOctets
    assert rows["Gi0/0"].fields["in_bps"] == pytest.approx(24_000_000, rel=0.1)
    assert rows["Tunnel0"].fields["in_bps"] == pytest.approx(10_000, rel=0.1)
    assert rows["Tunnel0"].fields["speed_mbps"] == 0.1 and rows["Gi0/0"].fields["speed_mbps"] == 1000.0
    assert "speed_mbps" not in rows["Null0"].fields  # ifSpeed 4294967295 and no ifHighSpeed: unknown
    steady = sessions.walks[-1]
    assert HC <= set(steady) and FALLBACKS <= set(steady)  # some rows need each


async def test_windows_strings_lose_their_nul(responder: Responder,
                                              tapped: tuple[SnmpCollector, TappedSessions]) -> None:
    collector, _ = tapped
    result = await _two_polls(collector, _target(responder, "windows-host", ("system", "if-mib", "host-resources")))
    rows = _interfaces(result)
    assert set(rows) == {"MS TCP Loopback interface", "Intel(R) PRO/1000 MT Network Connection",
                         "Intel(R) Ethernet Server Adapter X520-2"}
    assert rows["Intel(R) PRO/1000 MT Network Connection"].fields["in_bps"] == pytest.approx(5_000_000, rel=0.1)
    assert rows["Intel(R) PRO/1000 MT Network Connection"].fields["speed_mbps"] == 1000.0
    assert "speed_mbps" not in rows["Intel(R) Ethernet Server Adapter X520-2"].fields
    storage = {s.tag("storage") for s in result.samples if s.measurement == "storage"}
    assert storage == {"C:\\ Label:  Serial Number 5c3a1b2d", "Physical Memory"}
    _no_nul(result)


async def test_real_windows_xp_walk(responder: Responder, tapped: tuple[SnmpCollector, TappedSessions]) -> None:
    collector, _ = tapped
    result = await _two_polls(collector, _target(responder, "winxp-full-walk"), gap_s=1.0)
    rows = _interfaces(result)
    assert set(rows) == {"MS TCP Loopback interface", "Intel(R) PRO/Wireless 2200BG Network Connection",
                         "Bluetooth Device (Personal Area Network)"}  # not "65539"
    wireless = rows["Intel(R) PRO/Wireless 2200BG Network Connection"]
    assert wireless.tag("if_index") == "65539"
    assert wireless.fields["speed_mbps"] == 54.0 and wireless.fields["in_octets_total"] == 911220674.0
    assert wireless.fields["in_bps"] == 0.0  # a static recording
    assert set(_counters(result).values()) == {"32"}
    _no_nul(result)


async def test_real_linux_walk_never_reads_a_32_bit_column(responder: Responder,
                                                          tapped: tuple[SnmpCollector, TappedSessions]) -> None:
    collector, sessions = tapped
    result = await _two_polls(collector, _target(responder, "linux-full-walk"), gap_s=1.0)
    assert set(_interfaces(result)) == {"lo", "eth0"}
    assert set(_counters(result).values()) == {"64"}
    assert [len(w) for w in sessions.walks] == [3, 11, 11]  # labels, then the same 11 columns each poll
    assert not any(set(w) & FALLBACKS for w in sessions.walks)


async def test_counter32_wrap_on_the_wire(responder: Responder, tapped: tuple[SnmpCollector, TappedSessions]) -> None:
    collector, _ = tapped
    target = _target(responder, "old-switch")
    port1 = "RMON:10/100 Port 1 on Unit 1"
    await asyncio.sleep(max(0.0, responder.started + WRAP_AFTER_S - 3 - time.time()))
    before = await collector.poll(target)
    await asyncio.sleep(max(0.0, responder.started + WRAP_AFTER_S + 3 - time.time()))
    after = await collector.poll(target)
    octets = [_interfaces(r)[port1].fields["in_octets_total"] for r in (before, after)]
    assert octets[1] < octets[0], octets  # the agent's counter wrapped between the polls
    assert _interfaces(after)[port1].fields["in_bps"] == pytest.approx(8_000_000, rel=0.1)
