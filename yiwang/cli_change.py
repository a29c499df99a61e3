"""`yiwang change ...`: changes pushed to the devices, starting with the IPv6 address plan they are made from."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from yiwang.cli_common import ConfigOption, audit_local, fail, out, settings_from

if TYPE_CHECKING:
    from yiwang.change.ipv6plan import PlanSummary

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
