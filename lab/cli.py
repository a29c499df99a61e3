"""`yiwang lab ...`: the simulated reference city, a command group registered through the `yiwang.commands`
entry point so that production code never imports the simulator."""

from __future__ import annotations

from typing import Annotated, Any

import asyncssh  # noqa: F401  - the lab's SSH devices run on it: say so here, not in a background process
import typer
from rich.markup import escape
from rich.table import Table

from lab import LabError, lab_clear, lab_down, lab_fault, lab_status, lab_up
from yiwang.cli_common import ConfigOption, err, fail, out, settings_from
from yiwang.config import Settings, load_settings

app = typer.Typer(help="The simulated reference city on loopback.", no_args_is_help=True)


@app.command("up")
def lab_up_command(config: ConfigOption = None,
                   profile: Annotated[str, typer.Option(help="small (one county) or city")] = "small",
                   seed: Annotated[int, typer.Option(help="seed for the generated city")] = 2026,
                   rate_scale: Annotated[float, typer.Option(help="multiply every traffic rate")] = 1.0,
                   snmp: Annotated[str, typer.Option(help="v2c (by community) or v3 (an authPriv SHA/AES-128 user in "
                                                          "the inventory)")] = "v2c",
                   port: Annotated[int, typer.Option(help="the agents' UDP (and SSH TCP) port")] = 161,
                   history: Annotated[bool, typer.Option(
                       "--history/--no-history", help="a VictoriaMetrics on loopback with the city's uplink history "
                                                      "backfilled, and a yiwang configuration using it")] = True,
                   history_days: Annotated[int, typer.Option(min=1, max=400, help="days of history")] = 35,
                   history_port: Annotated[int, typer.Option(
                       min=0, max=65535, help="VictoriaMetrics' TCP port on 127.0.0.1 (taken or 0: a free one)")]
                   = 8428) -> None:
    """Generate the reference city and start its agents on loopback; with its metric history unless --no-history."""
    settings = settings_from(config)
    try:
        status = lab_up(settings.state_dir, profile=profile, seed=seed, rate_scale=rate_scale, port=port, snmp=snmp,
                        history_days=history_days if history else 0, history_port=history_port)
    except LabError as exc:
        raise fail(str(exc)) from None
    _print_lab(status)
    if status.demo_config is not None:
        _print_usage(status)


def _print_lab(status: Any) -> None:
    if not status.up:
        out.print("lab is down")
        return
    note = " (already up)" if status.already_up else f" in {status.startup_seconds:.1f} s"
    out.print(f"lab is up{note}: {status.profile} profile, seed {status.seed}, {status.devices} devices on UDP port "
              f"{status.port}, SNMP {status.snmp}; inventory in {escape(str(status.inventory_dir))}")
    table = Table("agent process", "pid", "devices", "running", "RSS MB", "CPU s")
    for p in status.processes:
        table.add_row(p.name, str(p.pid), str(p.devices), "yes" if p.running else "[red]no[/red]",
                      f"{p.rss_bytes / 1e6:.0f}", f"{p.cpu_seconds:.1f}")
    out.print(table)
    if status.history_url:
        out.print(f"历史库 history: VictoriaMetrics {status.history_url}; {_history_line(status)}", markup=False)
    if status.demo_config is not None:
        out.print(f"yiwang configuration for the lab: {status.demo_config}", markup=False)
    for fault in status.faults:
        out.print(f"fault {escape(fault.describe())}")
    for problem in status.problems:
        err.print(f"[yellow]problem:[/yellow] {escape(problem)}")


def _history_line(status: Any) -> str:
    done = status.history
    if done is None:
        return "no backfill record"
    if done.finished:
        return (f"已回填 backfilled {done.links_done:,} uplinks ({done.days} days) and {done.servers:,} servers, "
                f"{done.points:,} points, in {done.seconds:.0f} s")
    if status.backfilling and not done.links_total:
        return "回填开始 backfill starting in the background"
    if status.backfilling and done.links_done == done.links_total:
        return (f"回填中 backfilling in the background: all {done.links_total:,} uplinks done, now the servers' "
                "CPU, memory and disk (the datacentre report's utilisation)")
    if status.backfilling:
        return (f"回填中 backfilling in the background: {done.links_done:,} of {done.links_total:,} uplinks "
                f"({done.points:,} points, {done.seconds:.0f} s so far; the saturating, fast-growing and "
                "outage links first); capacity reports cover the uplinks done so far, `yiwang lab status` shows "
                "how far it is")
    return f"回填中断 backfill stopped at {done.links_done:,} of {done.links_total:,} uplinks"


