"""Poll the full reference city; Debian's prometheus-snmp-exporter and pysnmp poll the same agents for the same OIDs.

    python benchmarks/poll_city.py            # as root, from the repository root; several minutes

Agents: Debian snmpd listening on every device's loopback address (a C agent, as a peer would be polled), its CPU
reported separately. yiwang runs its real Monitor: worker processes on both cores, the v2c codec, the
profiles' columns only, samples into the latest store. Two cycles: the first discovers (names, aliases), the second
is the steady state that is reported. pysnmp 7 (asyncio hlapi, the library most Python pollers use) then does the
steady cycle's requests itself, in as many processes: per device one GET of the scalars and one GETBULK stream over
the same columns with the same max-repetitions, column ends found the same way; its second cycle is reported.
Then /metrics is rendered for the whole city with samples built by the same profile code from the city plan's
interfaces, and for one county shard.

Last line: devices=… varbinds=… cycle_s=… yiwang_cpu_us_per_varbind=… exporter_cpu_us_per_varbind=… ratio=…
pysnmp_cpu_us_per_varbind=… pysnmp_ratio=… peak_rss_mb=… metrics_render_s=… metrics_mb=… (plus agent and shard
figures). ratio is yiwang's CPU per varbind over the exporter's; pysnmp_ratio is yiwang's over pysnmp's.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import multiprocessing
import os
import random
import re
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from collectors.base import PollTarget
from collectors.snmp.collector import make_snmp_collector
from collectors.snmp.profile import load_profiles
from collectors.snmp.rates import CounterMemory
from collectors.snmp.samples import table_labels, table_samples
from collectors.snmp.session import V2cCredentials
from inventory.loader import load_inventory
from inventory.model import Inventory
from lab import lab_down, lab_inventory_dir, lab_up
from lab.agents import start_snmpd_agents, stop_snmpd_agents
from lab.city import CityPlan, generate_city
from yiwang.latest import LatestStore
from yiwang.pipeline import Monitor, Registered
from yiwang.polling import WorkerPool
from yiwang.stages import LatestStage, PollHealth
from yiwang.store import open_store
from yiwang.targets import build_targets

PROFILES = ("system", "if-mib")
COMMUNITY = "bench"
EXPORTER = "/usr/bin/prometheus-snmp-exporter"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def inventory_of(plan: CityPlan) -> Inventory:
    inv = Inventory()
    inv.areas = {a.id: a for a in plan.areas}
    return inv


def targets_of(plan: CityPlan, inv: Inventory, port: int) -> list[PollTarget]:
    targets = []
    for device in plan.devices:
        if not device.address:
            continue
        tags = tuple(sorted({"device": device.name, **inv.path_labels(device.area)}.items()))
        targets.append(PollTarget(device.name, device.address, tags, port=port, profiles=PROFILES,
                                  credential=V2cCredentials(COMMUNITY)))
    return targets


class RssPeak:
    """Peak of the summed RSS of a process and its children, sampled every 100 ms."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = self.process.memory_info().rss
            for child in self.process.children(recursive=True):
                try:
                    if child.name().startswith("python") or "yiwang" in " ".join(child.cmdline()):
                        total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.1)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def poll_with_yiwang(inv: Inventory, targets: list[PollTarget], workers: int, concurrency: int,
                           work: Path, steady_cycles: int = 1) -> dict[str, float]:
    """One discovery cycle, then `steady_cycles` steady ones, summed (cycle_s is their mean)."""
    latest = LatestStore()
    store = open_store(f"sqlite:///{work / 'bench.sqlite'}")
    pool = WorkerPool(functools.partial(make_snmp_collector, (), 5.0, 2), workers, concurrency, "snmp")
    health = PollHealth(store, {t.device: t.tags for t in targets}, ["snmp"])
    monitor = Monitor([Registered(pool, targets, 60.0)], [health, LatestStage(latest)])
    try:
        cycles = []
        for _ in range(1 + steady_cycles):
            report = await monitor.cycle("snmp")
            report.cpu_s += pool.cpu_s  # the parent's own CPU, and what the poll workers spent
            cycles.append(report)
            print(f"  yiwang cycle: {report.devices} devices, {report.failed} failed, {report.varbinds} varbinds, "
                  f"{report.duration_s:.1f} s, {report.cpu_s:.1f} s CPU", flush=True)
            for failure in report.failures[:5]:
                print(f"    {failure.device}: {failure.reason}: {failure.error}")
        steady = cycles[1:]
        return {"devices": steady[-1].devices, "failed": steady[-1].failed,
                "varbinds": sum(c.varbinds for c in steady), "cycle_s": sum(c.duration_s for c in steady) / len(steady),
                "cpu_s": sum(c.cpu_s for c in steady), "series": latest.value_count()}
    finally:
        await monitor.close()


