"""The command line: `yiwang run`, `poll --once`, `inventory ...`, `alerts ...`, `config ...`, `auth ...`,
`change ...`.

Command groups of optional extras (`yiwang lab ...`) come from the `yiwang.commands` entry points."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from yiwang.cli_audit import app as audit_app
from yiwang.cli_auth import app as auth_app
from yiwang.cli_capacity import app as capacity_app
from yiwang.cli_change import app as change_app
from yiwang.cli_check import app as check_app
from yiwang.cli_cluster import app as cluster_app
from yiwang.cli_common import ConfigOption, audit_local, err, fail, out, settings_from
from yiwang.config import Settings

app = typer.Typer(help="yiwang (一网): operations for a city e-government extranet.", no_args_is_help=True)
inventory_app = typer.Typer(help="Check, export and import the inventory.", no_args_is_help=True)
alerts_app = typer.Typer(help="Active alerts, history, acknowledgements, silences and rule export.",
                         no_args_is_help=True)
app.add_typer(inventory_app, name="inventory")
app.add_typer(alerts_app, name="alerts")
config_app = typer.Typer(help="The configuration archive: backups, versions, diffs and ages.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(auth_app, name="auth")
app.add_typer(audit_app, name="audit")
app.add_typer(change_app, name="change")
app.add_typer(check_app, name="check")
app.add_typer(capacity_app, name="capacity")
app.add_typer(cluster_app, name="cluster")


Audit = tuple[Settings, str, str, dict[str, Any]]  # settings, action, target, parameters of a changing command


def _audited_failure(settings: Settings, action: str, target: str, parameters: dict[str, Any],
                     message: str) -> typer.Exit:
    audit_local(settings, action, target, parameters, f"failed: {message}")
    return fail(message)


@app.command()
def run(config: ConfigOption = None,
        workers: Annotated[int | None, typer.Option(help="poll processes (default: one per core)")] = None,
        log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
        role: Annotated[str, typer.Option(help="all (one process), poller or core (a cluster's parts)")] = "all",
        group: Annotated[str | None, typer.Option(help="a poller's group (default: cluster.group)")] = None,
        member: Annotated[str | None, typer.Option(help="this process's name in the cluster (default: host-pid)")
                          ] = None) -> None:
    """Run the poll scheduler, the sinks and the HTTP API in one process (or one role of a cluster)."""
    from yiwang.server import serve

    settings = settings_from(config)
    level = logging.getLevelName(log_level.upper())
    if not isinstance(level, int):
        raise fail(f"--log-level: no level {log_level!r}")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # paramiko logs every SSH connection at INFO: thousands of lines a cycle for a city
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    if role not in ("all", "poller", "core"):
        raise fail(f"--role: all, poller or core, not {role!r}")
    try:
        if role == "poller":
            from yiwang.cluster.roles import serve_poller

            cluster_group = group or (settings.cluster.group if settings.cluster is not None else "default")
            asyncio.run(serve_poller(settings, cluster_group, member, workers))
            return
        asyncio.run(serve(settings, workers, role, member))
    except RuntimeError as exc:
        raise fail(str(exc)) from None


@app.command()
def poll(config: ConfigOption = None,
         once: Annotated[bool, typer.Option("--once", help="one cycle, then exit")] = False,
         as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
         collector: Annotated[str, typer.Option(help="a collector (snmp, icmp, ssh, ...) or all: snmp and icmp"
                                                 )] = "all",
         workers: Annotated[int, typer.Option(help="poll processes")] = 1) -> None:
    """Poll every device once and report what was collected and what failed."""
    if not once:
        raise fail("only --once is supported here; `yiwang run` polls continuously", 2)
    settings = settings_from(config)
    reports = asyncio.run(_poll_once(settings, collector, workers, quiet=as_json))
    if as_json:
        out.print_json(json.dumps(reports))
    else:
        _print_reports(reports)
    if any(r["failed"] == r["devices"] and r["devices"] for r in reports.values()):
        raise typer.Exit(1)


POLLS = ("snmp", "icmp")  # what `poll --once` runs by default: the polls, not the slow SSH facts


async def _poll_once(settings: Settings, collector: str, workers: int, quiet: bool) -> dict[str, Any]:
    from yiwang.assemble import SetupError, assemble

    try:
        assembly = assemble(settings, workers=workers)
    except SetupError as exc:
        raise fail(str(exc)) from None
    for problem in assembly.problems:
        err.print(f"[yellow]warning:[/yellow] {escape(problem)}")
    await assembly.start()
    monitor = assembly.monitor
    reports: dict[str, Any] = {}
    names = [n for n in POLLS if n in monitor.collectors] if collector == "all" else [collector]
    if collector != "all" and collector not in monitor.collectors:
        await assembly.close()
        raise fail(f"--collector must be all or one of {', '.join(monitor.collectors)}, not {collector!r}", 2)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, disable=quiet, transient=True) as progress:
            for name in names:
                task = progress.add_task(f"{name} poll", total=len(monitor.targets(name)))
                report = await monitor.cycle(name, lambda _r, t=task: progress.advance(t))  # type: ignore[misc]
                reports[name] = {
                    "devices": report.devices, "ok": report.ok, "failed": report.failed,
                    "varbinds": report.varbinds, "samples": report.samples,
                    "duration_s": round(report.duration_s, 3),
                    "failures": [{"device": f.device, "reason": f.reason, "error": f.error}
                                 for f in report.failures],
                }
    finally:
        await assembly.close()
    return reports


def _print_reports(reports: dict[str, Any]) -> None:
    table = Table(title="poll cycle")
    for column in ("collector", "devices", "ok", "failed", "varbinds", "samples", "seconds"):
        table.add_column(column, justify="right" if column != "collector" else "left")
    for name, r in reports.items():
        table.add_row(name, str(r["devices"]), str(r["ok"]), str(r["failed"]), str(r["varbinds"]),
                      str(r["samples"]), f"{r['duration_s']:.1f}")
    out.print(table)
    for name, r in reports.items():
        for failure in r["failures"][:50]:
            out.print(f"[red]{name}[/red] {escape(failure['device'])}: {escape(failure['reason'])}: "
                      f"{escape(failure['error'])}")
        if len(r["failures"]) > 50:
            out.print(f"... and {len(r['failures']) - 50} more {name} failures (use --json for all)")


@inventory_app.command("check")
def inventory_check(config: ConfigOption = None,
                    paths: Annotated[list[Path] | None, typer.Argument(help="inventory files or folders")] = None
                    ) -> None:
    """Load the inventory and report every broken entry by file, entry and field."""
    from inventory.loader import load_inventory
    from yiwang.assemble import SetupError, inventory_paths

    settings = settings_from(config)
    try:
        result = load_inventory(paths or inventory_paths(settings))
    except SetupError as exc:
        raise fail(str(exc)) from None
    inv = result.inventory
    levels: dict[str, int] = {}
    for area in inv.areas.values():
        levels[area.level.label] = levels.get(area.level.label, 0) + 1
    out.print(f"areas: {', '.join(f'{k} {v}' for k, v in levels.items())}; devices {len(inv.devices)}; "
              f"links {len(inv.links)}; credentials {len(inv.credentials)}")
    for problem in result.problems:
        err.print(f"[red]problem:[/red] {escape(str(problem))}")
    if result.problems:
        raise typer.Exit(1)
    out.print("[green]inventory is valid[/green]")


@inventory_app.command("ansible")
def inventory_ansible(config: ConfigOption = None,
                      output: Annotated[Path | None, typer.Option("--out", help="file to write")] = None) -> None:
    """Write the inventory as an Ansible YAML inventory (areas become nested groups)."""
    from collectors.ssh.session import known_hosts_path
    from inventory.ansible import to_ansible
    from yiwang.assemble import SetupError, load

    settings = settings_from(config)
    try:
        inv, problems = load(settings)
    except SetupError as exc:
        raise fail(str(exc)) from None
    for problem in problems:
        err.print(f"[yellow]left out:[/yellow] {escape(str(problem))}")
    # The same pinned host keys and credential files as the poller and the archive (yiwang.ssh_workers).
    exported = to_ansible(inv, secrets_base=settings.state_dir,
                          known_hosts=lambda device: known_hosts_path(settings.state_dir / "ssh", device))
    text = yaml.safe_dump(exported, sort_keys=True, allow_unicode=True)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")


@inventory_app.command("import-villages")
def inventory_import(csv_file: Annotated[Path, typer.Argument(help="CSV with one village per row")],
                     output: Annotated[Path, typer.Option("--out", help="inventory YAML to write")],
                     config: ConfigOption = None) -> None:
    """Bulk-import villages (area, access device and uplink) from a CSV file."""
    from inventory.csv_import import import_villages
    from yiwang.assemble import SetupError, load

    settings = settings_from(config)
    action, target = "inventory.import-villages", str(output)
    parameters: dict[str, Any] = {"csv": str(csv_file)}
    try:
        inv, _ = load(settings)
        text = csv_file.read_text(encoding="utf-8-sig")
    except SetupError as exc:
        raise _audited_failure(settings, action, target, parameters, str(exc)) from None
    except OSError as exc:
        raise _audited_failure(settings, action, target, parameters, f"{csv_file}: {exc.strerror}") from None
    result = import_villages(text, str(csv_file), inv)
    for problem in result.problems:
        err.print(f"[red]problem:[/red] {escape(problem)}")
    try:
        output.write_text(yaml.safe_dump(result.document(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    except OSError as exc:
        raise _audited_failure(settings, action, target, parameters, f"{output}: {exc.strerror}") from None
    parameters["villages"] = len(result.devices)
    audit_local(settings, action, target, parameters,
                f"failed: {len(result.problems)} rows left out" if result.problems else "ok")
    out.print(f"imported {len(result.devices)} villages into {output}; {len(result.problems)} rows left out")
    if result.problems:
        raise typer.Exit(1)


def _alert_stage(config: Path | None, audit: Audit | None = None) -> Any:
    """`audit`: (settings, action, target, parameters) of a state-changing command, audited if this fails."""
    from alerts.rules import RuleError
    from yiwang.alerting import AlertStage
    from yiwang.assemble import SetupError, load
    from yiwang.store import SchemaError, open_store

    settings = audit[0] if audit else settings_from(config)
    try:
        inv, _ = load(settings)
        return AlertStage.from_files(settings.alerts.rules, inv, open_store(settings.database))
    except (SetupError, RuleError, SchemaError) as exc:
        raise (_audited_failure(*audit, str(exc)) if audit else fail(str(exc))) from None


def _duration(text: str) -> float:
    from alerts.rules import seconds as parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise fail(f"{text!r}: {exc}", 2) from None


def _instant(text: str | None) -> int:
    if text is None:
        return time.time_ns()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{text!r} is not an ISO time such as 2026-12-01T22:00+08:00", 2) from None
    if moment.tzinfo is None:
        raise fail(f"{text!r} needs a time zone, e.g. +08:00", 2)
    return int(moment.timestamp() * 1e9)


@alerts_app.command("list")
def alerts_list(config: ConfigOption = None,
                as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Pending and firing alerts, as the running monitor last saved them."""
    active = _alert_stage(config).active()
    if as_json:
        out.print_json(json.dumps(active))
        return
    table = Table("fingerprint", "rule", "severity", "status", "summary")
    for alert in active:
        summary = str(alert["annotations"].get("summary", "")) if isinstance(alert["annotations"], dict) else ""
        held = f" (in {alert['suppressed_by']})" if alert["suppressed_by"] else ""
        table.add_row(str(alert["fingerprint"]), escape(str(alert["rule"])), str(alert["severity"]),
                      f"{alert['status']}{held}", escape(summary))
    out.print(table)


