"""Real SNMP agents for the lab: the lab's own responders (lab.responder) and, for benchmarks, Debian snmpd.

Agents run as detached processes that outlive the CLI call; what was started is recorded (pid and start time)
so that only those processes are ever signalled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from lab.city import CityPlan, DevicePlan
from lab.probe import SYS_NAME, Target, sweep
from lab.snmprec import render_snmprec
from lab.state import LabError, LabPaths, ProcessRecord, write_atomic, write_manifest

# One responder process serves the whole city: measured on 2 cores (benchmarks/lab_responder.py), it spends ~4 µs
# of CPU per varbind, ~2 s per full-city cycle, and two processes were neither up sooner nor polled faster, only
# larger (200 MB against 156 MB).
RESPONDERS = 1


@dataclass(frozen=True, slots=True)
class Shard:
    name: str
    devices: tuple[DevicePlan, ...]


def plan_shards(plan: CityPlan, count: int = RESPONDERS) -> list[Shard]:
    """Contiguous slices of the plan: a responder reads its files while the next slice is written."""
    devices = plan.devices
    if count <= 1:
        return [Shard("snmp", tuple(devices))]
    size = -(-len(devices) // count)
    return [Shard(f"snmp-{n + 1}", tuple(devices[n * size:(n + 1) * size])) for n in range(count)
            if devices[n * size:(n + 1) * size]]


def data_file(paths: LabPaths, device: DevicePlan) -> Path:
    """Where the device's data lives now: in the data folder, or parked by an 'unreachable' fault."""
    name = f"{device.name}.snmprec"
    live = paths.data / name
    parked = paths.parked / name
    return parked if parked.exists() and not live.exists() else live


def write_data_files(paths: LabPaths, devices: Iterable[DevicePlan], started: float) -> None:
    paths.data.mkdir(parents=True, exist_ok=True)
    for device in devices:
        (paths.data / f"{device.name}.snmprec").write_text(render_snmprec(device, started), encoding="utf-8")


def responder_command(data_dir: Path, manifest: Path, port: int, community_file: Path,
                      usm_user_file: Path | None = None, boots_file: Path | None = None) -> list[str]:
    usm = ["--usm-user-file", str(usm_user_file)] if usm_user_file is not None else []
    usm += ["--boots-file", str(boots_file)] if boots_file is not None else []
    return [sys.executable, "-m", "lab.responder", "--data-dir", str(data_dir), "--manifest", str(manifest),
            "--port", str(port), "--community-file", str(community_file), *usm]


def start_responder(paths: LabPaths, shard: Shard, port: int, v3: bool = False) -> ProcessRecord:
    """One process answering for every device of the shard, each at its own address."""
    log = paths.log(shard.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    manifest = paths.root / "run" / f"{shard.name}.agents"
    write_manifest(manifest, [(d.host, d.name) for d in shard.devices])
    args = responder_command(paths.data, manifest, port, paths.secret, paths.usm_user if v3 else None,
                             paths.engine_boots(shard.name) if v3 else None)
    return _spawn(shard.name, args, dict(os.environ), log, endpoints=len(shard.devices), devices=len(shard.devices))


def _spawn(name: str, args: list[str], env: dict[str, str], log: Path, endpoints: int, devices: int,
           cwd: Path | None = None) -> ProcessRecord:
    with open(log, "ab") as out:
        # A session of its own: the agents must survive the CLI that started them and its Ctrl-C.
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True, close_fds=True, cwd=cwd)
    try:
        created = psutil.Process(process.pid).create_time()
    except psutil.NoSuchProcess:
        created = 0.0
    return ProcessRecord(name, process.pid, created, endpoints, devices, str(log))


def is_running(record: ProcessRecord) -> bool:
    try:
        proc = psutil.Process(record.pid)
        return proc.create_time() == record.create_time and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_process(record: ProcessRecord, timeout: float = 10.0) -> None:
    try:
        proc = psutil.Process(record.pid)
        if proc.create_time() != record.create_time:
            return  # the pid now belongs to someone else
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    except psutil.NoSuchProcess:
        pass


def log_tail(record: ProcessRecord, lines: int = 8) -> str:
    try:
        text = Path(record.log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])


def endpoints_in_use(hosts: Iterable[str], port: int) -> list[str]:
    """Endpoints some other socket already holds: checked up front, to name the likely cause (another lab)."""
    busy = []
    for host in hosts:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((host, port))
            except OSError as exc:
                busy.append(f"[{host}]:{port} ({exc.strerror})" if ":" in host else f"{host}:{port} ({exc.strerror})")
    return busy


