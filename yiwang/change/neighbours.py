"""The IPv6 change's post-check "the parent sees the neighbour": after a tier is changed, each device's parent (the
upper end of its planned uplink) must hold an IPv6 neighbour (ND) entry for it on the parent's port toward it.

What counts as seeing it: an entry on that port, not INCOMPLETE, for the device's planned address on the link (the
playbook's post-check pings the parent's address from it, so the parent answered that very address and learned it),
or for any link-local address there: a planned link is point to point, so whatever speaks IPv6 link-local at the
far end of the parent's port is the device; some platforms learn only the link-local from router advertisements
and OSPFv3 hellos, and age the global entry first. An entry in INCOMPLETE state is the parent asking and nobody
answering: not seen.

One SSH session per parent (a township router serves many villages; its table is read once for all of them),
opened as yiwang's other reads open theirs (`collectors.ssh.session`: host keys pinned under the state dir,
credentials from the inventory's references). A parent that cannot be read is a problem of each of its devices,
with the reason; never an exception.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from collectors.base import PollTarget
from collectors.ifname import same_interface
from collectors.platforms import cli_of
from collectors.ssh.collector import endpoint_of
from collectors.ssh.facts import Neighbour
from collectors.ssh.parse import ParseError, parse
from collectors.ssh.session import SessionSettings, SshError, SshRunner
from inventory.model import Inventory
from yiwang.config import Settings
from yiwang.targets import build_targets

LINK_LOCAL = ipaddress.IPv6Network("fe80::/10")


@dataclass(frozen=True, slots=True)
class Expected:
    """Where a device should show in its parent's neighbour table."""

    device: str
    parent: str
    port: str  # the parent's interface toward the device: the planned link's upper end
    address: str  # the device's planned address on the link, compressed


# --- pure ------------------------------------------------------------------------------------------------------------

def judge(expected: Expected, entries: Iterable[Neighbour]) -> str:
    """"" when the parent's table shows the device on the port (its planned address, or a link-local address
    there); otherwise what the table does show, precisely."""
    rows = list(entries)
    on_port = [e for e in rows if same_interface(e.interface, expected.port)]
    live = [e for e in on_port if e.state != "INCMP"]
    if any(e.address == expected.address for e in live) or any(_link_local(e.address) for e in live):
        return ""
    where = f"{expected.parent} has no IPv6 neighbour entry for {expected.device} on {expected.port} " \
            f"(looked for {expected.address} or a link-local address)"
    waiting = [e.address for e in on_port if e.state == "INCMP"]
    elsewhere = sorted({e.interface for e in rows if e.address == expected.address and e not in on_port})
    others = [e.address for e in live]
    said = []
    if waiting:
        said.append(f"incomplete (asked, no answer): {', '.join(waiting[:3])}")
    if others:
        said.append(f"on that port instead: {', '.join(others[:3])}")
    if elsewhere:
        said.append(f"{expected.address} is on {', '.join(elsewhere[:3])}")
    if not on_port:
        said.append(f"its table has {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}, none on that port")
    return where + ("; " + "; ".join(said) if said else "")


def expectations(inventory: Inventory, devices: Sequence[str]) -> tuple[dict[str, Expected], dict[str, str]]:
    """(what to look for per device with a planned parent, problems decided without looking). A device with no
    planned uplink has nothing to check (""); one not in the inventory is a problem."""
    plan = inventory.ipv6_plan
    uplinks = {} if plan is None else {link.lower.device: link for link in plan.links()}
    found: dict[str, Expected] = {}
    settled: dict[str, str] = {}
    for name in dict.fromkeys(devices):
        if name not in inventory.devices:
            settled[name] = "not in the inventory"
            continue
        link = uplinks.get(name)
        if link is None:
            settled[name] = ""
            continue
        found[name] = Expected(name, link.upper.device, link.upper.interface, str(link.lower_address.ip))
    return found, settled


def _link_local(address: str) -> bool:
    try:
        return ipaddress.IPv6Address(address) in LINK_LOCAL
    except ValueError:
        return False


# --- I/O -------------------------------------------------------------------------------------------------------------

async def parent_sees(devices: Sequence[str], *, settings: Settings, inventory: Inventory) -> dict[str, str]:
    """Device -> problem, "" when its parent's IPv6 neighbour table shows it on the parent's port toward it (see the
    module's docstring); in the order given."""
    names = list(dict.fromkeys(devices))
    expected, out = expectations(inventory, names)
    parents = sorted({e.parent for e in expected.values()})
    tables = await read_tables(parents, settings=settings, inventory=inventory)
    for name, wanted in expected.items():
        table = tables[wanted.parent]
        out[name] = judge(wanted, table) if isinstance(table, list) else \
            f"the neighbour table of its parent {wanted.parent} could not be read: {table}"
    return {name: out[name] for name in names}


async def read_tables(parents: Sequence[str], *, settings: Settings, inventory: Inventory
                      ) -> dict[str, list[Neighbour] | str]:
    """Each device's IPv6 neighbour table, or why it could not be read; one session per device, at most
    `ssh.workers` at once."""
    known = [p for p in parents if p in inventory.devices]
    out: dict[str, list[Neighbour] | str] = {p: "not in the inventory" for p in parents if p not in known}
    if not known:
        return out
    only = Inventory(inventory.areas, {n: inventory.devices[n] for n in known}, inventory.links,
                     inventory.credentials, inventory.ipv6_plan)
    targets = build_targets(only, secrets_base=settings.state_dir)
    by_name = {t.device: t for t in targets.ssh}
    runner = SshRunner(SessionSettings(settings.state_dir / "ssh", read_timeout=settings.ssh.read_timeout_s),
                       max_workers=max(1, min(settings.ssh.workers, len(by_name))))
    try:
        read = await asyncio.gather(*(_read(runner, by_name[n]) for n in known if n in by_name))
    finally:
        await asyncio.to_thread(runner.close)
    out.update(read)
    for name in known:
        out.setdefault(name, _no_ssh(targets.problems, name))
    return out


async def _read(runner: SshRunner, target: PollTarget) -> tuple[str, list[Neighbour] | str]:
    try:
        endpoint = endpoint_of(target)
        command = cli_of(endpoint.platform).show["nd"]
        (text,) = await runner.run(endpoint, [command])
        return target.device, parse(endpoint.platform, "nd_entries", text)
    except SshError as exc:
        return target.device, f"{exc.reason}: {exc}"
    except ParseError as exc:
        return target.device, f"its answer to the neighbour command did not read as the table: {exc}"
    except Exception as exc:  # noqa: BLE001 - the parent's problem, never the wave's exception
        return target.device, f"{type(exc).__name__}: {exc}"


def _no_ssh(problems: Sequence[str], name: str) -> str:
    said = [p for p in problems if repr(name) in p and "SSH" in p]
    return said[0] if said else "the inventory gives it no SSH access"