@alerts_app.command("history")
def alerts_history(config: ConfigOption = None, limit: int = 50) -> None:
    """Alert transitions, newest first."""
    stage = _alert_stage(config)
    for item in stage.store.alert_history(limit):
        sent = "sent" if item["notify"] else f"held ({item['held'] or 'not due'})"
        stamp = datetime.fromtimestamp(item["at_ns"] / 1e9).astimezone().isoformat(timespec="seconds")
        out.print(f"{stamp} {item['kind']:<9} {escape(item['rule'])} {sent}: "
                  f"{escape(str(item['annotations'].get('summary', '')))}")


@alerts_app.command("ack")
def alerts_ack(fingerprint: str, by: Annotated[str, typer.Option(help="who has it in hand")],
               comment: str = "", config: ConfigOption = None) -> None:
    """Acknowledge a firing alert: it stays firing, repeats stop until it resolves."""
    from yiwang.alerting import AlertError

    audit = (settings_from(config), "alerts.ack", fingerprint, {"by": by, "comment": comment})
    try:
        _alert_stage(config, audit).acknowledge(fingerprint, by, comment, time.time_ns())
    except AlertError as exc:
        raise _audited_failure(*audit, str(exc)) from None
    audit_local(*audit, "ok")
    out.print(f"acknowledged {fingerprint}")