def _print_usage(status: Any) -> None:
    api = load_settings(status.demo_config).api
    scheme = "https" if api.tls else "http"
    out.print("\n".join((
        "从另一个终端 from another shell:",
        f"  export YIWANG_CONFIG={status.demo_config}",
        "  yiwang run                                       # poll the city, write to that VictoriaMetrics, API",
        "  yiwang capacity upgrades                         # 扩容清单 the upgrade list (the city: ~20 s)",
        "  yiwang capacity links --area hb.hg.huangzhou     # one county's uplinks",
        "  yiwang capacity carriers                         # 运营商 SLA, the month so far",
        "  yiwang lab status                                # how far the history backfill is",
        f"  城市总览 the overview {scheme}://{api.host}:{api.port}/  "
        f"(API {scheme}://{api.host}:{api.port}/api/capacity/upgrades, Authorization: Bearer yw_…)")),
        markup=False, soft_wrap=True)


@app.command("demo-config")
def lab_demo_config_command(config: ConfigOption = None) -> None:
    """Print the path of the yiwang configuration `lab up` wrote for its VictoriaMetrics (for scripts)."""
    status = lab_status(settings_from(config).state_dir)
    if status.demo_config is None:
        raise fail("no lab with history is up: run `yiwang lab up` (without --no-history) first")
    out.print(str(status.demo_config), markup=False, soft_wrap=True)


def _trap_to(settings: Settings) -> str | None:
    traps = settings.traps
    return f"{traps.host}:{traps.port}" if traps.enabled else None


@app.command("down")
def lab_down_command(config: ConfigOption = None) -> None:
    """Stop the lab's agents and clear its faults."""
    try:
        lab_down(settings_from(config).state_dir)
    except LabError as exc:
        raise fail(str(exc)) from None
    out.print("lab is down")


@app.command("status")
def lab_status_command(config: ConfigOption = None) -> None:
    """Show the lab's agents and active faults."""
    try:
        _print_lab(lab_status(settings_from(config).state_dir))
    except LabError as exc:
        raise fail(str(exc)) from None


@app.command("fault")
def lab_fault_command(
        kind: Annotated[str, typer.Argument(help="unreachable, link-down, saturate, errors, reject-line, "
                                                 "drop-mid-change or lose-management")],
        target: Annotated[str, typer.Argument(help="a device name, or an area id for unreachable")],
        interface: Annotated[str | None, typer.Option(help="interface name, for link faults")] = None,
        match: Annotated[str, typer.Option(help="reject-line: refuse the next configuration line containing "
                                                "this text")] = "",
        always: Annotated[bool, typer.Option(help="reject-line: refuse every such line, not just the next; "
                                                  "drop-mid-change: drop every session, not just the next")] = False,
        after: Annotated[int, typer.Option(help="drop-mid-change: close the session after this many "
                                                "configuration lines")] = 1,
        cut_open: Annotated[bool, typer.Option(help="lose-management: cut the sessions already open too (the "
                                                    "change took the management interface down)")] = False,
        config: ConfigOption = None) -> None:
    """Inject a fault into the running lab; link faults are announced by a trap when traps are enabled.

    Change faults act in the device's CLI: reject-line, drop-mid-change, and lose-management (after its next
    configuration change the device takes no new SSH session and answers neither SNMP nor ping, until that change
    is undone; a session already open keeps working unless --cut-open)."""
    settings = settings_from(config)
    try:
        fault = lab_fault(settings.state_dir, kind, target, interface, trap_to=_trap_to(settings), match=match,
                          always=always, after=after, cut_open=cut_open)
    except LabError as exc:
        raise fail(str(exc)) from None
    out.print(f"fault {escape(fault.describe())}")


