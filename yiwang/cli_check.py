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
from yiwang.cli_common import fail, out
from yiwang.compliance.evaluate import evaluate
from yiwang.compliance.model import DeviceReport
from yiwang.compliance.pack import PackError, RulePack, RuleSettings, load_exemptions, load_pack

app = typer.Typer(help="Compliance of the devices' configurations (等保 2.0 level 3).", no_args_is_help=True)

_STATUS_ZH = {"pass": "通过", "fail": "不通过", "not-applicable": "不适用", "exempt": "豁免", "error": "错误"}
_STATUS_STYLE = {"pass": "green", "fail": "red", "not-applicable": "dim", "exempt": "yellow", "error": "magenta"}


@app.command("compliance")
def compliance(
        file: Annotated[Path | None, typer.Option("--file", help="one configuration file, as the device prints it")]
        = None,
        platform: Annotated[str | None, typer.Option(help=f"its platform: {', '.join(SSH_PLATFORMS)}")] = None,
        device: Annotated[str | None, typer.Option(help="the device's name in the report (default: the file's)")]
        = None,
        pack: Annotated[Path | None, typer.Option(help="a rule pack instead of the shipped one")] = None,
        exemptions: Annotated[Path | None, typer.Option(help="a YAML list of exemptions")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="the report as one JSON object")] = False) -> None:
    """Each rule's result for one configuration: pass, fail (with the evidence lines and the fix),
    not-applicable, exempt or error."""
    if file is None or platform is None:
        raise fail("give --file CONFIG and --platform P (the archive-wide run is not in this command yet)", 2)
    if platform not in SSH_PLATFORMS:
        raise fail(f"unknown platform {platform!r}: one of {', '.join(SSH_PLATFORMS)}", 2)
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
        style = _STATUS_STYLE[result.status]
        table.add_row(f"{escape(rule.title_zh)}\n{escape(rule.id)}",
                      f"{escape(' '.join(rule.clauses))}\n{escape(rule.clause_title)}",
                      f"[{style}]{_STATUS_ZH[result.status]} {result.status}[/{style}]\n{result.severity}",
                      escape("\n".join(evidence)), escape("\n".join(result.remediation)))
    out.print(table)
