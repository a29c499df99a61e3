"""The overview pages in a real Chromium (Debian's, headless) against `yiwang run` on the small lab: log in through
the form, the map and the area table, the drill-down, a device page, the English switch, hostile device strings,
no console error and no CSP violation, the first-screen time and the cost of 1,000 device updates.

Screenshots of the city and of a county are written to docs/ (overview.png, county.png) for the README."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab import lab_inventory_dir
from lab.state import LabPaths
from tests.e2e.conftest import free_tcp_port, start_run, stop_run, wait_for_api, write_config

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"
USER, PASSWORD = "wall1", "Wall-Display-7c2e!q"
HOSTILE_DEVICE = "hg-huangzhou-t04-v020"
# Each would run script or add an element if it ever reached the page as HTML.
HOSTILE_SYSNAME = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>&amp;'
HOSTILE_ALIAS = '<b id="injected">LAN</b><style>body{display:none}</style>'
SYSNAME_OID = "1.3.6.1.2.1.1.5.0"
ALIAS_OID = "1.3.6.1.2.1.31.1.1.1.18.2"  # ifAlias of the device's second interface

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="Debian's chromium is not installed")]

# Collects CSP violations from the first moment of every page (init scripts run outside the page's CSP).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '')));
"""


@dataclass
class Site:
    url: str
    http: httpx.Client  # logged in as the same user as the browser
    browser: Any
    problems: list[str] = field(default_factory=list)  # console errors, page errors, CSP violations, failed loads

    def page(self, width: int = 1366, height: int = 768, logged_in: bool = True) -> Any:
        context = self.browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        context.add_init_script(WATCH_CSP)
        if logged_in:
            context.add_cookies([{"name": "yiwang_session", "value": self.http.cookies["yiwang_session"],
                                  "url": self.url}])
        page = context.new_page()
        page.on("console", lambda m: m.type in ("error", "warning") and self.problems.append(
            f"console {m.type} on {page.url}: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error on {page.url}: {e}"))
        # leaving a page aborts its open event stream: that is the browser closing it, not a failure
        page.on("requestfailed", lambda r: r.failure == "net::ERR_ABORTED" and r.url.endswith("/stream")
                or self.problems.append(f"request failed on {page.url}: {r.url} {r.failure}"))
        return page

    def csp_violations(self, page: Any) -> list[str]:
        return list(page.evaluate("window.__csp"))


