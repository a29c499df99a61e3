"""`yiwang capacity …`: the upgrade programme's reports. Each command's work is a function of its own
(`equipment_report`), the typer command a thin wrapper."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from yiwang.cli_common import ConfigOption, err, fail, out, settings_from
from yiwang.config import Settings

app = typer.Typer(help="Capacity and the upgrade programme (带宽提速 · 设备升级): links, equipment, …",
                  no_args_is_help=True)

AreaOption = Annotated[str | None, typer.Option(help="an area id: every device beneath it")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
CsvOption = Annotated[bool, typer.Option("--csv", help="one row per device")]


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
    # The uptime is in `yiwang run`'s latest samples, not in SQL: from here the report has models and versions.
    facts = known_facts(VersionStore(store.engine).known(), {})
    report = build(inventory, facts, entries, today or date.today(), area)
    if as_csv:
        sys.stdout.write(csv_text(report))
        return
    if as_json:
        typer.echo(json.dumps({**report.as_json(), "lifecycle_file": str(lifecycle_file) if lifecycle_file else None},
                              ensure_ascii=False, indent=2))
        return
    _print_equipment(report)
    if lifecycle_file is None:
        err.print("no lifecycle file configured (capacity.lifecycle_file): no end-of-sale or end-of-life dates, no "
                  "replacement list; see yiwang/capacity/lifecycle.example.yaml")
    err.print("运行时间 uptime: known to the running `yiwang run` only (GET /api/capacity/equipment)")


def _print_equipment(report: Any) -> None:
    from yiwang.capacity.equipment import STATUS_ZH

    table = Table(title=f"设备 equipment ({report.today}): {len(report.devices)} devices", show_lines=True)
    for heading in ("县 county", "型号 model", "数量 count", "版本 versions", "最长运行 longest uptime",
                    "停售 end of sale", "停服 end of life"):
        table.add_column(heading, overflow="fold")
    for group in report.groups:
        versions = "\n".join(f"{escape(v) if v else '未读 not read'} ×{n}" for v, n in group.versions)
        uptime = (f"{_days(group.longest_uptime_s)} ({escape(group.longest_uptime_device or '')})"
                  if group.longest_uptime_s is not None else "—")
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
