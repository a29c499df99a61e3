"""The IPv6 plan on the small lab's county and on the whole reference city: it fits, nothing overlaps, the same
inventory gives the same file, adding or removing areas renumbers nothing else, and each bad input is refused."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable
from ipaddress import IPv6Network
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.platforms import SSH_PLATFORMS
from inventory.addressing import PlanRoot, slot_of
from inventory.model import Inventory, Level
from tests.change.conftest import PREFIX, Docs, load, write_documents
from yiwang.change.ipv6plan import (
    PLAN_FILE,
    InvalidPrefix,
    InventoryUnfit,
    LevelExhausted,
    PlanFileInconsistent,
    PlanOutcome,
    PrefixConflict,
    PrefixTooSmall,
    plan_from_load,
    render_plan,
)

TOWN = "hb.hg.huangzhou.t03"


def plan_folder(folder: Path, prefix: str = PREFIX, area: str | None = None) -> PlanOutcome:
    """Plan the inventory in `folder` (with its plan file, if any) and write the plan file, as the command does."""
    outcome = plan_from_load(load(folder), prefix, area)
    (folder / PLAN_FILE).write_text(render_plan(outcome.plan), encoding="utf-8")
    return outcome


def disjoint(networks: Iterable[IPv6Network], what: str) -> None:
    # Sorted by start, any two overlapping networks make some neighbouring pair overlap.
    ordered = sorted(networks, key=lambda n: (int(n.network_address), n.prefixlen))
    for a, b in zip(ordered, ordered[1:], strict=False):
        assert not a.overlaps(b), f"{what}: {a} overlaps {b}"


def assert_sound(root: PlanRoot, inv: Inventory) -> None:
    """No overlap anywhere, every area inside its parent and outside the parent's own block, every link and
    loopback inside its area's own block."""
    areas = {a.id: a for a in root.areas}
    assert set(areas) == inv.subtree(root.area)
    for area in areas.values():
        assert area.prefix.subnet_of(root.prefix)
        assert area.prefix.prefixlen == root.lengths[area.level]
        if area.id != root.area:
            parent = areas[inv.areas[area.id].parent or ""]
            assert area.prefix.subnet_of(parent.prefix), (area, parent)
            assert not area.prefix.overlaps(parent.own), (area, parent)
    for level in root.lengths:
        disjoint((a.prefix for a in areas.values() if a.level == level), f"{level.label} prefixes")
    disjoint((a.own for a in areas.values()), "own blocks")
    disjoint([*(a.loopbacks for a in areas.values()), *(lk.prefix for lk in root.links)], "/64s")
    for link in root.links:
        assert link.prefix.prefixlen == 64 and link.prefix.subnet_of(areas[link.area].own)
        assert link.prefix != areas[link.area].loopbacks
        assert (link.upper_address.ip, link.lower_address.ip) == (link.prefix[1], link.prefix[2])
    addresses = [lo.address for lo in root.loopbacks]
    assert len(set(addresses)) == len(addresses)
    for loopback in root.loopbacks:
        assert loopback.address in areas[loopback.area].loopbacks
        assert loopback.address != areas[loopback.area].loopbacks.network_address
    # Everything the inventory asks for is planned, and only that.
    planned_links = {(str(lk.lower), str(lk.upper)) for lk in root.links}
    assert planned_links == {(str(lk.local), str(lk.remote)) for lk in inv.links if lk.area in areas}
    network_devices = {d.name for d in inv.devices.values() if d.area in areas and d.platform in SSH_PLATFORMS}
    assert {lo.device for lo in root.loopbacks} == network_devices


def snapshot(root: PlanRoot) -> dict[str, Any]:
    return {"areas": {a.id: a.prefix for a in root.areas},
            "links": {(str(lk.lower), str(lk.upper)): lk.prefix for lk in root.links},
            "loopbacks": {lo.device: lo.address for lo in root.loopbacks}}


def lowest_free(parent: IPv6Network, length: int, taken: Iterable[IPv6Network]) -> IPv6Network:
    used = {slot_of(p, parent) for p in taken}
    slot = min(n for n in range(1, 2 ** (length - parent.prefixlen)) if n not in used)
    return IPv6Network((int(parent.network_address) + (slot << (128 - length)), length))


