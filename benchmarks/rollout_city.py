"""The IPv6 dual-stack change pushed to the simulated city by yiwang's change jobs, twice, against plain netmiko.

Run as root (fping), from the repository root:
    python benchmarks/rollout_city.py [--profile small|city] [--forks N] [--skip-floor] [--skip-fault] [--keep]

1. The lab (started through `yiwang lab up` in a process of its own, so its agents are not this process's
   children and their CPU is not counted), a config with `change.mgmt_prefix6`, `yiwang change plan-ipv6`, and
   an inventory copy in which only village and township routers keep SSH access, so that a job over the city is
   the issue's "every village router and its township end" (see `villages_and_townships` for why the devices
   above are left out).
2. Run 1: a ChangeService in this process, one job over the whole city (`prepare` with a canary and one wave per
   county, `dry_run`, `start`, each wave `run` and released by a second identity), with yiwang's pre-checks
   (ICMP, SNMP, a backup taken now), ansible-runner tier by tier, the SNMP post-check. wall_s covers prepare, the
   dry run and every wave; cpu_s_per_device is getrusage SELF + CHILDREN (ansible-playbook and its forks, the SSH
   worker processes of the backups, fping) over that span, divided by the devices.
3. Run 2: a new job over the same area; second_run_changed is the sum of Ansible's per-host `changed` counts in
   the play recaps (`ansible.stats` events) of its pushes (not of its dry run).
4. The floor: the lines run 1 typed (its recorded commands; SNMP community lines are recorded as `<hidden>` and
   are left out here), typed by plain netmiko sessions in threads through yiwang's own session opening (same
   credentials, pinned host keys) and saved; no reads, no checks. The devices already hold the lines by then.
5. The fault run: a fresh lab in a fresh state folder, one job over one county, the reject-line fault (`ipv6
   address`, once) on 1 % of its village routers, chosen with a fixed seed. Village routers, because a township
   router put back leaves its villages' ping to it failing: they would be put back too, rightly.
   Each faulted device must end `rolled-back` with its running configuration as before (read over SSH).

Last lines:
    fault_devices=... fault_rolled_back=... fault_others_ok=.../...
    devices=... wall_s=... cpu_s_per_device=... failed=... rolled_back=... second_run_changed=... floor_wall_s=...

Measured on the 2-core, 24 GiB workplace machine, 2026-11-30 09:45-10:25, machine otherwise quiet (ansible-core
2.17.14, ansible-runner 2.4.3, netmiko 4.8.0), `--profile city --forks 40`; the playbooks are one
`yiwang.extranet.rollout` task per device (pre-check, change, post-check and rollback in one SSH session):

--profile city (4,224 devices in 11 waves of 6, 391, 467, 237, 386, 600, 476, 307, 552, 453 and 349; lab up 23 s,
plan-ipv6 5.5 s, prepare 5.4 s):
    run 1: dry run 350 s (4,224 devices, 56,768 lines; 588 s of CPU); canary 16 s; the county waves 55-103 s each,
    e.g. hb.hg.macheng's 600 devices in 103 s: pre-checks (ICMP, SNMP, a backup of each) 13-14 s, the township tier
    (15 devices, ~150 lines each typed one by one: latency-bound) ~12 s, the village tier 46-56 s for 380-450
    devices; all 4,224 ok; 1,138 s of wall, 1,559 s of CPU. The lab's agents used 289 s of CPU meanwhile (not
    counted, but on the same two cores).
    run 2: dry run 344 s, waves 455 s (799 s, 1,255 s of CPU); Ansible changed=0 on all 4,224 hosts, no device had
    a line to type.
    floor: 56,768 lines to 4,224 devices, 32 netmiko threads: 158.5 s, none failed.
    fault run (a fresh lab, hb.hg.hongan, 393 devices; reject-line on 4 village routers): all 4 rolled back through
    the session that typed the change, their running configurations read again equal to before; 389/389 others ok.
    fault_devices=4 fault_rolled_back=4 fault_others_ok=389/389
    devices=4224 wall_s=1138.3 cpu_s_per_device=0.369 failed=0 rolled_back=0 second_run_changed=0 floor_wall_s=158.5

--profile small, same code (239 devices, forks 40): run 1 84 s, 0.406 CPU-s per device; run 2 changed=0; floor 11 s.

With forks 20 (the setting's default) the waves are latency-bound on 2 cores (the controller used ~1.2 cores);
with 40 they are CPU-bound (the controller ~1.35 cores plus the lab's agents), so the city's wall is about its CPU
over two cores: the margin under 1,200 s is thin, and a third of what competes is the lab's own SSH server.

Where the CPU goes: an Ansible host-task costs ~30 ms of CPU even for a no-op `debug` (a fork of the controller
per host and task: 200 hosts, 6.1 s); the rollout action's own work, in-process, is ~36 ms per device in check
mode (cProfile over 60 devices: one SSH session, the interface brief, the running configuration, hier_config); so
per device: dry run 0.14 s, push wave 0.23 s (two logins and a login-only check for the lock-out, the lines, the
post-checks, the backup). Stop 19's playbook, eleven tasks per host and four sessions, cost 0.77 s for the dry run
and ~1.1 s for the push (its city run did not finish: ~4,000 s projected). Ansible forks one worker per host and
task, even for a task it skips, and compiles the playbook's Jinja verdicts in each: verdicts belong in the action.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

from collectors.ssh.session import known_hosts_path, session
from inventory.ansible import to_ansible
from inventory.model import Inventory, Level
from lab import lab_clear, lab_fault, lab_status
from yiwang.audit import AuditTrail
from yiwang.auth.roles import Identity, Role
from yiwang.change.service import ChangeService, JobEvent, audit_recorder, inventory_loader
from yiwang.config import Settings, default_inventory_dir, load_settings
from yiwang.push.access import access_of
from yiwang.push.device import Device
from yiwang.push.plan import typed
from yiwang.push.tasks import settings_for
from yiwang.store import open_store

ROOT = Path(__file__).resolve().parents[1]
PREFIX6 = "2001:db8:100::/40"
MGMT6 = "2001:db8:ffff::/64"
FAULT_MATCH = "ipv6 address"
HIDDEN = "<hidden>"
FAILED = ("failed", "needs-person", "precheck-failed")
T0 = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f} s] {text}", flush=True)


def cpu_now() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def yiwang(config: Path, *args: str, timeout: float = 900) -> str:
    done = subprocess.run([sys.executable, "-m", "yiwang", *args, "-c", str(config)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    if done.returncode != 0:
        raise SystemExit(f"yiwang {' '.join(args)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class City:
    state: Path
    config: Path
    settings: Settings


def city_up(state: Path, profile: str, forks: int) -> City:
    """The lab through the command line (its agents are then nobody's children here), then the IPv6 plan."""
    state.mkdir(parents=True)
    config = state / "yiwang.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": str(state), "change": {"mgmt_prefix6": MGMT6, "forks": forks},
        "api": {"port": free_port()}}))
    started = time.monotonic()
    yiwang(config, "lab", "up", "--profile", profile, "--port", str(random.randint(30000, 39999)), timeout=1200)
    status = lab_status(state)
    ours = [p.pid for p in status.processes if psutil.Process(p.pid).ppid() == os.getpid()]
    if ours:
        raise SystemExit(f"the lab's agents {ours} are children of this process: their CPU would be counted")
    say(f"lab: {status.devices} devices up in {time.monotonic() - started:.0f} s ({len(status.processes)} agent "
        "processes, none of them ours)")
    inventory = villages_and_townships(default_inventory_dir(state), state / "inventory-bench")
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "inventory": [str(inventory)]}))
    started = time.monotonic()
    yiwang(config, "change", "plan-ipv6", "--prefix", PREFIX6)
    say(f"plan-ipv6 {PREFIX6}: {time.monotonic() - started:.1f} s")
    return City(state, config, load_settings(config))