def _iso(at_ns: int) -> str:
    return datetime.fromtimestamp(at_ns / 1e9).astimezone().isoformat(timespec="seconds")


def _add_silence(config: Path | None, kind: str, starts_ns: int, ends_ns: int, area: str | None,
                 device: str | None, rule: str | None, comment: str, by: str) -> None:
    from yiwang.alerting import AlertError

    parameters: dict[str, Any] = {"starts": _iso(starts_ns), "ends": _iso(ends_ns), "area": area, "device": device,
                                  "rule": rule, "comment": comment, "by": by}
    target = " ".join(f"{k}={v}" for k, v in (("area", area), ("device", device), ("rule", rule)) if v) or "all"
    audit = (settings_from(config), f"alerts.{kind}", target, parameters)
    try:
        silence_id = _alert_stage(config, audit).silence(starts_ns=starts_ns, ends_ns=ends_ns, area=area,
                                                         device=device, rule=rule, comment=comment, created_by=by,
                                                         kind=kind)
    except AlertError as exc:
        raise _audited_failure(*audit, str(exc)) from None
    parameters["id"] = silence_id
    audit_local(*audit, "ok")
    out.print(f"{kind} {silence_id} until {datetime.fromtimestamp(ends_ns / 1e9).astimezone().isoformat()}")