def wait_for_shards(records: Sequence[ProcessRecord], probes: dict[str, Target], timeout: float) -> None:
    """Until each shard's probe device answers a real GET; a shard that exits early fails at once with its log."""
    waiting = dict(probes)
    deadline = time.monotonic() + timeout
    by_name = {r.name: r for r in records}
    while waiting:
        for name in list(waiting):
            if not is_running(by_name[name]):
                raise LabError(f"responder {name!r} exited during start-up; last log lines:\n"
                               f"{log_tail(by_name[name])}")
        names = list(waiting)
        answers = sweep([waiting[n] for n in names], [SYS_NAME], timeout=0.5, retries=0)
        for name, answer in zip(names, answers, strict=True):
            if answer is not None:
                del waiting[name]
        if waiting and time.monotonic() > deadline:
            raise LabError(f"responders {sorted(waiting)} did not answer within {timeout:.0f} s; see "
                           f"{', '.join(by_name[n].log for n in sorted(waiting))}")
        if waiting:
            time.sleep(0.3)


def check_devices(devices: Sequence[DevicePlan], community: str, port: int) -> list[str]:
    """Devices that do not answer at their own address with their own sysName."""
    targets = [Target(d.host, port, community) for d in devices]
    answers = sweep(targets, [SYS_NAME], timeout=1.0, retries=2)
    wrong = []
    for device, answer in zip(devices, answers, strict=True):
        if answer is None or answer.get(SYS_NAME) != device.sys_name.encode("utf-8"):
            wrong.append(device.name)
    return wrong


# --- Debian snmpd, for benchmarks that compare pollers on a C agent -------------------------------------------


@dataclass(slots=True)
class SnmpdAgent:
    process: subprocess.Popen[bytes]
    addresses: tuple[str, ...]
    port: int
    log: Path
    psutil_process: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self.psutil_process = psutil.Process(self.process.pid)

    @property
    def pid(self) -> int:
        return self.process.pid


SNMPD = "/usr/sbin/snmpd"


def start_snmpd_agents(addresses: Sequence[str], community: str, work_dir: Path, port: int = 161,
                       processes: int = 1, timeout: float = 15.0) -> list[SnmpdAgent]:
    """snmpd processes that together listen on every address (IPv4, or IPv6 such as ::1) with one community.

    The addresses go on the command line: an agentaddress list of more than 128 entries in snmpd.conf fails."""
    if not Path(SNMPD).exists():
        raise LabError(f"{SNMPD} is not installed (Debian package 'snmpd')")
    if not addresses:
        raise LabError("start_snmpd_agents needs at least one address")
    processes = max(1, min(processes, len(addresses)))
    work_dir.mkdir(parents=True, exist_ok=True)
    conf = work_dir / "snmpd.conf"
    write_atomic(conf, _snmpd_conf(community), mode=0o600)
    agents: list[SnmpdAgent] = []
    try:
        for n in range(processes):
            chunk = tuple(addresses[n::processes])
            listen = ",".join(f"udp6:[{a}]:{port}" if ":" in a else f"udp:{a}:{port}" for a in chunk)
            log = work_dir / f"snmpd-{n}.log"
            persist = work_dir / f"persist-{n}"
            persist.mkdir(exist_ok=True)
            # Its persistent state goes to the work dir, not /var/lib/snmp.
            env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist)}
            args = [SNMPD, "-f", "-Lo", "-C", "-c", str(conf), "-m", "", "-p", str(work_dir / f"snmpd-{n}.pid"),
                    listen]
            with open(log, "ab") as out:
                process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                           env=env, start_new_session=True, close_fds=True)
            agents.append(SnmpdAgent(process, chunk, port, log))
        probes = {str(i): Target(a.addresses[-1], port, community) for i, a in enumerate(agents)}
        _wait_snmpd(agents, probes, timeout)
    except BaseException:
        stop_snmpd_agents(agents)
        raise
    return agents


def _snmpd_conf(community: str) -> str:
    return (f"rocommunity {community} 127.0.0.0/8\n"
            f"rocommunity6 {community} ::1/128\n"
            # One log line per request would cost more than the answer being measured.
            "dontLogTCPWrappersConnects yes\n")


def _wait_snmpd(agents: list[SnmpdAgent], probes: dict[str, Target], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = dict(probes)
    while waiting:
        for name in list(waiting):
            agent = agents[int(name)]
            if agent.process.poll() is not None:
                tail = agent.log.read_text(errors="replace").strip().splitlines()[-5:]
                raise LabError(f"snmpd exited with {agent.process.returncode}: " + " | ".join(tail))
        names = list(waiting)
        for name, answer in zip(names, sweep([waiting[n] for n in names], [SYS_NAME], 0.5, 0), strict=True):
            if answer is not None:
                del waiting[name]
        if waiting and time.monotonic() > deadline:
            raise LabError(f"snmpd did not answer within {timeout:.0f} s; see {agents[0].log}")


def stop_snmpd_agents(agents: Iterable[SnmpdAgent], timeout: float = 10.0) -> None:
    for agent in agents:
        if agent.process.poll() is None:
            agent.process.terminate()
    for agent in agents:
        try:
            agent.process.wait(timeout)
        except subprocess.TimeoutExpired:
            agent.process.kill()
            agent.process.wait(timeout)
