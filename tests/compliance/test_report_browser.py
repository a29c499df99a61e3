"""The assessor's HTML report of a real stored run (a git archive of neglected configurations, SQLite, the service's
run), served over a real socket with the API's CSP and read in Debian's Chromium: the text a reader sees, no script
from a device string running, the contents list gone on paper, a page per area in the PDF, nothing wider than A4."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from inventory.model import Area, Device, Inventory, Level
from tests.browser import chromium, serve
from yiwang.archive.git import GitArchive
from yiwang.archive.index import BackupStatus
from yiwang.compliance import report
from yiwang.compliance.history import ComplianceHistory
from yiwang.compliance.run import data_sources, rule_pack, run_sync
from yiwang.config import ComplianceSettings
from yiwang.store import open_store

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog

pytestmark = pytest.mark.integration

CASES = Path(__file__).parent / "cases"
SCRIPT = "<script>window.__pwned=1</script>"
IMG = "<img src=x onerror=window.__pwned=2>"
LONG = "/flash/" + "x" * 300  # a word no wider than A4 only if the browser breaks it
CSP = "default-src 'none'; style-src 'unsafe-inline'"  # what GET /api/compliance/report sends with HTML
AREAS = (Area("hb", "湖北", Level.PROVINCE), Area("hb.hg", "黄冈", Level.CITY, "hb"),
         Area("hb.hg.c1", "黄州区", Level.COUNTY, "hb.hg"),
         Area("hb.hg.c1.t1", "路口镇", Level.TOWNSHIP, "hb.hg.c1"),
         Area("hb.hg.c1.t1.v1", "十里村", Level.VILLAGE, "hb.hg.c1.t1"),
         Area("hb.hg.c2", "团风县", Level.COUNTY, "hb.hg"))
INVENTORY = Inventory(
    areas={a.id: a for a in AREAS},
    devices={d.name: d for d in (Device("c1-agg", "huawei_vrp", "agg", "hb.hg.c1", "10.0.0.1"),
                                 Device("v1-sw", "cisco_ios", "sw", "hb.hg.c1.t1.v1", "10.0.1.1"),
                                 Device("c2-agg", "hp_comware", "agg", "hb.hg.c2", "10.0.2.1"))})
SECTIONS = ["hb", "hb.hg", "hb.hg.c1", "hb.hg.c1.t1", "hb.hg.c2"]


class Index:
    def status(self) -> dict[str, BackupStatus]:
        return {}


def _hostile(config: str) -> str:
    """The device's own strings carry markup in lines that are evidence of a failure, and one long word."""
    config = config.replace("snmp-server group ops v3 auth", f"snmp-server group {SCRIPT}{LONG} v3 auth")
    config = config.replace("username cisco privilege", f"username {IMG} privilege")
    return config.replace("snmp-agent group v3 ops authentication", f"snmp-agent group v3 {IMG} authentication")


def _stored_report(tmp_path: Path) -> str:
    git = GitArchive(tmp_path / "configs")
    now = datetime.now(UTC)
    for device, case in (("c1-agg", "huawei_vrp/neglected"), ("v1-sw", "cisco_ios/neglected"),
                         ("c2-agg", "hp_comware/neglected")):
        git.store(device, _hostile((CASES / case / "config.txt").read_text()), now)
    exemptions = tmp_path / "exemptions.yaml"
    exemptions.write_text(f"- device: v1-sw\n  rule: syslog-server\n  reason: '移至新日志服务器 {SCRIPT}{IMG} {LONG}'\n"
                          "  expires: 2099-12-31\n  approved_by: 李工\n")
    store = open_store(f"sqlite:///{tmp_path / 'y.sqlite'}")
    settings = ComplianceSettings(exemptions=exemptions)
    history = ComplianceHistory(store.engine)
    # What the service runs in its thread (a sync fixture: Playwright's sync API holds this thread's event loop).
    summary = run_sync(settings, INVENTORY, git, Index(), history, today=date.today(), trigger="manual",
                       sources=data_sources(settings))
    built = report.build(INVENTORY, rule_pack(settings), summary.run, history.results(summary.run.id), None,
                         with_evidence=True)
    assert [s.area for s in built.sections] == SECTIONS
    return report.html(built)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _stored_report(tmp_path_factory.mktemp("report"))


def test_the_report_reads_as_text_and_no_device_string_runs(browser: Browser, html: str) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    console: list[str] = []

    def dialog(found: Dialog) -> None:
        dialogs.append(found.message)
        found.dismiss()

    page.on("dialog", dialog)
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    with serve(html.encode(), {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CSP}) as url:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        text = page.inner_text("body")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.eval_on_selector_all("script, img", "found => found.length") == 0
    assert not dialogs and not console, (dialogs, console)
    for heading in ("等保2.0 三级 网络设备配置合规检查报告", "目录", "汇总", "不通过项", "豁免",
                    "无法检查（不计为通过）"):
        assert heading in text
    # the evidence lines, as the devices had them, as text
    assert f"28: snmp-server group {SCRIPT}{LONG} v3 auth" in text
    assert f"14: username {IMG} privilege 15 password 0 ******" in text
    assert f"snmp-agent group v3 {IMG} authentication" in text
    assert f"移至新日志服务器 {SCRIPT}{IMG} {LONG}" in text and "李工" in text
    assert "湖北 / 黄冈 / 黄州区 / 路口镇" in text
    page.close()


def test_on_paper_no_contents_a_page_per_area_and_nothing_wider_than_a4(browser: Browser, html: str) -> None:
    page = browser.new_page(viewport={"width": 703, "height": 1032})  # A4 less the 12 mm margins, at 96 px/in
    with serve(html.encode(), {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CSP}) as url:
        page.goto(url)
        page.emulate_media(media="print")
        assert not page.is_visible("nav")
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], widths  # long evidence lines wrap
        wide = page.evaluate("""[...document.querySelectorAll('section.area *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
            .map(e => e.tagName + ': ' + e.textContent.slice(0, 60))""")
        assert not wide
        starts = page.evaluate("""[...document.querySelectorAll('section.area')]
            .map(s => getComputedStyle(s).breakBefore)""")
        assert starts == ["page"] * len(SECTIONS)
        pdf = page.pdf(format="A4")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert pages >= 1 + len(SECTIONS), pages  # the cover, then each area from a page of its own
    page.close()
