"""The overview page kept live, in Debian's headless Chromium against `yiwang run` on the small lab: the lab's county
made unreachable turns red on the map and in its table row without a reload and the alert panel shows the one area
outage (and both go back when the fault is cleared); the lost-connection banner while the event stream is broken;
the wall display cycling through the counties."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import lab_clear, lab_fault, lab_inventory_dir
from tests.e2e.conftest import free_tcp_port, immediate_rules, write_config
from tests.e2e.test_overview_page import CHROMIUM, Site, served

playwright_api = pytest.importorskip("playwright.sync_api")

POLL_S = 3  # write_config's interval, for SNMP and ICMP alike
COUNTY = "hb.hg.huangzhou"  # the small lab's one county

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="Debian's chromium is not installed")]


@pytest.fixture(scope="module")
def live(lab_state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("overview-live")
    immediate_rules(work / "rules.yaml")
    port = free_tcp_port()
    config = write_config(work / "yiwang.yaml", work / "state", inventory=[str(lab_inventory_dir(lab_state))],
                          database_url=f"sqlite:///{work / 'y.sqlite'}", api={"port": port}, ssh={"enabled": False},
                          alerts={"rules": [str(work / "rules.yaml")]})
    try:
        with served(config, work, port) as found:
            yield found
    finally:
        lab_clear(lab_state)
    log = work / "yiwang.log"
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def all_up(site: Site) -> dict[str, Any]:
    """The overview once every device of the lab has been polled and answers (no fault left from before)."""
    deadline = time.monotonic() + 90
    while True:
        overview = site.http.get("/api/overview").json()
        root = next(a for a in overview["areas"] if a["id"] == overview["root"])
        if root["devices"] > 0 and root["up"] == root["devices"] and not overview["alerts"]["outages"]:
            return dict(overview)
        assert time.monotonic() < deadline, (root, overview["alerts"])
        time.sleep(1)


def open_live(site: Site, path: str = "/") -> Any:
    page = site.page()
    page.goto(site.url + path)
    page.wait_for_selector("html[data-ready]", timeout=30_000)
    page.wait_for_selector("html[data-live='1']", timeout=20_000)
    return page


def county_status(site: Site) -> str:
    overview = site.http.get("/api/overview").json()
    return str(next(a["status"] for a in overview["areas"] if a["id"] == COUNTY))


MAP_COLOUR = """async (id) => {
    const { STATUS_COLOURS } = await import('/static/common.js');
    const feature = window.yiwangOverview.state.featureOf.get(id);
    const chart = echarts.getInstanceByDom(document.getElementById('map'));
    const item = chart.getOption().series[0].data.find((d) => d.name === feature);
    return {colour: item.itemStyle.areaColor, down: STATUS_COLOURS.down, up: STATUS_COLOURS.up};
}"""


def test_a_county_made_unreachable_turns_red_live_with_one_outage(live: Site, lab_state: Path) -> None:
    overview = all_up(live)
    county = next(a for a in overview["areas"] if a["id"] == COUNTY)
    page = open_live(live)
    row = page.locator(f"#areas tbody tr[data-area-id='{COUNTY}']")
    status = row.locator("td.status")
    assert status.get_attribute("class") == "status status-up" and status.text_content() == "正常"
    colours = page.evaluate(MAP_COLOUR, COUNTY)
    assert colours["colour"] == colours["up"]
    assert page.locator("#outages li.outage").count() == 0
    page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded
    try:
        lab_fault(lab_state, "unreachable", COUNTY)
        faulted = time.monotonic()
        # The poller has to notice first (the cycle after the fault spends the timeout and its retry on each of
        # the county's devices); from the moment the API says so, the page is one stream event behind it.
        api_down = page_down = None
        deadline = faulted + 4 * POLL_S + 30
        while (api_down is None or page_down is None) and time.monotonic() < deadline:
            now = time.monotonic()
            if api_down is None and county_status(live) == "down":
                api_down = now
            if page_down is None and status.get_attribute("class") == "status status-down":
                page_down = now
            page.wait_for_timeout(200)
        assert api_down is not None and page_down is not None, (api_down, page_down)
        red_after = page_down - faulted
        assert status.text_content() == "中断"
        page.wait_for_function("(n) => document.querySelector(`#areas tbody tr[data-area-id='hb.hg.huangzhou']`)"
                               ".children[3].textContent === String(n)", arg=county["devices"], timeout=10_000)
        colours = page.evaluate(MAP_COLOUR, COUNTY)
        assert colours["colour"] == colours["down"]
        page.wait_for_selector(f"#outages li.outage[data-area='{COUNTY}']", timeout=(POLL_S * 2 + 10) * 1000)
        outage_after = time.monotonic() - faulted
        outages = page.locator("#outages li.outage")
        assert outages.count() == 1
        said = outages.first.text_content() or ""
        assert said.startswith(f"{county['name']} 区域中断：{county['devices']} 台设备中断"), said
        assert page.evaluate("window.__sameDocument") is True
        print(f"red on the page {red_after:.1f} s after the fault, {page_down - api_down:+.1f} s after the API said "
              f"down; the outage {outage_after:.1f} s after the fault (poll interval {POLL_S} s)")
        assert page_down - api_down < POLL_S  # within one poll interval of the server knowing it
    finally:
        lab_clear(lab_state)
    page.wait_for_selector(f"#areas tbody tr[data-area-id='{COUNTY}'] td.status-up", timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('#outages li.outage').length === 0", timeout=30_000)
    assert page.evaluate(MAP_COLOUR, COUNTY)["colour"] == colours["up"]
    assert page.evaluate("window.__sameDocument") is True
    assert live.csp_violations(page) == []
    page.context.close()


STREAM = "**/api/overview/stream*"


def lost_then_back(page: Any) -> None:
    """The banner is up while every connection to the stream fails, past the browser's retries, and goes once
    they are let through; the page is live again."""
    page.wait_for_selector("#banner:not([hidden])", timeout=10_000)
    assert page.text_content("#banner") == "与服务器的实时连接已断开，正在重连……"
    assert page.evaluate("document.documentElement.dataset.live") == "0"
    page.wait_for_timeout(4000)  # past the stream's `retry: 3000`: the browser's reconnects fail too
    assert page.is_visible("#banner")
    page.unroute(STREAM)
    page.wait_for_selector("html[data-live='1']", timeout=15_000)
    assert page.is_hidden("#banner")


def cut_browser_streams(port: int) -> int:
    """Cuts the browser's TCP connections to the API (the kernel destroys the sockets, as a dropped network or a
    restarted proxy would end them): the open event stream breaks for real. Returns how many were cut."""
    listed = subprocess.run(["ss", "-tnpH", "state", "established", "dport", "=", f":{port}"], capture_output=True,
                            text=True, check=True).stdout.splitlines()
    ports = [line.split()[2].rsplit(":", 1)[1] for line in listed if "chrom" in line]
    for local in ports:
        subprocess.run(["ss", "-K", "-tn", "sport", "=", f":{local}", "dport", "=", f":{port}"],
                       capture_output=True, check=True)
    return len(ports)


def test_the_lost_connection_banner_comes_and_goes(live: Site) -> None:
    all_up(live)
    before = len(live.problems)
    # a stream that cannot be reached from the start
    page = live.page()
    page.route(STREAM, lambda route: route.abort())
    page.goto(live.url + "/")
    page.wait_for_selector("html[data-ready]", timeout=30_000)
    lost_then_back(page)
    # an open stream that breaks: its connection cut under the page, every reconnect refused until released
    if os.geteuid() == 0 and shutil.which("ss"):
        page.route(STREAM, lambda route: route.abort())
        assert cut_browser_streams(int(live.url.rsplit(":", 1)[1])) >= 1
        lost_then_back(page)
    assert live.csp_violations(page) == []
    page.context.close()
    # the deliberate breaks put the failed stream requests in the console (Chromium's own line names no URL)
    print("\n".join(live.problems[before:]))
    live.problems[before:] = [p for p in live.problems[before:] if "/api/overview/stream" not in p
                              and not p.endswith(("Failed to load resource: net::ERR_FAILED",  # aborted
                                                  "Failed to load resource: net::ERR_CONNECTION_ABORTED"))]  # cut


def test_the_wall_cycles_through_the_counties(live: Site) -> None:
    overview = all_up(live)
    counties = [a for a in overview["areas"] if a["level"] == "county"]
    page = live.page(width=1920, height=1080)
    # when the focus moves, and to where, from the page's first moment
    page.add_init_script("""
        window.__focus = [];
        new MutationObserver((changes) => {
            const name = changes.map((c) => c.target).find((t) => t.id === 'focus-name');
            if (name) window.__focus.push([performance.now(), name.textContent]);
        }).observe(document, {subtree: true, childList: true});
    """)
    page.goto(live.url + "/?wall=1&cycle=2")
    page.wait_for_selector("html[data-ready]", timeout=30_000)
    ready = int(page.evaluate("document.documentElement.dataset.ready"))
    start_name = page.text_content("#focus-name")
    page.wait_for_function("(n) => new Set(window.__focus.filter(([t]) => t > n + 100).map(([t]) => Math.round(t)))"
                           ".size >= 2", arg=ready, timeout=15_000)
    moves = page.evaluate("window.__focus")
    after = [(t, name) for t, name in moves if t > ready + 100]
    first = after[0][0] - ready
    assert 1500 < first < 4000, moves  # two seconds after the start, not at once, not at the default 15 s
    assert after[0][1] == counties[0]["name"] != start_name
    # the next step comes two seconds later (the small lab has one county: the cycle comes back to it)
    later = [t for t, _ in after if t > after[0][0] + 500]
    assert later and 1500 < later[0] - after[0][0] < 3500, moves
    assert page.url == live.url + "/?wall=1&cycle=2"  # the wall does not fill the history
    page.context.close()
    assert live.problems == []
