"""`GET /api/capacity/links|upgrades|report` of a real `yiwang run` reading a real VictoriaMetrics that holds a month
of one uplink's traffic (written through yiwang's influx sink, as `yiwang run` would): the figures, the CSV, the
bandwidth plan, and the printable page with its chart, whose points are checked against the written series; names
from the inventory that try to be HTML stay text. Without a history (409) and with one that is down (502): the
routes alone in a TestClient, since nothing crosses a wire there but the refused read."""

from __future__ import annotations

import csv
import io
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.capacity import capacity_routes
from api.security import Gate
from collectors.model import Sample
from inventory.loader import load_inventory
from tests.capacity.test_cli_datacentre import DATACENTRE
from tests.capacity.written import write_through_sink
from tests.e2e.conftest import api_client, api_token, free_tcp_port, start_run, stop_run, wait_for_api, write_config
from tests.sinks.servers import VictoriaMetrics, free_port, start_victoria_metrics
from yiwang.auth.sessions import SessionStore
from yiwang.capacity.report import LINK_FIELDS
from yiwang.config import CapacitySettings

pytestmark = pytest.mark.integration
SVG = "{http://www.w3.org/2000/svg}"
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"onmouseover=alert(1)'
INVENTORY = {
    "areas": [{"id": "hb", "name": "湖北", "level": "province"},
              {"id": "hb.hg", "name": "黄冈", "level": "city", "parent": "hb"},
              {"id": "hb.hg.c1", "name": SCRIPT, "level": "county", "parent": "hb.hg"},
              {"id": "hb.hg.c2", "name": "团风县" + ATTRIBUTE, "level": "county", "parent": "hb.hg"}],
    "devices": [{"name": n, "platform": "huawei_vrp", "role": "access", "area": a, "address": f"127.0.0.{i + 1}"}
                for i, (n, a) in enumerate([("core", "hb.hg"), ("c1-r1", "hb.hg.c1"), (SCRIPT, "hb.hg.c2")])],
    "links": [{"area": "hb.hg.c1", "local": "c1-r1:GigabitEthernet0/0/1", "remote": "core:GigabitEthernet0/0/1",
               "carrier": SCRIPT, "bandwidth_mbps": 100},
              {"area": "hb.hg.c2", "local": f"{SCRIPT}:{ATTRIBUTE}", "remote": "core:GigabitEthernet0/0/2",
               "carrier": "中国联通", "bandwidth_mbps": 50}]}
LINK = "c1-r1:GigabitEthernet0/0/1"
MBPS = 100.0
DAY = 86_400
GAP_AGE = (10 * DAY, 11 * DAY)  # no sample between 11 and 10 days old (from the newest hour boundary, see below)


class Running:
    def __init__(self, url: str, token: str, now: float, samples: list[float], gap: tuple[float, float]) -> None:
        self.url, self.token, self.now, self.samples, self.gap = url, token, now, samples, gap


def ratio(at_s: float, now: float) -> float:
    """In: 50 % of the contract at `now`, one point more each day, and a burst of 10 points more in the sixth
    5-minute window of each hour (the sample 27.5 minutes past), so that the chart's hourly peak is told apart
    from the hour's mean (1/12 of the burst) or its newest point (none of it)."""
    return 0.50 + 0.01 * (at_s - now) / DAY + (0.10 if at_s % 3600 == 1650 else 0.0)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    state = tmp_path_factory.mktemp("capacity-report")
    victoria = start_victoria_metrics(state)
    try:
        now = time.time() // 300 * 300
        # The gap starts 300 s before an hour boundary, so no 5-minute window of its first empty hours reaches back
        # to a sample (the hour that ends at a gap's start keeps its value either way).
        gap_end = (now - GAP_AGE[0]) // 3600 * 3600
        gap = (gap_end - DAY - 300, gap_end)
        times = [t for t in (now - i * 300 - 150 for i in range(30 * 288)) if not gap[0] <= t < gap[1]]
        tags = (("device", "c1-r1"), ("if_index", "6"), ("interface", "GigabitEthernet0/0/1"))
        samples = [Sample("interface", tags, {"in_bps": ratio(t, now) * MBPS * 1e6, "out_bps": 0.10 * MBPS * 1e6},
                          int(t * 1e9)) for t in times]
        write_through_sink(victoria, samples)
        running = _run(state, victoria, now, sorted(times), gap)
        yield from running
    finally:
        victoria.stop()


