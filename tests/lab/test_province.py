"""The simulated province: its inventory loads, its areas and devices are consistent, and its snmpd agents answer
real SNMP GETs on the devices' own loopback addresses (the small profile: 3 cities, 300 devices)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.snmp.profile import load_profiles
from inventory.loader import load_inventory
from inventory.model import Level
from lab import firewall
from lab.probe import Target, sweep
from lab.province import (
    CITIES,
    PROFILE,
    PROFILE_DIR,
    ProvinceLab,
    ProvincePlan,
    free_port,
    generate_province,
)

COMMUNITY = "province-test"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


@pytest.fixture(scope="module")
def plan() -> ProvincePlan:
    return generate_province(2026, "small")


@pytest.fixture(scope="module")
def lab(plan: ProvincePlan, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProvinceLab]:
    port = free_port([plan.devices[0].address, plan.devices[-1].address])
    started = ProvinceLab.start(plan, tmp_path_factory.mktemp("province"), COMMUNITY, port)
    try:
        yield started
    finally:
        started.stop()


def test_the_full_province_has_17_cities_and_30000_devices() -> None:
    full = generate_province(2026, "province")
    assert [c.code for c in full.cities] == [code for _, code, _, _ in CITIES]
    assert len(full.cities) == 17
    assert len(full.devices) == 30_000
    assert len({d.address for d in full.devices}) == 30_000
    assert full.devices_under("hb.hs")[250].address == "127.65.1.1"  # 250 addresses to a /24
    # Every city near its share (30,000 / 17 = 1,765): split_total keeps each above half of it.
    assert all(len(full.devices_under(c.id)) > 1765 // 2 for c in full.cities)


def test_same_seed_same_province_other_seed_other_names() -> None:
    assert generate_province(7, "small") == generate_province(7, "small")
    assert generate_province(7, "small").areas != generate_province(8, "small").areas


def test_inventory_loads_and_areas_are_consistent(plan: ProvincePlan, tmp_path: Path) -> None:
    secret = tmp_path / "community"
    secret.write_text(COMMUNITY)
    plan.write_inventory(tmp_path / "inventory", secret, 1161)
    loaded = load_inventory([tmp_path / "inventory"])
    assert loaded.problems == []
    inventory = loaded.inventory
    assert len(inventory.devices) == 300
    assert len(inventory.areas) == len(plan.areas)
    by_id = inventory.areas
    for area in by_id.values():
        if area.level == Level.PROVINCE:
            assert area.parent is None and area.code == "420000"
        else:
            parent = by_id[area.parent or ""]
            assert area.level == parent.level + 1
            assert area.id.startswith(parent.id + ".")
    # Real codes for the province and its cities only: a code is never invented.
    assert {a.code for a in by_id.values() if a.level > Level.CITY} == {None}
    assert [a.id for a in by_id.values() if a.level == Level.CITY] == ["hb.wh", "hb.hs", "hb.sy"]
    # One device per area, village, township and county alike, and two cores per city.
    devices_in: dict[str, int] = {}
    for device in inventory.devices.values():
        devices_in[device.area] = devices_in.get(device.area, 0) + 1
        assert device.snmp is not None and device.snmp.profiles == (PROFILE,) and device.snmp.port == 1161
    assert all(devices_in[a.id] == (2 if a.level == Level.CITY else 1) for a in by_id.values()
               if a.level != Level.PROVINCE)
    # City c's devices are numbered from 127.(64+c).0.1, 250 to a /24.
    assert [d.address for d in plan.devices[:2]] == ["127.64.0.1", "127.64.0.2"]
    assert plan.devices_under("hb.hs")[0].address == "127.65.0.1"


def test_the_province_profile_is_one_get() -> None:
    profile = load_profiles(PROFILE_DIR)[PROFILE]
    assert profile.tables == ()
    assert [c.name for c in profile.scalars] == ["uptime_seconds", "uplink_oper_status", "uplink_in_octets",
                                                 "uplink_out_octets"]


def test_a_handful_of_devices_answer_snmp_on_their_own_address(plan: ProvincePlan, lab: ProvinceLab) -> None:
    # The first and last device of each city: both ends of every agent's address list.
    picked = [d for c in plan.cities for d in (plan.devices_under(c.id)[0], plan.devices_under(c.id)[-1])]
    answers = sweep([Target(d.address, lab.port, COMMUNITY) for d in picked], [SYS_UPTIME], 1.0, 1)
    assert all(a is not None and a[SYS_UPTIME] > 0 for a in answers), answers
    # A wrong community is not answered: the agents check it.
    wrong = sweep([Target(picked[0].address, lab.port, "not-it")], [SYS_UPTIME], 0.3, 0)
    assert wrong == [None]
    # An address of the province that is no device's is not served.
    beyond = f"127.{64 + len(plan.cities)}.0.1"
    assert sweep([Target(beyond, lab.port, COMMUNITY)], [SYS_UPTIME], 0.3, 0) == [None]


@pytest.mark.skipif(not firewall.available()[0], reason="cutting a city needs root and iptables")
def test_a_cut_city_goes_silent_and_comes_back(plan: ProvincePlan, lab: ProvinceLab) -> None:
    cut, kept = plan.devices_under("hb.sy")[:3], plan.devices_under("hb.hs")[:3]
    targets = [Target(d.address, lab.port, COMMUNITY) for d in cut + kept]
    assert lab.cut("hb.sy") == len(plan.devices_under("hb.sy"))
    try:
        answers = sweep(targets, [SYS_UPTIME], 0.3, 0)
        assert [a is not None for a in answers] == [False] * 3 + [True] * 3
    finally:
        lab.restore()
    assert all(a is not None for a in sweep(targets, [SYS_UPTIME], 1.0, 1))
