"""The outputs of a stored run, pure: the assessor's HTML report (its structure read back with html.parser, every
device-supplied string escaped), the CSV, the JSON without evidence for those who may not read configurations, the
samples for Prometheus/InfluxDB and the alert that follows from them."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

from alerts.engine import evaluate
from alerts.export import export_prometheus
from alerts.rules import DEFAULT_RULES, load_rules
from alerts.state import EngineState
from alerts.topology import Topology
from collectors.base import PollTarget
from inventory.model import Area, Device, Inventory, Level
from yiwang.compliance import report
from yiwang.compliance.history import RunInfo, StoredResult
from yiwang.compliance.ipv6 import CountyReadiness
from yiwang.compliance.pack import load_pack
from yiwang.compliance.samples import area_samples, device_samples, readiness_samples

HOSTILE = "<script>alert(1)</script>"
AREAS = (Area("hb", "湖北", Level.PROVINCE), Area("hb.hg", "黄冈", Level.CITY, "hb"),
         Area("hb.hg.c1", "黄州区", Level.COUNTY, "hb.hg"),
         Area("hb.hg.c1.t1", "路口镇", Level.TOWNSHIP, "hb.hg.c1"),
         Area("hb.hg.c1.t1.v1", "十里村", Level.VILLAGE, "hb.hg.c1.t1"),
         Area("hb.hg.c2", "团风县", Level.COUNTY, "hb.hg"))
INVENTORY = Inventory(areas={a.id: a for a in AREAS},
                      devices={d.name: d for d in (Device("c1-agg", "huawei_vrp", "agg", "hb.hg.c1", "10.0.0.1"),
                                                   Device("v1-sw", "cisco_ios", "sw", "hb.hg.c1.t1.v1", "10.0.1.1"))})
C1 = ("hb", "hb.hg", "hb.hg.c1")
V1 = (*C1, "hb.hg.c1.t1", "hb.hg.c1.t1.v1")
RUN = RunInfo(7, 1_796_000_000.0, 1_796_000_012.5, "backup", 2, 17, 2, 3, "ab" * 32)
RESULTS = [
    StoredResult("c1-agg", "ntp-server", "huawei_vrp", C1[-1], C1, "fail", "medium",
                 ({"missing": None},), ("ntp-service unicast-server <NTP server>",)),
    StoredResult("c1-agg", "remote-mgmt-encrypted", "huawei_vrp", C1[-1], C1, "pass", "high"),
    StoredResult("v1-sw", "ntp-server", "cisco_ios", V1[-1], V1, "pass", "medium"),
    StoredResult("v1-sw", "remote-mgmt-encrypted", "cisco_ios", V1[-1], V1, "fail", "high",
                 ({"line": 41, "text": f" transport input telnet {HOSTILE}"},),
                 ("line vty 0 4", " transport input ssh")),
    StoredResult("v1-sw", "syslog-server", "cisco_ios", V1[-1], V1, "exempt", "medium",
                 exemption={"reason": f"moved {HOSTILE}", "expires": "2026-12-31", "approved_by": "李工"}),
    StoredResult("v1-sw", "mgmt-acl", "cisco_ios", V1[-1], V1, "error", "high", detail="configuration truncated"),
]


class Page(HTMLParser):
    """What a browser would build: the elements, the text per section, and any script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.sections: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self.headers: list[str] = []
        self._th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "section":
            self.sections.append(dict(attrs)["id"] or "")
        self._th = tag == "th"

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._th = False

    def handle_data(self, data: str) -> None:
        self.texts.setdefault(self.sections[-1] if self.sections else "", []).append(data)
        if self._th and data.strip():
            self.headers.append(data.strip())


