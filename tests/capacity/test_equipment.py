"""The equipment report on a small city whose counts, versions and statuses are worked out by hand below."""

from __future__ import annotations

import csv
import io
from datetime import date

from collectors.model import Sample
from inventory.model import Area, Device, Inventory, Level
from yiwang.capacity.equipment import Facts, add_months, build, csv_text, known_facts, status, uptime_of, uptimes
from yiwang.capacity.lifecycle import Lifecycle
from yiwang.latest import LatestStore
from yiwang.versions import KnownVersion

TODAY = date(2026, 11, 30)
DAY = 86400.0
AREAS = [Area("hb", "湖北", Level.PROVINCE), Area("hb.hg", "黄冈", Level.CITY, "hb"),
         Area("hb.hg.c1", "黄州区", Level.COUNTY, "hb.hg"), Area("hb.hg.c2", "团风县", Level.COUNTY, "hb.hg"),
         Area("hb.hg.c1.t1", "陈策楼镇", Level.TOWNSHIP, "hb.hg.c1")]
DEVICES = [("core1", "huawei_vrp", "hb.hg"), ("c1-agg", "huawei_vrp", "hb.hg.c1"),
           ("c1-sw1", "cisco_ios", "hb.hg.c1.t1"), ("c1-sw2", "cisco_ios", "hb.hg.c1.t1"),
           ("c1-sw3", "cisco_ios", "hb.hg.c1.t1"), ("c1-r1", "cisco_ios", "hb.hg.c1"),
           ("c2-r1", "ruijie_os", "hb.hg.c2"), ("c2-r2", "ruijie_os", "hb.hg.c2"), ("c2-x", "hp_comware", "hb.hg.c2"),
           ("srv1", "linux", "hb.hg.c2")]
FACTS = {"core1": Facts("NE40E-X8A", "V800R011C10SPC100", 1.0, 30 * DAY),
         "c1-agg": Facts("NE20E-S2F", "V800R010C10SPC500", 1.0, 100 * DAY),
         "c1-sw1": Facts("C2960X-24TS-L", "15.2(7)E4", 1.0, 400 * DAY),
         "c1-sw2": Facts("C2960X-24TS-L", "15.2(7)E4", 1.0, 10 * DAY),
         "c1-sw3": Facts("c2960x-24ts-l", "15.2(4)E8", 1.0, None),  # no uptime read; another spelling of the model
         "c1-r1": Facts("ISR4331", "16.9.4", 1.0, None),
         "c2-r1": Facts("RSR20-14F", "RGOS 11.9(4)B1", 1.0, 5 * DAY),
         "c2-x": Facts("S5560X-54C-EI", "7.1.070 Release 6615P05", 1.0, None),
         "srv1": Facts("linux", "5.10", 1.0, 1 * DAY)}  # c2-r2: nothing read yet
LIFECYCLE = (Lifecycle("cisco_ios", "*C2960X-*", date(2022, 10, 31), date(2026, 10, 31), "n1", "C9200L-24T-4X"),
             Lifecycle("cisco_ios", "ISR4331", date(2023, 11, 30), date(2027, 6, 30), "n2", "C8200L-1N-4T"),
             Lifecycle("huawei_vrp", "NE20E-S2F", date(2024, 6, 30), date(2029, 6, 30), "n3"),
             Lifecycle("ruijie_os", "RSR20-14F", date(2021, 6, 30), date(2025, 6, 30), "n4"),
             Lifecycle("huawei_vrp", "NE40E-X8A", date(2030, 1, 1), date(2035, 1, 1), "n5"))


def _inventory() -> Inventory:
    return Inventory(areas={a.id: a for a in AREAS},
                     devices={n: Device(n, p, "x", area, "127.0.0.1") for n, p, area in DEVICES})


def test_per_county_and_model_the_counts_versions_and_longest_uptime() -> None:
    report = build(_inventory(), FACTS, LIFECYCLE, TODAY)
    groups = {(g.county, g.platform, g.model): g for g in report.groups}
    # 9 network devices (srv1 is a server: the data centre's, not equipment here); the groups add up to them
    assert len(report.devices) == 9 and sum(g.count for g in report.groups) == 9
    assert set(groups) == {("hb.hg", "huawei_vrp", "NE40E-X8A"),  # the city's core sits above any county
                           ("hb.hg.c1", "huawei_vrp", "NE20E-S2F"), ("hb.hg.c1", "cisco_ios", "C2960X-24TS-L"),
                           ("hb.hg.c1", "cisco_ios", "ISR4331"), ("hb.hg.c2", "ruijie_os", "RSR20-14F"),
                           ("hb.hg.c2", "ruijie_os", ""), ("hb.hg.c2", "hp_comware", "S5560X-54C-EI")}
    switches = groups[("hb.hg.c1", "cisco_ios", "C2960X-24TS-L")]
    # sw1, sw2 and sw3 (in a township of 黄州区, so counted in the county); two run 15.2(7)E4, one 15.2(4)E8;
    # the longest uptime is sw1's 400 days (sw3 has none read, which does not make it the longest)
    assert switches.county_name == "湖北 / 黄冈 / 黄州区"
    assert (switches.count, switches.versions) == (3, (("15.2(7)E4", 2), ("15.2(4)E8", 1)))
    assert (switches.longest_uptime_s, switches.longest_uptime_device) == (400 * DAY, "c1-sw1")
    assert switches.lifecycle is LIFECYCLE[0]
    unknown = groups[("hb.hg.c2", "ruijie_os", "")]  # c2-r2: counted, with its version unread too
    assert (unknown.count, unknown.versions, unknown.longest_uptime_s, unknown.lifecycle) == (1, (("", 1),), None,
                                                                                              None)
    assert groups[("hb.hg", "huawei_vrp", "NE40E-X8A")].county_name == "湖北 / 黄冈"
    assert report.unlisted == (("hp_comware", "S5560X-54C-EI"),)