@alerts_app.command("silence")
def alerts_silence(duration: Annotated[str, typer.Option("--for", help="how long, e.g. 30m, 2h")],
                   area: str | None = None, device: str | None = None, rule: str | None = None,
                   comment: str = "", by: str = "", config: ConfigOption = None) -> None:
    """Silence alerts of an area (and everything beneath it), a device or a rule, from now."""
    now = time.time_ns()
    _add_silence(config, "silence", now, now + int(_duration(duration) * 1e9), area, device, rule, comment, by)


@alerts_app.command("maintenance")
def alerts_maintenance(start: Annotated[str, typer.Option(help="ISO time with zone")],
                       end: Annotated[str, typer.Option(help="ISO time with zone")],
                       area: str | None = None, device: str | None = None, rule: str | None = None,
                       comment: str = "", by: str = "", config: ConfigOption = None) -> None:
    """Plan a maintenance window: alerts inside it are evaluated but not sent."""
    _add_silence(config, "maintenance", _instant(start), _instant(end), area, device, rule, comment, by)


@alerts_app.command("silences")
def alerts_silences(config: ConfigOption = None) -> None:
    """Silences and maintenance windows that are not over."""
    stage = _alert_stage(config)
    for row in stage.store.silences(time.time_ns()):
        ends = datetime.fromtimestamp(row["ends_ns"] / 1e9).astimezone().isoformat(timespec="minutes")
        what = " ".join(f"{k}={row[k]}" for k in ("area", "device", "rule") if row[k])
        out.print(f"{row['id']} {row['kind']} until {ends}: {escape(what)} {escape(row['comment'])}")


@alerts_app.command("unsilence")
def alerts_unsilence(silence_id: int, config: ConfigOption = None) -> None:
    """End a silence or maintenance window now."""
    audit: Audit = (settings_from(config), "alerts.unsilence", str(silence_id), {})
    if not _alert_stage(config, audit).store.expire_silence(silence_id, time.time_ns()):
        raise _audited_failure(*audit, f"no silence {silence_id}")
    audit_local(*audit, "ok")
    out.print(f"ended {silence_id}")