@app.command("history")
def lab_history_command(
        config: ConfigOption = None,
        days: Annotated[int, typer.Option(min=1, max=400, help="days of 5-minute points back from --end")] = 35,
        profile: Annotated[str, typer.Option(help="small (one county) or city")] = "small",
        seed: Annotated[int, typer.Option(help="seed of the generated city (as `yiwang lab up`)")] = 2026,
        url: Annotated[str | None, typer.Option(help="the VictoriaMetrics to fill (default: capacity.history_url); "
                                                     "its -retentionPeriod must reach back --days")] = None,
        end: Annotated[str | None, typer.Option(help="the last point, ISO date or time (UTC+8 unless it says "
                                                     "otherwise); default now")] = None,
        traffic_only: Annotated[bool, typer.Option("--traffic-only", help="only the interface rates, not the "
                                                   "pings and interface status the carriers report reads")] = False,
        server_days: Annotated[int, typer.Option(min=0, help="days of the servers' CPU, memory and disk (the "
                                                 "datacentre report reads 7; 0: none)")] = 8,
) -> None:
    """Backfill every uplink's traffic history (interface_in_bps/out_bps, 5-minute points) into a VictoriaMetrics,
    as yiwang's poller and influx sink would have written it: office hours, weekends, holidays, county growth, a
    few saturating and fast-growing links, outages on some carrier links; then the old cloud centre's servers' CPU,
    memory and disk (cpu_load_percent, storage_size_bytes/used_bytes; lab.server_history)."""
    import time
    from datetime import datetime, timedelta, timezone

    from lab.city import generate_city
    from lab.history import BackfillError, backfill, link_histories, summary

    settings = settings_from(config)
    target = url or settings.capacity.history_url
    if not target:
        raise fail("no VictoriaMetrics: give --url or set capacity.history_url", 2)
    try:
        end_s = time.time() if end is None else _instant(end, timezone(timedelta(hours=8)))
        plan = generate_city(seed, profile)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    histories = link_histories(plan, end_s, days)
    try:
        done = backfill(target, histories, seed, end_s, days, with_reachability=not traffic_only)
    except BackfillError as exc:
        raise fail(str(exc)) from None
    chosen = summary(histories)
    out.print(f"已回填 backfilled {len(histories)} uplinks, {done.series} series, {done.points:,} points "
              f"({days} days to {datetime.fromtimestamp(end_s, timezone(timedelta(hours=8))):%Y-%m-%d %H:%M} "
              f"UTC+8) in {done.seconds:.1f} s", markup=False)
    for kind, zh in (("saturating", "饱和 saturating"), ("fast", "快速增长 fast-growing"),
                     ("outages", "中断 outages")):
        out.print(f"{zh}: {', '.join(chosen[kind]) or '—'}", markup=False)
    hit = [h for h in histories if h.incident]
    if hit:
        cut = next(o for o in hit[0].outages if all(o in h.outages for h in hit))
        local = timezone(timedelta(hours=8))
        out.print(f"运营商故障 carrier incident: {hit[0].link.carrier}, {len(hit)} links down "
                  f"{datetime.fromtimestamp(cut.start_s, local):%Y-%m-%d %H:%M} to "
                  f"{datetime.fromtimestamp(cut.end_s, local):%Y-%m-%d %H:%M} UTC+8", markup=False)
    if server_days:
        _server_history(target, plan, seed, end_s, server_days)


def _server_history(target: str, plan: Any, seed: int, end_s: float, days: int) -> None:
    """The old cloud centre's servers' HOST-RESOURCES history (lab.server_history), after the uplinks'."""
    from lab.history import BackfillError
    from lab.server_history import backfill, server_histories, summary

    servers = server_histories(plan.datacentre, seed)
    try:
        done = backfill(target, servers, seed, end_s, days)
    except BackfillError as exc:
        raise fail(str(exc)) from None
    out.print(f"已回填 backfilled {len(servers)} servers, {done.series} series, {done.points:,} points in "
              f"{done.seconds:.1f} s; 高负载 hot: {', '.join(summary(servers)) or '—'}", markup=False)


def _instant(text: str, tz: Any) -> float:
    from datetime import datetime

    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).timestamp()


@app.command("clear")
def lab_clear_command(fault_id: Annotated[str | None, typer.Argument(help="one fault id; all when omitted")] = None,
                      config: ConfigOption = None) -> None:
    """Clear one fault, or all."""
    settings = settings_from(config)
    try:
        cleared = lab_clear(settings.state_dir, fault_id, trap_to=_trap_to(settings))
    except LabError as exc:
        raise fail(str(exc)) from None
    for fault in cleared:
        out.print(f"cleared {escape(fault.describe())}")