def test_the_replacement_list_by_end_of_life() -> None:
    report = build(_inventory(), FACTS, LIFECYCLE, TODAY)
    # RSR20-14F ended 2025-06-30 (passed); the 2960-X ended 2026-10-31 (passed); the ISR4331 ends 2027-06-30, within
    # 12 months of 2026-11-30; the NE20E-S2F's sale ended 2024-06-30 but support runs to 2029; the NE40E is fine.
    assert [(r.device, r.status) for r in report.replacements] == [
        ("c2-r1", "eol-passed"), ("c1-sw1", "eol-passed"), ("c1-sw2", "eol-passed"), ("c1-sw3", "eol-passed"),
        ("c1-r1", "eol-within-12-months"), ("c1-agg", "eos-passed")]
    assert report.replacements[4].as_json() == {
        "device": "c1-r1", "platform": "cisco_ios", "county": "hb.hg.c1", "county_name": "湖北 / 黄冈 / 黄州区",
        "model": "ISR4331", "version": "16.9.4", "read_at": 1.0, "uptime_s": None,
        "status": "eol-within-12-months", "end_of_sale": "2023-11-30", "end_of_life": "2027-06-30",
        "replacement": "C8200L-1N-4T"}


def test_an_area_keeps_its_subtree_only() -> None:
    report = build(_inventory(), FACTS, LIFECYCLE, TODAY, area="hb.hg.c2")
    assert [r.device for r in report.devices] == ["c2-r1", "c2-r2", "c2-x"]
    assert [r.device for r in report.replacements] == ["c2-r1"]


def test_without_a_lifecycle_file_every_device_is_still_counted() -> None:
    report = build(_inventory(), FACTS, (), TODAY)
    assert sum(g.count for g in report.groups) == 9 and report.replacements == ()
    assert len(report.unlisted) == 7  # every model read, none listed (c2-r2's unread model is not one)


def test_the_boundaries_of_each_status() -> None:
    life = Lifecycle("cisco_ios", "X", date(2026, 1, 1), date(2027, 11, 30), "n")
    # both dates are last days (to order, of support): passed from the day after
    assert status(life, date(2027, 12, 1)) == "eol-passed"
    assert status(life, date(2027, 11, 30)) == "eol-within-12-months"  # its last day of support
    assert status(life, date(2026, 11, 30)) == "eol-within-12-months"  # exactly 12 months ahead
    assert status(life, date(2026, 11, 29)) == "eos-passed"  # 12 months and a day
    assert status(life, date(2026, 1, 1)) is None  # the last day to order
    assert status(life, date(2026, 1, 2)) == "eos-passed"
    assert status(None, TODAY) is None
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 30), 12) == date(2027, 11, 30)


def test_facts_from_the_stored_versions_and_the_latest_samples() -> None:
    facts = known_facts({"a": KnownVersion("16.9.4", "ISR4331", 5.0)}, {"a": 60.0, "b": 7.0})
    assert facts == {"a": Facts("ISR4331", "16.9.4", 5.0, 60.0), "b": Facts("", "", None, 7.0)}
    ssh = Sample("ssh_device", (("device", "a"),), {"uptime_seconds": 600.0, "interfaces_up": 2.0}, 1)
    snmp = Sample("device", (("device", "a"),), {"uptime_seconds": 30.0}, 1)
    assert uptime_of([snmp, ssh]) == 600.0  # the CLI's, whatever the order: SNMP's wraps after 497 days
    assert uptime_of([snmp]) == 30.0 and uptime_of([]) is None


def test_uptimes_from_the_latest_store_as_yiwang_run_holds_it() -> None:
    latest = LatestStore()
    a, b = (("device", "a"), ("county", "c1")), (("device", "b"),)
    latest.replace("a", "snmp", [Sample("device", a, {"uptime_seconds": 30.0}, 1)])
    latest.replace("a", "ssh", [Sample("ssh_device", a, {"uptime_seconds": 900.0}, 1),
                                Sample("device_facts", a, {"info": 1.0}, 1)])
    latest.replace("b", "snmp", [Sample("device", b, {"uptime_seconds": 45.0}, 1)])
    latest.replace("c", "icmp", [Sample("icmp", (("device", "c"),), {"rtt_ms": 1.0}, 1)])  # no uptime: absent
    assert uptimes(latest.snapshot()) == {"a": 900.0, "b": 45.0}


def test_the_csv_has_a_row_per_device_and_no_formula() -> None:
    facts = {**FACTS, "c2-x": Facts("=HYPERLINK(\"x\")", "-1", 1.0, None)}
    rows = list(csv.DictReader(io.StringIO(csv_text(build(_inventory(), facts, LIFECYCLE, TODAY)))))
    assert len(rows) == 9
    assert {r["device"]: r["status"] for r in rows}["c1-agg"] == "eos-passed"
    x = next(r for r in rows if r["device"] == "c2-x")
    assert (x["model"], x["version"], x["end_of_life"]) == ("'=HYPERLINK(\"x\")", "'-1", "")
