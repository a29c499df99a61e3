"""`yiwang cluster status|drain`: the poller group as the coordination engine sees it, and a drain by command.
Reads the `cluster:` section of the settings; the work is in yiwang.cluster.coordination."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from yiwang.cli_common import ConfigOption, audit_local, fail, out, settings_from
from yiwang.config import ClusterSettings, Settings

if TYPE_CHECKING:
    from yiwang.cluster.coordination import ClusterStatus

app = typer.Typer(help="集群 · cluster: poller groups, leases, shares, lag; drain a poller.", no_args_is_help=True)
GroupOption = Annotated[str | None, typer.Option("--group", "-g", help="poller group (default: cluster.group)")]

COLUMNS = ("成员 · member", "租约剩余 s · lease", "排空 · draining", "乡镇 · townships", "设备 · devices",
           "最后认领 · last slot", "滞后 · lag")


def _cluster(settings: Settings) -> ClusterSettings:
    if settings.cluster is None:
        raise fail("没有配置集群 · no `cluster:` section in the settings (single process)", 2)
    return settings.cluster


def status_table(status: ClusterStatus) -> Table:
    table = Table(title=f"轮询组 · poller group {status.group}  纪元 · epoch {status.epoch}  "
                        f"主 · leader {status.leader or '-'}  时隙 · slot {status.current_slot}")
    for column in COLUMNS:
        table.add_column(column)
    for m in status.members:
        table.add_row(m.name, f"{m.lease_remaining_s:.1f}" if m.lease_remaining_s else "过期 · expired",
                      "是 · yes" if m.draining else "", str(m.townships), str(m.devices),
                      "-" if m.last_claimed_slot is None else str(m.last_claimed_slot),
                      "-" if m.lag_slots is None else str(m.lag_slots))
    return table


@app.command("status")
def status(config: ConfigOption = None, group: GroupOption = None,
           as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False) -> None:
    """成员、租约、份额、滞后 · members, leases, shares and lag of a poller group."""
    # Imported here: tooz and redis are the `cluster` extra, and every other command starts without them.
    from yiwang.cluster.coordination import cluster_status

    settings = settings_from(config)
    cluster = _cluster(settings)
    found = asyncio.run(cluster_status(cluster.url, group or cluster.group, settings.poll.interval_s))
    if found.error:
        raise fail(f"协调服务不可达 · coordination engine unreachable: {found.error}")
    if as_json:
        out.print(json.dumps(asdict(found), ensure_ascii=False), markup=False)
    else:
        out.print(status_table(found))


@app.command("drain")
def drain(member: Annotated[str, typer.Argument(help="the poller member to drain")], config: ConfigOption = None,
          group: GroupOption = None) -> None:
    """排空一个轮询器：组长把它的份额移走，它随后退出 · move a poller's share away; it then exits."""
    from yiwang.cluster.coordination import FAILURES, request_drain

    settings = settings_from(config)
    cluster = _cluster(settings)
    name = group or cluster.group
    try:
        known = asyncio.run(request_drain(cluster.url, name, member))
    except FAILURES as exc:
        raise fail(f"协调服务不可达 · coordination engine unreachable: {type(exc).__name__}") from None
    audit_local(settings, "cluster.drain", f"{name}/{member}", {}, "ok" if known else "unknown member")
    if not known:
        raise fail(f"组 {name} 中没有成员 {member} · no member {member!r} in group {name!r}", 2)
    out.print(f"已请求排空 · drain requested: {member} ({name})", markup=False)
