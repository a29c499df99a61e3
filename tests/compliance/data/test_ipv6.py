"""IPv6 readiness: each check's edges, the poll view from latest samples, and the county roll-up over an inventory
with an IPv6 plan."""

from __future__ import annotations

from ipaddress import IPv6Network
from pathlib import Path

from collectors.model import Sample
from inventory.addressing import Ipv6Plan, PlannedArea, PlanRoot
from inventory.model import Area, Device, Endpoint, Inventory, Level, Link
from yiwang.compliance.ipv6 import (
    PollView,
    assess,
    check_icmp,
    check_plan,
    check_snmp,
    check_uplink_address,
    poll_view,
    static_addresses,
)

CASES = Path(__file__).parent / "cases"


def test_static_addresses_skip_link_local_and_dynamic_forms() -> None:
    body = ["ipv6 address FE80::1 link-local", "ipv6 address auto link-local", "ipv6 address 2001:DB8::2/64",
            "ipv6 address 2001:db8:1::2 64", "ipv6 address 2001:db8:2::/64 eui-64", "ipv6 address autoconfig",
            "ipv6 address dhcp", "undo ipv6 address 2001:db8:3::2/64", "ipv6 enable"]
    assert static_addresses(body) == ["2001:db8::2/64", "2001:db8:1::2/64"]


def test_uplink_interface_names_match_with_or_without_spaces() -> None:
    config = (CASES / "rgos-village-ipv6" / "config.txt").read_text()
    assert check_uplink_address(config, "GigabitEthernet0/1").status == "pass"
    assert check_uplink_address(config, "GigabitEthernet 0/9").status == "fail"
    assert check_uplink_address(config, None).status == "not-applicable"
    assert check_uplink_address(None, "GigabitEthernet 0/1").status == "error"


def test_icmp_and_snmp_never_pass_without_a_result() -> None:
    assert check_icmp(None, PollView(True)).status == "fail"
    assert check_icmp("2001:db8::1", PollView()).status == "error"
    assert check_icmp("2001:db8::1", PollView(icmp6_up=False)).status == "fail"
    assert check_icmp("2001:db8::1", PollView(icmp6_up=True)).status == "pass"
    assert check_snmp(None, PollView(snmp6_up=True)).status == "fail"
    assert check_snmp("2001:db8::1", PollView()).status == "error"
    assert check_snmp("2001:db8::1", PollView(snmp6_up=True)).status == "pass"
    failed = check_snmp("2001:db8::1", PollView(snmp6_up=False, snmp6_reason="timeout"))
    assert (failed.status, failed.reason) == ("fail", "SNMP did not answer at 2001:db8::1 (timeout)")


def test_plan_check() -> None:
    prefix = IPv6Network("2408:8000:10::/48")
    assert check_plan("2408:8000:10::1", False, None, "a").status == "not-applicable"
    assert check_plan("2408:8000:10::1", True, None, "a").status == "not-applicable"
    assert check_plan("2408:8000:10::1", True, prefix, "a").status == "pass"
    assert check_plan("2408:8000:11::1", True, prefix, "a").status == "fail"
    assert check_plan(None, True, prefix, "a").status == "fail"


def test_poll_view_reads_icmpv6_and_the_snmp_ipv6_series_not_the_poll_health() -> None:
    icmp = [Sample("icmp", (("device", "v"), ("family", "ipv4")), {"up": 0.0}, 1),
            Sample("icmp", (("device", "v"), ("family", "ipv6")), {"up": 1.0}, 1)]
    health = [Sample("poll", (("collector", "snmp"), ("device", "v"), ("reason", "ok")), {"up": 1.0}, 1)]
    answered = Sample("snmp_ipv6", (("device", "v"), ("reason", "ok")), {"up": 1.0, "duration_seconds": 0.1}, 1)
    silent = Sample("snmp_ipv6", (("device", "v"), ("reason", "timeout")), {"up": 0.0, "duration_seconds": 2.0}, 1)
    assert poll_view([*icmp, *health, answered]) == PollView(True, True, "")
    assert poll_view([*icmp, *health, silent]) == PollView(True, False, "timeout")
    assert poll_view([*icmp, *health]) == PollView(True, None, "")  # an IPv4 poll says nothing of IPv6
    assert poll_view([]) == PollView()


def city() -> Inventory:
    areas = [Area("hb", "Hubei", Level.PROVINCE), Area("hb.hg", "HG", Level.CITY, "hb"),
             Area("hb.hg.c1", "C1", Level.COUNTY, "hb.hg"), Area("hb.hg.c1.t1", "T1", Level.TOWNSHIP, "hb.hg.c1"),
             Area("hb.hg.c1.t1.v1", "V1", Level.VILLAGE, "hb.hg.c1.t1"),
             Area("hb.hg.c1.t1.v2", "V2", Level.VILLAGE, "hb.hg.c1.t1"),
             Area("hb.hg.c1.t1.v3", "V3", Level.VILLAGE, "hb.hg.c1.t1")]
    devices = [Device("v1", "cisco_ios", "village-access", "hb.hg.c1.t1.v1", None, "2408:8000:10:100::1"),
               Device("v2", "cisco_ios", "village-access", "hb.hg.c1.t1.v2", None, "2408:8000:99::1"),
               Device("v3-srv", "linux", "server", "hb.hg.c1.t1.v3", "10.9.9.9")]
    links = [Link("hb.hg.c1.t1.v1", Endpoint("v1", "GigabitEthernet0/1"), Endpoint("t1", "Gi0/0/2"), "c", 100.0),
             Link("hb.hg.c1.t1.v2", Endpoint("v2", "GigabitEthernet0/1"), Endpoint("t1", "Gi0/0/3"), "c", 100.0)]
    prefix = IPv6Network("2408:8000:10:100::/56")
    planned = PlannedArea.of("hb.hg.c1.t1.v1", Level.VILLAGE, prefix, prefix)
    plan = Ipv6Plan((PlanRoot("hb.hg.c1.t1.v1", prefix, {Level.VILLAGE: 56}, (planned,), (), ()),))
    return Inventory({a.id: a for a in areas}, {d.name: d for d in devices}, links, {}, plan)


def test_assess_a_village_ready_and_one_not() -> None:
    config = (CASES / "ios-village-ipv6" / "config.txt").read_text()
    up = [Sample("icmp", (("family", "ipv6"),), {"up": 1.0}, 1), Sample("snmp_ipv6", (("reason", "ok"),),
                                                                         {"up": 1.0}, 1)]
    silent = [Sample("icmp", (("family", "ipv6"),), {"up": 0.0}, 1), up[1]]
    devices, counties = assess(city(), {"v1": config, "v2": config}, {"v1": up, "v2": silent})
    by_name = {d.device: d for d in devices}
    assert set(by_name) == {"v1", "v2"}  # the server has no CLI yiwang reads
    assert by_name["v1"].ready, by_name["v1"].as_json()
    assert not by_name["v2"].ready
    assert {c.check: c.status for c in by_name["v2"].checks}["plan"] == "not-applicable"  # v2's area is unplanned
    assert {c.check: c.status for c in by_name["v2"].checks}["icmp"] == "fail"
    assert [(c.county, c.villages, c.ready, c.share) for c in counties] == [("hb.hg.c1", 2, 1, 0.5)]
