"""The report's pure renderer: the chart's points where the geometry puts them, gaps as breaks, and every name
escaped."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from inventory.model import Endpoint, Link
from yiwang.capacity.charts import HOURS
from yiwang.capacity.links import link_report
from yiwang.capacity.report import ReportPage, Section, csv_text, public_url, render_html, render_svg

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script>"onmouseover=alert(1)'


def _points(polyline: ET.Element) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in polyline.attrib["points"].split())]


def test_points_and_thresholds_where_the_geometry_puts_them() -> None:
    # 100 Mbit/s: 0 bit/s at the bottom (y 60), 50 Mbit/s = 0.5 -> 60 - 50 x 0.5 = 35, hour 2 missing, 150 Mbit/s =
    # 1.5, over the 1.2 top: drawn on the top edge (y 0). Out: 70 Mbit/s = 0.7 -> 25 at every hour.
    values_in = [0.0, 50e6, math.nan, 150e6] + [math.nan] * (HOURS - 4)
    values_out = [70e6] * HOURS
    svg = ET.fromstring(render_svg(values_in, values_out, 100.0, HOSTILE))
    lines = {line.attrib["class"]: float(line.attrib["y1"]) for line in svg.iter(f"{SVG}line")}
    assert lines == {"warn": 60 - 50 * 0.7, "full": 60 - 50 * 0.9}  # 25 and 15
    ins = [_points(p) for p in svg.iter(f"{SVG}polyline") if p.attrib["class"] == "in"]
    assert ins == [[(0, 60.0), (1, 35.0)], [(3, 0.0)]]
    (out,) = [_points(p) for p in svg.iter(f"{SVG}polyline") if p.attrib["class"] == "out"]
    assert out == [(x, 25.0) for x in range(HOURS)]
    assert svg.find(f"{SVG}title").text == HOSTILE  # type: ignore[union-attr]  # parsed back: it was escaped


def test_every_name_is_escaped_and_the_page_has_no_script() -> None:
    link = Link("c1", Endpoint(HOSTILE, "Gi0/1"), Endpoint("core", HOSTILE), HOSTILE, 100.0)
    report = link_report(link, {}, 1_767_225_600.0)  # no history: one row saying so
    page = ReportPage((HOSTILE, "黄冈"), 1_767_225_600.0, "http://user:secret@127.0.0.1:8428/", (),
                      (Section(HOSTILE, (report,)),), {}, 1_767_225_600.0)
    html = render_html(page, "zh")
    assert "<script" not in html and '"onmouseover' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=alert(1)" in html
    assert "secret" not in html and "http://127.0.0.1:8428/" in html
    assert "no traffic history" in html
    assert 'lang="en"' in render_html(page, "en")


def test_public_url_and_csv_formula_guard() -> None:
    assert public_url("https://a:b@history.example:8428/prom") == "https://history.example:8428/prom"
    text = csv_text([{"link": "=HYPERLINK(1)", "bandwidth_mbps": 100.0, "trend_pct_per_day": -0.5}])
    header, row = text.splitlines()
    assert header.startswith("area,link,remote,carrier,bandwidth_mbps,direction,")
    assert row.startswith(",'=HYPERLINK(1),,,100.0,,,,,,,-0.5")


def test_a_large_area_charts_its_upgrades_then_its_busiest_links() -> None:
    # Five links of 100 Mbit/s, each a flat month at its own level: p95 = that level. Only d is an upgrade (the
    # Upgrade below is built by hand, not by `upgrades`), so with room for three charts: d first, then the two
    # busiest of the rest, b (0.6) and e (0.5); a (0.1) and c (0.3) get none. With room for five, all five in order.
    from yiwang.capacity.links import DAY_S, Upgrade
    from yiwang.capacity.report import charted

    now = 40 * DAY_S
    levels = {"a": 0.1, "b": 0.6, "c": 0.3, "d": 0.2, "e": 0.5}
    reports = [link_report(Link("x", Endpoint(name, "Gi0/1"), Endpoint("up", name), "China Telecom", 100.0),
                           {"in": [(now - k * 300.0, level * 100e6) for k in range(8640)]}, now)
               for name, level in levels.items()]
    upgrade = Upgrade(reports[3], "in", 0.8e8, 200, 12.0)
    assert [r.link.local.device for r in charted(reports, [upgrade], 3)] == ["d", "b", "e"]
    assert charted(reports, [upgrade], 5) == reports