def _set_snmprec(data: Path, values: dict[str, str]) -> str:
    """Rewrites a lab device's data file with `values` (hex-encoded, so any byte passes), atomically: the
    responder notices a new file by its folder's mtime. Returns the old text, to put back."""
    old = data.read_text(encoding="utf-8")
    lines = []
    for line in old.splitlines():
        oid = line.split("|", 1)[0]
        lines.append(f"{oid}|4x|{values[oid].encode().hex()}" if oid in values else line)
    _replace(data, "\n".join(lines) + "\n")
    return old


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@pytest.fixture(scope="module")
def site(lab_state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("overview-page")
    port = free_tcp_port()
    config = write_config(work / "yiwang.yaml", work / "state", inventory=[str(lab_inventory_dir(lab_state))],
                          database_url=f"sqlite:///{work / 'y.sqlite'}", api={"port": port}, ssh={"enabled": False})
    # sysName is read when a device is discovered: the hostile one must be in place before the run starts.
    data = LabPaths.of(lab_state).root / "data" / f"{HOSTILE_DEVICE}.snmprec"
    original = _set_snmprec(data, {SYSNAME_OID: HOSTILE_SYSNAME, ALIAS_OID: HOSTILE_ALIAS})
    try:
        with served(config, work, port) as found:
            yield found
    finally:
        _replace(data, original)


@contextmanager
def served(config: Path, work: Path, port: int) -> Iterator[Site]:
    """A viewer added, `yiwang run` with `config` on `port` (its log in `work`/yiwang.log), logged in, and a
    headless Chromium; all stopped after."""
    secret = work / "password"
    secret.write_text(PASSWORD + "\n")
    done = subprocess.run([sys.executable, "-m", "yiwang", "auth", "user", "add", USER, "--role", "viewer",
                           "--password-file", str(secret), "-c", str(config)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    log = work / "yiwang.log"
    process = start_run(config, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(url, process, log)
        with httpx.Client(base_url=url, timeout=30) as http, playwright_api.sync_playwright() as pw:
            answer = http.post("/api/auth/login", json={"name": USER, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                yield Site(url, http, browser)
            finally:
                browser.close()
    finally:
        stop_run(process)


def polled(site: Site) -> dict[str, Any]:
    """The overview once every device has been polled (the small lab answers within a cycle or two)."""
    import time

    deadline = time.monotonic() + 60
    while True:
        overview = site.http.get("/api/overview").json()
        root = next(a for a in overview["areas"] if a["id"] == overview["root"])
        if root["unknown"] == 0 and root["devices"] > 0:
            return overview
        assert time.monotonic() < deadline, root
        time.sleep(1)


def open_overview(site: Site, path: str = "/", **size: int) -> Any:
    page = site.page(**size)
    page.goto(site.url + path)
    page.wait_for_selector("html[data-ready]", timeout=30_000)
    return page


def test_pages_need_a_session_and_carry_the_csp(site: Site) -> None:
    anonymous = httpx.Client(base_url=site.url, follow_redirects=False)
    for path in ("/", "/device/anything", "/?wall=1"):
        answer = anonymous.get(path)
        assert answer.status_code == 302 and answer.headers["location"] == "/login", path
    page = site.http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline for the CSP to refuse
    echarts = anonymous.get("/static/vendor/echarts-6.1.0.min.js")
    assert echarts.status_code == 200 and "immutable" in echarts.headers["cache-control"]
    assert anonymous.get("/static/overview.js").headers["cache-control"] == "no-cache"


def test_login_form_wrong_then_right(site: Site) -> None:
    page = site.page(logged_in=False)
    page.goto(site.url + "/")
    assert page.url == site.url + "/login"
    page.fill("#name", USER)
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "用户名或密码错误" in page.text_content("#login-error")
    # Chromium logs every 4xx answer as a console error; this one the test asked for
    refused = f"console error on {site.url}/login: Failed to load resource: the server responded with a status of 401"
    site.problems[:] = [p for p in site.problems if not p.startswith(refused)]
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.url + "/")
    page.wait_for_selector("html[data-ready]", timeout=30_000)
    assert site.csp_violations(page) == []
    page.context.close()


def test_the_map_and_the_area_table_render_and_first_screen_time(site: Site) -> None:
    overview = polled(site)
    page = open_overview(site)
    first_screen_ms = int(page.evaluate("document.documentElement.dataset.ready"))
    print(f"first_screen_ms={first_screen_ms} (small lab, headless Chromium, shared CPU)")
    assert first_screen_ms < 10_000
    counties = [a for a in overview["areas"] if a["parent"] == overview["root"]]
    rows = page.locator("#areas tbody tr[data-area-id]")
    assert rows.count() == len(counties) > 0
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.areaId)")) == sorted(a["id"] for a in counties)
    first = next(a for a in counties if a["id"] == rows.first.get_attribute("data-area-id"))
    assert rows.first.locator("th").text_content() == first["name"]
    assert page.locator("#map canvas").count() >= 1
    # every lab county found its map feature, by code or by name
    matched = page.evaluate("[...window.yiwangOverview.state.featureOf.keys()]")
    assert sorted(matched) == sorted(a["id"] for a in counties if a["level"] == "county")
    root = next(a for a in overview["areas"] if a["id"] == overview["root"])
    assert f"设备 {root['devices']} 台" in (page.text_content("#summary") or "")
    assert site.csp_violations(page) == []
    page.wait_for_timeout(500)  # the panels' answers
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "overview.png"))
    page.context.close()


def test_clicking_a_county_on_the_map_drills_down_to_its_devices(site: Site) -> None:
    overview = polled(site)
    county = next(a for a in overview["areas"] if a["level"] == "county")
    page = open_overview(site)
    # where the county's own centre lies on the canvas, as ECharts itself computes it
    x, y = page.evaluate("""(id) => {
        const state = window.yiwangOverview.state;
        const chart = echarts.getInstanceByDom(document.getElementById('map'));
        const feature = state.featureOf.get(id);
        const geo = echarts.getMap('huanggang').geoJSON.features.find(f => f.properties.name === feature);
        const box = document.getElementById('map').getBoundingClientRect();
        const [px, py] = chart.convertToPixel({seriesIndex: 0}, geo.properties.cp);
        return [box.left + px, box.top + py];
    }""", county["id"])
    page.mouse.click(x, y)
    page.wait_for_url(f"**area={county['id']}**")
    townships = [a for a in overview["areas"] if a["parent"] == county["id"]]
    rows = page.locator("#areas tbody tr[data-area-id]")
    rows.first.wait_for()
    assert rows.count() == len(townships)
    assert page.locator("#crumbs button[aria-current]").text_content() == county["name"]
    devices = site.http.get("/api/overview/devices", params={"area": county["id"]}).json()["devices"]
    page.wait_for_function("(n) => document.querySelectorAll('#devices tbody tr[data-device]').length === n",
                           arg=len(devices))
    page.wait_for_timeout(500)
    page.screenshot(path=str(DOCS / "county.png"))

    # sorting: by devices, largest first, then reversed
    page.click("#areas th[data-key=devices] button")
    counts = rows.evaluate_all("rs => rs.map(r => Number(r.children[2].textContent))")
    assert counts == sorted(counts, reverse=True)
    assert page.get_attribute("#areas th[data-key=devices]", "aria-sort") == "descending"
    page.click("#areas th[data-key=devices] button")
    assert rows.evaluate_all("rs => rs.map(r => Number(r.children[2].textContent))") == sorted(counts)

    # the keyboard: arrow down to the second township, Enter goes into it
    rows.first.focus()
    page.keyboard.press("ArrowDown")
    second = page.evaluate("document.activeElement.dataset.areaId")
    assert second == rows.nth(1).get_attribute("data-area-id")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**area={second}**")
    assert site.csp_violations(page) == []
    page.context.close()


def test_a_thousand_device_updates_are_applied_quickly(site: Site) -> None:
    overview = polled(site)
    county = next(a for a in overview["areas"] if a["level"] == "county")
    page = open_overview(site, f"/?area={county['id']}")
    page.wait_for_selector("#devices tbody tr[data-device]")
    result = page.evaluate("""async () => {
        const names = [...document.querySelectorAll('#devices tbody tr[data-device]')].map(r => r.dataset.device);
        const changes = [];
        for (let i = 0; i < 1000; i++) changes.push({name: names[i % names.length], area: 'x', status: 'down'});
        const started = performance.now();
        await window.yiwangOverview.apply('devices', changes);
        const ms = performance.now() - started;
        const down = document.querySelectorAll('#devices tbody td.status-down').length;
        return {ms, down, rows: names.length};
    }""")
    print(f"update_1000_ms={result['ms']:.1f} rows={result['rows']}")
    assert result["down"] == result["rows"]  # every row shows it, without a reload
    assert result["ms"] < 200
    page.context.close()


def test_a_device_page_shows_its_interfaces_and_hostile_strings_as_text(site: Site) -> None:
    polled(site)
    device = site.http.get(f"/api/overview/devices/{HOSTILE_DEVICE}").json()
    assert device["sysname"] == HOSTILE_SYSNAME, "the lab's hostile sysName did not reach the API"
    page = site.page()
    page.goto(f"{site.url}/device/{HOSTILE_DEVICE}")
    page.wait_for_selector("html[data-ready]", timeout=30_000)
    rows = page.locator("#interfaces tbody tr[data-interface]")
    assert rows.count() == len(device["interfaces"]) > 0
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.interface)") == [i["name"] for i in device["interfaces"]]
    facts = page.locator("#facts dd").evaluate_all("ds => ds.map(d => d.textContent)")
    assert HOSTILE_SYSNAME in facts
    assert HOSTILE_ALIAS in [i["alias"] for i in device["interfaces"]]
    aliases = page.locator("#interfaces td.alias").evaluate_all("ts => ts.map(t => t.textContent)")
    assert HOSTILE_ALIAS in aliases
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#injected, img[src=x], main script, main style").count() == 0
    assert page.is_visible("body")
    assert site.csp_violations(page) == []
    page.context.close()


def test_english_switch_is_kept_and_lang_parameter(site: Site) -> None:
    page = open_overview(site)
    assert page.text_content("h1") == "一网 · 城市总览"
    page.click("#lang-switch")
    assert page.text_content("h1") == "yiwang · City overview"
    assert page.text_content("#areas th[data-key=status] button") == "Status"
    assert page.evaluate("document.documentElement.lang") == "en"
    page.reload()
    page.wait_for_selector("html[data-ready]")
    assert page.text_content("h1") == "yiwang · City overview"  # kept in localStorage
    page.goto(site.url + "/?lang=zh")
    page.wait_for_selector("html[data-ready]")
    assert page.text_content("h1") == "一网 · 城市总览"
    page.goto(site.url + "/?lang=en")
    page.wait_for_selector("html[data-ready]")
    assert page.text_content("#alerts-h") == "Alerts"
    page.context.close()


@pytest.mark.parametrize("width,height", [(1366, 768), (3840, 2160)])
def test_fits_the_desk_and_the_wall(site: Site, width: int, height: int) -> None:
    page = open_overview(site, "/?wall=1", width=width, height=height)
    assert page.evaluate("document.documentElement.classList.contains('wall')")
    assert not page.is_visible("#lang-switch") and not page.is_visible("#logout")  # no controls on the wall
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.locator("#map").bounding_box()
    assert box is not None and box["width"] > width * 0.25
    page.context.close()
    desk = open_overview(site, width=width, height=height)
    assert desk.is_visible("#lang-switch")
    assert desk.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    desk.context.close()


def test_the_wall_cycles_through_every_county(site: Site) -> None:
    """The small lab has one county: the page is given the city's answer with a second county (a copy of the
    first under another id and name, its device list empty) and must step through both, then begin again."""
    import json

    overview = polled(site)
    county = next(a for a in overview["areas"] if a["level"] == "county")
    twin = {**county, "id": county["id"] + "-twin", "name": "第二县", "code": None}
    answer = {**overview, "areas": [*overview["areas"], twin]}
    page = site.page(1366, 768)
    page.route("**/api/overview", lambda route: route.fulfill(status=200, content_type="application/json",
                                                              body=json.dumps(answer, ensure_ascii=False)))
    page.route(f"**/api/overview/devices?area={twin['id']}", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps({"area": twin["id"], "devices": []})))
    page.goto(site.url + "/?wall=1&cycle=2")
    page.wait_for_selector("html[data-ready]", timeout=30_000)
    seen: list[str] = []
    for _ in range(3):  # each step 2 s apart: the first county, the second, the first again
        page.wait_for_function("(last) => window.yiwangOverview.state.focus !== last", arg=seen[-1] if seen else
                               overview["root"], timeout=10_000)
        seen.append(page.evaluate("window.yiwangOverview.state.focus"))
    assert seen == [county["id"], twin["id"], county["id"]]
    page.context.close()


def test_the_stream_is_live_and_no_console_errors_anywhere(site: Site) -> None:
    page = open_overview(site)
    page.wait_for_selector("html[data-live='1']", timeout=20_000)
    assert page.is_hidden("#banner")
    assert site.csp_violations(page) == []
    page.context.close()
    # last in the module: what every page so far said in its console
    assert site.problems == []
