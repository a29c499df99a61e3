"""`yiwang change ...`: changes pushed to the devices, starting with the IPv6 address plan they are made from."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from yiwang.change.service import command_line_identity
from yiwang.cli_common import ConfigOption, audit_local, err, fail, out, settings_from
from yiwang.config import Settings

if TYPE_CHECKING:
    from yiwang.audit import Trail
    from yiwang.change.ipv6plan import PlanSummary
    from yiwang.change.jobs import ChangeJob
    from yiwang.change.service import ChangeService

T = TypeVar("T")

app = typer.Typer(help="Changes pushed to the devices: plans, jobs and waves.", no_args_is_help=True)


@app.command("plan-ipv6")
def plan_ipv6(prefix: Annotated[str, typer.Option("--prefix", help="the IPv6 prefix of the planned area, e.g. "
                                                  "2408:8000:1234::/48")],
              area: Annotated[str | None, typer.Option("--area", help="the area to plan (default: the inventory's "
                                                       "only city)")] = None,
              inventory_dir: Annotated[Path | None, typer.Option(
                  "--inventory-dir", help="the inventory folder that holds the plan file (default: the configured "
                                          "one); the configured folders are read too")] = None,
              dry_run: Annotated[bool, typer.Option("--dry-run", help="print the summary, write nothing")] = False,
              config: ConfigOption = None) -> None:
    """Derive the IPv6 plan (per-area prefixes, a /64 per link, a /128 loopback per device) and write it into the
    inventory as ipv6-plan.yaml. Planning again keeps every allocation and numbers only what is new."""
    from inventory.loader import load_inventory
    from yiwang.assemble import SetupError, inventory_paths
    from yiwang.change.ipv6plan import PLAN_FILE, PlanError, plan_from_load, render_plan

    settings = settings_from(config)
    action = "change.plan-ipv6"
    parameters: dict[str, Any] = {"prefix": prefix, "area": area, "dry_run": dry_run}
    target = str(inventory_dir / PLAN_FILE) if inventory_dir else PLAN_FILE
    try:
        folders = _folders(inventory_paths(settings) if settings.inventory or inventory_dir is None else [],
                           inventory_dir)
        plan_path = _plan_path(folders, inventory_dir, PLAN_FILE)
        target = str(plan_path)
        outcome = plan_from_load(load_inventory(folders), prefix, area)
        text = render_plan(outcome.plan)
        if not dry_run:
            _write_atomic(plan_path, text)
    except (SetupError, PlanError, ValueError) as exc:
        audit_local(settings, action, target, parameters, f"failed: {exc}")
        raise fail(str(exc)) from None
    except OSError as exc:
        message = f"{target}: {exc.strerror or exc}"
        audit_local(settings, action, target, parameters, f"failed: {message}")
        raise fail(message) from None
    summary = outcome.summary
    parameters["area"] = summary.root
    for key in ("new", "kept", "released"):
        parameters[key] = sum(getattr(t, key) for t in summary.tallies.values())
    audit_local(settings, action, target, parameters, "ok")
    _print_summary(summary)
    out.print(f"dry run: {escape(target)} not written" if dry_run else f"wrote {escape(target)}")


def _folders(configured: list[Path], inventory_dir: Path | None) -> list[Path]:
    folders = list(configured)
    if inventory_dir is not None:
        if not inventory_dir.is_dir():
            raise ValueError(f"--inventory-dir {inventory_dir}: no such folder")
        if inventory_dir.resolve() not in {f.resolve() for f in folders}:
            folders.append(inventory_dir)
    return folders


def _plan_path(folders: list[Path], inventory_dir: Path | None, name: str) -> Path:
    """One plan file: a second one in another folder would plan the same areas twice."""
    existing = [f / name for f in folders if (f / name).exists()]
    if inventory_dir is not None:
        wanted = inventory_dir / name
        others = [p for p in existing if p.resolve() != wanted.resolve()]
        if others:
            raise ValueError(f"the plan is already kept in {others[0]}; plan there (--inventory-dir "
                             f"{others[0].parent}) or move it")
        return wanted
    if existing:
        return existing[0]
    dirs = [f for f in folders if f.is_dir()]
    if len(dirs) != 1:
        raise ValueError(f"the configuration names {len(dirs)} inventory folders; say which one keeps the plan with "
                         "--inventory-dir")
    return dirs[0] / name


def _write_atomic(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _print_summary(summary: PlanSummary) -> None:
    how = "first plan: the lengths were chosen now" if summary.first else "the lengths kept from the plan file"
    out.print(f"IPv6 plan for {escape(summary.root)} ({escape(summary.name)}) from {summary.prefix} ({how})")
    out.print(f"  {'level':<10} {'length':>6} {'bits':>4} {'room':>6}  fullest today")
    first = summary.levels[0].length - summary.levels[0].bits if summary.levels else summary.prefix.prefixlen
    out.print(f"  {'(root)':<10} {'/' + str(first):>6}")
    for budget in summary.levels:
        fullest = f"{escape(budget.fullest)}: {budget.children}" if budget.fullest else "none yet"
        out.print(f"  {budget.level.label:<10} {'/' + str(budget.length):>6} {budget.bits:>4} {budget.capacity:>6}  "
                  f"{fullest} (needs {budget.needed} bits)")
    own = summary.own
    busiest = f"{escape(own.busiest)}: {own.links} links" if own.busiest else "no links yet"
    out.print(f"  {'own block':<10} {'/64s':>6} {own.bits:>4} {2 ** own.bits - 1:>6}  {busiest} (loopbacks /64 + "
              f"links; needs {own.needed} bits)")
    out.print(f"  spare bits beyond today's tree: {summary.spare}")
    for key, tally in summary.tallies.items():
        out.print(f"  {key:<10} {tally.new:>6} new {tally.kept:>6} kept {tally.released:>6} released")


# --- change jobs ------------------------------------------------------------------------------------------------

STATE_ZH = {"planning": "规划中", "invalid": "规划无效", "planned": "已规划", "running": "执行中",
            "awaiting-approval": "待审批", "done": "已完成", "stopped": "已停止(需人工)", "aborted": "已中止",
            "pending": "待执行", "pushing": "下发中", "ok": "成功", "rolled-back": "已回退",
            "needs-person": "需人工处理", "precheck-failed": "预检未通过", "failed": "失败"}
JobArgument = Annotated[str, typer.Argument(help="the change job's id")]
DetachOption = Annotated[bool, typer.Option("--detach", help="only record it: the wave is run by `yiwang run`")]


def _service(settings: Settings) -> tuple[ChangeService, Trail]:
    import socket

    from yiwang.assemble import SetupError
    from yiwang.audit import SyslogForwarder
    from yiwang.audit.sql import open_trail
    from yiwang.change.service import ChangeService, audit_recorder, inventory_loader
    from yiwang.store import SchemaError, open_store

    try:
        store = open_store(settings.database)
    except (SchemaError, SetupError) as exc:
        raise fail(str(exc)) from None
    syslog = settings.audit.syslog
    trail = open_trail(settings, SyslogForwarder(syslog, close_timeout_s=2.0) if syslog else None, store.engine)
    service = ChangeService(settings, store.engine, inventory_loader(settings),
                            record=audit_recorder(trail, f"local:{socket.gethostname()}"))
    return service, trail


def _run(settings: Settings, work: Callable[[ChangeService], Coroutine[Any, Any, T]]) -> T:
    from yiwang.change.jobs import ChangeError

    service, trail = _service(settings)
    try:
        return asyncio.run(work(service))
    except ChangeError as exc:
        raise fail(str(exc), 2 if exc.status == 422 else 1) from None
    finally:
        trail.close()


@app.command("plan")
def plan(kind: Annotated[str, typer.Argument(help="ipv6 | bandwidth")],
         area: Annotated[str, typer.Option("--area", help="the area the change is made in (an area id)")],
         wave_size: Annotated[int | None, typer.Option("--wave-size", min=1, help="waves of this many devices "
                                                       "instead of one per county")] = None,
         waves: Annotated[str, typer.Option("--waves", help="canary,county (a canary of a few villages first) or "
                                            "county")] = "canary,county",
         plan_file: Annotated[Path | None, typer.Option("--plan", help="bandwidth: the CSV or YAML list of link and "
                                                        "new rate")] = None,
         show_diff: Annotated[bool, typer.Option("--diff", help="print every device's lines too")] = False,
         config: ConfigOption = None) -> None:
    """Plan a change job: its devices, its waves and a dry run of every device (nothing is changed)."""
    settings = settings_from(config)
    kinds = {w.strip() for w in waves.split(",") if w.strip()}
    if not kinds <= {"canary", "county"} or "county" not in kinds and wave_size is None:
        raise fail(f"--waves {waves}: canary,county or county", 2)
    identity = command_line_identity()

    async def work(service: ChangeService) -> ChangeJob:
        job, changes = service.prepare(kind, area, identity, wave_size=wave_size, canary="canary" in kinds,
                                       bandwidth_plan=plan_file)
        out.print(f"change job [bold]{job.id}[/bold]: {kind} in {escape(area)}, {len(changes)} devices in "
                  f"{len(job.waves)} waves; dry run …")
        return await service.dry_run(job.id)

    job = _run(settings, work)
    service, trail = _service(settings)
    try:
        view = service.view(job.id)
        _print_job(view)
        if show_diff:
            out.print(escape(service.diff(job.id)))
    finally:
        trail.close()
    if job.state == "invalid":
        raise fail(f"the plan is invalid: {job.error}")
    out.print(f"review: yiwang change diff {job.id}; then: yiwang change start {job.id}")


@app.command("diff")
def diff(job_id: JobArgument, device: Annotated[str | None, typer.Option("--device")] = None,
         config: ConfigOption = None) -> None:
    """The dry run's lines of each device of a job."""
    settings = settings_from(config)

    async def work(service: ChangeService) -> str:
        return service.diff(job_id, device)

    sys.stdout.write(_run(settings, work))


