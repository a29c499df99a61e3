"""The lab's SNMP responder against snmpsim (how the lab served its data before), on the same generated city.

Both serve the same `.snmprec` files rendered from the plan: snmpsim as the lab ran it (one process per county, data
selected by a per-device community, counters by a `ramp` variation module, its index in marshal files and every data
file kept open), then lab.responder as `lab up` runs it now (data selected by the local address, one community).
yiwang's poller walks every device the same way both times, with the default settings (a worker process per core,
50 devices at a time each, the devices' own SNMP profiles): a first cycle that discovers names, then a steady one.

Reported per agent: its CPU per varbind served (psutil, summed over its processes, over both cycles) and the wall
time of each cycle. Devices that time out make an agent's figure worse (CPU spent, varbinds not counted): on a
loaded machine give snmpsim a longer `--timeout`. Last line:
devices=… varbinds=… snmpsim_us_per_varbind=… responder_us_per_varbind=… cycle_s_snmpsim=… cycle_s_responder=…
(varbinds and cycle_s are the steady cycle's).

Run from the repository root: `python benchmarks/lab_responder.py [--profile small|city] [--skip-snmpsim]`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from collectors.base import PollTarget  # noqa: E402
from collectors.snmp.collector import make_snmp_collector  # noqa: E402
from collectors.snmp.session import V2cCredentials  # noqa: E402
from lab.agents import (  # noqa: E402
    RESPONDERS,
    plan_shards,
    start_responder,
    stop_process,
    wait_for_shards,
    write_data_files,
)
from lab.city import CityPlan, DevicePlan, generate_city  # noqa: E402
from lab.platforms import SNMP_PROFILES  # noqa: E402
from lab.probe import SYS_NAME, Target, sweep  # noqa: E402
from lab.snmprec import render_snmprec  # noqa: E402
from lab.state import LabPaths, ProcessRecord, write_atomic  # noqa: E402
from yiwang.config import PollSettings  # noqa: E402
from yiwang.polling import WorkerPool  # noqa: E402

# --- snmpsim as the lab ran it until it had a responder of its own -------------------------------------------

# The variation module the lab's data names (`70:ramp|base=…,rate=…,t0=…`); snmpsim loads it with exec().
RAMP_MODULE = '''
import time
MODULUS = {"65": 2**32, "66": 2**32, "67": 2**32, "70": 2**64}
_parsed = {}
def init(**context):
    _parsed.clear()
def variate(oid, tag, value, **context):
    if context["setFlag"] or (not context["nextFlag"] and not context["exactMatch"]):
        return context["origOid"], tag, context["errorStatus"]
    ramp = _parsed.get(value)
    if ramp is None:
        fields = dict(part.split("=", 1) for part in value.split(","))
        ramp = _parsed[value] = (int(fields["base"]), float(fields["rate"]), float(fields["t0"]))
    base, rate, t0 = ramp
    return oid, tag, (base + int(rate * max(0.0, time.time() - t0))) % MODULUS[tag]
def shutdown(**context):
    _parsed.clear()
'''

# snmpsim's main with the two settings the lab gave it: a marshal OID index instead of dbm.dumb (80% of its
# start-up CPU otherwise), and every data file kept open (it closes all but 31, and reopens them per request).
LAUNCHER = '''
import marshal, os, resource, sys
MAGIC = b"YWIX1\\n"
class Index:
    def __init__(self, path, flag):
        self.path, self.writable = path, any(f in flag for f in "nwc")
        if "n" in flag:
            self.data = {}
        else:
            with open(path, "rb") as handle:
                self.data = marshal.loads(handle.read()[len(MAGIC):])
    def _b(self, v):
        return v.encode("iso-8859-1") if isinstance(v, str) else v
    def __setitem__(self, k, v):
        self.data[self._b(k)] = self._b(v)
    def __getitem__(self, k):
        return self.data[self._b(k)]
    def close(self):
        if self.writable:
            with open(self.path + ".tmp", "wb") as handle:
                handle.write(MAGIC + marshal.dumps(self.data))
            os.replace(self.path + ".tmp", self.path)
            self.writable = False
class Dbm:
    @staticmethod
    def open(path, flag="r", mode=0o666):
        return Index(path, flag)
    @staticmethod
    def whichdb(path):
        try:
            with open(path, "rb") as handle:
                return "marshal" if handle.read(len(MAGIC)) == MAGIC else ""
        except OSError:
            return None
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
target = 65536 if hard == resource.RLIM_INFINITY else hard
resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
from snmpsim import datafile
from snmpsim.commands import responder
from snmpsim.record.search import database
database.dbm = Dbm
database.whichdb = Dbm
datafile.DataFile.max_queue_entries = max(31, target - len(sys.argv) - 256)
sys.exit(responder.main())
'''


def county_of(device: DevicePlan) -> str:
    parts = device.area.split(".")
    return parts[2] if len(parts) > 2 else "core"


def start_snmpsim(plan: CityPlan, work: Path, secret: str, port: int, started: float) -> list[psutil.Popen]:
    spec = importlib.util.find_spec("snmpsim")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("snmpsim is not installed (it is in the `test` extra)")
    variation = work / "variation"
    variation.mkdir(parents=True)
    (variation / "ramp.py").write_text(RAMP_MODULE)
    shutil.copyfile(Path(next(iter(spec.submodule_search_locations))) / "variation" / "numeric.py",
                    variation / "numeric.py")
    launcher = work / "snmpsim_launcher.py"
    launcher.write_text(LAUNCHER)
    shards: dict[str, list[DevicePlan]] = {}
    for device in plan.devices:
        shards.setdefault(county_of(device), []).append(device)
    processes = []
    for name, devices in shards.items():
        data = work / "data" / name
        data.mkdir(parents=True)
        for device in devices:
            (data / f"{secret}-{device.name}.snmprec").write_text(render_snmprec(device, started))
        (work / "cache" / name).mkdir(parents=True)
        endpoints = [f"--agent-udpv6-endpoint=[{d.host}]:{port}" if ":" in d.host
                     else f"--agent-udpv4-endpoint={d.host}:{port}" for d in devices]
        log = open(work / f"{name}.log", "ab")  # noqa: SIM115 - kept open by the child
        processes.append(psutil.Popen(
            [sys.executable, str(launcher), f"--data-dir={data}", f"--cache-dir={work / 'cache' / name}",
             f"--variation-modules-dir={variation}", f"--logging-method=file:{work / name}.snmpsim.log",
             "--log-level=error", *endpoints],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}))
    return processes


def wait_for_devices(targets: Sequence[Target], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(targets)
    while waiting:
        answers = sweep(waiting, [SYS_NAME], timeout=1.0, retries=0)
        waiting = [t for t, a in zip(waiting, answers, strict=True) if a is None]
        if waiting and time.monotonic() > deadline:
            raise SystemExit(f"{len(waiting)} devices did not answer within {timeout:.0f} s, e.g. {waiting[0].host}")


# --- the poll, the same for both ----------------------------------------------------------------------------


@dataclass(slots=True)
class Cycle:
    wall_s: float
    varbinds: int
    failed: int
    reasons: dict[str, int] = field(default_factory=dict)


def poll_targets(plan: CityPlan, port: int, community: str | None, secret: str) -> list[PollTarget]:
    return [PollTarget(d.name, d.host, (("device", d.name),), port=port, profiles=SNMP_PROFILES[d.platform],
                       credential=V2cCredentials(community if community is not None else f"{secret}-{d.name}"))
            for d in plan.devices]


async def two_cycles(targets: list[PollTarget], settings: PollSettings) -> list[Cycle]:
    factory = functools.partial(make_snmp_collector, (), settings.timeout_s, settings.retries)
    pool = WorkerPool(factory, settings.workers or os.cpu_count() or 1, settings.concurrency, "snmp")
    pool.start()
    cycles = []
    try:
        for _ in range(2):
            started = time.perf_counter()
            varbinds = failed = 0
            reasons: dict[str, int] = {}
            async for result in pool.collect(targets):
                varbinds += result.varbinds
                if not result.ok:
                    failed += 1
                    reasons[result.reason] = reasons.get(result.reason, 0) + 1
            cycles.append(Cycle(time.perf_counter() - started, varbinds, failed, reasons))
    finally:
        await pool.close()
    return cycles


def cpu_s(processes: Sequence[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def measure(name: str, processes: Sequence[psutil.Process], targets: list[PollTarget],
            settings: PollSettings) -> tuple[float, list[Cycle]]:
    before = cpu_s(processes)
    cycles = asyncio.run(two_cycles(targets, settings))
    used = cpu_s(processes) - before
    varbinds = sum(c.varbinds for c in cycles)
    us = used / max(varbinds, 1) * 1e6
    for n, cycle in enumerate(cycles, 1):
        why = f" ({', '.join(f'{k}: {v}' for k, v in sorted(cycle.reasons.items()))})" if cycle.reasons else ""
        print(f"{name}: cycle {n} {cycle.wall_s:.1f} s, {cycle.varbinds} varbinds, {cycle.failed} devices failed"
              f"{why}", flush=True)
    rss = sum(p.memory_info().rss for p in processes)
    print(f"{name}: {used:.1f} s CPU in {len(processes)} processes ({rss / 1e6:.0f} MB) for {varbinds} varbinds = "
          f"{us:.1f} µs/varbind", flush=True)
    return us, cycles


def run_snmpsim(plan: CityPlan, work: Path, port: int, settings: PollSettings) -> tuple[float, list[Cycle]]:
    secret = secrets.token_hex(8)
    started = time.time()
    t0 = time.monotonic()
    processes = start_snmpsim(plan, work / "snmpsim", secret, port, started)
    try:
        wait_for_devices([Target(d.host, port, f"{secret}-{d.name}") for d in plan.devices], 900)
        print(f"snmpsim: {len(processes)} processes up in {time.monotonic() - t0:.1f} s", flush=True)
        return measure("snmpsim", processes, poll_targets(plan, port, None, secret), settings)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except psutil.TimeoutExpired:
                process.kill()


def run_responder(plan: CityPlan, work: Path, port: int, count: int,
                  settings: PollSettings) -> tuple[float, list[Cycle]]:
    paths = LabPaths(work / "responder")
    secret = secrets.token_hex(8)
    write_atomic(paths.secret, secret, mode=0o600)
    started = time.time()
    t0 = time.monotonic()
    shards = plan_shards(plan, count)
    records: list[ProcessRecord] = []
    try:
        for shard in shards:
            write_data_files(paths, shard.devices, started)
            records.append(start_responder(paths, shard, port))
        probes = {s.name: Target(s.devices[-1].host, port, secret) for s in shards}
        wait_for_shards(records, probes, 120)
        wait_for_devices([Target(d.host, port, secret) for d in plan.devices], 60)
        print(f"responder: {len(records)} processes up in {time.monotonic() - t0:.1f} s", flush=True)
        processes = [psutil.Process(r.pid) for r in records]
        return measure("responder", processes, poll_targets(plan, port, secret, secret), settings)
    finally:
        for record in records:
            stop_process(record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small", choices=("small", "city"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--port", type=int, default=0, help="agents' UDP port; random in 20000-29999 by default")
    parser.add_argument("--responders", type=int, default=RESPONDERS, help="responder processes (default: as `lab up`)")
    parser.add_argument("--skip-snmpsim", action="store_true")
    parser.add_argument("--timeout", type=float, default=PollSettings().timeout_s,
                        help="poller's timeout per attempt (default: yiwang's); a loaded machine may need more")
    args = parser.parse_args()
    settings = PollSettings(timeout_s=args.timeout)
    port = args.port or random.randint(20000, 29999)
    plan = generate_city(args.seed, args.profile)
    print(f"{args.profile} profile: {len(plan.devices)} devices, UDP port {port}", flush=True)
    with tempfile.TemporaryDirectory(prefix="yiwang-lab-responder-") as tmp:
        work = Path(tmp)
        ours_us, ours = run_responder(plan, work, port, args.responders, settings)
        theirs_us, theirs = (float("nan"), [Cycle(float("nan"), 0, 0)] * 2)
        if not args.skip_snmpsim:
            theirs_us, theirs = run_snmpsim(plan, work, port, settings)
    print(f"{'':28}{'snmpsim':>12}{'lab.responder':>16}")
    print(f"{'agent CPU µs per varbind':28}{theirs_us:>12.1f}{ours_us:>16.1f}")
    print(f"{'first cycle s (discovery)':28}{theirs[0].wall_s:>12.1f}{ours[0].wall_s:>16.1f}")
    print(f"{'steady cycle s':28}{theirs[1].wall_s:>12.1f}{ours[1].wall_s:>16.1f}")
    print(f"{'failed devices (2 cycles)':28}{theirs[0].failed + theirs[1].failed:>12}"
          f"{ours[0].failed + ours[1].failed:>16}")
    print(f"(poller timeout {settings.timeout_s:g} s, {settings.retries} retry; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)")
    print(f"devices={len(plan.devices)} varbinds={ours[1].varbinds} snmpsim_us_per_varbind={theirs_us:.1f} "
          f"responder_us_per_varbind={ours_us:.1f} cycle_s_snmpsim={theirs[1].wall_s:.1f} "
          f"cycle_s_responder={ours[1].wall_s:.1f}")


if __name__ == "__main__":
    main()