# --- pysnmp doing yiwang's steady-cycle walk ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WalkPlan:
    """What yiwang's steady cycle asks each device for: scalars by GET, table columns in one GETBULK stream."""

    get: tuple[str, ...]
    columns: tuple[str, ...]


def steady_walk_plan() -> WalkPlan:
    profiles = load_profiles()
    get = tuple(c.oid for name in PROFILES for c in profiles[name].scalars)
    # snmpd answers the HC columns on every interface, so yiwang walks no 32-bit fallback there
    columns = tuple(c.oid for name in PROFILES for t in profiles[name].tables for c in t.columns)
    return WalkPlan(get, columns)


def _pysnmp_process(addresses: list[str], port: int, plan: WalkPlan, concurrency: int, cycles: int
                    ) -> list[dict[str, float]]:
    return asyncio.run(_pysnmp_cycles(addresses, port, plan, concurrency, cycles))


async def _pysnmp_cycles(addresses: list[str], port: int, plan: WalkPlan, concurrency: int, cycles: int
                         ) -> list[dict[str, float]]:
    from pysnmp.hlapi.v3arch import asyncio as hlapi
    from pysnmp.proto.rfc1902 import ObjectName
    from pysnmp.proto.rfc1905 import EndOfMibView

    engine = hlapi.SnmpEngine()
    auth = hlapi.CommunityData(COMMUNITY, mpModel=1)
    context = hlapi.ContextData()
    prefixes = [ObjectName(c) for c in plan.columns]
    transports: dict[str, hlapi.UdpTransportTarget] = {}
    rows: dict[str, int] = {}

    async def device(address: str) -> tuple[int, bool]:
        transport = transports.get(address)
        if transport is None:
            transport = transports[address] = await hlapi.UdpTransportTarget.create((address, port), timeout=5,
                                                                                    retries=2)
        objects = [hlapi.ObjectType(hlapi.ObjectIdentity(oid)) for oid in plan.get]
        error, status, _, varbinds = await hlapi.get_cmd(engine, auth, transport, context, *objects,
                                                         lookupMib=False)
        if error or status:
            return 0, False
        count = len(varbinds)
        last = list(prefixes)
        kept = [0] * len(prefixes)
        pending = list(range(len(prefixes)))
        repetitions = min(max(rows.get(address, 0) + 1, 2), 50)  # as yiwang sizes it from the last walk
        while pending:
            objects = [hlapi.ObjectType(hlapi.ObjectIdentity(last[i])) for i in pending]
            error, status, _, varbinds = await hlapi.bulk_cmd(engine, auth, transport, context, 0, repetitions,
                                                              *objects, lookupMib=False)
            if error or status:
                return count, False
            width = len(pending)
            still = []
            for j, column in enumerate(pending):
                ended = False
                for name, value in varbinds[j::width]:
                    if isinstance(value, EndOfMibView) or not prefixes[column].isPrefixOf(name):
                        ended = True
                        break
                    last[column] = name
                    kept[column] += 1
                    count += 1
                if not ended:
                    still.append(column)
            pending = still
        rows[address] = max(kept, default=0)
        return count, True

    semaphore = asyncio.Semaphore(concurrency)

    async def bounded(address: str) -> tuple[int, bool]:
        async with semaphore:
            return await device(address)

    results = []
    for _ in range(cycles):
        cpu = os.times()
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(bounded(a) for a in addresses))
        wall = time.perf_counter() - started
        after = os.times()
        results.append({"varbinds": sum(v for v, _ in outcomes), "failed": sum(1 for _, ok in outcomes if not ok),
                        "cycle_s": wall, "cpu_s": (after.user + after.system) - (cpu.user + cpu.system)})
    engine.close_dispatcher()
    return results