@app.command("status")
def status(job_id: Annotated[str | None, typer.Argument(help="a job's id; none: the jobs")] = None,
           as_json: Annotated[bool, typer.Option("--json")] = False, config: ConfigOption = None) -> None:
    """A job's waves, per-county progress and devices that need attention (or the list of jobs)."""
    settings = settings_from(config)

    async def work(service: ChangeService) -> Any:
        return service.view(job_id) if job_id else service.summaries()

    found = _run(settings, work)
    if as_json:
        sys.stdout.write(json.dumps(found, ensure_ascii=False, indent=2) + "\n")
    elif job_id:
        _print_job(found)
    else:
        table = Table("任务 job", "类型 kind", "区域 area", "状态 state", "波次 wave", "创建人 by", "创建时间 created")
        for row in found:
            table.add_row(row["id"], row["kind"], escape(row["area"]), _state(row["state"]),
                          f"{row['current_wave'] + 1}/{row['waves']}", escape(row["created_by"]), row["created_at"])
        out.print(table)


@app.command("start")
def start_job(job_id: JobArgument, detach: DetachOption = False, config: ConfigOption = None) -> None:
    """Start a planned job: its first wave (the canary) runs now."""
    _act(settings_from(config), job_id, "start", detach)


@app.command("approve")
def approve_job(job_id: JobArgument, comment: Annotated[str, typer.Option("--comment")] = "",
                detach: DetachOption = False, config: ConfigOption = None) -> None:
    """Release the job's next wave (not by the one who started it)."""
    _act(settings_from(config), job_id, "approve", detach, comment)