def _run(state: Path, victoria: VictoriaMetrics, now: float, times: list[float],
         gap: tuple[float, float]) -> Iterator[Running]:
    (state / "inventory").mkdir()
    (state / "inventory" / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY, allow_unicode=True))
    (state / "inventory" / "datacentre.yaml").write_text(yaml.safe_dump(DATACENTRE, allow_unicode=True))
    port = free_tcp_port()
    config = write_config(state / "yiwang.yaml", state, api={"port": port}, ssh={"interval_s": 3600},
                          audit={"path": str(state / "audit.jsonl")}, capacity={"history_url": victoria.url})
    token = api_token(config, "viewer")
    log = state / "run.log"
    process = start_run(config, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(url, process, log)
        yield Running(url, token, now, times, gap)
    finally:
        if process.poll() is None:
            stop_run(process)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def test_links_json_and_csv(running: Running) -> None:
    with api_client(running.url, running.token, timeout=60) as client:
        found = client.get("/api/capacity/links").json()
        text = client.get("/api/capacity/links", params={"format": "csv", "area": "hb.hg.c1"})
    rows = {(r["link"], r["direction"]): r for r in found["links"]}
    assert set(rows) == {(LINK, "in"), (LINK, "out"), (f"{SCRIPT}:{ATTRIBUTE}", "")}
    # a point a day (the gap day left out of the fit; the bursts, one point in 12, lift each day's p95 alike); out
    # is flat at 10 %
    assert rows[(LINK, "in")]["trend_pct_per_day"] == pytest.approx(1.0, abs=0.01)
    assert rows[(LINK, "out")]["p95_30d_pct"] == pytest.approx(10.0, abs=0.01)
    assert rows[(f"{SCRIPT}:{ATTRIBUTE}", "")]["problem"] == "no traffic history in the last 30 days"
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/csv")
    header, *lines = text.text.splitlines()
    assert header == ",".join(LINK_FIELDS)
    assert [(r["link"], r["direction"], r["carrier"]) for r in csv.DictReader(io.StringIO(text.text))] == [
        (LINK, "in", SCRIPT), (LINK, "out", SCRIPT)]


def test_upgrades_and_the_bandwidth_plan(running: Running) -> None:
    with api_client(running.url, running.token, timeout=60) as client:
        found = client.get("/api/capacity/upgrades").json()
        plan = client.get("/api/capacity/upgrades", params={"format": "yaml"})
    # The in direction's p95 is the bursts' level (over 5 % of the points): 60 % now, 90 % 30 days ahead, over 70 %:
    # listed; 90 Mbit/s under 70 % needs 200 (100 x 0.7 = 70 is too little)
    (row,) = found["upgrades"]
    assert (row["link"], row["direction"], row["proposed_mbps"]) == (LINK, "in", 200)
    assert plan.headers["content-type"].startswith("application/yaml")
    (entry,) = yaml.safe_load(plan.text)
    assert (entry["link"], entry["mbps"]) == ("c1-r1", 200)  # c1-r1 is the lower end of one link: named alone


def test_unknown_area_is_404(running: Running) -> None:
    with api_client(running.url, running.token, timeout=60) as client:
        for path in ("links", "upgrades", "report"):
            assert client.get(f"/api/capacity/{path}", params={"area": "nowhere"}).status_code == 404


def test_the_printable_page(running: Running) -> None:
    with api_client(running.url, running.token, timeout=60) as client:
        # the report reuses the link figures of the last minute (the cache): computed_at is the page's `now`
        computed = client.get("/api/capacity/links", params={"area": "hb.hg"}).json()["computed_at"]
        answer = client.get("/api/capacity/report", params={"area": "hb.hg"})
        english = client.get("/api/capacity/report", params={"area": "hb.hg.c1", "lang": "en"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'none'" in policy and "default-src 'none'" in policy
    html = answer.text
    assert "<script" not in html and ATTRIBUTE not in html  # escaped everywhere: names, carrier, chart title
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3 and "&quot;onmouseover=alert(1)" in html
    assert "容量报告" in html and "湖北 / 黄冈" in html and "扩容清单" in html
    assert "Capacity report" in english.text and "<script" not in english.text
    # the cloud centre's sites on the city's page only
    assert "旧云中心" in html and "2.0 / 3.0" in html and "旧云中心" not in english.text

    (svg_text,) = re.findall(r"<svg .*?</svg>", html)  # one link has history, the other none: one chart
    svg = ET.fromstring(svg_text)
    chart_end = datetime.fromisoformat(computed).timestamp() // 3600 * 3600
    runs = [[tuple(map(float, p.split(","))) for p in line.attrib["points"].split()]
            for line in svg.iter(f"{SVG}polyline") if line.attrib["class"] == "in"]
    assert len(runs) == 2  # broken by the day without samples
    drawn = {x: y for run in runs for x, y in run}
    # Hour x ends at chart_end - (719 - x) h; its point is the highest 5-minute mean in (end - 1 h, end], and each
    # 5-minute window holds one sample: the highest sample of the hour (its burst where the hour has one); y is
    # 60 - 50 x ratio (test_report_render.py), drawn to 0.1.
    expected = {}
    for x in range(720):
        end = chart_end - (719 - x) * 3600
        inside = [t for t in running.samples if end - 3600 < t <= end]
        if inside:
            expected[x] = 60 - 50 * max(ratio(t, running.now) for t in inside)
    assert len(expected) > 600 and drawn == pytest.approx(expected, abs=0.051)
    outs = {x for line in svg.iter(f"{SVG}polyline") if line.attrib["class"] == "out"
            for x, y in (map(float, p.split(",")) for p in line.attrib["points"].split()) if y == 55.0}
    assert outs == set(expected)  # 10 % -> 60 - 5 at every hour with data
    assert math.isclose(float(next(svg.iter(f"{SVG}line")).attrib["y1"]), 25.0)


def test_datacentre_json_csv_and_an_unknown_site(running: Running) -> None:
    with api_client(running.url, running.token, timeout=60) as client:
        found = client.get("/api/capacity/datacentre", params={"growth": 1}).json()
        cabinets = client.get("/api/capacity/datacentre", params={"site": "old", "format": "csv"})
        missing = client.get("/api/capacity/datacentre", params={"site": "nowhere"})
    old, new = found["sites"]
    # as test_cli_datacentre.py counts them: 7 U of 20 used, 2000 W of 3000 W, C2 over its budget
    assert (old["used_u"], old["power_w"], old["budget_w"], old["over_budget"]) == (7, 2000, 3000, ["C2"])
    assert new["servers"] == 0 and [e["site"] for e in found["exhaustion"]] == ["old"]
    assert [(r["cabinet"], r["over_budget"]) for r in csv.DictReader(io.StringIO(cabinets.text))] == [
        ("C1", "False"), ("C2", "True")]
    assert missing.status_code == 404


def test_report_csv_is_the_link_rows(running: Running) -> None:
    with api_client(running.url, running.token, timeout=60) as client:
        answer = client.get("/api/capacity/report", params={"format": "csv"})
    assert answer.headers["content-type"].startswith("text/csv")
    assert [r["link"] for r in csv.DictReader(io.StringIO(answer.text))] == [LINK, LINK, f"{SCRIPT}:{ATTRIBUTE}"]


def _routes_alone(tmp_path: Path, history_url: str | None) -> TestClient:
    folder = tmp_path / "inventory"
    folder.mkdir()
    (folder / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY, allow_unicode=True))
    loaded = load_inventory([folder])
    assert not loaded.problems
    services = SimpleNamespace(inventory=loaded.inventory, latest=SimpleNamespace(snapshot=list), store=None)
    app = FastAPI()
    app.state.gate = Gate(None, SessionStore(60, 60), secure_cookies=False)  # authentication off: anyone reads
    app.include_router(capacity_routes(services, CapacitySettings(history_url=history_url, timeout_s=5)))
    return TestClient(app)


def test_no_history_is_a_409_naming_the_setting(tmp_path: Path) -> None:
    client = _routes_alone(tmp_path, None)
    for path in ("links", "upgrades", "report"):
        answer = client.get(f"/api/capacity/{path}")
        assert answer.status_code == 409 and "capacity.history_url" in answer.json()["detail"]


def test_a_history_that_is_down_is_a_502_with_its_reason(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = _routes_alone(tmp_path, url)
    for path in ("links", "upgrades", "report"):
        answer = client.get(f"/api/capacity/{path}", params={"area": "hb.hg.c1"})
        assert answer.status_code == 502
        assert answer.json()["detail"].startswith(f"metric history {url}: cannot connect (ConnectError")