def villages_and_townships(lab_inventory: Path, out: Path) -> Path:
    """A copy of the lab's inventory in which only the village and township routers keep their SSH access, so
    that a job over any area is the issue's change: every village router and its township end. (The devices above
    would each be a job's too; the provincial edge, with no uplink, fails the playbook's uplink checks, and a
    core router pings the edge's planned address, which the edge never gets.)"""
    shutil.copytree(lab_inventory, out)
    areas = yaml.safe_load((out / "areas.yaml").read_text(encoding="utf-8"))
    kept = {a["id"] for a in areas["areas"] if a.get("level") in ("township", "village")}
    document = yaml.safe_load((out / "devices.yaml").read_text(encoding="utf-8"))
    for device in document["devices"]:
        if device.get("area") not in kept:
            device.pop("ssh", None)
    (out / "devices.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return out


def lab_cpu_s(city: City) -> float:
    return sum(p.cpu_seconds for p in lab_status(city.state).processes)


class Recorder:
    """Every event of the hub: Ansible's play recaps per job and phase, and the waves as they end."""

    def __init__(self) -> None:
        self.phase = "dry-run"
        self.changed: dict[tuple[str, str], Counter[str]] = {}
        self.hosts: dict[tuple[str, str], set[str]] = {}  # every host of the recaps (`changed` lists only >0)
        self.wave_started: dict[str, float] = {}

    def __call__(self, job_id: str, event: JobEvent) -> None:
        if event.kind == "ansible.stats":
            counts = self.changed.setdefault((job_id, self.phase), Counter())
            counts.update({host: int(n) for host, n in (event.data.get("changed") or {}).items()})
            seen = self.hosts.setdefault((job_id, self.phase), set())
            for kind in ("ok", "changed", "failures", "dark", "skipped"):
                seen.update(event.data.get(kind) or {})
        elif event.kind == "wave-started":
            self.wave_started[job_id] = time.monotonic()
            say(f"  job {job_id} wave {event.data['wave']} ({event.data['name']}): {event.data['devices']} devices")
        elif event.kind == "phase":
            say(f"    {event.data['phase']}: {event.data['devices']} devices, {event.data['seconds']} s; "
                f"CPU so far {cpu_now():.0f} s")
        elif event.kind == "wave-finished":
            took = time.monotonic() - self.wave_started.get(job_id, time.monotonic())
            shown = {k: v for k, v in event.data.items() if k not in ("wave", "state")}
            say(f"  job {job_id} wave {event.data['wave']} finished in {took:.0f} s: {shown} -> {event.data['state']}; "
                f"CPU so far {cpu_now():.0f} s")


@dataclass
class Rollout:
    job: str
    devices: int
    wall_s: float
    cpu_s: float
    states: Counter[str]
    phases: dict[str, float] = field(default_factory=dict)
    with_commands: int = 0


def people() -> tuple[Identity, Identity]:
    roles = frozenset({Role.ENGINEER, Role.APPROVER})
    return Identity("bench-engineer", roles, "os"), Identity("bench-approver", roles, "os")


async def rollout(service: ChangeService, recorder: Recorder, area: str) -> Rollout:
    engineer, approver = people()
    started, cpu = time.monotonic(), cpu_now()
    recorder.phase = "dry-run"
    job, changes = service.prepare("ipv6", area, engineer, wave_size=None, canary=True)
    phases = {"prepare": time.monotonic() - started}
    say(f"job {job.id}: {len(changes)} devices in {len(job.waves)} waves, prepared in {phases['prepare']:.1f} s")
    mark = time.monotonic()
    job = await service.dry_run(job.id)
    phases["dry_run"] = time.monotonic() - mark
    if job.state != "planned":
        raise SystemExit(f"job {job.id} is {job.state}: {job.error}")
    planned = service.store.devices(job.id)
    say(f"job {job.id}: dry run {phases['dry_run']:.0f} s, CPU so far {cpu_now() - cpu:.0f} s; "
        f"{sum(bool(d.commands) for d in planned)} devices with "
        f"lines, {sum(len(d.commands) for d in planned)} lines")
    recorder.phase = "push"
    mark = time.monotonic()
    service.start(job.id, engineer)
    while True:
        job = await service.run(job.id)
        if job.state != "awaiting-approval":
            break
        service.approve(job.id, approver)
    phases["waves"] = time.monotonic() - mark
    wall, cpu = time.monotonic() - started, cpu_now() - cpu
    devices = service.store.devices(job.id)
    states: Counter[str] = Counter(str(d.state) for d in devices)
    say(f"job {job.id}: {job.state} after {wall:.0f} s (waves {phases['waves']:.0f} s), CPU {cpu:.0f} s; "
        f"{dict(states)}")
    for d in devices:
        if d.state in FAILED:
            say(f"  {d.device}: {d.state}: {d.detail[:300]}")
    return Rollout(job.id, len(devices), wall, cpu, states, phases,
                   sum(bool(d.commands) for d in devices if d.state == "ok"))


def change_service(settings: Settings) -> tuple[ChangeService, AuditTrail]:
    """As the command line builds it (yiwang.cli_change._service)."""
    store = open_store(settings.database)
    trail = AuditTrail(settings.audit_path, None)
    return ChangeService(settings, store.engine, inventory_loader(settings),
                         record=audit_recorder(trail, f"local:{socket.gethostname()}")), trail


def root_area(inventory: Inventory) -> str:
    return next(a.id for a in inventory.areas.values() if a.parent is None)


def counties(inventory: Inventory) -> list[str]:
    return sorted(a.id for a in inventory.areas.values() if a.level == Level.COUNTY)


def host_vars(city: City, inventory: Inventory) -> dict[str, dict[str, Any]]:
    """Each device's Ansible variables as the change job's inventory holds them (credential references, pins)."""
    exported = to_ansible(inventory, secrets_base=city.state,
                          known_hosts=lambda d: known_hosts_path(city.state / "ssh", d))
    found: dict[str, dict[str, Any]] = {}
    for group in exported["all"]["children"].values():
        found.update({n: v for n, v in (group.get("hosts") or {}).items() if v})
    return found


def floor(city: City, inventory: Inventory, lines_of: dict[str, tuple[str, ...]],
          threads: int) -> tuple[float, int, int]:
    """Plain netmiko sessions typing each device's lines and saving: no reads, no checks. (wall, failed, lines)"""
    variables = host_vars(city, inventory)

    def one(name: str) -> bool:
        access = access_of(name, variables[name])
        platform = access.endpoint.platform
        lines = [line for line in lines_of[name] if HIDDEN not in line]
        try:
            with session(access.endpoint, settings_for(access, 20.0, 20.0), access.known_hosts) as conn:
                device = Device(conn, platform, 20.0)
                if device.type_lines(typed(platform, lines)).rejected is not None:
                    return False
                device.save()
            return True
        except Exception:  # noqa: BLE001 - counted as a failed push
            return False

    names = sorted(n for n, lines in lines_of.items() if lines)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        ok = list(pool.map(one, names))
    return time.monotonic() - started, ok.count(False), sum(len(lines_of[n]) for n in names)


def running_configs(city: City, inventory: Inventory, names: Sequence[str]) -> dict[str, list[str]]:
    variables = host_vars(city, inventory)
    found = {}
    for name in names:
        access = access_of(name, variables[name])
        with session(access.endpoint, settings_for(access, 20.0, 20.0), access.known_hosts) as conn:
            text = Device(conn, access.endpoint.platform, 20.0).running_config()
        found[name] = [line for line in text.splitlines() if "Last configuration" not in line]
    return found


async def fault_run(state: Path, profile: str, forks: int, share: float) -> str:
    city = city_up(state, profile, forks)
    service, trail = change_service(city.settings)
    recorder = Recorder()
    service.hub.listen(recorder)
    try:
        inventory = inventory_loader(city.settings)()
        county = counties(inventory)[0]
        engineer, approver = people()
        job, changes = service.prepare("ipv6", county, engineer, wave_size=None, canary=True)
        villages = sorted(c.device for c in changes if inventory.devices[c.device].role == "village-access")
        chosen = sorted(random.Random(2026).sample(villages, max(1, round(share * len(changes)))))
        say(f"fault run: job {job.id} over {county}, {len(changes)} devices; reject-line {FAULT_MATCH!r} on "
            f"{len(chosen)}: {', '.join(chosen)}")
        before = await asyncio.to_thread(running_configs, city, inventory, chosen)
        for name in chosen:
            lab_fault(city.state, "reject-line", name, match=FAULT_MATCH)
        job = await service.dry_run(job.id)
        if job.state != "planned":
            raise SystemExit(f"job {job.id} is {job.state}: {job.error}")
        recorder.phase = "push"
        service.start(job.id, engineer)
        while (job := await service.run(job.id)).state == "awaiting-approval":
            service.approve(job.id, approver)
        lab_clear(city.state)
        devices = {d.device: d for d in service.store.devices(job.id)}
        after = await asyncio.to_thread(running_configs, city, inventory, chosen)
        back = 0
        for name in chosen:
            same = before[name] == after[name]
            back += devices[name].state == "rolled-back" and same
            say(f"  {name}: {devices[name].state}, configuration {'as before' if same else 'DIFFERS'}: "
                f"{devices[name].detail[:200]}")
        others = [d for n, d in devices.items() if n not in chosen]
        for d in others:
            if d.state != "ok":
                say(f"  {d.device}: {d.state}: {d.detail[:300]}")
        say(f"fault run: job {job.id} {job.state}; {dict(Counter(d.state for d in devices.values()))}")
        return (f"fault_devices={len(chosen)} fault_rolled_back={back} "
                f"fault_others_ok={sum(d.state == 'ok' for d in others)}/{len(others)}")
    finally:
        await service.close()
        trail.close()


async def benchmark(args: argparse.Namespace, work: Path) -> None:
    city = city_up(work / "city", args.profile, args.forks)
    service, trail = change_service(city.settings)
    recorder = Recorder()
    service.hub.listen(recorder)
    try:
        inventory = inventory_loader(city.settings)()
        area = root_area(inventory)
        lab_before = lab_cpu_s(city)
        first = await rollout(service, recorder, area)
        lab_first = lab_cpu_s(city) - lab_before
        second = await rollout(service, recorder, area)
        pushed_changed = recorder.changed.get((second.job, "push"), Counter())
        second_changed = sum(pushed_changed.values())
        say(f"run 2: Ansible changed={second_changed} in the recaps of its pushes ("
            f"{len(recorder.hosts.get((second.job, 'push'), ()))} hosts), "
            f"{second.with_commands} devices ok with lines typed; run 1 pushes: changed="
            f"{sum(recorder.changed.get((first.job, 'push'), Counter()).values())}")
        floor_wall = float("nan")
        if not args.skip_floor:
            lines_of = {d.device: d.commands for d in service.store.devices(first.job) if d.state == "ok"}
            floor_wall, floor_failed, lines = await asyncio.to_thread(floor, city, inventory, lines_of, args.threads)
            say(f"floor: {sum(bool(v) for v in lines_of.values())} devices, {lines} lines (SNMP community lines "
                f"left out) typed by {args.threads} netmiko threads in {floor_wall:.0f} s, {floor_failed} failed")
        say(f"lab agents' CPU during run 1: {lab_first:.0f} s (not counted in cpu_s_per_device)")
    finally:
        await service.close()
        trail.close()
        if not (args.keep and args.skip_fault):
            yiwang(city.config, "lab", "down")
    fault_line = ""
    if not args.skip_fault:
        fault_line = await fault_run(work / "fault", args.profile, args.forks, 0.01)
        if not args.keep:
            yiwang(work / "fault" / "yiwang.yaml", "lab", "down")
        print(fault_line, flush=True)
    failed = sum(first.states[s] for s in FAILED)
    print(f"devices={first.devices} wall_s={first.wall_s:.1f} cpu_s_per_device={first.cpu_s / first.devices:.3f} "
          f"failed={failed} rolled_back={first.states['rolled-back']} second_run_changed={second_changed} "
          f"floor_wall_s={floor_wall:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--profile", choices=("small", "city"), default="city")
    parser.add_argument("--forks", type=int, default=40, help="change.forks: devices Ansible changes at once")
    parser.add_argument("--threads", type=int, default=32, help="netmiko threads of the floor")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--skip-fault", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the lab(s) up and the work folder in place")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the pre-checks' ICMP needs raw sockets")
    work = Path(tempfile.mkdtemp(prefix="rollout-city-"))
    say(f"work folder {work}")
    try:
        asyncio.run(benchmark(args, work))
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