@app.command("abort")
def abort_job(job_id: JobArgument, reason: Annotated[str, typer.Option("--reason")] = "",
              config: ConfigOption = None) -> None:
    """Abort a job: no further device is pushed (the tier being pushed finishes)."""
    settings = settings_from(config)
    identity = command_line_identity()

    async def work(service: ChangeService) -> ChangeJob:
        return service.abort(job_id, identity, reason)

    job = _run(settings, work)
    out.print(f"job {job.id}: {_state(job.state)}")


@app.command("rollback")
def rollback_job(job_id: JobArgument, device: Annotated[str | None, typer.Option("--device")] = None,
                 config: ConfigOption = None) -> None:
    """Put back what the job changed (on one device with --device): the rollback lines, typed, saved, checked."""
    settings = settings_from(config)
    identity = command_line_identity()

    async def work(service: ChangeService) -> dict[str, str]:
        return await service.rollback(job_id, identity, device)

    result = _run(settings, work)
    for name, state in sorted(result.items()):
        out.print(f"{escape(name)}: {_state(state)}")
    if any(s != "rolled-back" for s in result.values()):
        raise fail("some devices could not be rolled back: they need a person")


def _act(settings: Settings, job_id: str, action: str, detach: bool, comment: str = "") -> None:
    identity = command_line_identity()

    async def work(service: ChangeService) -> ChangeJob:
        job = service.start(job_id, identity) if action == "start" else service.approve(job_id, identity, comment)
        wave = job.waves[job.current_wave]
        out.print(f"job {job.id}: wave {wave.number + 1}/{len(job.waves)} ({escape(wave.name)}, "
                  f"{len(wave.devices)} devices) released by {escape(identity.name)}")
        if detach:
            return job
        with _progress(service, job) as _:
            return await service.run(job.id)

    job = _run(settings, work)
    service, trail = _service(settings)
    try:
        _print_job(service.view(job.id))
    finally:
        trail.close()
    if job.state == "stopped":
        raise fail("a device needs a person: the job stopped; see the devices above")


