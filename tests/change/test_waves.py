"""Waves of a change over the generated city: a canary spread over counties, then county by county, every device
once, in the same order every time."""

from __future__ import annotations

import pytest

from inventory.model import Inventory, Level
from lab.city import generate_city
from lab.cityload import inventory_of
from yiwang.change.waves import WavePlanError, plan_waves, tiers


@pytest.fixture(scope="module")
def city() -> Inventory:
    return inventory_of(generate_city(2026, "city"))


@pytest.fixture(scope="module")
def small() -> Inventory:
    return inventory_of(generate_city(2026, "small"))


def village_routers_and_townships(inventory: Inventory, root: str) -> list[str]:
    """What the IPv6 change touches: every village's devices and the township devices above them."""
    return [d.name for d in inventory.devices_in(root)
            if inventory.areas[d.area].level in (Level.VILLAGE, Level.TOWNSHIP)]


def county_of(inventory: Inventory, device: str) -> str:
    return next(a.id for a in inventory.path(inventory.devices[device].area) if a.level == Level.COUNTY)


def test_city_canary_then_county_by_county(city: Inventory) -> None:
    root = next(a.id for a in city.areas.values() if a.level == Level.CITY)
    devices = village_routers_and_townships(city, root)
    waves = plan_waves(city, root, devices, canary_villages=3)
    assert waves[0].name == "canary"
    flat = [d for w in waves for d in w.devices]
    assert sorted(flat) == sorted(devices) and len(flat) == len(set(flat))  # each device exactly once
    canary_villages = {city.devices[d].area for d in waves[0].devices
                       if city.areas[city.devices[d].area].level == Level.VILLAGE}
    assert len(canary_villages) == 3
    assert len({county_of(city, d) for d in waves[0].devices}) == 3  # spread over three counties
    counties = [a.id for a in city.areas.values() if a.level == Level.COUNTY]
    assert [w.name for w in waves[1:]] == sorted(counties)
    for wave in waves[1:]:
        assert {county_of(city, d) for d in wave.devices} == {wave.name}
    # a township device goes with its first village: in the canary only when that village is, and it is
    townships = {city.devices[d].area for d in waves[0].devices
                 if city.areas[city.devices[d].area].level == Level.TOWNSHIP}
    assert townships and all(any(city.areas[v].parent == t for v in canary_villages) for t in townships)
    assert plan_waves(city, root, reversed(devices), canary_villages=3) == waves  # stable


def test_fixed_size_waves_and_no_canary(small: Inventory) -> None:
    root = next(a.id for a in small.areas.values() if a.level == Level.COUNTY)
    devices = village_routers_and_townships(small, root)
    waves = plan_waves(small, root, devices, canary_villages=0, wave_size=50)
    assert [w.number for w in waves] == list(range(len(waves)))
    assert all(len(w.devices) == 50 for w in waves[:-1]) and 0 < len(waves[-1].devices) <= 50
    assert [d for w in waves for d in w.devices] == [d for w in plan_waves(small, root, devices, canary_villages=0,
                                                                          wave_size=7) for d in w.devices]


def test_one_county_gives_more_canary_villages_from_it(small: Inventory) -> None:
    root = next(a.id for a in small.areas.values() if a.level == Level.COUNTY)
    waves = plan_waves(small, root, village_routers_and_townships(small, root), canary_villages=2)
    villages = {small.devices[d].area for d in waves[0].devices if small.areas[small.devices[d].area].level ==
                Level.VILLAGE}
    assert len(villages) == 2 and [w.name for w in waves[1:]] == [root]


def test_bad_requests_are_refused_with_the_name(small: Inventory) -> None:
    root = next(a.id for a in small.areas.values() if a.level == Level.COUNTY)
    with pytest.raises(WavePlanError, match="no area 'hb.nowhere'"):
        plan_waves(small, "hb.nowhere", [])
    with pytest.raises(WavePlanError, match="no device 'ghost'"):
        plan_waves(small, root, ["ghost"])
    outside = next(d.name for d in small.devices.values() if small.areas[d.area].level < Level.COUNTY)
    with pytest.raises(WavePlanError, match="outside"):
        plan_waves(small, root, [outside])
    with pytest.raises(WavePlanError, match="at least one"):
        plan_waves(small, root, [], wave_size=0)
    assert plan_waves(small, root, []) == []


def test_a_wave_is_pushed_top_down_in_tiers(city: Inventory) -> None:
    root = next(a.id for a in city.areas.values() if a.level == Level.CITY)
    canary = plan_waves(city, root, village_routers_and_townships(city, root), canary_villages=3)[0]
    split = tiers(city, canary.devices)
    levels = [{city.areas[city.devices[d].area].level for d in tier} for tier in split]
    assert levels == [{Level.TOWNSHIP}, {Level.VILLAGE}]  # every parent end before the villages behind it
    assert sorted(d for tier in split for d in tier) == sorted(canary.devices)
    assert tiers(city, []) == []
    with pytest.raises(WavePlanError, match="no device 'ghost'"):
        tiers(city, ["ghost"])