def poll_with_pysnmp(addresses: list[str], port: int, processes: int, concurrency: int) -> dict[str, float]:
    """Two cycles (the first warms pysnmp's engine and learns each table's size), the second reported; each
    process polls its share of the devices with `concurrency` requests in flight, as yiwang's workers do."""
    plan = steady_walk_plan()
    shards = [addresses[n::processes] for n in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        per_process = pool.starmap(_pysnmp_process, [(shard, port, plan, concurrency, 2) for shard in shards])
    for cycle in range(2):
        varbinds = sum(p[cycle]["varbinds"] for p in per_process)
        cpu = sum(p[cycle]["cpu_s"] for p in per_process)
        wall = max(p[cycle]["cycle_s"] for p in per_process)
        failed = sum(p[cycle]["failed"] for p in per_process)
        print(f"  pysnmp cycle {cycle + 1}: {len(addresses)} devices, {failed} failed, {varbinds} varbinds, "
              f"{wall:.1f} s, {cpu:.1f} s CPU", flush=True)
    steady = [p[1] for p in per_process]
    return {"devices": len(addresses), "varbinds": sum(p["varbinds"] for p in steady),
            "cpu_s": sum(p["cpu_s"] for p in steady), "cycle_s": max(p["cycle_s"] for p in steady),
            "failed": sum(p["failed"] for p in steady)}


def exporter_module(community: str, repetitions: int) -> dict:
    profiles = load_profiles()
    walk, get, metrics = [], [], []
    for name in PROFILES:
        profile = profiles[name]
        for column in profile.scalars:
            get.append(column.oid)
            metrics.append({"name": f"{name}_{column.name}".replace("-", "_"), "oid": column.oid, "type": "gauge"})
        for table in profile.tables:
            for column in table.columns:
                walk.append(column.oid)
                kind = "counter" if column.counter_bits else "gauge"
                metrics.append({"name": f"{table.measurement}_{column.name}", "oid": column.oid, "type": kind,
                                "indexes": [{"labelname": table.index_tag, "type": "gauge"}]})
    return {"walk": walk, "get": get, "metrics": metrics, "version": 2, "max_repetitions": repetitions,
            "retries": 2, "timeout": "10s", "auth": {"community": community}}


# The exporter walks each column on its own; with its default of 25 repetitions most of every answer lies past the
# column's end (snmpd has 4 interfaces). "tuned" asks for what one column holds, as yiwang does, so the
# per-varbind figure compares the two programs, not their defaults.
SNMPD_MODULES = {"default": (COMMUNITY, 25), "tuned": (COMMUNITY, 5)}


async def poll_with_exporter(targets: list[tuple[str, str]], modules: dict[str, tuple[str, int]],
                             rounds: list[str], port: int, concurrency: int, work: Path,
                             modules_config: dict[str, dict[str, Any]] | None = None) -> list[dict[str, float]]:
    """targets: (address, module) pairs; a round named "*" uses each target's own module. One result per round.
    `modules_config`: whole exporter modules by name, beside the v2c ones built from `modules`."""
    config = work / "snmp.yml"
    config.write_text(yaml.safe_dump({**{name: exporter_module(c, r) for name, (c, r) in modules.items()},
                                      **(modules_config or {})}))
    listen = free_port()
    log = open(work / "exporter.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([EXPORTER, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{listen}",
                                "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT)
    try:
        exporter = psutil.Process(process.pid)
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
            for _ in range(50):
                try:
                    await client.get(f"http://127.0.0.1:{listen}/")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            semaphore = asyncio.Semaphore(concurrency)
            pdus = re.compile(rb"^snmp_scrape_pdus_returned ([0-9.e+]+)$", re.M)

            async def scrape(address: str, module: str) -> tuple[int, bool]:
                async with semaphore:
                    target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
                    response = await client.get(f"http://127.0.0.1:{listen}/snmp",
                                                params={"target": target, "module": module})
                    found = pdus.search(response.content)
                    return (int(float(found.group(1))) if found else 0), response.status_code == 200

            results: list[dict[str, float]] = []
            for cycle, module in enumerate(rounds):
                cpu = exporter.cpu_times()
                started = time.perf_counter()
                outcomes = await asyncio.gather(*(scrape(a, own if module == "*" else module) for a, own in targets))
                elapsed = time.perf_counter() - started
                after = exporter.cpu_times()
                used = (after.user + after.system) - (cpu.user + cpu.system)
                varbinds = sum(v for v, _ in outcomes)
                failed = sum(1 for _, ok in outcomes if not ok)
                print(f"  exporter cycle {cycle + 1} ({module} module): {len(targets)} targets, {failed} failed, "
                      f"{varbinds} varbinds, {elapsed:.1f} s, {used:.1f} s CPU", flush=True)
                results.append({"varbinds": varbinds, "cycle_s": elapsed, "cpu_s": used, "failed": failed})
            return results
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def city_metrics(plan: CityPlan, inv: Inventory, county: str) -> dict[str, float]:
    """Samples for every interface of the city, built by the real profile code, then rendered."""
    profiles = load_profiles()
    table = profiles["if-mib"].tables[0]
    latest = LatestStore()
    now = time.time_ns()
    for device in plan.devices:
        base = {"device": device.name, **inv.path_labels(device.area)}
        memory = CounterMemory()
        labels_walk = {table.labels["interface"][0]: [(str(i.index), i.name) for i in device.interfaces],
                       table.labels["descr"][0]: [(str(i.index), i.name) for i in device.interfaces],
                       table.labels["alias"][0]: [(str(i.index), i.alias) for i in device.interfaces]}
        labels = table_labels(table, labels_walk)
        samples = []
        for step in range(2):
            walked = {}
            for column in table.columns:
                walked[column.oid] = [(str(i.index), int(1000 + step * 60 * 1000 * (1 + i.index)))
                                      for i in device.interfaces]
            samples = table_samples(table, walked, labels, base, now + step * 60 * 10**9, memory)
        latest.replace(device.name, "snmp", samples)
    started = time.perf_counter()
    body = latest.render()
    render_s = time.perf_counter() - started
    county_path = next(inv.path_labels(a.id) for a in plan.areas if a.id.endswith("." + county))
    started = time.perf_counter()
    shard = latest.render(county_path)
    shard_s = time.perf_counter() - started
    return {"series": latest.value_count(), "render_s": render_s, "mb": len(body) / 1e6,
            "shard_render_s": shard_s, "shard_mb": len(shard) / 1e6}


REALISTIC_STEADY_CYCLES = 5  # one cycle of the small lab is under a second of CPU: too little to compare alone


def realistic_tables(seed: int, workers: int, concurrency: int, work: Path) -> dict[str, float]:
    """The small lab on its own responder: real interface counts (8 per village, 30+ per township); the CPU
    per varbind is each poller's, summed over several steady cycles after a first one (discovery for yiwang,
    warm-up for the exporter)."""
    state = work / "lab"
    lab_up(state, "small", seed, port=random.randint(20000, 29999))
    try:
        inv = load_inventory([lab_inventory_dir(state)]).inventory
        # the exporter module holds system + if-mib, so yiwang polls exactly those here too
        targets = [dataclasses.replace(t, profiles=PROFILES) for t in build_targets(inv, secrets_base=state).snmp]
        print(f"realistic tables: {len(targets)} devices of the small lab", flush=True)
        ours = asyncio.run(poll_with_yiwang(inv, targets, workers, concurrency, work, REALISTIC_STEADY_CYCLES))
        modules = {t.device: (t.credential.community, 25) for t in targets}  # type: ignore[attr-defined]
        pairs = [(t.host, t.device) for t in targets]
        theirs = asyncio.run(poll_with_exporter(pairs, modules, ["*"] * (1 + REALISTIC_STEADY_CYCLES),
                                                targets[0].port, concurrency, work))
    finally:
        lab_down(state)
    steady = theirs[1:]
    exporter_cpu = sum(r["cpu_s"] for r in steady)
    exporter_varbinds = sum(r["varbinds"] for r in steady)
    return {"yiwang_us": ours["cpu_s"] / max(ours["varbinds"], 1) * 1e6,
            "exporter_us": exporter_cpu / max(exporter_varbinds, 1) * 1e6,
            "varbinds": ours["varbinds"], "exporter_varbinds": exporter_varbinds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="city", choices=("city", "small"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--agents", type=int, default=1, help="snmpd processes")
    parser.add_argument("--port", type=int, default=1161, help="agents' UDP port (161 may be the lab's)")
    parser.add_argument("--skip-realistic", action="store_true", help="skip the comparison on the small lab")
    parser.add_argument("--pysnmp-devices", type=int, default=0,
                        help="devices pysnmp polls (0 = all); its figure is per varbind, so a subset compares")
    args = parser.parse_args()

    plan = generate_city(args.seed, args.profile)
    inv = inventory_of(plan)
    addresses = [d.address for d in plan.devices if d.address]
    with tempfile.TemporaryDirectory(prefix="yiwang-bench-") as tmp:
        work = Path(tmp)
        print(f"starting snmpd on {len(addresses)} loopback addresses (port {args.port})", flush=True)
        agents = start_snmpd_agents(addresses, COMMUNITY, work / "snmpd", port=args.port, processes=args.agents)
        try:
            agent_cpu = sum(sum(a.psutil_process.cpu_times()[:2]) for a in agents)
            with RssPeak(os.getpid()) as rss:
                ours = asyncio.run(poll_with_yiwang(inv, targets_of(plan, inv, args.port), args.workers,
                                                    args.concurrency, work))
            agent_ours = sum(sum(a.psutil_process.cpu_times()[:2]) for a in agents) - agent_cpu
            agent_cpu = sum(sum(a.psutil_process.cpu_times()[:2]) for a in agents)
            theirs = asyncio.run(poll_with_exporter([(a, "tuned") for a in addresses], SNMPD_MODULES,
                                                    ["default", "tuned", "tuned"], args.port, args.concurrency, work))
            agent_theirs = sum(sum(a.psutil_process.cpu_times()[:2]) for a in agents) - agent_cpu
            subset = addresses[:args.pysnmp_devices] if args.pysnmp_devices > 0 else addresses
            pysnmp = poll_with_pysnmp(subset, args.port, args.workers, args.concurrency)
        finally:
            stop_snmpd_agents(agents)
        real = None if args.skip_realistic else realistic_tables(args.seed, args.workers, args.concurrency, work)
    metrics = city_metrics(plan, inv, "tuanfeng")
    ours_us = ours["cpu_s"] / max(ours["varbinds"], 1) * 1e6
    default, tuned = theirs[0], theirs[2]  # theirs[1] warms the tuned module up
    default_us = default["cpu_s"] / max(default["varbinds"], 1) * 1e6
    theirs_us = tuned["cpu_s"] / max(tuned["varbinds"], 1) * 1e6
    pysnmp_us = pysnmp["cpu_s"] / max(pysnmp["varbinds"], 1) * 1e6
    print(f"agent_cpu_s_yiwang_2_cycles={agent_ours:.1f} agent_cpu_s_exporter_3_cycles={agent_theirs:.1f} "
          f"exporter_cycle_s={tuned['cycle_s']:.1f} exporter_varbinds={tuned['varbinds']} "
          f"exporter_default_module_cpu_us_per_varbind={default_us:.1f} "
          f"yiwang_failed={ours['failed']} exporter_failed={tuned['failed']} "
          f"pysnmp_devices={pysnmp['devices']} pysnmp_varbinds={pysnmp['varbinds']} "
          f"pysnmp_failed={pysnmp['failed']} pysnmp_cycle_s={pysnmp['cycle_s']:.1f} "
          f"metrics_series={metrics['series']} shard_render_s={metrics['shard_render_s']:.2f} "
          f"shard_mb={metrics['shard_mb']:.1f}")
    if real is not None:
        print(f"realistic_steady_cycles={REALISTIC_STEADY_CYCLES} realistic_tables_varbinds={real['varbinds']} "
              f"realistic_exporter_varbinds={real['exporter_varbinds']} "
              f"realistic_yiwang_cpu_us_per_varbind={real['yiwang_us']:.1f} "
              f"realistic_exporter_cpu_us_per_varbind={real['exporter_us']:.1f} "
              f"realistic_ratio={real['yiwang_us'] / max(real['exporter_us'], 1e-9):.2f}")
    print(f"devices={ours['devices']} varbinds={ours['varbinds']} cycle_s={ours['cycle_s']:.1f} "
          f"yiwang_cpu_us_per_varbind={ours_us:.1f} exporter_cpu_us_per_varbind={theirs_us:.1f} "
          f"ratio={ours_us / max(theirs_us, 1e-9):.2f} pysnmp_cpu_us_per_varbind={pysnmp_us:.1f} "
          f"pysnmp_ratio={ours_us / max(pysnmp_us, 1e-9):.2f} peak_rss_mb={rss.peak / 1e6:.0f} "
          f"metrics_render_s={metrics['render_s']:.2f} metrics_mb={metrics['mb']:.1f}")


if __name__ == "__main__":
    main()
