"""The overview's pure aggregation on hand-built states; every expected value worked out by hand below."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from alerts.state import AlertRecord, Status
from alerts.topology import OUTAGE_RULE, Topology
from collectors.model import Sample
from inventory.model import Area, Device, Endpoint, Inventory, Level, Link
from yiwang.overview import AlertLike, Rollout, capacity_panel, compliance_panel, rollout_panel
from yiwang.overview_feed import OverviewFeed, OverviewState, build_state, events_between
from yiwang.status import DeviceState, area_counts

# hb (province) > hb.hg (city) > hb.hg.a, hb.hg.b (counties) > hb.hg.a.t1 (township) > hb.hg.a.t1.v1 (village)
AREAS = [Area("hb", "湖北", Level.PROVINCE), Area("hb.hg", "黄冈", Level.CITY, "hb"),
         Area("hb.hg.a", "A县", Level.COUNTY, "hb.hg"), Area("hb.hg.b", "B县", Level.COUNTY, "hb.hg"),
         Area("hb.hg.a.t1", "一镇", Level.TOWNSHIP, "hb.hg.a"),
         Area("hb.hg.a.t1.v1", "一村", Level.VILLAGE, "hb.hg.a.t1"),
         Area("hb.hg.c", "C县", Level.COUNTY, "hb.hg")]  # C: no device at all
DEVICES = {"a-core": "hb.hg.a", "a-t1": "hb.hg.a.t1", "a-v1": "hb.hg.a.t1.v1", "b-core": "hb.hg.b", "b-2": "hb.hg.b"}


def inventory() -> Inventory:
    return Inventory(areas={a.id: a for a in AREAS},
                     devices={n: Device(n, "huawei_vrp", "access", area) for n, area in DEVICES.items()},
                     links=[Link("hb.hg.a.t1.v1", Endpoint("a-v1", "GE0/0/1"), Endpoint("a-t1", "GE0/0/2"),
                                 "电信", 100.0)])


def ok(up: bool) -> dict[str, DeviceState]:
    return {"snmp": DeviceState(up, "ok" if up else "timeout", "", 1), "icmp": DeviceState(up, "ok", "", 1)}


def record(fp: str, rule: str, status: Status, labels: dict[str, str], severity: str = "major",
           suppressed_by: str | None = None, since: int = 1_000_000_000) -> AlertRecord:
    return AlertRecord(fp, rule, severity, labels, status=status, active_since_ns=since,
                       firing_since_ns=since if status == "firing" else None, suppressed_by=suppressed_by)


def state(states: dict[str, dict[str, DeviceState]], records: Sequence[AlertLike]) -> OverviewState:
    inv = inventory()
    return build_state(inv, Topology.from_inventory(inv), states, area_counts(inv, states), list(records), [], [],
                       {}, 0)


def tags(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def test_statuses_rolled_up_by_hand() -> None:
    # a-v1 down; the rest up except b-2 never polled; one firing alert on b-core
    states = {"a-core": ok(True), "a-t1": ok(True), "a-v1": ok(False), "b-core": ok(True)}
    found = state(states, [record("f1", "cpu_high", "firing", {"device": "b-core"})])
    rows = found.areas
    # village: its only polled device is down -> down
    assert (rows["hb.hg.a.t1.v1"]["status"], rows["hb.hg.a.t1.v1"]["down"]) == ("down", 1)
    # township: a-t1 up, a-v1 down -> degraded (2 devices, 1 up, 1 down)
    assert {k: rows["hb.hg.a.t1"][k] for k in ("status", "devices", "up", "down", "unknown", "alerts")} == \
        {"status": "degraded", "devices": 2, "up": 1, "down": 1, "unknown": 0, "alerts": 0}
    # county B: b-core up, b-2 unknown, a firing alert -> degraded; 1 alert
    assert {k: rows["hb.hg.b"][k] for k in ("status", "devices", "up", "unknown", "alerts")} == \
        {"status": "degraded", "devices": 2, "up": 1, "unknown": 1, "alerts": 1}
    # county C: nothing -> unknown; city: 5 devices, 3 up, 1 down, 1 unknown, the alert -> degraded
    assert rows["hb.hg.c"]["status"] == "unknown"
    assert {k: rows["hb.hg"][k] for k in ("status", "devices", "up", "down", "unknown", "alerts")} == \
        {"status": "degraded", "devices": 5, "up": 3, "down": 1, "unknown": 1, "alerts": 1}
    assert [r["id"] for r in rows.values()][:2] == ["hb", "hb.hg"]  # parents first
    assert rows["hb.hg"]["parent"] == "hb" and rows["hb"]["parent"] is None and rows["hb"]["code"] is None
    assert found.root == "hb.hg"
    assert found.statuses == {"a-core": "up", "a-t1": "up", "a-v1": "down", "b-core": "up", "b-2": "unknown"}
    assert found.device_alerts == {"b-core": 1}


def test_up_down_and_an_agent_only_failure() -> None:
    everything = {n: ok(True) for n in DEVICES}
    assert {r["status"] for r in state(everything, []).areas.values() if r["devices"]} == {"up"}
    # ICMP answers, SNMP does not: reachable, so up (what fails on it is an alert's business)
    half = {**everything, "b-2": {"snmp": DeviceState(False, "timeout", "", 1), "icmp": DeviceState(True, "ok", "", 1)}}
    assert state(half, []).statuses["b-2"] == "up"
    dark = {**everything, "b-core": ok(False), "b-2": ok(False)}
    assert state(dark, []).areas["hb.hg.b"]["status"] == "down"
    assert state({}, []).areas["hb.hg"]["status"] == "unknown"


def test_a_storm_is_one_outage_with_its_counts() -> None:
    states = {"a-core": ok(True), "a-t1": ok(False), "a-v1": ok(False), "b-core": ok(True), "b-2": ok(True)}
    outage = "o1"
    records = [record(outage, OUTAGE_RULE, "firing", {"area": "hb.hg.a.t1", "area_name": "一镇"}, "critical",
                      since=2_000_000_000),
               record("d1", "device_down", "firing", {"device": "a-t1"}, suppressed_by=outage),
               record("d2", "device_down", "firing", {"device": "a-v1"}, suppressed_by=outage),
               record("x", "if_errors", "pending", {"device": "b-2"}, "warning"),
               record("y", "cpu_high", "firing", {"device": "b-core"}, "minor"),
               record("z", "old", "inactive", {"device": "b-core"})]
    alerts = state(states, records).alerts
    # shown: the outage and y firing (d1, d2 swallowed), x pending
    assert (alerts["firing"], alerts["pending"]) == (2, 1)
    assert alerts["outages"] == [{"area": "hb.hg.a.t1", "name": "一镇", "status": "firing", "devices_down": 2,
                                  "alerts_suppressed": 2, "since": "1970-01-01T00:00:02+00:00"}]
    assert [a["fingerprint"] for a in alerts["top"]] == ["y", "x"]  # firing first
    assert alerts["top"][0]["area"] == "hb.hg.b"
    # the outage counts once in every area above it, the swallowed ones not at all
    rows = state(states, records).areas
    assert (rows["hb.hg.a.t1"]["alerts"], rows["hb.hg.a"]["alerts"], rows["hb.hg"]["alerts"]) == (1, 1, 2)


def test_only_changes_are_sent() -> None:
    inv = inventory()
    before = state({n: ok(True) for n in DEVICES}, [])
    after = state({**{n: ok(True) for n in DEVICES}, "b-2": ok(False)}, [])
    events = events_between(before, after, inv, 7)
    assert [e.kind for e in events] == ["devices", "areas"]
    assert json.loads(events[0].data) == [{"name": "b-2", "area": "hb.hg.b", "status": "down"}]
    # b-2's county, the city and the province changed counts; nothing else
    assert [a["id"] for a in json.loads(events[1].data)] == ["hb", "hb.hg", "hb.hg.b"]
    assert [e.id for e in events] == [7, 8]
    assert events_between(after, after, inv, 9) == []
    assert events[0].encode().startswith(b"id: 7\nevent: devices\ndata: [")


def test_panels_from_last_computed_samples() -> None:
    inv = inventory()
    county = {"province": "湖北", "city": "黄冈", "county": "A县"}
    township = {**county, "township": "一镇"}
    samples = [Sample("compliance", tags(**county, rule="ntp-server"), {"failed": 2.0, "checked": 3.0}, 1),
               Sample("compliance", tags(**county, rule="ssh-only"), {"failed": 0.0, "checked": 3.0}, 1),
               Sample("compliance", tags(**township, rule="ntp-server"), {"failed": 2.0, "checked": 2.0}, 1)]
    # A: ntp 1 passed 2 failed, ssh 3 passed -> 4 passed, 2 failed; the township's sample is not counted again
    assert compliance_panel(inv, samples, {"ntp-server": "NTP"}) == {
        "by_county": [{"area": "hb.hg.a", "name": "A县", "passed": 4, "failed": 2}],
        "by_rule": [{"rule": "ntp-server", "title": "NTP", "failed": 2},
                    {"rule": "ssh-only", "title": "ssh-only", "failed": 0}]}
    base = {"device": "a-v1", "interface": "GE0/0/1", "carrier": "电信"}
    links = [Sample("link", tags(**base, direction=d, window="30d"), {"p95_ratio": r}, 1)
             for d, r in (("in", 0.8123), ("out", 0.95))]
    links += [Sample("link", tags(**base, direction=d, threshold="90"), {"days_to_saturation": v}, 1)
              for d, v in (("in", 40.0), ("out", 0.0))]
    assert capacity_panel(inv, links) == {"hot": [{"link": "a-v1 GE0/0/1", "device": "a-v1", "interface": "GE0/0/1",
                                 "area": "hb.hg.a.t1.v1", "carrier": "电信", "p95_30d_pct": 95.0, "days_to_90": 0.0}]}
    assert capacity_panel(inv, []) == {"hot": []}
    rollout = Rollout("j1", "ipv6", "hb.hg", "running", {"a-core": "ok", "a-v1": "failed", "b-core": "pending"})
    assert rollout_panel(inv, [rollout]) == [{
        "job": "j1", "title": "IPv6 开通 / IPv6 rollout: 黄冈", "state": "running",
        "counties": [{"area": "hb.hg.a", "name": "A县", "done": 1, "failed": 1, "total": 2},
                     {"area": "hb.hg.b", "name": "B县", "done": 0, "failed": 0, "total": 1}]}]


@dataclass
class Health:
    states: dict[str, dict[str, DeviceState]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return area_counts(inventory(), self.states)


class NoSamples:
    def device_samples(self, device: str) -> list[Sample]:
        return []


def test_a_slow_page_is_dropped_and_never_blocks() -> None:
    async def scenario() -> None:
        health = Health()
        feed = OverviewFeed(inventory(), health, NoSamples(), queue_size=4)  # the first state is 4 events
        slow, quick = feed.subscribe(), feed.subscribe()
        for i in range(3):
            health.states = {n: ok(i % 2 == 0) for n in DEVICES}
            started = time.perf_counter()
            await feed.refresh()
            assert time.perf_counter() - started < 1.0
            while not quick.queue.empty():
                quick.queue.get_nowait()
        assert slow.dropped and slow not in feed.subscribers and feed.dropped == 1
        assert slow.queue.get_nowait() is None  # its stream ends; the browser reconnects
        assert quick in feed.subscribers and not quick.dropped

    asyncio.run(scenario())