def test_the_html_report_lists_each_area_its_counts_failures_exemptions_and_errors_escaped() -> None:
    pack = load_pack()
    built = report.build(INVENTORY, pack, RUN, RESULTS, None, with_evidence=True)
    assert [s.area for s in built.sections] == ["hb", "hb.hg", "hb.hg.c1", "hb.hg.c1.t1"]  # c2 has no device
    html = report.html(built)
    page = Page()
    page.feed(html)
    assert "script" not in page.tags  # the device's string is text, not an element
    assert html.count("&lt;script&gt;") == 2 and HOSTILE not in html
    assert page.sections == ["area-hb", "area-hb.hg", "area-hb.hg.c1", "area-hb.hg.c1.t1"]
    for heading in ("规则", "条款", "严重性", "通过", "不通过", "不适用", "豁免", "错误"):
        assert heading in page.headers
    county = "".join(page.texts["area-hb.hg.c1"])
    township = "".join(page.texts["area-hb.hg.c1.t1"])
    # each finding once, in the deepest section on its device's path
    assert "缺失 missing: (整个配置 whole configuration)" in county and "ntp-service unicast-server" in county
    assert f"41:  transport input telnet {HOSTILE}" in township and "transport input telnet" not in county
    assert f"moved {HOSTILE}" in township and "2026-12-31" in township and "李工" in township
    assert "configuration truncated" in township and "Errors: not checked, never counted as passed" in township
    assert "8.1.4.1" in "".join(page.texts["area-hb"])  # a clause beside its rule in the summary
    # printable: a page per area, no navigation on paper
    assert "break-before: page" in html and "nav, .screen-only { display: none; }" in html


def test_the_counts_of_an_area_take_its_whole_subtree() -> None:
    built = report.build(INVENTORY, load_pack(), RUN, RESULTS, "hb.hg.c1", with_evidence=True)
    top = built.sections[0]
    assert top.area == "hb.hg.c1" and top.devices == 2
    rows = {r.rule: dict(r.counts) for r in top.rows}
    assert rows["ntp-server"] == {"fail": 1, "pass": 1} and rows["remote-mgmt-encrypted"] == {"pass": 1, "fail": 1}
    document = report.report_json(built)
    assert document["sections"][0]["rules"][0]["counts"]["fail"] in (0, 1)  # type: ignore[index]


def test_without_configs_read_the_evidence_is_withheld_everywhere() -> None:
    pack = load_pack()
    html = report.html(report.build(INVENTORY, pack, RUN, RESULTS, None, with_evidence=False))
    assert "transport input telnet" not in html and report.WITHHELD in html
    assert "transport input ssh" in html  # the remediation is the pack's text, not the device's
    devices = report.devices_json(RESULTS, with_evidence=False)
    assert all("evidence" not in r and r["evidence_omitted"] for d in devices for r in d["results"])  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(report.csv_text(INVENTORY, pack, RESULTS, with_evidence=False))))
    assert all(report.WITHHELD == row[8] for row in rows[1:])


def test_the_csv_has_one_row_per_device_and_rule() -> None:
    rows = list(csv.DictReader(io.StringIO(report.csv_text(INVENTORY, load_pack(), RESULTS, with_evidence=True))))
    assert len(rows) == len(RESULTS)
    telnet = next(r for r in rows if r["device"] == "v1-sw" and r["rule"] == "remote-mgmt-encrypted")
    assert telnet["status"] == "fail" and telnet["evidence"] == f"41:  transport input telnet {HOSTILE}"
    assert telnet["area_path"] == "湖北 / 黄冈 / 黄州区 / 路口镇 / 十里村"
    assert telnet["remediation"].startswith("line vty")
    assert "李工" in next(r for r in rows if r["status"] == "exempt")["exemption"]


def test_the_json_device_objects_keep_the_issue_shape() -> None:
    devices = report.devices_json(RESULTS, with_evidence=True)
    assert [d["device"] for d in devices] == ["c1-agg", "v1-sw"]
    assert devices[0] == {"device": "c1-agg", "platform": "huawei_vrp", "results": [
        {"rule": "ntp-server", "status": "fail", "evidence": [{"missing": None}],
         "remediation": ["ntp-service unicast-server <NTP server>"], "severity": "medium"},
        {"rule": "remote-mgmt-encrypted", "status": "pass", "evidence": [], "remediation": []}]}


