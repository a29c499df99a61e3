"""Real SNMP agents for the lab: snmpsim responders (one per shard) and, for benchmarks, Debian snmpd.

Agents run as detached processes that outlive the CLI call; what was started is recorded (pid and start time)
so that only those processes are ever signalled.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
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
from lab.state import LabError, LabPaths, ProcessRecord, write_atomic

CORE_SHARD = "core"


@dataclass(frozen=True, slots=True)
class Shard:
    name: str
    devices: tuple[DevicePlan, ...]


def shard_of(device: DevicePlan) -> str:
    """One responder per county, one for province, city core and data centre.

    Measured on 2 cores for the city (4,387 devices): 11 per-county shards are up in ~20 s and take ~700 MB;
    2 shards take ~28 s and ~360 MB. Endpoints are nearly free (1,100 in one process cost nothing measurable);
    the cost is per data file, so smaller shards start in parallel while the next shard's files are written."""
    parts = device.area.split(".")
    return parts[2] if len(parts) > 2 else CORE_SHARD


def plan_shards(plan: CityPlan) -> list[Shard]:
    groups: dict[str, list[DevicePlan]] = {}
    for device in plan.devices:
        groups.setdefault(shard_of(device), []).append(device)
    return [Shard(name, tuple(devices)) for name, devices in groups.items()]


def community(secret: str, device: str) -> str:
    # Same rule as a per_device credential in the inventory: "<secret>-<device name>".
    return f"{secret}-{device}"


def data_file(paths: LabPaths, secret: str, device: DevicePlan) -> Path:
    """Where the device's data lives now: in the shard's data dir, or parked by an 'unreachable' fault."""
    name = f"{community(secret, device.name)}.snmprec"
    live = paths.data(shard_of(device)) / name
    parked = paths.parked(shard_of(device)) / name
    return parked if parked.exists() and not live.exists() else live


def write_data_files(paths: LabPaths, shard: Shard, secret: str, started: float) -> None:
    directory = paths.data(shard.name)
    directory.mkdir(parents=True, exist_ok=True)
    for device in shard.devices:
        text = render_snmprec(device, started)
        (directory / f"{community(secret, device.name)}.snmprec").write_text(text, encoding="utf-8")


def install_variation_modules(paths: LabPaths) -> None:
    """Only the modules the data uses: snmpsim's own directory also holds redis/sql modules that fail to load."""
    paths.variation.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("ramp.py"), paths.variation / "ramp.py")
    spec = importlib.util.find_spec("snmpsim")
    if spec is None or not spec.submodule_search_locations:
        raise LabError("snmpsim is not installed in this environment")
    numeric = Path(next(iter(spec.submodule_search_locations))) / "variation" / "numeric.py"
    shutil.copyfile(numeric, paths.variation / "numeric.py")


def responder_command() -> list[str]:
    # snmpsim-command-responder's main(), with a faster index store and more open files (see responder.py).
    return [sys.executable, str(Path(__file__).with_name("responder.py"))]


def start_responder(paths: LabPaths, shard: Shard, port: int) -> ProcessRecord:
    log = paths.log(shard.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    paths.cache(shard.name).mkdir(parents=True, exist_ok=True)
    args = [
        *responder_command(),
        f"--data-dir={paths.data(shard.name)}",
        f"--cache-dir={paths.cache(shard.name)}",
        f"--variation-modules-dir={paths.variation}",
        f"--logging-method=file:{log}",
        # The default level logs every request, which costs more CPU than answering it.
        "--log-level=error",
    ]
    endpoints = [f"--agent-udpv4-endpoint={d.address}:{port}" for d in shard.devices if d.address]
    endpoints += [f"--agent-udpv6-endpoint=[{d.address6}]:{port}" for d in shard.devices if d.address6]
    env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
    return _spawn(shard.name, args + endpoints, env, log, endpoints=len(endpoints), devices=len(shard.devices))


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
    """Endpoints some other socket already holds. Checked up front because pysnmp binds in a background task
    and drops the error: a responder whose bind failed keeps running, deaf on that address."""
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
                raise LabError(f"snmpsim shard {name!r} exited during start-up; last log lines:\n"
                               f"{log_tail(by_name[name])}")
        names = list(waiting)
        answers = sweep([waiting[n] for n in names], [SYS_NAME], timeout=0.5, retries=0)
        for name, answer in zip(names, answers, strict=True):
            if answer is not None:
                del waiting[name]
        if waiting and time.monotonic() > deadline:
            raise LabError(f"snmpsim shards {sorted(waiting)} did not answer within {timeout:.0f} s; see "
                           f"{', '.join(by_name[n].log for n in sorted(waiting))}")
        if waiting:
            time.sleep(0.3)


def check_devices(devices: Sequence[DevicePlan], secret: str, port: int) -> list[str]:
    """Devices that do not answer at their own address with their own sysName."""
    targets = [Target(d.host, port, community(secret, d.name)) for d in devices]
    answers = sweep(targets, [SYS_NAME], timeout=1.0, retries=2)
    wrong = []
    for device, answer in zip(devices, answers, strict=True):
        if answer is None or answer.get(SYS_NAME) != device.sys_name.encode("utf-8"):
            wrong.append(device.name)
    return wrong


# --- Debian snmpd, for throughput benchmarks where snmpsim itself would be the bottleneck -------------------


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
