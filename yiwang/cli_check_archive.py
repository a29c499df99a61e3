"""`yiwang check compliance|trend|ipv6` over the archive: the latest compliance run read from SQL (or one run now),
the trend per day, and IPv6 readiness."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, datetime
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from yiwang.cli_common import err, fail, out
from yiwang.config import Settings

STATUS_ZH = {"pass": "通过", "fail": "不通过", "not-applicable": "不适用", "exempt": "豁免", "error": "错误"}
STATUS_STYLE = {"pass": "green", "fail": "red", "not-applicable": "dim", "exempt": "yellow", "error": "magenta"}


class _Opened:
    """What the archive commands read: the inventory, the store, the git archive."""

    def __init__(self, settings: Settings) -> None:
        from yiwang.archive.git import GitArchive
        from yiwang.assemble import SetupError, load
        from yiwang.compliance.history import ComplianceHistory
        from yiwang.store import SchemaError, open_store

        try:
            self.inventory, _ = load(settings)
            self.store = open_store(settings.database)
        except (SetupError, SchemaError) as exc:
            raise fail(str(exc)) from None
        self.git = GitArchive(settings.state_dir / "configs")
        self.history = ComplianceHistory(self.store.engine)

    def check_area(self, area: str | None) -> None:
        if area is not None and area not in self.inventory.areas:
            raise fail(f"no area {area!r} in the inventory", 2)


def _pack(settings: Settings) -> Any:
    from yiwang.compliance.pack import PackError
    from yiwang.compliance.run import rule_pack

    try:
        return rule_pack(settings.compliance)
    except PackError as exc:
        raise fail(f"compliance: {exc}", 2) from None


def _run_now(settings: Settings, opened: _Opened) -> None:
    """One run over the whole archive, audited like every command that writes."""
    from yiwang.cli_common import audit_local
    from yiwang.compliance.advisories import AdvisoryFileError
    from yiwang.compliance.history import RunConflict
    from yiwang.compliance.pack import PackError
    from yiwang.compliance.run import data_sources, run_compliance
    from yiwang.versions import VersionStore

    parameters: dict[str, Any] = {"trigger": "manual"}
    audit = (settings, "compliance.run", "all", parameters)
    try:
        # no latest samples here: firmware-advisory reads the versions yiwang run's SSH cycles stored
        sources = data_sources(settings.compliance, known_versions=VersionStore(opened.store.engine).known())
        summary = asyncio.run(run_compliance(settings.compliance, opened.inventory, opened.git, opened.store.archive,
                                             opened.history, today=date.today(), trigger="manual", sources=sources))
    except (PackError, AdvisoryFileError, RunConflict, OSError) as exc:
        audit_local(*audit, f"failed: {exc}")
        raise fail(f"the compliance run failed: {exc}") from None
    parameters.update(run=summary.run.id, devices=summary.run.devices, failed=summary.run.failed,
                    newly_failing=len(summary.changes.newly_failing), fixed=len(summary.changes.fixed))
    audit_local(*audit, "ok")
    err.print(f"合规检查 compliance run {summary.run.id}: {summary.run.devices} devices, "
              f"{summary.run.failed} failing results, {len(summary.changes.newly_failing)} newly failing, "
              f"{len(summary.changes.fixed)} fixed ({summary.read_s + summary.evaluate_s + summary.store_s:.1f} s)")


def archive_report(settings: Settings, *, area: str | None, device: str | None, rule: str | None,
                   status: str | None, run_now: bool, as_json: bool, as_csv: bool) -> None:
    from yiwang.compliance import report

    opened = _Opened(settings)
    opened.check_area(area)
    pack = _pack(settings)
    if rule is not None and rule not in {r.id for r in pack.rules}:
        raise fail(f"no rule {rule!r} in the pack (or it is disabled)", 2)
    if run_now:
        _run_now(settings, opened)
    latest = opened.history.latest_run()
    if latest is None:
        raise fail("no compliance run yet: `yiwang check compliance --run-now`, or wait for the run after the next "
                   "backup cycle")
    found = opened.history.results(latest.id, area=area, device=device, rule=rule, status=status)
    devices: dict[str, list[Any]] = {}
    for result in found:
        devices.setdefault(result.device, []).append(result)
    if as_json:
        typer.echo(json.dumps([{"device": name, "platform": rows[0].platform, "results": [r.as_json() for r in rows]}
                               for name, rows in devices.items()], ensure_ascii=False, indent=2))
        return
    if as_csv:  # the API's CSV, byte for byte: the operator here may read configurations, so with the evidence
        sys.stdout.write(report.csv_text(opened.inventory, pack, found, with_evidence=True))
        return
    stamp = datetime.fromtimestamp(latest.started_at).strftime("%Y-%m-%d %H:%M")
    table = Table(title=f"合规检查 compliance run {latest.id} ({stamp}, {latest.trigger}): {len(devices)} devices",
                  show_lines=True)
    for heading in ("设备 device", "规则 rule", "结果 status", "证据 evidence", "整改 remediation"):
        table.add_column(heading, overflow="fold")
    for result in found:
        if status is None and result.status in ("pass", "not-applicable"):
            continue  # the table shows what needs a look; --status pass or --json shows the rest
        spec = _rule(pack, result.rule)
        style = STATUS_STYLE.get(result.status, "")
        evidence = report.evidence_text(result.evidence, "\n")
        table.add_row(escape(result.device), f"{escape(spec.title_zh) if spec else ''}\n{escape(result.rule)}",
                      f"[{style}]{STATUS_ZH.get(result.status, '')} {result.status}[/{style}]\n{result.severity}",
                      escape("\n".join(x for x in (evidence, result.detail) if x)),
                      escape("\n".join(result.remediation)))
    out.print(table)
    counts: dict[str, int] = {}
    for result in found:
        counts[result.status] = counts.get(result.status, 0) + 1
    out.print("  ".join(f"{STATUS_ZH[s]} {s}: {counts[s]}" for s in STATUS_ZH if s in counts))


def _rule(pack: Any, rule_id: str) -> Any:
    try:
        return pack.rule(rule_id)
    except KeyError:  # a rule disabled since the run
        return None


def trend_report(settings: Settings, *, area: str | None, rule: str | None, days: int, as_json: bool) -> None:
    opened = _Opened(settings)
    opened.check_area(area)
    points = opened.history.trend(area, rule, days)
    changes = opened.history.changes()
    if changes is not None and (area is not None or rule is not None):
        inside = {(r.device, r.rule) for r in opened.history.results(changes.run, area=area, rule=rule)}
        if changes.previous is not None:
            inside |= {(r.device, r.rule) for r in opened.history.results(changes.previous, area=area, rule=rule)}
        changes = type(changes)(changes.run, changes.previous, tuple(k for k in changes.newly_failing if k in inside),
                                tuple(k for k in changes.fixed if k in inside))
    if as_json:
        typer.echo(json.dumps({"points": [{"day": p.day.isoformat(), "run": p.run, "rule": p.rule,
                                           "failing": p.failing} for p in points],
                               "changes": changes.as_json() if changes else None}, ensure_ascii=False, indent=2))
        return
    if not points and changes is None:
        raise fail("no compliance run yet: `yiwang check compliance --run-now`")
    pack = _pack(settings)
    rules = [r.id for r in pack.rules if any(p.rule == r.id for p in points)]
    rules += sorted({p.rule for p in points} - set(rules))
    by_day: dict[date, dict[str, int]] = {}
    for point in points:
        by_day.setdefault(point.day, {})[point.rule] = point.failing
    table = Table(title=f"每日不通过设备数 failing devices per day ({area or 'all areas'}, {days} days)")
    table.add_column("日期 day", no_wrap=True, min_width=10)
    for rule_id in rules:
        spec = _rule(pack, rule_id)
        table.add_column(f"{escape(spec.title_zh) if spec else ''}\n{escape(rule_id)}", justify="right",
                         overflow="fold")
    for day in sorted(by_day):
        table.add_row(day.isoformat(), *(str(by_day[day].get(r, 0)) for r in rules))
    out.print(table)
    if changes is None:
        return
    if changes.previous is None:
        out.print(f"run {changes.run} is the first: nothing to compare with")
        return
    out.print(f"自上次运行以来 since the previous run ({changes.previous} → {changes.run}): "
              f"{len(changes.newly_failing)} newly failing, {len(changes.fixed)} fixed")
    for device, rule_id in changes.newly_failing:
        out.print(f"  [red]新增不通过 newly failing[/red] {escape(device)} {escape(rule_id)}")
    for device, rule_id in changes.fixed:
        out.print(f"  [green]已整改 fixed[/green] {escape(device)} {escape(rule_id)}")


def ipv6_report(settings: Settings, *, area: str | None, as_json: bool) -> None:
    from yiwang.compliance.ipv6 import CHECKS, assess
    from yiwang.compliance.run import checked_devices

    opened = _Opened(settings)
    opened.check_area(area)
    inventory = opened.inventory
    inside = inventory.subtree(area) if area is not None else set(inventory.areas)
    names = [d.name for d in checked_devices(inventory)]
    configs = opened.git.heads(names)
    # The command line holds no poll results (yiwang run's LatestStore does): ICMPv6 and SNMP read `error` here.
    devices, counties = assess(inventory, dict(configs), {})
    devices = [d for d in devices if d.area in inside]
    counties = [c for c in counties if c.county in inside or (area is not None and c.county in
                                                              {a.id for a in inventory.path(area)})]
    if as_json:
        typer.echo(json.dumps({"devices": [d.as_json() for d in devices],
                               "counties": [{"county": c.county, "name": inventory.areas[c.county].name,
                                             "villages": c.villages, "ready": c.ready, "share": c.share}
                                            for c in counties]}, ensure_ascii=False, indent=2))
        return
    table = Table(title="IPv6改造 IPv6 readiness", show_lines=True)
    for heading in ("设备 device", "就绪 ready", *CHECKS):
        table.add_column(heading, overflow="fold")
    for found in devices:
        cells = []
        for check in found.checks:
            style = STATUS_STYLE.get(check.status, "")
            cells.append(f"[{style}]{STATUS_ZH.get(check.status, '')} {check.status}[/{style}]\n{escape(check.reason)}")
        table.add_row(escape(found.device), "是 yes" if found.ready else "否 no", *cells)
    out.print(table)
    summary = Table(title="各县村级就绪率 share of villages ready per county")
    for heading in ("县 county", "村 villages", "就绪 ready", "比例 share"):
        summary.add_column(heading)
    for county in counties:
        share = "-" if county.share is None else f"{county.share:.0%}"
        summary.add_row(escape(inventory.areas[county.county].name), str(county.villages), str(county.ready), share)
    out.print(summary)
