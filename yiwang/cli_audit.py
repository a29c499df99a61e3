"""`yiwang audit list|verify`: read the audit trail and check its hash chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from yiwang.cli_common import ConfigOption, err, fail, out, settings_from

if TYPE_CHECKING:
    from yiwang.audit import Trail
    from yiwang.config import Settings

app = typer.Typer(help="The audit trail: who did what, from where, with what outcome.", no_args_is_help=True)


def _moment(text: str | None, option: str) -> datetime | None:
    """An ISO time with a zone, or a duration back from now such as 30m, 4h, 7d."""
    if text is None:
        return None
    from alerts.rules import seconds

    try:
        return datetime.now(UTC) - timedelta(seconds=seconds(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {text!r} is neither an ISO time such as 2026-12-01T22:00+08:00 nor a duration "
                   "such as 4h", 2) from None
    if moment.tzinfo is None:
        raise fail(f"{option} {text!r} needs a time zone, e.g. +08:00", 2)
    return moment


def _trail(settings: Settings) -> Trail:
    from yiwang.audit.sql import open_trail
    from yiwang.schema import SchemaError

    try:
        return open_trail(settings)
    except SchemaError as exc:
        raise fail(str(exc)) from None


@app.command("list")
def audit_list(config: ConfigOption = None,
               since: Annotated[str | None, typer.Option(help="ISO time with zone, or how long ago: 4h, 7d")] = None,
               until: Annotated[str | None, typer.Option(help="ISO time with zone, or how long ago")] = None,
               identity: Annotated[str | None, typer.Option(help="exactly this user, token or OS user")] = None,
               action: Annotated[str | None, typer.Option(help="actions starting with this, e.g. alerts.")] = None,
               outcome: Annotated[str | None, typer.Option(help="ok, denied or failed")] = None,
               limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 100,
               as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False) -> None:
    """Audit records, newest first."""
    settings = settings_from(config)
    trail = _trail(settings)
    try:
        found = trail.records(since=_moment(since, "--since"), until=_moment(until, "--until"), identity=identity,
                              action=action, outcome=outcome, limit=limit)
    except OSError as exc:
        raise fail(f"cannot read {trail.where}: {exc.strerror}") from None
    finally:
        trail.close()
    if as_json:
        for record in found:
            typer.echo(json.dumps(record.as_dict(), ensure_ascii=False, sort_keys=True))
        return
    table = Table()
    for header in ("序号 seq", "时间 time", "身份 identity", "角色 roles", "来源 source", "操作 action",
                   "对象 target", "参数 parameters", "结果 outcome"):
        table.add_column(header.replace(" ", "\n"), overflow="fold")
    for r in found:
        shown = escape(r.outcome)
        table.add_row(str(r.seq), _local(r.time), escape(f"{r.identity} ({r.identity_kind})"),
                      escape(",".join(r.roles)), escape(r.source), escape(r.action), escape(r.target),
                      escape(json.dumps(r.parameters, ensure_ascii=False, sort_keys=True)),
                      shown if r.outcome == "ok" else f"[yellow]{shown}[/yellow]")
    out.print(table)
    out.print(f"{len(found)} 条记录 records")


def _local(stamp: str) -> str:
    """The record's UTC time as local time to the second (--json gives the exact UTC value)."""
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return escape(stamp)


@app.command("verify")
def audit_verify(config: ConfigOption = None) -> None:
    """Check the hash chain: exit 1 naming the first edited, deleted, reordered or unreadable record.

    An intact chain shows that nobody edited the file without rebuilding the chain after the edit; someone who can
    write the file can do that too, so the copy sent to syslog on another host is the witness to compare with."""
    settings = settings_from(config)
    trail = _trail(settings)
    try:
        result = trail.verify()
    except OSError as exc:
        raise fail(f"cannot read {trail.where}: {exc.strerror}") from None
    finally:
        trail.close()
    if result.ok:
        out.print(f"[green]链完整 chain intact[/green]: {result.records} records in "
                  f"{escape(trail.where)}")
        if result.reason != "chain intact":
            out.print(escape(result.reason))
        return
    where = " ".join(part for part in (f"record {result.first_bad}" if result.first_bad else "",
                                       f"line {result.line}" if result.line else "") if part)
    err.print(f"[red]链已损坏 chain broken[/red]{' at ' + where if where else ''}: {escape(result.reason)}")
    err.print(f"{result.records} records before it are intact; in {escape(trail.where)}")
    raise typer.Exit(1)