def add_area(docs: Docs, area_id: str, level: str, parent: str, upper: str, n: int) -> None:
    """An area with one huawei device and its uplink to the `upper` device, as an operator would add it."""
    device = f"new-{level}-{n}"
    docs["areas.yaml"]["areas"].append({"id": area_id, "name": f"New {level} {n}", "level": level, "parent": parent})
    docs["devices.yaml"]["devices"].append({"name": device, "platform": "huawei_vrp", "role": f"{level}-new",
                                            "area": area_id, "address": f"127.99.0.{n}"})
    docs["links.yaml"]["links"].append({"area": area_id, "local": f"{device}:GigabitEthernet0/0/1",
                                        "remote": f"{upper}:GigabitEthernet9/0/{n}", "carrier": "China Telecom",
                                        "bandwidth_mbps": 100})


def remove_area(docs: Docs, area_id: str) -> None:
    gone = {a["id"] for a in docs["areas.yaml"]["areas"] if a["id"] == area_id or a["id"].startswith(area_id + ".")}
    docs["areas.yaml"]["areas"] = [a for a in docs["areas.yaml"]["areas"] if a["id"] not in gone]
    devices = {d["name"] for d in docs["devices.yaml"]["devices"] if d["area"] in gone}
    docs["devices.yaml"]["devices"] = [d for d in docs["devices.yaml"]["devices"] if d["name"] not in devices]
    docs["links.yaml"]["links"] = [lk for lk in docs["links.yaml"]["links"] if lk["area"] not in gone]


# --- the small lab and the reference city ---------------------------------------------------------------------


def test_small_lab_plan_is_sound_and_reads_back(tmp_path: Path, small_docs: Docs) -> None:
    folder = write_documents(tmp_path / "inv", small_docs)
    outcome = plan_folder(folder)
    inv = load(folder).inventory
    (root,) = outcome.plan.roots
    assert_sound(root, inv)
    assert root.prefix == IPv6Network(PREFIX)
    # The loader reads the file back into the same typed plan, with no problem.
    reread = load(folder)
    assert reread.problems == []
    assert reread.inventory.ipv6_plan is not None and reread.inventory.ipv6_plan.roots == outcome.plan.roots
    # A township switch: ::2 on its uplink, ::1 towards each of its villages.
    plan = reread.inventory.ipv6_plan
    switch = "hg-huangzhou-t03-sw01"
    uplink = inv.uplink_of(TOWN)
    assert uplink is not None and uplink.local.device == switch
    ends = {i.interface: i for i in plan.interfaces(switch)}
    up = ends[uplink.local.interface]
    assert up.address.ip == up.address.network[2] and up.peer == uplink.remote
    # The township's own block: /64 number 0 its loopbacks, number 1 its uplink.
    assert up.address.network == IPv6Network((int(plan.areas[TOWN].own.network_address) + (1 << 64), 64))
    villages = [lk for lk in inv.links if inv.areas[lk.area].parent == TOWN]
    assert len(ends) == 1 + len(villages)
    for link in villages:
        down = ends[link.remote.interface]
        assert down.address.ip == down.address.network[1] and down.peer == link.local
        assert down.address.network.subnet_of(plan.areas[link.area].prefix)
    assert plan.loopback(switch) == plan.areas[TOWN].loopbacks[1]
    # Servers are hosts, not routers: no loopback for them; the province's PE gets only its end of the city uplink.
    assert all(plan.loopback(d.name) is None for d in inv.devices.values() if d.platform == "linux")
    assert [i.link_area for i in plan.interfaces("hb-egov-pe01")] == ["hb.hg"]
    # The plan is intent: devices keep the address6 they have (pinging a planned address would fail).
    assert all(d.address6 is None or d.name == "hb-egov-pe01" for d in reread.inventory.devices.values())


