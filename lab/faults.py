"""Faults applied to a running lab, recorded in the state dir, and reverted.

Interface faults (link-down, saturate, errors) rewrite the device's data file, which its responder reads again
within a second (lab.responder), and the `ramp` counters restart from their current value, so nothing jumps.
`unreachable` drops the device's traffic in the lab's iptables chain (SNMP and ICMP time out); without iptables
the data file is parked instead, which silences SNMP but leaves ping answering.

Change faults act in the device's CLI (lab.ssh.faults, through the SSH server's fault file): `reject-line` refuses
the next configuration line containing a text (once, or every time), `drop-mid-change` closes the session after its
Nth configuration line (once, or every session), `lose-management` cuts the device off its management address after
its next configuration change until that change is undone (the SSH server does the cutting; the sessions already
open keep working, or with `cut_open` are cut too).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from lab import firewall
from lab.agents import data_file
from lab.city import COUNTERS, CityPlan, DevicePlan, InterfacePlan
from lab.snmprec import read_ramps, render_snmprec
from lab.ssh.faults import FAULTS_FILE, Faults, read_faults, write_faults
from lab.state import LabError, LabPaths, LabRecord, read_json, write_atomic, write_json

KINDS = ("unreachable", "link-down", "saturate", "errors", "reject-line", "drop-mid-change", "lose-management")
INTERFACE_KINDS = ("link-down", "saturate", "errors")
CHANGE_KINDS = ("reject-line", "drop-mid-change", "lose-management")
LOST_FILE = "lost.json"  # the SSH server's list of devices cut off by lose-management, for `clear` to wait on
APPLIED_FILE = "faults.applied"  # the SSH server's note of the fault file it last applied
SATURATION = 0.98
ERRORS_PER_SECOND = 25.0


@dataclass(frozen=True, slots=True)
class Fault:
    id: str
    kind: str
    target: str
    interface: str | None
    applied_at: float
    devices: tuple[str, ...]
    method: str  # "snmprec", "iptables", "parked" or "cli"
    note: str = ""
    match: str = ""  # reject-line: the text
    always: bool = False  # reject-line: every matching line, not just the next; drop-mid-change: every session
    after: int = 0  # drop-mid-change: the configuration line after which the session closes
    cut_open: bool = False  # lose-management: the sessions already open are cut too

    def describe(self) -> str:
        where = f"{self.target}:{self.interface}" if self.interface else self.target
        detail = {"reject-line": f" matching {self.match!r}{' always' if self.always else ' once'}",
                  "drop-mid-change": f" after line {self.after}{' always' if self.always else ' once'}",
                  "lose-management": " with the open sessions" if self.cut_open else ""}.get(self.kind, "")
        return f"{self.id} {self.kind} {where}{detail} ({len(self.devices)} device(s), {self.method})"


def load_faults(paths: LabPaths) -> tuple[list[Fault], int]:
    data = read_json(paths.faults) or {}
    faults = [Fault(**{**f, "devices": tuple(f["devices"])}) for f in data.get("faults", [])]
    return faults, int(data.get("next", 1))


def save_faults(paths: LabPaths, faults: Sequence[Fault], next_id: int) -> None:
    write_json(paths.faults, {"next": next_id, "faults": [asdict(f) for f in faults]})


def effective(device: DevicePlan, faults: Iterable[Fault]) -> DevicePlan:
    """The device as the faults make it look; pure."""
    kinds: dict[str, set[str]] = {}
    for fault in faults:
        if fault.kind in INTERFACE_KINDS and fault.interface and device.name in fault.devices:
            kinds.setdefault(fault.interface, set()).add(fault.kind)
    if not kinds:
        return device
    return replace(device, interfaces=tuple(_faulted(i, kinds.get(i.name, set())) for i in device.interfaces))


def _faulted(iface: InterfacePlan, kinds: set[str]) -> InterfacePlan:
    rates = dict(iface.rates)
    if "saturate" in kinds:
        line = iface.speed_mbps * 1e6 / 8 * SATURATION
        for octets, packets in (("in_octets", "in_ucast"), ("out_octets", "out_ucast")):
            # Keep the interface's packet size; an idle port gets a typical 800-byte average.
            per_octet = rates[packets] / rates[octets] if rates.get(octets) else 1 / 800
            rates[octets], rates[packets] = line, line * per_octet
    if "errors" in kinds:
        rates["in_errors"] = rates.get("in_errors", 0.0) + ERRORS_PER_SECOND
    if "link-down" in kinds:
        return replace(iface, oper_up=False, rates=dict.fromkeys(COUNTERS, 0.0))
    return replace(iface, rates=rates)


def resolve_target(plan: CityPlan, kind: str, target: str, interface: str | None) -> list[DevicePlan]:
    if kind not in KINDS:
        raise LabError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
    by_name = {d.name: d for d in plan.devices}
    if kind in CHANGE_KINDS:
        device = by_name.get(target)
        if device is None or device.platform == "linux":
            raise LabError(f"{kind!r} needs a network device with a CLI; {target!r} is not one in the "
                           f"{plan.profile} lab")
        return [device]
    if kind == "unreachable":
        if interface:
            raise LabError("'unreachable' takes a device or an area, not an interface")
        if target in by_name:
            return [by_name[target]]
        if any(a.id == target for a in plan.areas):
            devices = plan.devices_under(target)
            if not devices:
                raise LabError(f"area {target!r} has no devices")
            return devices
        raise LabError(f"{target!r} is neither a device nor an area of the {plan.profile} lab")
    if target not in by_name:
        raise LabError(f"{kind!r} needs a device; {target!r} is not a device of the {plan.profile} lab")
    device = by_name[target]
    if not interface:
        raise LabError(f"{kind!r} needs an interface of {target}, e.g. {device.interfaces[0].name!r}")
    if interface not in {i.name for i in device.interfaces}:
        names = ", ".join(repr(i.name) for i in device.interfaces[:4])
        raise LabError(f"device {target} has no interface {interface!r}; it has {names}, ...")
    return [device]


def apply_fault(paths: LabPaths, plan: CityPlan, record: LabRecord, kind: str, target: str,
                interface: str | None = None, match: str = "", always: bool = False, after: int = 1,
                cut_open: bool = False) -> Fault:
    devices = resolve_target(plan, kind, target, interface)
    faults, next_id = load_faults(paths)
    fault_id = f"f{next_id}"
    names = tuple(d.name for d in devices)
    if kind in CHANGE_KINDS:
        fault = Fault(fault_id, kind, target, None, time.time(), names, "cli", match=match, always=always,
                      after=after, cut_open=cut_open)
        _set_cli_fault(paths, fault, devices[0], on=True)
    elif kind == "unreachable":
        ok, why = firewall.available()
        if ok:
            firewall.Firewall(paths.tag).block(fault_id, [d.host for d in devices], record.port)
            fault = Fault(fault_id, kind, target, None, time.time(), names, "iptables")
        else:
            for device in devices:
                park(paths, device)
            fault = Fault(fault_id, kind, target, None, time.time(), names, "parked",
                          f"iptables unavailable ({why}): SNMP silenced by parking data files; ICMP still answers")
    else:
        fault = Fault(fault_id, kind, target, interface, time.time(), names, "snmprec")
        _rewrite(paths, record, devices[0], [*faults, fault])
    save_faults(paths, [*faults, fault], next_id + 1)
    return fault


def clear_faults(paths: LabPaths, plan: CityPlan, record: LabRecord, fault_id: str | None = None) -> list[Fault]:
    faults, next_id = load_faults(paths)
    if fault_id is not None and fault_id not in {f.id for f in faults}:
        active = ", ".join(f.id for f in faults) or "none"
        raise LabError(f"no active fault {fault_id!r} (active: {active})")
    cleared = [f for f in faults if fault_id is None or f.id == fault_id]
    remaining = list(faults)
    by_name = {d.name: d for d in plan.devices}
    for fault in cleared:
        remaining.remove(fault)
        if fault.method == "cli":
            _set_cli_fault(paths, fault, by_name[fault.devices[0]], on=False)
        elif fault.method == "iptables":
            firewall.Firewall(paths.tag).unblock(fault.id)
        elif fault.method == "parked":
            still_parked = {n for f in remaining if f.method == "parked" for n in f.devices}
            for name in fault.devices:
                if name not in still_parked:
                    unpark(paths, by_name[name])
        else:
            _rewrite(paths, record, by_name[fault.devices[0]], remaining)
        # Saved after each revert, so a failure half-way leaves a record that matches what is applied.
        save_faults(paths, remaining, next_id)
    return cleared


def _rewrite(paths: LabPaths, record: LabRecord, device: DevicePlan, faults: Sequence[Fault]) -> None:
    path = data_file(paths, device)
    now = time.time()
    text = render_snmprec(effective(device, faults), record.started, read_ramps(path.read_text("utf-8")), now)
    # One rename into the folder: the responder sees the folder change and the file's new inode.
    write_atomic(path, text, tmp_dir=paths.root / "run")


def park(paths: LabPaths, device: DevicePlan) -> None:
    live = data_file(paths, device)
    parked = paths.parked / live.name
    if live != parked:
        parked.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(live, parked)


def unpark(paths: LabPaths, device: DevicePlan) -> None:
    current = data_file(paths, device)
    live = paths.data / current.name
    if current != live:
        shutil.move(current, live)


def _wait_applied(folder: Path, timeout: float = 5.0) -> None:
    """Until the SSH server has read the fault file as written (it polls once a second)."""
    written = (folder / FAULTS_FILE).stat().st_mtime_ns
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if int((folder / APPLIED_FILE).read_text() or 0) >= written:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)


def _set_cli_fault(paths: LabPaths, fault: Fault, device: DevicePlan, on: bool) -> None:
    """Add the fault to, or take it from, the device's entry in the SSH server's fault file. Clearing a
    lose-management waits for the server to give the device its address back (it polls once a second)."""
    if fault.kind == "reject-line" and not fault.match:
        raise LabError("'reject-line' needs --match TEXT: the text of the configuration line to refuse")
    if fault.kind == "drop-mid-change" and fault.after < 1:
        raise LabError("'drop-mid-change' needs --after N with N >= 1")
    folder = paths.root / "ssh"
    current = read_faults(folder)
    name = device.name
    entry = current.get(name, Faults())
    if fault.kind == "reject-line":
        old = entry.reject_always if fault.always else entry.reject
        texts = tuple(t for t in old if t != fault.match) + ((fault.match,) if on else ())
        entry = replace(entry, reject_always=texts) if fault.always else replace(entry, reject=texts)
    elif fault.kind == "drop-mid-change":
        entry = replace(entry, drop_after=fault.after if on else 0, drop_always=fault.always and on)
    else:
        entry = replace(entry, lose_management=fault.id if on else "", lose_open=fault.cut_open and on)
    write_faults(folder, {**current, name: entry})
    _wait_applied(folder)
    if fault.kind == "lose-management" and not on:
        deadline = time.monotonic() + 5.0
        while name in (read_json(folder / LOST_FILE) or []) and time.monotonic() < deadline:
            time.sleep(0.1)
        if name in (read_json(folder / LOST_FILE) or []):  # the SSH server is gone: put the address back here
            if firewall.available()[0]:
                firewall.Firewall(paths.tag).unblock(fault.id)
            unpark(paths, device)