@alerts_app.command("export")
def alerts_export(out_dir: Annotated[Path, typer.Option("--out-dir", help="folder for the two files")],
                  config: ConfigOption = None) -> None:
    """The rules as a Prometheus rule file, and the topology as Alertmanager inhibit rules."""
    from alerts.export import write_inhibit_rules, write_prometheus_rules

    stage = _alert_stage(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_prometheus_rules(stage.rules, out_dir / "yiwang-rules.yml")
    write_inhibit_rules(stage.topology.inventory, out_dir / "yiwang-inhibit.yml")
    out.print(f"wrote {out_dir / 'yiwang-rules.yml'} and {out_dir / 'yiwang-inhibit.yml'}")


def _archive(config: Path | None, audit: Audit | None = None) -> Any:
    """`audit`: (settings, action, target, parameters) of a state-changing command, audited if this fails."""
    from yiwang.archive.service import ConfigArchive
    from yiwang.assemble import SetupError, load
    from yiwang.store import SchemaError, open_store
    from yiwang.targets import build_targets

    settings = audit[0] if audit else settings_from(config)
    try:
        inv, _ = load(settings)
        store = open_store(settings.database)
    except (SetupError, SchemaError) as exc:
        raise (_audited_failure(*audit, str(exc)) if audit else fail(str(exc))) from None
    targets = build_targets(inv, secrets_base=settings.state_dir)
    for problem in targets.problems:
        err.print(f"[yellow]warning:[/yellow] {escape(problem)}")
    return ConfigArchive.open(inv, targets.ssh, settings.state_dir, store.archive, ssh=settings.ssh)


@config_app.command("backup")
def config_backup(device: str | None = None,
                  area: Annotated[str | None, typer.Option(help="an area id: every device beneath it")] = None,
                  config: ConfigOption = None) -> None:
    """Back up running configurations now: one device, one area, or every device."""
    from yiwang.archive.git import ArchiveError

    target = f"device={device}" if device else f"area={area}" if area else "all"
    audit: Audit = (settings_from(config), "config.backup", target, {"device": device, "area": area})
    archive = _archive(config, audit)
    try:
        results = asyncio.run(archive.backup(device, area))
    except ArchiveError as exc:
        raise _audited_failure(*audit, str(exc)) from None
    finally:
        archive.close()
    changed = [r for r in results if r.commit]
    failed = [r for r in results if not r.ok]
    audit[3].update(devices=len(results), changed=len(changed))
    audit_local(*audit, f"failed: {len(failed)} of {len(results)} devices failed" if failed else "ok")
    out.print(f"{len(results)} devices: {len(results) - len(failed)} backed up, {len(changed)} changed, "
              f"{len(failed)} failed")
    for r in changed:
        out.print(f"changed {escape(r.device)} {r.commit}")
    for r in failed:
        out.print(f"[red]failed[/red] {escape(r.device)}: {escape(r.reason)}: {escape(r.error)}")
    if failed:
        raise typer.Exit(1)


@config_app.command("versions")
def config_versions(device: str, config: ConfigOption = None) -> None:
    """A device's configuration versions, newest first."""
    from yiwang.archive.git import ArchiveError

    archive = _archive(config)
    try:
        for version in archive.versions(device):
            out.print(f"{version.commit} {version.time.isoformat()} {escape(version.message)}")
    except ArchiveError as exc:
        raise fail(str(exc)) from None
    finally:
        archive.close()


@config_app.command("diff")
def config_diff(device: str, a: str, b: str, config: ConfigOption = None) -> None:
    """The diff between two versions of a device's configuration."""
    from yiwang.archive.git import ArchiveError

    archive = _archive(config)
    try:
        sys.stdout.write(archive.diff(device, a, b))
    except (ArchiveError, ValueError) as exc:
        raise fail(str(exc)) from None
    finally:
        archive.close()


@config_app.command("status")
def config_status(area: str | None = None, config: ConfigOption = None,
                  as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Age of the last good backup per device and per area."""
    from yiwang.archive.git import ArchiveError

    archive = _archive(config)
    try:
        status = archive.status(area)
    except ArchiveError as exc:
        raise fail(str(exc)) from None
    finally:
        archive.close()
    if as_json:
        out.print_json(json.dumps(status))
        return
    table = Table("area", "level", "devices", "never", "failing", "oldest backup")
    for row in status["areas"]:
        table.add_row(escape(row["area"]), row["level"], str(row["devices"]), str(row["never"]), str(row["failing"]),
                      f"{row['oldest_age_seconds'] / 3600:.1f} h")
    out.print(table)


def add_extra_commands(root: typer.Typer) -> None:
    """Each `yiwang.commands` entry point is a Typer group. One whose extra is not installed still shows up,
    and says in one line how to install it instead of failing with a traceback."""
    for entry in sorted(entry_points(group="yiwang.commands"), key=lambda e: e.name):
        try:
            group = entry.load()
        except ImportError as exc:
            _missing_extra(root, entry.name, exc)
        else:
            root.add_typer(group, name=entry.name)


def _missing_extra(root: typer.Typer, name: str, exc: ImportError) -> None:
    hint = f"pip install 'yiwang[{name}]'"

    @root.command(name, help=escape(f"(needs the optional extra: {hint})"),
                  context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def missing(ctx: typer.Context) -> None:
        err.print(escape(f"`yiwang {name}` needs the optional extra {name!r}, which is not installed "
                         f"({exc}): {hint}"), soft_wrap=True)
        raise typer.Exit(2)


db_app = typer.Typer(help="The SQL database's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Bring the database's schema to this version's (`yiwang run` does it too, at start)."""
    from sqlalchemy.engine import make_url

    from yiwang.migrations import SchemaError, upgrade
    from yiwang.store import Store

    settings = settings_from(config)
    database = make_url(settings.database).render_as_string(hide_password=True)
    try:
        store = Store(settings.database)
        try:
            done = upgrade(store.engine)
        finally:
            store.close()
    except SchemaError as exc:
        raise _audited_failure(settings, "db.upgrade", database, {}, str(exc)) from None
    audit_local(settings, "db.upgrade", database, {"before": done.before, "after": done.after}, "ok")
    out.print(f"database {escape(store.engine.url.render_as_string(hide_password=True))}")
    out.print(f"before: {done.before or ('unversioned' if done.unversioned else 'empty')}")
    out.print(f"after: {done.after}")


ssh_app = typer.Typer(help="What yiwang reads from devices' CLI output.", no_args_is_help=True)
app.add_typer(ssh_app, name="ssh")
PARSE_LABELS = {"model": "型号 model", "version": "版本 version", "serial": "序列号 serial",
                "uptime_s": "运行时间 uptime (s)", "name": "接口 interface", "up": "状态 up",
                "rx_dbm": "收光 RX (dBm)", "tx_dbm": "发光 TX (dBm)", "lane": "通道 lane"}


@ssh_app.command("parse")
def ssh_parse(file: Annotated[Path, typer.Argument(help="a captured output ('-' for standard input)")],
              platform: Annotated[str, typer.Option(help="huawei_vrp | hp_comware | cisco_ios | ruijie_os")],
              command: Annotated[str, typer.Option(help="the command that printed it, e.g. 'display version'")],
              as_json: Annotated[bool, typer.Option("--json", help="the facts as JSON")] = False) -> None:
    """Read a captured output as the SSH collector reads it: the first thing to try when a device shows no data."""
    from collectors.platforms import SSH_PLATFORMS, UnknownPlatform, cli_of
    from collectors.ssh.parse import ParseError, parse
    from collectors.ssh.parse import as_json as plain

    try:
        cli = cli_of(platform)
    except UnknownPlatform:
        raise fail(f"未知平台 unknown platform {platform!r}; one of: {', '.join(SSH_PLATFORMS)}", 2) from None
    wanted = " ".join(command.split()).lower()
    kinds = {cmd: kind for kind, cmd in cli.show.items()}
    kinds.update({alt: kinds[cmd] for cmd, alts in cli.fallback.items() if cmd in kinds for alt in alts})
    kind = kinds.get(wanted)
    if kind is None:
        raise fail(f"yiwang does not read {command!r} on {platform}; it reads: {', '.join(sorted(kinds))}", 2)
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc}", 2) from None
    try:
        value = plain(parse(platform, kind, text))
    except ParseError as exc:
        raise fail(f"无法解析 cannot parse ({platform}, {command}): {exc}") from None
    if as_json:
        sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
        return
    out.print(escape(f"{platform} · {command} ({kind})"))
    if isinstance(value, dict):
        for key, item in value.items():
            out.print(escape(f"{PARSE_LABELS.get(key, key)}: {'—' if item is None else item}"))
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        table = Table(*(PARSE_LABELS.get(str(k), str(k)) for k in value[0]))
        for row in value:
            table.add_row(*(escape("—" if v is None else str(v)) for v in row.values()))
        out.print(table)
        out.print(f"{len(value)} 行 rows")
    elif isinstance(value, list):
        for item in value:
            out.print(escape(str(item)))
        out.print(f"{len(value)} 项 items")
    else:
        out.print(f"条目 entries: {value}")


add_extra_commands(app)