def test_samples_per_area_down_to_townships_and_per_device_for_high_rules() -> None:
    samples = area_samples(INVENTORY, RESULTS, ["ntp-server", "remote-mgmt-encrypted"], 5)
    by = {(s.tag("county"), s.tag("township"), s.tag("rule")): dict(s.fields) for s in samples}
    assert not any(s.tag("village") for s in samples)  # down to township level
    assert by["黄州区", "", "ntp-server"] == {"failed": 1.0, "checked": 2.0}
    assert by["黄州区", "路口镇", "remote-mgmt-encrypted"] == {"failed": 1.0, "checked": 1.0}
    assert by["", "", "ntp-server"] == {"failed": 1.0, "checked": 2.0}  # the city and the province
    assert len(samples) == 4 * 2
    targets = [PollTarget("v1-sw", "10.0.1.1", (("device", "v1-sw"), ("village", "十里村"))),
               PollTarget("c1-agg", "10.0.0.1", (("device", "c1-agg"), ("county", "黄州区")))]
    severities = {r.id: r.severity for r in load_pack().rules}
    per_device = device_samples(targets, RESULTS, severities, 5)
    v1 = {s.tag("check"): s for s in per_device["v1-sw"]}
    assert set(v1) == {"remote-mgmt-encrypted", "mgmt-acl"}  # high rules only; an error is no failure
    assert v1["remote-mgmt-encrypted"].fields == {"failed": 1.0, "newly_failed": 0.0}
    assert v1["mgmt-acl"].fields == {"failed": 0.0, "newly_failed": 0.0}
    newly = device_samples(targets, RESULTS, severities, 5, {("v1-sw", "remote-mgmt-encrypted")})["v1-sw"]
    assert {s.tag("check"): s.fields["newly_failed"] for s in newly} == {"remote-mgmt-encrypted": 1.0,
                                                                        "mgmt-acl": 0.0}
    assert v1["remote-mgmt-encrypted"].tag("check_severity") == severities["remote-mgmt-encrypted"]
    assert v1["remote-mgmt-encrypted"].tag("village") == "十里村"
    ready = readiness_samples(INVENTORY, [CountyReadiness("hb.hg.c1", 4, 1), CountyReadiness("hb.hg.c2", 0, 0)], 5)
    assert ready[0].fields == {"villages": 4.0, "ready": 1.0, "ready_ratio": 0.25}
    assert dict(ready[0].tags) == {"province": "湖北", "city": "黄冈", "county": "黄州区"}
    assert "ready_ratio" not in ready[1].fields


def test_a_device_newly_failing_a_high_rule_raises_the_alert_once_naming_the_device_and_the_rule() -> None:
    rules = [r for r in load_rules([DEFAULT_RULES]) if r.name == "compliance_high_failed"]
    targets = [PollTarget("v1-sw", "10.0.1.1", (("device", "v1-sw"),))]
    severities = {r.id: r.severity for r in load_pack().rules}
    topology = Topology.from_inventory(INVENTORY)
    standing = device_samples(targets, RESULTS, severities, 1)["v1-sw"]  # failing since the baseline run
    _, quiet = evaluate(rules, EngineState(), standing, 10**18, topology)
    assert not [t for t in quiet if t.notify]
    samples = device_samples(targets, RESULTS, severities, 1, {("v1-sw", "remote-mgmt-encrypted")})["v1-sw"]
    state, transitions = evaluate(rules, EngineState(), samples, 10**18, topology)
    fired = [t for t in transitions if t.notify]
    assert len(fired) == 1 and fired[0].severity == "major"
    assert fired[0].annotations["summary"] == "v1-sw newly fails the compliance rule remote-mgmt-encrypted"
    _, again = evaluate(rules, state, samples, 10**18 + 10**9 * 86400 * 30, topology)
    assert not [t for t in again if t.notify]  # once, when it starts
    exported = export_prometheus(rules).document["groups"][0]["rules"][0]
    assert exported["expr"] == "(yiwang_compliance_device_newly_failed == 1)"
    assert "{{ $labels.check }}" in exported["annotations"]["summary"]