def test_reference_city_fits_a_48_with_no_bit_to_spare(city_dir: Path, tmp_path: Path) -> None:
    result = load(city_dir)
    inv = result.inventory
    counts = Counter(a.parent for a in inv.areas.values())
    by_level = Counter(a.level for a in inv.areas.values())
    assert (by_level[Level.COUNTY], by_level[Level.TOWNSHIP], by_level[Level.VILLAGE]) == (10, 136, 4088)

    def fullest(level: Level) -> int:
        return max(counts[a.id] for a in inv.areas.values() if a.level == level - 1 and a.id.startswith("hb.hg"))

    # The budget from the tree itself: each level its fullest parent's children + slot 0 (the parent's own block),
    # each village 1 bit for its loopback /64 and its uplink /64.
    needed = {level: math.ceil(math.log2(fullest(level) + 1)) for level in (Level.COUNTY, Level.TOWNSHIP,
                                                                            Level.VILLAGE)}
    assert (fullest(Level.COUNTY), fullest(Level.TOWNSHIP), fullest(Level.VILLAGE)) == (10, 20, 42)
    assert needed == {Level.COUNTY: 4, Level.TOWNSHIP: 5, Level.VILLAGE: 6}
    assert sum(needed.values()) + 1 == 64 - 48

    outcome = plan_from_load(result, PREFIX)
    (root,) = outcome.plan.roots
    assert dict(root.lengths) == {Level.CITY: 48, Level.COUNTY: 52, Level.TOWNSHIP: 57, Level.VILLAGE: 63}
    assert outcome.summary.spare == 0
    assert [(b.level, b.bits, b.needed, b.capacity) for b in outcome.summary.levels] == [
        (Level.COUNTY, 4, 4, 15), (Level.TOWNSHIP, 5, 5, 31), (Level.VILLAGE, 6, 6, 63)]
    assert (outcome.summary.own.bits, outcome.summary.own.needed) == (1, 1)
    assert {k: t.new for k, t in outcome.summary.tallies.items()} == {
        "city": 1, "county": 10, "township": 136, "village": 4088, "links": len(inv.links),
        "loopbacks": sum(1 for d in inv.devices.values() if d.platform in SSH_PLATFORMS and d.area != "hb")}
    assert_sound(root, inv)

    # The file reads back as the same plan, and planning again gives the same bytes.
    folder = tmp_path / "city"
    folder.mkdir()
    for path in city_dir.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    text = render_plan(outcome.plan)
    (folder / PLAN_FILE).write_text(text, encoding="utf-8")
    again = plan_from_load(load(folder), PREFIX)
    assert render_plan(again.plan) == text
    assert {k: (t.kept, t.new, t.released) for k, t in again.summary.tallies.items()} == {
        k: (t.new, 0, 0) for k, t in outcome.summary.tallies.items()}


def test_reference_city_does_not_fit_a_49_and_says_why(city_dir: Path) -> None:
    with pytest.raises(PrefixTooSmall) as caught:
        plan_from_load(load(city_dir), "2408:8000:1234::/49")
    said = str(caught.value)
    for part in ("hb.hg (黄冈市)", "below /49 it has 15 bits", "the tree needs 16",
                 "county 4 bits (hb.hg has 10 + slot 0 = 11 slots)", "township 5 bits (hb.hg.macheng has 20",
                 "village 6 bits", "has 42 + slot 0 = 43 slots", "own block 1 bits", "Use a /48"):
        assert part in said, said


# --- determinism and stability --------------------------------------------------------------------------------


def test_same_inventory_in_any_order_gives_the_same_bytes(tmp_path: Path, small_docs: Docs) -> None:
    first = render_plan(plan_folder(write_documents(tmp_path / "a", small_docs)).plan)
    shuffled = {name: {k: random.Random(7).sample(v, len(v)) for k, v in doc.items()} for name, doc in
                small_docs.items()}
    second = render_plan(plan_folder(write_documents(tmp_path / "b", shuffled)).plan)
    assert first == second
    # And replanning the written file changes nothing.
    assert render_plan(plan_folder(tmp_path / "b").plan) == first


@pytest.mark.parametrize("level, parent, upper", [
    ("village", TOWN, "hg-huangzhou-t03-sw01"),
    ("township", "hb.hg.huangzhou", "hg-huangzhou-agg01"),
    ("county", "hb.hg", "hg-core-02"),
])
def test_adding_an_area_renumbers_nothing(tmp_path: Path, small_docs: Docs, level: str, parent: str,
                                          upper: str) -> None:
    folder = write_documents(tmp_path / "inv", small_docs)
    before = plan_folder(folder).plan.roots[0]
    new_id = f"{parent}.new1"
    add_area(small_docs, new_id, level, parent, upper, 1)
    write_documents(folder, small_docs)
    outcome = plan_folder(folder)
    after = outcome.plan.roots[0]
    assert_sound(after, load(folder).inventory)
    old, new = snapshot(before), snapshot(after)
    for kind in old:
        assert {k: new[kind][k] for k in old[kind]} == old[kind], kind
    parent_prefix = old["areas"][parent]
    siblings = [p for a, p in old["areas"].items() if a.rpartition(".")[0] == parent]
    assert new["areas"][new_id] == lowest_free(parent_prefix, after.lengths[Level[level.upper()]], siblings)
    assert outcome.summary.tallies[level].new == 1
    assert (outcome.summary.tallies["links"].new, outcome.summary.tallies["loopbacks"].new) == (1, 1)
    assert sum(t.released for t in outcome.summary.tallies.values()) == 0


