"""`yiwang check compliance --file CONFIG --platform P`: one configuration against the 等保 2.0 rule pack."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from collectors.platforms import SSH_PLATFORMS
from yiwang.cli_check_archive import STATUS_STYLE, STATUS_ZH, ipv6_report, trend_report
from yiwang.cli_check_archive import archive_report as _archive_report
from yiwang.cli_common import ConfigOption, fail, out, settings_from
from yiwang.compliance.evaluate import evaluate
from yiwang.compliance.model import STATUSES, DeviceReport
from yiwang.compliance.pack import PackError, RulePack, RuleSettings, load_exemptions, load_pack

app = typer.Typer(help="Compliance of the devices' configurations (等保 2.0 level 3).", no_args_is_help=True)



@app.command("compliance")
def compliance(
        file: Annotated[Path | None, typer.Option("--file", help="one configuration file, as the device prints it")]
        = None,
        platform: Annotated[str | None, typer.Option(help=f"its platform: {', '.join(SSH_PLATFORMS)}")] = None,
        device: Annotated[str | None, typer.Option(help="one device (with --file: its name in the report)")] = None,
        pack: Annotated[Path | None, typer.Option(help="with --file: a rule pack instead of the shipped one")] = None,
        exemptions: Annotated[Path | None, typer.Option(help="with --file: a YAML list of exemptions")] = None,
        area: Annotated[str | None, typer.Option(help="an area id: every device beneath it")] = None,
        rule: Annotated[str | None, typer.Option(help="one rule id")] = None,
        status: Annotated[str | None, typer.Option(help=f"one status: {', '.join(STATUSES)}")] = None,
        run_now: Annotated[bool, typer.Option("--run-now", help="run over the whole archive first")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="the report as JSON (a list for the archive)")] = False,
        as_csv: Annotated[bool, typer.Option("--csv", help="one row per device and rule")] = False,
        config: ConfigOption = None) -> None:
    """Each rule's result: pass, fail (with the evidence lines and the fix), not-applicable, exempt or error. With
    --file, for one configuration; otherwise the latest compliance run over the archive (--run-now: a new one)."""
    if as_json and as_csv:
        raise fail("give one of --json and --csv", 2)
    if status is not None and status not in STATUSES:
        raise fail(f"unknown status {status!r}: one of {', '.join(STATUSES)}", 2)
    if file is None:
        if platform is not None or pack is not None or exemptions is not None:
            raise fail("--platform, --pack and --exemptions go with --file (the archive's run uses the settings' "
                       "compliance section)", 2)
        _archive_report(settings_from(config), area=area, device=device, rule=rule, status=status, run_now=run_now,
                        as_json=as_json, as_csv=as_csv)
        return
    if platform is None:
        raise fail("give --platform P with --file", 2)
    if platform not in SSH_PLATFORMS:
        raise fail(f"unknown platform {platform!r}: one of {', '.join(SSH_PLATFORMS)}", 2)
    if area is not None or run_now or as_csv:
        raise fail("--area, --run-now and --csv are for the archive's run, not --file", 2)
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    try:
        settings = RuleSettings(exemptions=load_exemptions(exemptions) if exemptions else ())
        rules = load_pack(pack, settings)
    except PackError as exc:
        raise fail(str(exc), 2) from None
    report = evaluate(text, platform, rules, device=device or file.stem, today=date.today())
    if rule is not None or status is not None:
        report = DeviceReport(report.device, report.platform, tuple(
            r for r in report.results if rule in (None, r.rule) and status in (None, r.status)))
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        return
    _print_table(report, rules)


def _print_table(report: DeviceReport, pack: RulePack) -> None:
    table = Table(title=f"{escape(report.device)} ({escape(report.platform)})", show_lines=True)
    for heading in ("规则 rule", "条款 clause", "结果 status", "证据 evidence", "整改 remediation"):
        table.add_column(heading, overflow="fold")
    for result in report.results:
        rule = pack.rule(result.rule)
        evidence = [f"{e.line}: {e.text}" if not e.is_missing else f"缺少 missing in: {e.missing or '(整个配置 whole)'}"
                    for e in result.evidence]
        if result.detail:
            evidence.append(result.detail)
        if result.exemption is not None:
            evidence.append(f"豁免 exempt until {result.exemption.expires}: {result.exemption.reason} "
                            f"({result.exemption.approved_by})")
        style = STATUS_STYLE[result.status]
        table.add_row(f"{escape(rule.title_zh)}\n{escape(rule.id)}",
                      f"{escape(' '.join(rule.clauses))}\n{escape(rule.clause_title)}",
                      f"[{style}]{STATUS_ZH[result.status]} {result.status}[/{style}]\n{result.severity}",
                      escape("\n".join(evidence)), escape("\n".join(result.remediation)))
    out.print(table)


@app.command("trend")
def trend(area: Annotated[str | None, typer.Option(help="an area id: every device beneath it")] = None,
          rule: Annotated[str | None, typer.Option(help="one rule id")] = None,
          days: Annotated[int, typer.Option(min=1, max=3660, help="how far back")] = 30,
          as_json: Annotated[bool, typer.Option("--json", help="the points and the changes as JSON")] = False,
          config: ConfigOption = None) -> None:
    """Per day, how many devices failed each rule, and what changed since the previous run."""
    trend_report(settings_from(config), area=area, rule=rule, days=days, as_json=as_json)


@app.command("ipv6")
def ipv6(area: Annotated[str | None, typer.Option(help="an area id: every device beneath it")] = None,
         as_json: Annotated[bool, typer.Option("--json", help="devices and counties as JSON")] = False,
         config: ConfigOption = None) -> None:
    """IPv6 readiness (IPv6改造): the five checks per device, and per county the share of villages ready."""
    ipv6_report(settings_from(config), area=area, as_json=as_json)
