"""The lab as the CLI sees it: up, down, status, fault, clear. Every failure is a `LabError` with a message
meant for the terminal."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.session import SnmpFailure, V3Credentials
from collectors.snmp.session import Target as SessionTarget
from lab import firewall, victoria
from lab.agent_v3 import UsmUser, read_usm_user, usm_user_json
from lab.agents import (
    _spawn,
    check_devices,
    endpoints_in_use,
    is_running,
    log_tail,
    plan_shards,
    start_responder,
    stop_process,
    wait_for_shards,
    write_data_files,
)
from lab.backfill_job import NAME as BACKFILL
from lab.backfill_job import Progress
from lab.city import PROFILES, CityPlan, DevicePlan, TrafficDefaults, generate_city
from lab.export import SSH_USER, V3_AUTH, V3_PRIV, V3_USER, foreign_files, remove_inventory, write_inventory
from lab.faults import Fault, apply_fault, clear_faults, load_faults
from lab.probe import SYS_NAME, Target
from lab.state import LabError, LabPaths, LabRecord, ProcessRecord, write_atomic
from lab.traps import send_link_trap

SSH_LOGIN_FILE = "ssh.login"
SSH_READY = "ready.json"

START_TIMEOUT = 120.0
SNMP_MODES = ("v2c", "v3")


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    name: str
    pid: int
    running: bool
    devices: int
    endpoints: int
    rss_bytes: int = 0
    cpu_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class LabStatus:
    up: bool
    state_dir: Path
    inventory_dir: Path
    profile: str | None = None
    seed: int | None = None
    rate_scale: float | None = None
    port: int | None = None
    snmp: str | None = None
    started: float | None = None
    devices: int = 0
    startup_seconds: float = 0.0
    processes: tuple[ProcessStatus, ...] = ()
    faults: tuple[Fault, ...] = ()
    firewall_rules: int = 0
    already_up: bool = False
    problems: tuple[str, ...] = field(default_factory=tuple)
    history_url: str | None = None  # the lab's VictoriaMetrics; None: `lab up --no-history`
    history: Progress | None = None  # how far the backfill is
    backfilling: bool = False  # its process still runs
    demo_config: Path | None = None


def lab_up(state_dir: Path, profile: str = "small", seed: int = 2026, rate_scale: float = 1.0,
           port: int = 161, snmp: str = "v2c", history_days: int = 0,
           history_port: int = victoria.DEFAULT_PORT) -> LabStatus:
    """Generate the city, write its inventory and data, start the agents and return once every device answers
    at its own address with its own sysName. Idempotent: an identical lab already up is left as it is.

    `snmp`: "v2c" (the inventory polls by community) or "v3" (the agents also answer the USM user
    `lab.export.V3_USER`, SHA/AES-128 authPriv, each device with its own engine ID, and the inventory's credential
    is that user: no community in it). The lab's own probes and traps keep to v2c either way.

    `history_days` > 0: a VictoriaMetrics on 127.0.0.1:`history_port` (another free port when that one is taken),
    the city's uplink history of that many days backfilled into it by a background process (lab.backfill_job), and
    `<state>/lab/yiwang-demo.yaml`, a yiwang configuration writing to and reading from it."""
    if snmp not in SNMP_MODES:
        raise LabError(f"unknown SNMP mode {snmp!r}; use one of {', '.join(SNMP_MODES)}")
    if profile not in PROFILES:
        raise LabError(f"unknown lab profile {profile!r}; use one of {', '.join(PROFILES)}")
    if not 0 < port < 65536:
        raise LabError(f"{port} is not a UDP port")
    if port < 1024 and os.geteuid() != 0:
        raise LabError(f"port {port} needs root; run as root or pass a port above 1023")
    if rate_scale <= 0:
        raise LabError(f"rate_scale must be positive, got {rate_scale}")
    if not 0 <= history_days <= 400:
        raise LabError(f"history days must be 0 (no history) to 400, got {history_days}")
    paths = LabPaths.of(state_dir)
    with paths.locked():
        record = LabRecord.load(paths.record)
        if record is not None:
            if all(is_running(p) for p in record.processes) and record.processes:
                if ((record.profile, record.seed, record.rate_scale, record.port, record.snmp, record.history_days)
                        == (profile, seed, rate_scale, port, snmp, history_days)):
                    return _status(paths, record, already_up=True)
                raise LabError(f"a {record.profile} lab (seed {record.seed}, rate scale {record.rate_scale}, port "
                               f"{record.port}, SNMP {record.snmp}, {record.history_days} days of history) is "
                               f"already up in {state_dir}; run `lab down` first")
            _teardown(paths, record)  # a half-dead lab from before: start clean
        started_at = time.monotonic()
        plan = generate_city(seed, profile, TrafficDefaults(rate_scale=rate_scale))
        record = LabRecord(profile, seed, rate_scale, port, time.time(), len(plan.devices), snmp=snmp,
                           history_days=history_days)
        try:
            _start(paths, plan, record)
            if history_days:
                _start_history(paths, record, history_port)
        except BaseException:
            _teardown(paths, record)
            raise
        record.startup_seconds = round(time.monotonic() - started_at, 2)
        record.save(paths.record)
        return _status(paths, record)


def _start(paths: LabPaths, plan: CityPlan, record: LabRecord) -> None:
    _clean(paths)
    foreign = foreign_files(paths.inventory)
    if foreign:
        raise LabError(f"{paths.inventory} holds an inventory the lab did not write ({foreign[0].name}); the lab "
                       "will not overwrite it: use another state folder")
    secret = secrets.token_hex(8)
    write_atomic(paths.secret, secret, mode=0o600)
    ssh_secret = paths.root / SSH_LOGIN_FILE
    write_atomic(ssh_secret, secrets.token_hex(12), mode=0o600)
    v3_files = _write_usm_user(paths) if record.snmp == "v3" else None
    write_inventory(plan, paths.inventory, paths.secret, record.port, ssh_secret, v3_files)
    busy = endpoints_in_use((d.host for d in plan.devices), record.port)
    if busy:
        raise LabError(f"{len(busy)} lab endpoints are already in use, e.g. {', '.join(busy[:3])}; is another lab "
                       "up on this port? Bring it down, or use another port")
    shards = plan_shards(plan)
    # Saved before the first process starts, so `lab down` can always find what a failed start left behind.
    record.save(paths.record)
    # The SSH devices start first: their keys and listeners take seconds of CPU, spent while the SNMP data is written.
    ssh = _spawn_ssh(paths, plan, record, ssh_secret)
    record.processes.append(ssh)
    record.save(paths.record)
    for shard in shards:
        # Each responder reads its files while the next shard's files are being written.
        write_data_files(paths, shard.devices, record.started)
        process = start_responder(paths, shard, record.port, v3=record.snmp == "v3")
        record.processes.append(process)
        record.save(paths.record)
        write_atomic(paths.root / "run" / f"{process.name}.pid", f"{process.pid}\n")
    # One community for every device: the responder tells devices apart by the address a request arrives on.
    probes = {s.name: Target(s.devices[-1].host, record.port, secret) for s in shards}
    wait_for_shards([p for p in record.processes if p is not ssh], probes, START_TIMEOUT)
    silent = check_devices(plan.devices, secret, record.port)
    if silent:
        raise LabError(f"{len(silent)} of {len(plan.devices)} devices did not answer with their sysName after "
                       f"start-up, e.g. {', '.join(silent[:5])}; see the logs in {paths.logs}")
    if v3_files is not None:
        _check_v3(paths, plan, record.port)
    _wait_ssh(paths, ssh)


def _start_history(paths: LabPaths, record: LabRecord, port: int) -> None:
    server, url = victoria.start(paths, port)
    record.processes.append(server)
    record.history_url = url
    record.save(paths.record)
    args = [sys.executable, "-m", "lab.backfill_job", "--state-dir", str(paths.root.parent), "--url", url,
            "--seed", str(record.seed), "--profile", record.profile, "--rate-scale", str(record.rate_scale),
            "--days", str(record.history_days)]
    # Its own record before it writes any: `lab status` right after `lab up` shows it at 0, not missing.
    Progress(0, days=record.history_days).save(paths.history_progress)
    record.jobs.append(_spawn(BACKFILL, args, dict(os.environ), paths.log(BACKFILL), 0, 0))
    record.save(paths.record)
    victoria.write_demo_config(paths, url)


def _write_usm_user(paths: LabPaths) -> tuple[Path, Path]:
    """A fresh user per `lab up`: the responders read it whole, the inventory references each password alone."""
    user = UsmUser(V3_USER, secrets.token_hex(12), secrets.token_hex(12), V3_AUTH, V3_PRIV)
    write_atomic(paths.usm_user, usm_user_json(user), mode=0o600)
    auth, priv = paths.v3_secret("auth"), paths.v3_secret("priv")
    write_atomic(auth, user.auth_password, mode=0o600)
    write_atomic(priv, user.priv_password, mode=0o600)
    return auth, priv


def _check_v3(paths: LabPaths, plan: CityPlan, port: int) -> None:
    """Every device answers its sysName over v3 authPriv too (one discovery and one GET each)."""
    user = read_usm_user(paths.usm_user)
    creds = V3Credentials(user.name, user.auth_protocol, user.auth_password, user.priv_protocol, user.priv_password)

    async def sweep() -> list[str]:
        async with FastV2cEngine() as engine:
            async def one(device: DevicePlan) -> str | None:
                session = engine.session(SessionTarget(device.host, port, 1.0, 2), creds)
                try:
                    got = await session.get([SYS_NAME])
                except SnmpFailure:
                    return device.name
                return None if got.get(SYS_NAME) == device.sys_name.encode("utf-8") else device.name
            return [name for name in await asyncio.gather(*map(one, plan.devices)) if name]

    wrong = asyncio.run(sweep())
    if wrong:
        raise LabError(f"{len(wrong)} of {len(plan.devices)} devices did not answer their sysName over SNMPv3 after "
                       f"start-up, e.g. {', '.join(wrong[:5])}; see the logs in {paths.logs}")


def _spawn_ssh(paths: LabPaths, plan: CityPlan, record: LabRecord, password_file: Path) -> ProcessRecord:
    """The vendor CLIs: one asyncssh process, every network device on TCP `record.port` at its own address."""
    state = paths.root / "ssh"
    state.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    (state / SSH_READY).unlink(missing_ok=True)
    devices = sum(1 for d in plan.devices if d.platform != "linux")
    args = [sys.executable, "-m", "lab.ssh.server", "--plan-seed", str(record.seed), "--profile", record.profile,
            "--port", str(record.port), "--state-dir", str(state), "--username", SSH_USER,
            "--password-file", str(password_file), "--lab-root", str(paths.root),
            "--community-file", str(paths.secret)]
    return _spawn("ssh", args, dict(os.environ), paths.logs / "ssh.log", devices, devices)


def _wait_ssh(paths: LabPaths, process: ProcessRecord) -> None:
    ready = paths.root / "ssh" / SSH_READY
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if not is_running(process):
            raise LabError(f"the lab's SSH devices did not start: {log_tail(process)}")
        if time.monotonic() > deadline:
            raise LabError(f"the lab's SSH devices were not listening after {START_TIMEOUT:.0f} s")
        time.sleep(0.1)


def lab_down(state_dir: Path) -> LabStatus:
    """Stop every agent this lab started, clear every fault and firewall rule; safe to call when not up."""
    paths = LabPaths.of(state_dir)
    with paths.locked():
        record = LabRecord.load(paths.record)
        _teardown(paths, record)
        return _status(paths, None)


def _teardown(paths: LabPaths, record: LabRecord | None) -> None:
    # The backfill first: it would only fail against a stopped database.
    for process in [*record.jobs, *record.processes] if record else []:
        stop_process(process)
    # Rules are found by this lab's tag, so even a lost record leaves no rule behind.
    if firewall.available()[0]:
        firewall.Firewall(paths.tag).unblock()
    _clean(paths)
    paths.record.unlink(missing_ok=True)


def _clean(paths: LabPaths) -> None:
    for name in ("data", "parked", "run"):
        shutil.rmtree(paths.root / name, ignore_errors=True)
    remove_inventory(paths.inventory)
    shutil.rmtree(paths.root / "ssh", ignore_errors=True)
    victoria.remove(paths)
    for file in (paths.faults, paths.secret, paths.root / SSH_LOGIN_FILE, paths.usm_user, paths.v3_secret("auth"),
                 paths.v3_secret("priv")):
        file.unlink(missing_ok=True)


def lab_status(state_dir: Path) -> LabStatus:
    paths = LabPaths.of(state_dir)
    return _status(paths, LabRecord.load(paths.record))


def lab_fault(state_dir: Path, kind: str, target: str, interface: str | None = None,
              trap_to: str | None = None, match: str = "", always: bool = False, after: int = 1,
              cut_open: bool = False) -> Fault:
    """`trap_to` ("host:port"): a link fault is also announced by a linkDown trap from the device, whose
    community is the lab's secret. `match`, `always`: the reject-line fault's text and whether it refuses every
    matching line; `after`: the configuration line after which drop-mid-change closes the session (`always`: every
    session's, not just the next one's); `cut_open`: lose-management cuts the sessions already open too."""
    paths = LabPaths.of(state_dir)
    with paths.locked():
        record, plan, secret = _running(paths)
        fault = apply_fault(paths, plan, record, kind, target, interface, match=match, always=always, after=after,
                            cut_open=cut_open)
    if trap_to and fault.kind == "link-down" and fault.interface:
        send_link_trap(trap_to, secret, plan.device(fault.target), fault.interface, down=True)
    return fault


def lab_clear(state_dir: Path, fault_id: str | None = None, trap_to: str | None = None) -> list[Fault]:
    """Revert one fault, or all of them when `fault_id` is None; returns what was cleared."""
    paths = LabPaths.of(state_dir)
    with paths.locked():
        record, plan, secret = _running(paths)
        cleared = clear_faults(paths, plan, record, fault_id)
    for fault in cleared:
        if trap_to and fault.kind == "link-down" and fault.interface:
            send_link_trap(trap_to, secret, plan.device(fault.target), fault.interface, down=False)
    return cleared


def lab_inventory_dir(state_dir: Path) -> Path:
    paths = LabPaths.of(state_dir)
    if not (paths.inventory / "devices.yaml").exists():
        raise LabError(f"no lab inventory in {state_dir}; run `lab up` first")
    return paths.inventory


def _running(paths: LabPaths) -> tuple[LabRecord, CityPlan, str]:
    record = LabRecord.load(paths.record)
    if record is None:
        raise LabError(f"the lab is not up in {paths.root.parent}; run `lab up` first")
    dead = [p.name for p in record.processes if not is_running(p)]
    if dead:
        raise LabError(f"lab agents {dead} are not running; run `lab down` then `lab up`")
    return record, _plan(record), paths.secret.read_text(encoding="utf-8").strip()


_plans: dict[tuple[int, str, float], CityPlan] = {}


def _plan(record: LabRecord) -> CityPlan:
    # A long-lived caller (the API, a test session) applies many faults; the city takes ~1 s to generate.
    key = (record.seed, record.profile, record.rate_scale)
    if key not in _plans:
        _plans.clear()
        _plans[key] = generate_city(record.seed, record.profile, TrafficDefaults(rate_scale=record.rate_scale))
    return _plans[key]


def _status(paths: LabPaths, record: LabRecord | None, already_up: bool = False) -> LabStatus:
    state_dir = paths.root.parent
    rules = len(firewall.Firewall(paths.tag).rules()) if firewall.available()[0] else 0
    if record is None:
        return LabStatus(False, state_dir, paths.inventory, firewall_rules=rules)
    processes = tuple(_process_status(p) for p in record.processes)
    problems = tuple(f"agent {p.name} (pid {p.pid}) is not running" for p in processes if not p.running)
    progress = Progress.load(paths.history_progress) if record.history_url else None
    backfilling = any(is_running(job) for job in record.jobs)
    if progress is not None and not progress.finished and not backfilling:
        job = next((j for j in record.jobs if j.name == BACKFILL), None)
        why = progress.error or (log_tail(job, 3) if job else "no record of it")
        problems += (f"the history backfill stopped after {progress.links_done} of {progress.links_total} links: "
                     f"{why}",)
    faults, _ = load_faults(paths)
    return LabStatus(
        up=bool(processes) and not problems, state_dir=state_dir, inventory_dir=paths.inventory,
        profile=record.profile, seed=record.seed, rate_scale=record.rate_scale, port=record.port, snmp=record.snmp,
        started=record.started, devices=record.devices, startup_seconds=record.startup_seconds,
        processes=processes, faults=tuple(faults), firewall_rules=rules, already_up=already_up, problems=problems,
        history_url=record.history_url, history=progress, backfilling=backfilling,
        demo_config=paths.demo_config if record.history_url and paths.demo_config.exists() else None,
    )


def _process_status(record: ProcessRecord) -> ProcessStatus:
    if not is_running(record):
        return ProcessStatus(record.name, record.pid, False, record.devices, record.endpoints)
    try:
        proc = psutil.Process(record.pid)
        with proc.oneshot():
            times = proc.cpu_times()
            return ProcessStatus(record.name, record.pid, True, record.devices, record.endpoints,
                                 proc.memory_info().rss, times.user + times.system)
    except psutil.NoSuchProcess:
        return ProcessStatus(record.name, record.pid, False, record.devices, record.endpoints)