def test_a_removed_village_frees_its_slot_for_the_next_new_one(tmp_path: Path, small_docs: Docs) -> None:
    folder = write_documents(tmp_path / "inv", small_docs)
    before = snapshot(plan_folder(folder).plan.roots[0])
    gone = f"{TOWN}.v002"
    remove_area(small_docs, gone)
    write_documents(folder, small_docs)
    removed = plan_folder(folder)
    assert (removed.summary.tallies["village"].released, removed.summary.tallies["links"].released,
            removed.summary.tallies["loopbacks"].released) == (1, 1, 1)
    add_area(small_docs, f"{TOWN}.v900", "village", TOWN, "hg-huangzhou-t03-sw01", 2)
    write_documents(folder, small_docs)
    after = snapshot(plan_folder(folder).plan.roots[0])
    assert after["areas"][f"{TOWN}.v900"] == before["areas"][gone]
    for kind in before:
        kept = {k: v for k, v in before[kind].items() if gone not in str(k) and "v002" not in str(k)}
        assert {k: after[kind][k] for k in kept} == kept, kind


def test_a_village_moved_to_another_township_is_renumbered_alone(tmp_path: Path, small_docs: Docs) -> None:
    folder = write_documents(tmp_path / "inv", small_docs)
    before = snapshot(plan_folder(folder).plan.roots[0])
    moved = f"{TOWN}.v001"
    for area in small_docs["areas.yaml"]["areas"]:
        if area["id"] == moved:
            area["parent"] = "hb.hg.huangzhou.t04"
    write_documents(folder, small_docs)
    outcome = plan_folder(folder)
    after = snapshot(outcome.plan.roots[0])
    assert after["areas"][moved].subnet_of(after["areas"]["hb.hg.huangzhou.t04"])
    changed = {k for k in before["areas"] if before["areas"][k] != after["areas"][k]}
    assert changed == {moved}
    assert outcome.summary.tallies["village"].released == 1 and outcome.summary.tallies["village"].new == 1
    assert_sound(outcome.plan.roots[0], load(folder).inventory)


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix, error, said", [
    ("10.20.0.0/16", InvalidPrefix, "is an IPv4 prefix"),
    ("2408:8000:1234::1/48", InvalidPrefix, "has host bits set: the prefix is 2408:8000:1234::/48"),
    ("2408:8000:1234::", InvalidPrefix, "has no prefix length"),
    ("2408:8000:1234::/129", InvalidPrefix, "is not an IPv6 prefix"),
    ("city-prefix", InvalidPrefix, "is not an IPv6 prefix"),
    ("2408:8000:1234::/64", PrefixTooSmall, "shorter than /64"),
    ("2408:8000:1234:4400::/54", PrefixTooSmall, "below /54 it has 10 bits down to the /64 links, the tree needs 11"),
])
def test_bad_prefixes_are_refused(tmp_path: Path, small_docs: Docs, prefix: str, error: type[Exception],
                                  said: str) -> None:
    folder = write_documents(tmp_path / "inv", small_docs)
    with pytest.raises(error) as caught:
        plan_from_load(load(folder), prefix)
    assert said in str(caught.value)
    assert not (folder / PLAN_FILE).exists()


