"""CPU per varbind of SNMPv3 authPriv (SHA/AES-128) against v2c, on the same Debian snmpd agents, one process.

    python benchmarks/poll_v3.py --devices 2000     # as root (listens on 127.1.x.y), from the repository root

Devices are loopback addresses served by a few snmpd processes (each one SNMP engine for its addresses). The SNMP
collector polls every device with the system and if-mib profiles, the way the monitor does: yiwang's fast engine
with v2c, then with v3 authPriv, then the pysnmp reference session with v3. Each is run for two cycles (the first
discovers names and, for v3, the agents' engines and keys); the second cycle's CPU time of this process is
divided by the varbinds it read. The agents' CPU is not counted. prometheus-snmp-exporter's v3 module: not yet.

Last line: devices=… v2c_us_per_varbind=… v3_us_per_varbind=… ratio=… pysnmp_v3_us_per_varbind=…
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from poll_city import EXPORTER, exporter_module, poll_with_exporter  # benchmarks/ is sys.path[0] when run

from collectors.base import PollTarget
from collectors.snmp.collector import DefaultSessions, SessionFactory, SnmpCollector
from collectors.snmp.profile import load_profiles
from collectors.snmp.session import SnmpSession, Target, V2cCredentials, V3Credentials
from lab.snmpd import SNMPD, stop_snmpd

PROFILES = ("system", "if-mib")
COMMUNITY = "bench"
V3 = V3Credentials("bench3", "SHA", "bench-auth-123", "AES", "bench-priv-456")
PORT = 16161
CONCURRENCY = 1000


def addresses(n: int) -> list[str]:
    return [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(n)]


def start_agents(hosts: list[str], work: Path, processes: int) -> list[subprocess.Popen[bytes]]:
    conf = work / "snmpd.conf"
    conf.write_text(f"rocommunity {COMMUNITY} 127.0.0.0/8\n"
                    f'createUser {V3.user} SHA "{V3.auth_key}" AES "{V3.priv_key}"\n'
                    f"rouser {V3.user} priv\n"
                    "dontLogTCPWrappersConnects yes\n")
    procs = []
    for n in range(processes):
        persist = work / f"persist-{n}"
        persist.mkdir()
        listen = ",".join(f"udp:{a}:{PORT}" for a in hosts[n::processes])
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "MIBS": "", "MIBDIRS": ""}
        procs.append(subprocess.Popen(
            [SNMPD, "-f", "-Lo", "-C", "-c", str(conf), "-m", "", "-p", str(work / f"snmpd-{n}.pid"), listen],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env))
    time.sleep(1.5)
    return procs


class PysnmpSessions:
    def __init__(self) -> None:
        from collectors.snmp.pysnmp_session import PysnmpEngine

        self._engine = PysnmpEngine()

    def session(self, target: Target, credential: object) -> SnmpSession:
        assert isinstance(credential, V3Credentials)
        session: SnmpSession = self._engine.session(target, credential)
        return session

    async def close(self) -> None:
        await self._engine.close()


async def run(hosts: list[str], credential: object, sessions: Callable[[], SessionFactory]) -> tuple[float, int]:
    """(CPU seconds of the second cycle, its varbinds)."""
    collector = SnmpCollector(load_profiles(), sessions(), timeout=5.0, retries=2)
    targets = [PollTarget(h, h, (("device", h),), port=PORT, profiles=PROFILES, credential=credential)
               for h in hosts]
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(target: PollTarget) -> tuple[bool, int, str]:
        async with limit:
            result = await collector.poll(target)
            return result.ok, result.varbinds, result.reason

    try:
        for cycle in range(2):
            cpu = time.process_time()
            results = await asyncio.gather(*(one(t) for t in targets))
            cpu = time.process_time() - cpu
            failed = [r for ok, _, r in results if not ok]
            if failed:
                print(f"  cycle {cycle}: {len(failed)} failed ({sorted(set(failed))})")
        return cpu, sum(v for _, v, _ in results)
    finally:
        await collector.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=4, help="snmpd processes")
    parser.add_argument("--no-pysnmp", action="store_true")
    parser.add_argument("--no-exporter", action="store_true")
    args = parser.parse_args()
    hosts = addresses(args.devices)
    with tempfile.TemporaryDirectory(prefix="yiwang-poll-v3-") as tmp:
        procs = start_agents(hosts, Path(tmp), args.agents)
        try:
            v2c_cpu, v2c_vb = asyncio.run(run(hosts, V2cCredentials(COMMUNITY), DefaultSessions))
            print(f"  v2c: {v2c_vb} varbinds, {v2c_cpu:.2f} s CPU")
            v3_cpu, v3_vb = asyncio.run(run(hosts, V3, DefaultSessions))
            print(f"  v3 authPriv SHA/AES-128: {v3_vb} varbinds, {v3_cpu:.2f} s CPU")
            py = float("nan")
            if not args.no_pysnmp:
                py_cpu, py_vb = asyncio.run(run(hosts, V3, PysnmpSessions))
                print(f"  pysnmp v3: {py_vb} varbinds, {py_cpu:.2f} s CPU")
                py = py_cpu / max(py_vb, 1) * 1e6
            exporter_v2c = exporter_v3 = float("nan")
            if not args.no_exporter and Path(EXPORTER).exists():
                exporter_v2c, exporter_v3 = exporter_figures(hosts, Path(tmp))
        finally:
            for proc in procs:
                stop_snmpd(proc)
    v2c = v2c_cpu / max(v2c_vb, 1) * 1e6
    v3 = v3_cpu / max(v3_vb, 1) * 1e6
    print(f"devices={args.devices} v2c_us_per_varbind={v2c:.1f} v3_us_per_varbind={v3:.1f} ratio={v3 / v2c:.2f} "
          f"pysnmp_v3_us_per_varbind={py:.1f} exporter_v3_us_per_varbind={exporter_v3:.1f} "
          f"exporter_v2c_us_per_varbind={exporter_v2c:.1f}")


def exporter_figures(hosts: list[str], work: Path) -> tuple[float, float]:
    """prometheus-snmp-exporter on the same agents and columns: its v2c module, then the same module with v3
    authPriv SHA/AES-128; the second of two rounds of each, CPU of the exporter process per varbind."""
    tuned = exporter_module(COMMUNITY, 5)  # one column's worth per request, as in poll_city.py
    v3 = {**tuned, "version": 3, "auth": {"security_level": "authPriv", "username": V3.user, "password": V3.auth_key,
                                          "auth_protocol": "SHA", "priv_protocol": "AES",
                                          "priv_password": V3.priv_key}}
    figures = []
    for name, module in (("v2c", tuned), ("v3", v3)):
        rounds = asyncio.run(poll_with_exporter([(h, name) for h in hosts], {}, [name, name], PORT, 200, work,
                                                modules_config={name: module}))
        steady = rounds[-1]
        print(f"  exporter {name}: {steady['varbinds']:.0f} varbinds, {steady['cpu_s']:.2f} s CPU, "
              f"{steady['failed']:.0f} failed")
        figures.append(steady["cpu_s"] / max(steady["varbinds"], 1) * 1e6)
    return figures[0], figures[1]


if __name__ == "__main__":
    main()
