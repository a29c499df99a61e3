"""The pure partition: keys, poller groups, consistent assignment. Expectations worked out by hand."""

from __future__ import annotations

from pathlib import Path

from inventory.loader import load_inventory
from inventory.model import Area, Device, Inventory, Level
from yiwang.cluster.partition import assign, devices_by_key, devices_of, partition_key, poller_group, shares


def city() -> Inventory:
    inv = Inventory()
    for area in (Area("hb", "湖北省", Level.PROVINCE),
                 Area("hb.hg", "黄冈市", Level.CITY, "hb", poller_group="east"),
                 Area("hb.hg.hz", "黄州区", Level.COUNTY, "hb.hg"),
                 Area("hb.hg.hz.t1", "路口镇", Level.TOWNSHIP, "hb.hg.hz"),
                 Area("hb.hg.hz.t1.v1", "路口村", Level.VILLAGE, "hb.hg.hz.t1"),
                 Area("hb.hg.hz.t2", "陶店乡", Level.TOWNSHIP, "hb.hg.hz", poller_group="west"),
                 Area("hb.wh", "武汉市", Level.CITY, "hb")):
        inv.areas[area.id] = area
    for name, area in (("core", "hb.hg"), ("hz-agg", "hb.hg.hz"), ("t1-sw", "hb.hg.hz.t1"),
                       ("v1-ap", "hb.hg.hz.t1.v1"), ("t2-sw", "hb.hg.hz.t2"), ("wh-core", "hb.wh")):
        inv.devices[name] = Device(name, "huawei_vrp", "access", area)
    return inv


def test_partition_key_is_the_township_or_the_own_area_above_it() -> None:
    inv = city()
    assert partition_key(inv, "v1-ap") == "hb.hg.hz.t1"  # a village device keys on its township
    assert partition_key(inv, "t1-sw") == "hb.hg.hz.t1"
    assert partition_key(inv, "hz-agg") == "hb.hg.hz"  # a county device on its own county
    assert partition_key(inv, "core") == "hb.hg"


def test_poller_group_is_the_nearest_one_up_the_chain() -> None:
    inv = city()
    assert poller_group(inv, "v1-ap") == "east"  # inherited from the city, two levels up
    assert poller_group(inv, "t2-sw") == "west"  # the township's own overrides the city's
    assert poller_group(inv, "core") == "east"
    assert poller_group(inv, "wh-core") == "default"  # nothing up the chain


def test_devices_by_key_per_group() -> None:
    inv = city()
    assert devices_by_key(inv, "east") == {"hb.hg": {"core"}, "hb.hg.hz": {"hz-agg"},
                                           "hb.hg.hz.t1": {"t1-sw", "v1-ap"}}
    assert devices_by_key(inv, "west") == {"hb.hg.hz.t2": {"t2-sw"}}
    assert len(devices_by_key(inv)) == 5
    assert devices_of(["hb.hg.hz.t1", "hb.hg", "unknown"], devices_by_key(inv)) == {"t1-sw", "v1-ap", "core"}


def test_loader_reads_and_checks_poller_group(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "areas:\n"
        "  - {id: hb, name: Hubei, level: province}\n"
        "  - {id: hb.hg, name: Huanggang, level: city, parent: hb, poller_group: east-1}\n"
        "  - {id: hb.wh, name: Wuhan, level: city, parent: hb, poller_group: 'a b'}\n")
    result = load_inventory([tmp_path])
    assert result.inventory.areas["hb.hg"].poller_group == "east-1"
    assert result.inventory.areas["hb"].poller_group is None
    assert "hb.wh" not in result.inventory.areas  # a name with a space would go into coordination keys
    assert [p.field for p in result.problems] == ["poller_group"]


KEYS = [f"c{i // 150}.t{i}" for i in range(2300)]


def test_every_key_goes_to_exactly_one_member_and_shares_invert_it() -> None:
    assignment = assign(KEYS, ["p1", "p2", "p3"])
    assert set(assignment) == set(KEYS) and set(assignment.values()) == {"p1", "p2", "p3"}
    held = shares(assignment)
    assert sum(len(keys) for keys in held.values()) == 2300
    assert all(assignment[key] == member for member, keys in held.items() for key in keys)
    # 128 ring points per member keep each share near a third (767): within ±15%.
    assert all(650 <= len(keys) <= 880 for keys in held.values())
    assert assign(KEYS, []) == {}
    assert shares({"a": "p1", "b": "p2", "c": "p1"}) == {"p1": {"a", "c"}, "p2": {"b"}}


def test_a_leaving_member_moves_exactly_its_own_keys() -> None:
    before = assign(KEYS, ["p1", "p2", "p3"])
    after = assign(KEYS, ["p1", "p2"])
    moved = {key for key in KEYS if before[key] != after[key]}
    assert moved == {key for key in KEYS if before[key] == "p3"}


def test_a_joining_member_only_takes_keys() -> None:
    before = assign(KEYS, ["p1", "p2", "p3"])
    after = assign(KEYS, ["p1", "p2", "p3", "p4"])
    moved = {key for key in KEYS if before[key] != after[key]}
    assert {after[key] for key in moved} == {"p4"}
    assert moved == {key for key in KEYS if after[key] == "p4"}
    # about a quarter, not a reshuffle
    assert 0.15 * 2300 <= len(moved) <= 0.35 * 2300