def test_a_full_level_is_refused_not_renumbered(tmp_path: Path, small_docs: Docs) -> None:
    # The small county needs exactly 11 bits (1 county, 7 townships, 41 villages in the fullest township): a /53
    # leaves no spare, so the county's township slots are all taken.
    folder = write_documents(tmp_path / "inv", small_docs)
    first = plan_folder(folder, "2408:8000:1234:800::/53")
    assert first.summary.spare == 0
    assert [b.capacity for b in first.summary.levels] == [1, 7, 63]
    before = (folder / PLAN_FILE).read_bytes()
    add_area(small_docs, "hb.hg.huangzhou.t08", "township", "hb.hg.huangzhou", "hg-huangzhou-agg01", 1)
    write_documents(folder, small_docs)
    with pytest.raises(LevelExhausted) as caught:
        plan_from_load(load(folder), "2408:8000:1234:800::/53")
    said = str(caught.value)
    assert "county hb.hg.huangzhou (黄州区, 2408:8000:1234:c00::/54) has no free /57 for township " \
           "hb.hg.huangzhou.t08" in said, said
    assert "its 7 township slots" in said and "8 townships are in the inventory" in said
    assert (folder / PLAN_FILE).read_bytes() == before
    # Villages of a township: 63 slots at /63.
    remove_area(small_docs, "hb.hg.huangzhou.t08")
    for n in range(1, 64):
        add_area(small_docs, f"{TOWN}.x{n:02d}", "village", TOWN, "hg-huangzhou-t03-sw01", n)
    write_documents(folder, small_docs)
    with pytest.raises(LevelExhausted, match=rf"township {TOWN} .* has no free /63 for village {TOWN}\.x"):
        plan_from_load(load(folder), "2408:8000:1234:800::/53")


def two_cities(docs: Docs) -> None:
    docs["areas.yaml"]["areas"] += [
        {"id": "hb.xn", "name": "Xianning", "level": "city", "parent": "hb"},
        {"id": "hb.xn.xa", "name": "Xian'an", "level": "county", "parent": "hb.xn"}]
    add_area(docs, "hb.xn.xa.t01", "township", "hb.xn.xa", "hg-core-01", 1)


def test_overlapping_and_nested_plans_are_refused(tmp_path: Path, small_docs: Docs) -> None:
    two_cities(small_docs)
    folder = write_documents(tmp_path / "inv", small_docs)
    with pytest.raises(InventoryUnfit, match=r"2 cities \(hb.hg, hb.xn\); name the area to plan with --area"):
        plan_from_load(load(folder), PREFIX)
    plan_folder(folder, PREFIX, "hb.hg")
    with pytest.raises(PrefixConflict, match=r"hb.hg \(黄冈市\) is planned from 2408:8000:1234::/48 .* planning "
                                             r"it from 2408:8000:9999::/48 would renumber every one"):
        plan_from_load(load(folder), "2408:8000:9999::/48", "hb.hg")
    with pytest.raises(PrefixConflict, match=r"2408:8000:1234:8000::/49 for hb.xn overlaps 2408:8000:1234::/48, "
                                             r"from which hb.hg is already planned"):
        plan_from_load(load(folder), "2408:8000:1234:8000::/49", "hb.xn")
    with pytest.raises(PrefixConflict, match=r"hb.hg.huangzhou lies inside hb.hg"):
        plan_from_load(load(folder), "2408:8000:5555::/48", "hb.hg.huangzhou")
    with pytest.raises(PrefixConflict, match=r"hb.hg lies inside hb"):
        plan_from_load(load(folder), "2408:9000::/40", "hb")
    # A disjoint prefix for the other city: both plans live in the one file, each kept as it was.
    huanggang = snapshot(load(folder).inventory.ipv6_plan.roots[0])  # type: ignore[union-attr]
    outcome = plan_folder(folder, "2408:8000:1235::/48", "hb.xn")
    reread = load(folder)
    assert reread.problems == []
    plan = reread.inventory.ipv6_plan
    assert plan is not None and [r.area for r in plan.roots] == ["hb.hg", "hb.xn"]
    assert snapshot(plan.roots[0]) == huanggang
    assert_sound(plan.roots[1], reread.inventory)
    assert outcome.summary.tallies["township"].new == 1


def test_an_address_already_in_use_inside_the_prefix_is_refused(tmp_path: Path, small_docs: Docs) -> None:
    device = next(d for d in small_docs["devices.yaml"]["devices"] if d["name"] == "hg-huangzhou-t03-v004")
    device["address6"] = "2408:8000:1234:4418::1"
    folder = write_documents(tmp_path / "inv", small_docs)
    with pytest.raises(PrefixConflict, match=r"device hg-huangzhou-t03-v004 already has address6 "
                                             r"2408:8000:1234:4418::1, inside 2408:8000:1234::/48"):
        plan_from_load(load(folder), PREFIX)
    plan_from_load(load(folder), "2408:8000:4321::/48")


