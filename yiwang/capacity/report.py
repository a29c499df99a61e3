"""The printable capacity report of an area: its upgrade list, then every uplink county by county with its figures
and a small chart of its 30 days, and the cloud centre's sites on the city's page. Pure: the API reads, this writes.

The page is one self-contained HTML document: no script, no external request (images, fonts, styles), the charts
inline SVG drawn here, so that it prints and archives as it is and a strict Content-Security-Policy can serve it.
Every name in it (areas, devices, interfaces, carriers, sites) is inventory or device text and is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import urlsplit, urlunsplit

from inventory.model import Inventory, Level
from yiwang.capacity import csv_rows
from yiwang.capacity.charts import HOUR_S, HOURS, Hourly
from yiwang.capacity.datacentre import SiteUse
from yiwang.capacity.links import CHINA, FULL, WARN, LinkReport, Upgrade, link_rows, upgrade_rows

# The chart: x is the hour (0 the oldest of HOURS), y is the ratio of the contract, TOP_RATIO at the top edge so that
# a link over its contract still shows how far over; above that the line is drawn on the edge.
CHART_H = 60.0
TOP_RATIO = 1.2
LINK_FIELDS = ("area", "link", "remote", "carrier", "bandwidth_mbps", "direction", "points", "outage_points",
               "p95_7d_pct", "p95_30d_pct", "peak_30d_pct", "trend_pct_per_day", "reaches_70", "reaches_90",
               "problem")
UPGRADE_FIELDS = ("rank", "area", "link", "carrier", "bandwidth_mbps", "direction", "p95_30d_pct", "forecast_30d_mbps",
                  "reaches_90", "days_to_90", "proposed_mbps")
CABINET_FIELDS = ("cabinet", "site", "room", "height_u", "used_u", "free_u", "largest_free_run_u", "power_w",
                  "budget_w", "power_pct", "over_budget", "servers", "cpu_pct", "memory_pct", "disk_pct", "measured")

WORDS = {
    "zh": {"title": "容量报告", "computed": "计算时间", "history": "指标历史库", "method":
           "图: 近 30 天每小时最高的 5 分钟均值占签约带宽之比, 虚线为 70% 与 90%; p95 为 5 分钟均值的第 95 百分位",
           "upgrades": "扩容清单", "no_upgrades": "无需扩容的链路", "links": "链路", "datacentre": "云中心",
           "rank": "#", "link": "链路", "remote": "对端", "carrier": "运营商", "mbps": "签约 Mbit/s",
           "direction": "方向", "p95_7d": "p95 7天 %", "p95_30d": "p95 30天 %", "peak": "峰值 %",
           "trend": "趋势 %/天", "reaches_70": "达 70%", "reaches_90": "达 90%", "forecast": "30天预测 Mbit/s",
           "proposed": "建议 Mbit/s", "chart": "30 天", "problem": "问题", "in": "入", "out": "出",
           "already": "已超过", "beyond": "超出标准档", "site": "数据中心", "name": "名称", "cabinets": "机柜",
           "servers": "服务器", "used_u": "U 已用", "free_u": "U 空闲", "power": "功率 kW / 预算 kW",
           "power_pct": "功率 %", "over_budget": "超预算机柜", "no_links": "本区域没有上联链路",
           "own": "本级", "charted_only": "图表只画扩容链路与最繁忙的 {n} 条; 各县的报告画出全部链路"},
    "en": {"title": "Capacity report", "computed": "computed", "history": "metric history", "method":
           "Charts: per hour of the last 30 days, the highest 5-minute mean as a ratio of the contracted rate; "
           "dashed lines at 70 % and 90 %. p95: 95th percentile of the 5-minute means",
           "upgrades": "Upgrades", "no_upgrades": "No link needs an upgrade", "links": "Links",
           "datacentre": "Cloud centre", "rank": "#", "link": "link", "remote": "remote end", "carrier": "carrier",
           "mbps": "contract Mbit/s", "direction": "dir.", "p95_7d": "p95 7 d %", "p95_30d": "p95 30 d %",
           "peak": "peak %", "trend": "trend %/day", "reaches_70": "reaches 70 %", "reaches_90": "reaches 90 %",
           "forecast": "in 30 d Mbit/s", "proposed": "proposed Mbit/s", "chart": "30 days", "problem": "problem",
           "in": "in", "out": "out", "already": "already", "beyond": "beyond the standard steps", "site": "site",
           "name": "name", "cabinets": "cabinets", "servers": "servers", "used_u": "U used", "free_u": "U free",
           "power": "power kW / budget kW", "power_pct": "power %", "over_budget": "cabinets over budget",
           "no_links": "no uplink in this area", "own": "this level",
           "charted_only": "charts for the upgrades and the busiest links only ({n}); each county's report has "
                           "them all"},
}

STYLE = """
body { font: 10pt/1.35 "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; margin: 1.5em; }
h1 { font-size: 16pt; margin: 0 0 .2em; } h2 { font-size: 13pt; margin: 1.2em 0 .4em; }
.meta { color: #444; margin: 0 0 1em; } table { border-collapse: collapse; width: 100%; margin-bottom: 1em; }
th, td { border: 1px solid #bbb; padding: 2px 4px; text-align: left; vertical-align: middle; }
th { background: #eee; } td.n { text-align: right; } tr.link { break-inside: avoid; }
svg.chart { width: 240px; height: 40px; display: block; }
.problem { color: #a00; }
@page { size: A4 landscape; margin: 12mm; }
@media print { body { margin: 0; } section.county { break-before: page; } thead { display: table-header-group; } }
"""

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; script-src 'none'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@dataclass(frozen=True, slots=True)
class Section:
    """The links of one county (or the area's own level), with its name: one printed page or more."""

    name: str
    reports: tuple[LinkReport, ...]


@dataclass(frozen=True, slots=True)
class ReportPage:
    area_path: tuple[str, ...]  # names, the province first; empty: the whole inventory
    computed_at_s: float
    history_url: str
    upgrades: tuple[Upgrade, ...]
    sections: tuple[Section, ...]
    charts: Hourly
    chart_end_s: float
    sites: tuple[SiteUse, ...] = ()  # the cloud centre, on the city's page
    charted_only: int = 0  # > 0: only this many links (the upgrades, then the busiest) have a chart


def charted(reports: Sequence[LinkReport], chosen: Sequence[Upgrade], limit: int) -> list[LinkReport]:
    """The links that get a chart when an area has more than `limit`: its upgrades, then the highest 30-day p95.
    Why: a chart is ~10 KB of SVG; the city's 4,200 uplinks would make a 60 MB page nobody prints, where a county
    (a few hundred) is a readable report with every chart."""
    if len(reports) <= limit:
        return list(reports)
    first = [upgrade.report for upgrade in chosen][:limit]
    taken = {id(report) for report in first}
    rest = sorted((r for r in reports if id(r) not in taken), key=lambda r: -r.p95_30d())
    return first + rest[:limit - len(first)]


def sections(inventory: Inventory, reports: Iterable[LinkReport]) -> tuple[Section, ...]:
    """The reports grouped by the county their area is in (inventory order); links of areas above county level
    (a city's own uplinks) in one section named by that area."""
    grouped: dict[str, list[LinkReport]] = {}
    for report in reports:
        path = inventory.path(report.link.area)
        county = next((a for a in path if a.level == Level.COUNTY), path[-1])
        grouped.setdefault(county.id, []).append(report)
    return tuple(Section(inventory.areas[area].name, tuple(found)) for area, found in grouped.items())


def public_url(url: str) -> str:
    """The history's URL as shown on the page: without any user or password in it."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def render_svg(values_in: Sequence[float], values_out: Sequence[float], bandwidth_mbps: float, title: str) -> str:
    """A 720 x 60 chart (viewBox units; drawn at the CSS size): point i of a direction at x = i, y = 60 - 50 x ratio
    (0 at the bottom, 100 % at y = 10, TOP_RATIO and over at the top edge). A missing hour (NaN) breaks the line
    into separate polylines. Dashed lines at 70 % and 90 %."""
    capacity = bandwidth_mbps * 1e6
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {HOURS} {CHART_H:g}" '
             f'preserveAspectRatio="none" role="img"><title>{escape(title)}</title>',
             f'<rect x="0" y="0" width="{HOURS}" height="{CHART_H:g}" fill="#fafafa" stroke="#ccc" '
             f'vector-effect="non-scaling-stroke"/>']
    for name, ratio, colour in (("warn", WARN, "#d90"), ("full", FULL, "#c00")):
        y = chart_y(ratio)
        parts.append(f'<line class="{name}" x1="0" x2="{HOURS}" y1="{y:g}" y2="{y:g}" stroke="{colour}" '
                     f'stroke-dasharray="6 4" vector-effect="non-scaling-stroke"/>')
    for direction, values, colour in (("in", values_in, "#1f5fbf"), ("out", values_out, "#2a9d3a")):
        for run in _runs(values, capacity):
            points = " ".join(f"{x},{y:.1f}" for x, y in run)
            parts.append(f'<polyline class="{direction}" points="{points}" fill="none" stroke="{colour}" '
                         f'stroke-width="1.2" vector-effect="non-scaling-stroke"/>')
    parts.append("</svg>")
    return "".join(parts)


def chart_y(ratio: float) -> float:
    return CHART_H - (CHART_H - 10.0) * min(max(ratio, 0.0), TOP_RATIO)


def _runs(values: Sequence[float], capacity: float) -> list[list[tuple[int, float]]]:
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for x, bps in enumerate(values):
        if math.isnan(bps):
            if current:
                runs.append(current)
            current = []
        else:
            current.append((x, chart_y(bps / capacity)))
    if current:
        runs.append(current)
    return runs


def render_html(page: ReportPage, lang: str = "zh") -> str:
    w = WORDS[lang]
    where = " / ".join(page.area_path) or "—"
    computed = datetime.fromtimestamp(page.computed_at_s, CHINA).strftime("%Y-%m-%d %H:%M (UTC+8)")
    body = [f"<h1>{escape(w['title'])} · {escape(page.area_path[-1] if page.area_path else where)}</h1>",
            f'<p class="meta">{escape(where)}<br>{escape(w["computed"])}: {computed} · {escape(w["history"])}: '
            f"{escape(public_url(page.history_url))}<br>{escape(w['method'])}</p>",
            _upgrades(page.upgrades, w)]
    if page.charted_only:
        body.append(f'<p class="meta">{escape(w["charted_only"].format(n=page.charted_only))}</p>')
    if page.sites:
        body.append(_sites(page.sites, w))
    if not page.sections:
        body.append(f"<p>{escape(w['no_links'])}</p>")
    for section in page.sections:
        body.append(_section(section, page, w))
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f"<title>{escape(w['title'])} · {escape(where)}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


def _upgrades(chosen: Sequence[Upgrade], w: Mapping[str, str]) -> str:
    if not chosen:
        return f"<h2>{escape(w['upgrades'])}</h2><p>{escape(w['no_upgrades'])}</p>"
    heads = ("rank", "link", "carrier", "mbps", "direction", "p95_30d", "forecast", "reaches_90", "proposed")
    rows = []
    for row in upgrade_rows(chosen):
        proposed = row["proposed_mbps"] if row["proposed_mbps"] is not None else f"> 10000 ({w['beyond']})"
        cells = (row["rank"], row["link"], row["carrier"], _num(row["bandwidth_mbps"]), w[str(row["direction"])],
                 _num(row["p95_30d_pct"]), _num(row["forecast_30d_mbps"]), _when(row["reaches_90"], w), proposed)
        rows.append("<tr>" + "".join(_td(c) for c in cells) + "</tr>")
    return (f"<h2>{escape(w['upgrades'])} ({len(chosen)})</h2><table><thead><tr>"
            + "".join(f"<th>{escape(w[h])}</th>" for h in heads) + "</tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def _sites(sites: Sequence[SiteUse], w: Mapping[str, str]) -> str:
    heads = ("site", "name", "cabinets", "servers", "used_u", "free_u", "power", "power_pct", "over_budget")
    rows = []
    for s in sites:
        cells = (s.site, s.name, s.cabinets, s.servers, s.used_u, s.free_u,
                 f"{s.power_w / 1000:.1f} / {s.budget_w / 1000:.1f}", f"{s.power_pct:.1f}", len(s.over_budget))
        rows.append("<tr>" + "".join(_td(c) for c in cells) + "</tr>")
    return (f"<h2>{escape(w['datacentre'])}</h2><table><thead><tr>"
            + "".join(f"<th>{escape(w[h])}</th>" for h in heads) + "</tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def _section(section: Section, page: ReportPage, w: Mapping[str, str]) -> str:
    heads = ("link", "remote", "carrier", "mbps", "direction", "p95_7d", "p95_30d", "peak", "trend", "reaches_70",
             "reaches_90", "chart")
    rows = []
    for report in section.reports:
        lines = link_rows([report])
        chart = _chart(report, page)
        for n, row in enumerate(lines):
            cells = []
            if n == 0:
                span = f' rowspan="{len(lines)}"' if len(lines) > 1 else ""
                cells += [f"<td{span}>{escape(str(row[k]))}</td>" for k in ("link", "remote", "carrier")]
                cells.append(f'<td class="n"{span}>{escape(_num(row["bandwidth_mbps"]))}</td>')
            if row["problem"]:
                cells.append(f'<td colspan="7" class="problem">{escape(w["problem"])}: {escape(str(row["problem"]))}'
                             "</td>")
            else:
                cells.append(_td(w[str(row["direction"])]))
                cells += [_td(_num(row[k]), numeric=True) for k in ("p95_7d_pct", "p95_30d_pct", "peak_30d_pct",
                                                                    "trend_pct_per_day")]
                cells += [_td(_when(row["reaches_70"], w)), _td(_when(row["reaches_90"], w))]
            if n == 0:
                cells.append(f"<td{span}>{chart}</td>")
            rows.append('<tr class="link">' + "".join(cells) + "</tr>")
    return (f'<section class="county"><h2>{escape(w["links"])} · {escape(section.name)} ({len(section.reports)})'
            "</h2><table><thead><tr>" + "".join(f"<th>{escape(w[h])}</th>" for h in heads)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>")


def _chart(report: LinkReport, page: ReportPage) -> str:
    mbps = report.bandwidth_mbps
    end = report.link.local
    values_in, values_out = page.charts.get((end, "in")), page.charts.get((end, "out"))
    if mbps is None or (values_in is None and values_out is None):
        return ""
    empty = [math.nan] * HOURS
    first = datetime.fromtimestamp(page.chart_end_s - (HOURS - 1) * HOUR_S, CHINA)
    title = f"{end} {first:%m-%d} – {datetime.fromtimestamp(page.chart_end_s, CHINA):%m-%d}"
    return render_svg(values_in or empty, values_out or empty, mbps, title)


def _td(value: object, numeric: bool = False) -> str:
    return f'<td{" class=n" if numeric else ""}>{escape("" if value is None else str(value))}</td>'


def _num(value: object) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _when(label: object, w: Mapping[str, str]) -> str:
    return w["already"] if label == "already" else (str(label) if label else "—")


def csv_text(rows: Iterable[Mapping[str, object]], fields: Sequence[str] = LINK_FIELDS) -> str:
    return csv_rows.csv_text(rows, fields)
