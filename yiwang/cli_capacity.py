"""`yiwang capacity links|upgrades|equipment|datacentre|plan-move`: the uplinks' 95th percentiles and saturation
forecasts from the metric history (`capacity.history_url`), the upgrade list with the bandwidth plan it proposes
(`--out plan.yaml`), the equipment per county and model with its end of sale/life (`capacity.lifecycle_file`), and
the cloud centre's cabinets and a move's what-if (the inventory's datacentre sections). Each command's work is a
function of its own, the typer command a thin wrapper."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from yiwang.capacity import csv_rows
from yiwang.capacity.service import NO_HISTORY
from yiwang.cli_common import ConfigOption, err, fail, out, settings_from
from yiwang.config import Settings

app = typer.Typer(help="容量 · capacity: uplink 95th percentiles, saturation forecasts, upgrades, equipment.",
                  no_args_is_help=True)
AreaOption = Annotated[str | None, typer.Option("--area", help="an area id: only what is in it and beneath it")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON instead of a table")]
CsvOption = Annotated[bool, typer.Option("--csv", help="CSV instead of a table")]

LINK_COLUMNS = {"link": "链路 · link", "carrier": "运营商 · carrier", "bandwidth_mbps": "签约 Mbit/s",
                "direction": "方向", "p95_7d_pct": "p95 7天 %", "p95_30d_pct": "p95 30天 %",
                "peak_30d_pct": "峰值 %", "trend_pct_per_day": "趋势 %/天", "reaches_70": "达 70%",
                "reaches_90": "达 90%", "problem": "问题 · problem"}
UPGRADE_COLUMNS = {"rank": "#", "link": "链路 · link", "carrier": "运营商 · carrier", "bandwidth_mbps": "签约 Mbit/s",
                   "direction": "方向", "p95_30d_pct": "p95 30天 %", "forecast_30d_mbps": "30天预测 Mbit/s",
                   "reaches_90": "达 90%", "proposed_mbps": "建议 Mbit/s"}


def _reports(settings: Settings, area: str | None) -> tuple[list, list, float]:  # type: ignore[type-arg]
    """(link reports, the inventory's links, now); exits 0 with one line when no history is configured."""
    from yiwang.assemble import SetupError, load
    from yiwang.capacity.history import HistoryError
    from yiwang.capacity.service import history_of, link_reports, links_in, metrics_of

    history = history_of(settings.capacity)
    if history is None:
        out.print(NO_HISTORY, markup=False)
        raise typer.Exit(0)
    try:
        inventory, _ = load(settings)
    except SetupError as exc:
        raise fail(str(exc)) from None
    if area is not None and area not in inventory.areas:
        raise fail(f"no area {area!r} in the inventory", 2)
    now = time.time()
    try:
        reports = asyncio.run(link_reports(history, links_in(inventory, area), now, metrics_of(settings.capacity)))
    except HistoryError as exc:
        raise fail(str(exc)) from None
    return reports, inventory.links, now


def _show(rows: list[dict[str, object]], columns: dict[str, str], title: str, as_json: bool, as_csv: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    elif as_csv:
        sys.stdout.write(csv_rows.csv_text(rows, list(rows[0]) if rows else list(columns)))
    else:
        table = Table(title=title)
        for header in columns.values():
            table.add_column(header)
        for row in rows:
            table.add_row(*(escape(_cell(key, row.get(key))) for key in columns))
        out.print(table)


def _cell(key: str, value: object) -> str:
    if key == "proposed_mbps" and value is None:
        return "> 10000 (超出标准档)"
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


@app.command("links")
def links_command(config: ConfigOption = None, area: AreaOption = None, as_json: JsonOption = False,
                  as_csv: CsvOption = False) -> None:
    """Per uplink and direction: p95 over 7 and 30 days, peak, trend, when it reaches 70 % and 90 %."""
    from yiwang.capacity.links import link_rows

    reports, _, _ = _reports(settings_from(config), area)
    _show(link_rows(reports), LINK_COLUMNS, "链路容量 · links (% of the contracted rate)", as_json, as_csv)


@app.command("upgrades")
def upgrades_command(config: ConfigOption = None, area: AreaOption = None, as_json: JsonOption = False,
                     as_csv: CsvOption = False,
                     out_path: Annotated[Path | None, typer.Option(
                         "--out", help="write the bandwidth plan (YAML) that `yiwang change` takes")] = None) -> None:
    """The uplinks to upgrade, most urgent first, with the proposed standard rate."""
    from yiwang.capacity.links import plan_yaml, upgrade_rows, upgrades

    reports, all_links, now = _reports(settings_from(config), area)
    chosen = upgrades(reports, now)
    _show(upgrade_rows(chosen), UPGRADE_COLUMNS, "扩容清单 · upgrades", as_json, as_csv)
    if out_path is not None:
        try:
            out_path.write_text(plan_yaml(chosen, all_links, now), encoding="utf-8")
        except OSError as exc:
            raise fail(f"{out_path}: cannot be written: {exc.strerror or exc}") from None
        (sys.stderr if as_json or as_csv else sys.stdout).write(f"bandwidth plan written to {out_path}\n")


@app.command("equipment")
def equipment(area: AreaOption = None, as_json: JsonOption = False, as_csv: CsvOption = False,
              config: ConfigOption = None) -> None:
    """Per county and model: devices, software versions, the longest uptime, end of sale and end of life; then the
    replacement list (end of life passed or within 12 months, or end of sale passed)."""
    if as_json and as_csv:
        raise fail("give one of --json and --csv", 2)
    equipment_report(settings_from(config), area=area, as_json=as_json, as_csv=as_csv)


def equipment_report(settings: Settings, *, area: str | None, as_json: bool, as_csv: bool,
                     today: date | None = None) -> None:
    from yiwang.assemble import SetupError, load
    from yiwang.capacity.equipment import build, csv_text, known_facts
    from yiwang.capacity.lifecycle import LifecycleFileError, load_lifecycle
    from yiwang.store import SchemaError, open_store
    from yiwang.versions import VersionStore

    try:
        inventory, _ = load(settings)
        store = open_store(settings.database)
    except (SetupError, SchemaError) as exc:
        raise fail(str(exc)) from None
    if area is not None and area not in inventory.areas:
        raise fail(f"no area {area!r} in the inventory", 2)
    lifecycle_file = settings.capacity.lifecycle_file
    try:
        entries = load_lifecycle(lifecycle_file) if lifecycle_file is not None else ()
    except LifecycleFileError as exc:
        raise fail(f"the lifecycle file: {exc}", 2) from None
    uptimes, uptime_problem = _history_uptimes(settings, list(inventory.devices))
    facts = known_facts(VersionStore(store.engine).known(), uptimes)
    report = build(inventory, facts, entries, today or date.today(), area)
    if as_csv:
        sys.stdout.write(csv_text(report))
        return
    if as_json:
        typer.echo(json.dumps({**report.as_json(), "lifecycle_file": str(lifecycle_file) if lifecycle_file else None,
                               "uptime_problem": uptime_problem or None}, ensure_ascii=False, indent=2))
        return
    _print_equipment(report, "无历史库 no history" if uptime_problem else "—")
    if lifecycle_file is None:
        err.print("no lifecycle file configured (capacity.lifecycle_file): no end-of-sale or end-of-life dates, no "
                  "replacement list; see yiwang/capacity/lifecycle.example.yaml")
    if uptime_problem:
        err.print(f"运行时间 uptime: {escape(uptime_problem)}")


def _history_uptimes(settings: Settings, devices: list[str]) -> tuple[dict[str, float], str]:
    """(each device's latest uptime from the metric history, "" or why there is none)."""
    from yiwang.capacity.hosts import device_uptimes

    return _from_history(settings, lambda history, now: device_uptimes(
        history, devices, now, settings.capacity.metric_prefix))


def _from_history(settings: Settings, read: Any) -> tuple[dict[str, Any], str]:
    """(what `read(history, now)` finds in the metric history, "" or why nothing: none configured, or unreadable)."""
    from yiwang.capacity.history import HistoryError
    from yiwang.capacity.service import history_of

    history = history_of(settings.capacity)
    if history is None:
        return {}, NO_HISTORY
    try:
        return asyncio.run(read(history, time.time())), ""
    except HistoryError as exc:
        return {}, str(exc)


def _print_equipment(report: Any, no_uptime: str = "—") -> None:
    from yiwang.capacity.equipment import STATUS_ZH

    table = Table(title=f"设备 equipment ({report.today}): {len(report.devices)} devices", show_lines=True)
    for heading in ("县 county", "型号 model", "数量 count", "版本 versions", "最长运行 longest uptime",
                    "停售 end of sale", "停服 end of life"):
        table.add_column(heading, overflow="fold")
    for group in report.groups:
        versions = "\n".join(f"{escape(v) if v else '未读 not read'} ×{n}" for v, n in group.versions)
        uptime = (f"{_days(group.longest_uptime_s)} ({escape(group.longest_uptime_device or '')})"
                  if group.longest_uptime_s is not None else no_uptime)
        life = group.lifecycle
        table.add_row(escape(group.county_name), escape(group.model) if group.model else "未知型号 unknown model",
                      str(group.count), versions, uptime, str(life.end_of_sale) if life else "—",
                      str(life.end_of_life) if life else "—")
    out.print(table)
    listed = Table(title=f"待替换 replacement list: {len(report.replacements)} devices", show_lines=False)
    for heading in ("设备 device", "县 county", "型号 model", "版本 version", "停售 end of sale", "停服 end of life",
                    "状态 status", "替换为 replacement"):
        listed.add_column(heading, overflow="fold")
    for row in report.replacements:
        life = row.lifecycle
        listed.add_row(escape(row.device), escape(row.county_name), escape(row.model), escape(row.version or "—"),
                       str(life.end_of_sale), str(life.end_of_life), f"{STATUS_ZH[row.status]} {row.status}",
                       escape(life.replacement or "—"))
    out.print(listed)
    if report.unlisted:
        out.print("不在生命周期文件中 models not in the lifecycle file: "
                  + ", ".join(f"{escape(m)} ({p})" for p, m in report.unlisted))


def _days(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 86400:.0f} 天 d"


SITE_COLUMNS = {"site": "数据中心 site", "name": "名称 name", "cabinets": "机柜 cabinets", "servers": "服务器 servers",
                "used_u": "U 已用 used", "free_u": "U 空闲 free", "power_kw": "功率 kW", "budget_kw": "预算 kW",
                "power_pct": "功率 %", "over_budget": "超预算机柜 over budget"}
CABINET_COLUMNS = {"cabinet": "机柜 cabinet", "site": "数据中心 site", "room": "机房 room", "servers": "服务器 servers",
                   "used_u": "U 已用 used", "free_u": "U 空闲 free", "largest_free_run_u": "最大连续空 U",
                   "power_kw": "功率 kW", "budget_kw": "预算 kW", "power_pct": "功率 %", "state": "状态 state"}
UTILISATION_COLUMNS = {"measured": "有读数 measured", "cpu_pct": "CPU 均值 %", "cpu_p95_pct": "CPU p95 %",
                       "memory_pct": "内存 memory %", "disk_pct": "磁盘 disk %"}  # the servers' last 7 days
NEARLY_FULL_U, NEARLY_FULL_PCT = 4, 90.0  # what the table singles out without --site


def _kw(row: dict[str, Any]) -> dict[str, Any]:
    """Watts as kW for people; the JSON keeps watts."""
    row = {**row, "power_kw": round(row.pop("power_w") / 1000, 2), "budget_kw": round(row.pop("budget_w") / 1000, 2)}
    if isinstance(row.get("over_budget"), bool):
        row["state"] = "超预算 over budget" if row.pop("over_budget") else (
            "将满 nearly full" if row["free_u"] <= NEARLY_FULL_U or row["power_pct"] >= NEARLY_FULL_PCT else "")
    elif isinstance(row.get("over_budget"), list):
        row["over_budget"] = " ".join(row["over_budget"])
    return row


@app.command("datacentre")
def datacentre(site: Annotated[str | None, typer.Option("--site", help="one site: all its cabinets")] = None,
               growth: Annotated[float | None, typer.Option(
                   "--growth", help="servers added per month: the month each site runs out of U or power")] = None,
               as_json: JsonOption = False, as_csv: CsvOption = False, config: ConfigOption = None) -> None:
    """Per site and cabinet: U used and free, nominal power against the budget, servers; the cabinets over their
    power budget or nearly full (all of a site's with --site); with --growth, when each site runs out."""
    if as_json and as_csv:
        raise fail("give one of --json and --csv", 2)
    datacentre_report(settings_from(config), site=site, growth=growth, as_json=as_json, as_csv=as_csv)


def _datacentre(settings: Settings) -> Any:
    from yiwang.assemble import SetupError, load

    try:
        inventory, _ = load(settings)
    except SetupError as exc:
        raise fail(str(exc)) from None
    if not inventory.datacentre.sites:
        out.print("no data centre in the inventory (sites, rooms, cabinets, servers): 清单中没有数据中心", markup=False)
        raise typer.Exit(0)
    return inventory.datacentre


def datacentre_report(settings: Settings, *, site: str | None, growth: float | None, as_json: bool, as_csv: bool,
                      today: date | None = None) -> None:
    from yiwang.capacity.datacentre import report

    dc = _datacentre(settings)
    if site is not None and site not in dc.sites:
        raise fail(f"no site {site!r} in the inventory (sites: {', '.join(dc.sites)})", 2)
    if growth is not None and growth < 0:
        raise fail("--growth is servers added per month, not negative", 2)
    utilisation, problem = _history_utilisation(settings, [s.device or s.name for s in dc.servers.values()
                                                           if site is None or dc.cabinets[s.cabinet].site == site])
    found = report(dc, utilisation, site, growth, today or date.today())
    if as_json:
        typer.echo(json.dumps({**found.as_json(), "utilisation_problem": problem or None}, ensure_ascii=False,
                              indent=2))
        return
    cabinets = [_kw(c.as_json()) for c in found.cabinets]
    if as_csv:
        _show(cabinets, CABINET_COLUMNS | UTILISATION_COLUMNS, "", False, True)
        return
    with_use = UTILISATION_COLUMNS if not problem else {}
    _show([_kw(s.as_json()) for s in found.sites], SITE_COLUMNS | with_use, "云中心 data centre: sites", False, False)
    shown = cabinets if site is not None else [c for c in cabinets if c["state"]]
    title = (f"机柜 cabinets of {escape(site)}" if site is not None else "需关注的机柜 cabinets over budget or nearly "
             f"full (≤ {NEARLY_FULL_U} U free or ≥ {NEARLY_FULL_PCT:g} % power)")
    _show(shown, CABINET_COLUMNS | with_use, title, False, False)
    if problem:
        err.print(f"服务器利用率 server utilisation needs a metric history: {escape(problem)}")
    for gone in found.exhaustion:
        out.print(f"{escape(gone.site)}: at {gone.growth_per_month:g} servers/month ({gone.server_u} U, "
                  f"{gone.server_w:.0f} W each) room for {gone.fits} more; 将于 {gone.month} 用尽 runs out in "
                  f"{gone.month} ({gone.limit} first; U alone {gone.month_u}, power alone {gone.month_power})")


def _history_utilisation(settings: Settings, servers: list[str]) -> tuple[dict[str, Any], str]:
    """(each server's utilisation over the last 7 days from the metric history, "" or why there is none)."""
    from yiwang.capacity.hosts import server_utilisation

    return _from_history(settings, lambda history, now: server_utilisation(
        history, servers, now, settings.capacity.metric_prefix))


@app.command("plan-move")
def plan_move_command(servers: Annotated[int, typer.Option("--servers", help="how many servers move", min=1)],
                      to: Annotated[str, typer.Option("--to", help="the site they move to")],
                      server_u: Annotated[int, typer.Option("--server-u", help="height of each, in U", min=1)] = 2,
                      server_w: Annotated[float, typer.Option("--server-w", help="nominal power of each, W",
                                                              min=0)] = 400,
                      as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """What-if: which cabinets of the site take N servers (in order, within free U and power budget), the U and
    power they need and what is left; exit 1 when the site cannot take them all."""
    move_report(settings_from(config), servers=servers, to_site=to, server_u=server_u, server_w=server_w,
                as_json=as_json)


def move_report(settings: Settings, *, servers: int, to_site: str, server_u: int, server_w: float,
                as_json: bool) -> None:
    from yiwang.capacity.datacentre import plan_move

    plan = plan_move(_datacentre(settings), servers=servers, server_u=server_u, server_w=server_w, to_site=to_site)
    if as_json:
        typer.echo(json.dumps(plan.as_json(), ensure_ascii=False, indent=2))
    else:
        out.print(f"迁移 move: {plan.servers} servers × {plan.server_u} U × {plan.server_w:g} W → {escape(plan.site)}: "
                  f"needs {plan.needed_u} U, {plan.needed_w / 1000:g} kW")
        rows = [{"cabinet": p.cabinet, "count": p.count, "positions": " ".join(f"U{u}" for u in p.positions)}
                for p in plan.placements]
        _show(rows, {"cabinet": "机柜 cabinet", "count": "台数 servers", "positions": "位置 positions (bottom U)"},
              f"放置 placement: {plan.placed} of {plan.servers}", False, False)
        out.print(f"之后剩余 left after: {plan.free_u_after} U free, {plan.headroom_w_after / 1000:g} kW of budget; "
                  f"room for {plan.fits} such servers in all ({plan.fits_by_u} by U, {plan.fits_by_power} by power)")
    if plan.refusal is not None:
        err.print(f"拒绝 refused: {escape(plan.refusal)}")
        raise typer.Exit(1)


CARRIER_COLUMNS = {"carrier": "运营商 · carrier", "name_zh": "名称", "links": "链路 links",
                   "availability_pct": "可用率 %", "sla_availability_pct": "SLA %", "meets_sla": "达标 met",
                   "outages": "中断次数 outages", "outage_minutes": "中断分钟 down min",
                   "unknown_minutes": "无数据分钟 gap min", "rtt_mean_ms": "平均时延 ms", "rtt_p95_ms": "p95 时延 ms",
                   "sla_latency_ms": "时延SLA ms", "problem": "问题 · problem"}
BREAKING_COLUMNS = {"carrier": "运营商 · carrier", "link": "链路 · link", "availability_pct": "可用率 %",
                    "down_minutes": "中断分钟 down min", "unknown_minutes": "无数据分钟 gap min",
                    "outages": "中断 outages (start UTC+8, length)"}


@app.command("carriers")
def carriers_command(config: ConfigOption = None, area: AreaOption = None,
                     month: Annotated[str | None, typer.Option(
                         "--month", help="YYYY-MM, a calendar month in UTC+8; default the month so far")] = None,
                     as_json: JsonOption = False, as_csv: CsvOption = False) -> None:
    """Per carrier and month: availability of its links from ICMP and interface status against the SLA in the
    inventory, outages, round-trip times, and the links that broke the SLA (worst first)."""
    if as_json and as_csv:
        raise fail("give one of --json and --csv", 2)
    carriers_report_command(settings_from(config), area=area, month=month, as_json=as_json, as_csv=as_csv)


def carriers_report_command(settings: Settings, *, area: str | None, month: str | None, as_json: bool,
                            as_csv: bool) -> None:
    from yiwang.assemble import SetupError, load
    from yiwang.capacity.carriers import ReachMetrics, breaking_rows, carrier_row, month_of, report_json
    from yiwang.capacity.history import HistoryError
    from yiwang.capacity.reach import carriers_report
    from yiwang.capacity.service import history_of, links_in

    history = history_of(settings.capacity)
    if history is None:
        out.print(NO_HISTORY, markup=False)
        raise typer.Exit(0)
    try:
        period = month_of(month, time.time())
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    try:
        inventory, _ = load(settings)
    except SetupError as exc:
        raise fail(str(exc)) from None
    if area is not None and area not in inventory.areas:
        raise fail(f"no area {area!r} in the inventory", 2)
    metrics = ReachMetrics.prefixed(settings.capacity.metric_prefix)
    try:
        reports = asyncio.run(carriers_report(history, inventory, links_in(inventory, area), period, metrics))
    except HistoryError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report_json(period, reports), ensure_ascii=False, indent=2))
        return
    rows = [carrier_row(r) for r in reports]
    if as_csv:
        _show(rows, CARRIER_COLUMNS, "", False, True)
        return
    for row in rows:
        row["meets_sla"] = {True: "达标 yes", False: "未达标 NO", None: "—"}[row["meets_sla"]]  # type: ignore[index]
    _show(rows, CARRIER_COLUMNS, f"运营商 SLA · carriers, {period.label} (UTC+8, {period.windows} windows of 5 min)",
          False, False)
    _show(breaking_rows(reports), BREAKING_COLUMNS, "未达 SLA 的链路 · links under the SLA, worst first", False, False)