@contextlib.contextmanager
def _progress(service: ChangeService, job: ChangeJob) -> Iterator[None]:
    """A bar per county of the running wave, advanced as each device's outcome comes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from yiwang.change.service import JobEvent, county_of

    inventory = service._inventory()
    wave = job.waves[job.current_wave]
    done = {d.device for d in service.store.devices(job.id) if d.wave == wave.number and d.state not in
            ("pending", "pushing")}
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[states]}"), TimeElapsedColumn(), console=err)
    counties: dict[str, Any] = {}
    tallies: dict[str, dict[str, int]] = {}
    for name in wave.devices:
        county = county_of(inventory, name)
        if county not in counties:
            counties[county] = bars.add_task(escape(county), total=0, states="")
            tallies[county] = {}
        bars.update(counties[county], total=bars.tasks[counties[county]].total + 1,
                    advance=1 if name in done else 0)

    def listen(job_id: str, event: JobEvent) -> None:
        if job_id != job.id or event.kind != "device":
            return
        county = county_of(inventory, str(event.data["device"]))
        if county in counties:
            state = str(event.data["state"])
            tallies[county][state] = tallies[county].get(state, 0) + 1
            bars.update(counties[county], advance=1,
                        states=" ".join(f"{_STATE_SHORT.get(s, s)}={n}" for s, n in sorted(tallies[county].items())))

    service.hub.listen(listen)
    with bars:
        yield


_STATE_SHORT = {"ok": "ok", "rolled-back": "rb", "needs-person": "PERSON", "precheck-failed": "pre", "failed": "fail"}


def _state(state: str) -> str:
    zh = STATE_ZH.get(state, state)
    colour = {"ok": "green", "done": "green", "rolled-back": "yellow", "needs-person": "red", "failed": "red",
              "stopped": "red", "invalid": "red", "precheck-failed": "yellow", "awaiting-approval": "cyan"}
    return f"[{colour[state]}]{zh} {state}[/]" if state in colour else f"{zh} {state}"


def _print_job(view: Mapping[str, Any]) -> None:
    out.print(f"变更任务 change job [bold]{view['id']}[/bold]: {view['kind']} · {escape(view['area'])} · "
              f"{_state(view['state'])} · 创建 {escape(view['created_by'])}"
              + (f" · 启动 {escape(view['started_by'])}" if view["started_by"] else ""))
    if view["error"]:
        out.print(f"[red]{escape(view['error'])}[/red]")
    waves = Table("波次 wave", "名称 name", "设备 devices", "结果 outcomes", title="波次 waves")
    for wave in view["waves"]:
        marker = " ◀" if wave["number"] == view["current_wave"] and view["state"] in ("running",
                                                                                     "awaiting-approval") else ""
        waves.add_row(f"{wave['number'] + 1}{marker}", escape(wave["name"]), str(wave["devices"]),
                      ", ".join(f"{_state(s)}: {n}" for s, n in wave["states"].items()))
    out.print(waves)
    counties = Table("县 county", "完成 done", "失败 failed", "已回退 rolled back", "待执行 pending",
                     title="按县进度 progress by county")
    for county, row in view["progress"].items():
        counties.add_row(escape(county), str(row["done"]), str(row["failed"]), str(row["rolled_back"]),
                         str(row["pending"]))
    out.print(counties)
    attention = [d for d in view["devices"] if d["state"] in ("needs-person", "failed", "precheck-failed",
                                                               "rolled-back")]
    if attention:
        table = Table("设备 device", "结果 outcome", "说明 detail", title="需关注的设备 devices to look at")
        for row in attention[:50]:
            table.add_row(escape(row["device"]), _state(row["state"]), escape(row["detail"]))
        out.print(table)
        if len(attention) > 50:
            out.print(f"… and {len(attention) - 50} more: yiwang change status {view['id']} --json")
    for approval in view["approvals"]:
        out.print(f"wave {approval['wave'] + 1} released by {escape(approval['by'])}")