def test_an_inventory_with_problems_is_refused(tmp_path: Path, small_docs: Docs) -> None:
    # A village whose parent is mistyped would be left out of the inventory and lose its slot to the next new one.
    small_docs["areas.yaml"]["areas"][-1]["parent"] = "hb.hg.huangzhou.t99"
    folder = write_documents(tmp_path / "inv", small_docs)
    with pytest.raises(InventoryUnfit, match=r"the inventory has \d+ problems \(first: .*t99"):
        plan_from_load(load(folder), PREFIX)
    small_docs["areas.yaml"]["areas"][-1]["parent"] = TOWN
    with pytest.raises(InventoryUnfit, match="no area 'hb.hg.nowhere'"):
        plan_from_load(load(write_documents(folder, small_docs)), PREFIX, "hb.hg.nowhere")


def _edit(entry: dict[str, Any], key: str, value: Any) -> None:
    entry[key] = value


EDITS = {
    # (what is changed in the written plan, what the loader says)
    "village outside its township": (
        lambda p: _edit(_area(p, f"{TOWN}.v003"), "prefix", "2408:8000:1234:ff08::/61"),
        "lies in no planned township's prefix"),
    "two villages on one prefix": (
        lambda p: _edit(_area(p, f"{TOWN}.v003"), "prefix", _area(p, f"{TOWN}.v002")["prefix"]),
        f"areas '{TOWN}.v002' and '{TOWN}.v003' share"),
    "a village in its township's own block": (
        lambda p: _edit(_area(p, f"{TOWN}.v003"), "prefix", _area(p, TOWN)["prefix"].replace("/54", "/61")),
        "which is that area's own block"),
    "a prefix at no level's length": (
        lambda p: _edit(_area(p, f"{TOWN}.v003"), "prefix", _area(p, f"{TOWN}.v003")["prefix"].replace("/61", "/62")),
        "is not at the length of any level"),
    "a host address as prefix": (
        lambda p: _edit(_area(p, f"{TOWN}.v003"), "prefix", _area(p, f"{TOWN}.v003")["prefix"].replace("::/", "::1/")),
        "has host bits set"),
    "loopbacks moved": (
        lambda p: _edit(_area(p, TOWN), "loopbacks", "2408:8000:1234:4401::/64"),
        "the first /64 of its own block"),
    "lengths out of order": (
        lambda p: _edit(p, "lengths", {"city": 48, "county": 54, "township": 54, "village": 61}),
        "/54 is not longer than the county's /54"),
    "a level missing": (
        lambda p: _edit(p, "lengths", {"city": 48, "county": 50, "village": 61}),
        "must name every level from city down to village"),
    "link end not ::1": (
        lambda p: _edit(p["links"][3], "upper_address", p["links"][3]["prefix"].replace("::/64", "::3/64")),
        "is not 2408:8000:1234:"),
    "link on the loopbacks /64": (
        lambda p: _edit(p["links"][3], "prefix", _area(p, p["links"][3]["area"])["loopbacks"]),
        "is not a /64 of the area's own block"),
    "a loopback outside its area": (
        lambda p: _edit(p["loopbacks"][5], "address6", "2408:8000:1234:ffff::1"),
        "is not a host of"),
    "two devices on one loopback": (
        lambda p: _edit(p["loopbacks"][1], "address6", p["loopbacks"][0]["address6"]),  # the two city cores
        "is planned for both"),
    "an IPv4 prefix": (lambda p: _edit(p, "prefix", "10.0.0.0/8"), "is an IPv4 prefix"),
}


def _area(plan: dict[str, Any], area_id: str) -> dict[str, Any]:
    return next(a for a in plan["areas"] if a["id"] == area_id)


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_hand_edited_plan_file_is_refused(tmp_path: Path, small_docs: Docs, edit: str) -> None:
    folder = write_documents(tmp_path / "inv", small_docs)
    plan_folder(folder)
    document = yaml.safe_load((folder / PLAN_FILE).read_text(encoding="utf-8"))
    change, said = EDITS[edit]
    change(document["ipv6_plan"][0])
    (folder / PLAN_FILE).write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = load(folder)
    problems = [str(p) for p in result.problems]
    assert problems and all(PLAN_FILE in p and "ipv6_plan root 'hb.hg'" in p for p in problems), problems
    assert any(said in p for p in problems), problems
    assert result.inventory.ipv6_plan is not None and result.inventory.ipv6_plan.roots == ()
    assert len(result.inventory.areas) == len(small_docs["areas.yaml"]["areas"])  # the rest still loads
    with pytest.raises(PlanFileInconsistent, match="the plan file is inconsistent"):
        plan_from_load(result, PREFIX)
