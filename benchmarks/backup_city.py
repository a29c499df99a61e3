"""Back up N SSH lab devices with yiwang's archive, then compare plain netmiko threads on one platform.

Run: .venv/bin/python benchmarks/backup_city.py [--devices N] [--workers 32] [--processes 1]
(default: every SSH device of the city; --processes 0 runs the sessions as threads of this process)
Last line: devices=... wall_s=... failed=... peak_rss_mb=...
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from netmiko import ConnectHandler

from collectors.base import PollTarget
from collectors.platforms import cli_of
from collectors.ssh.session import SshLogin
from lab.city import generate_city
from lab.ssh.process import RunningSSHLab, running_lab
from yiwang.archive.backup import backup
from yiwang.archive.git import GitArchive
from yiwang.config import SshSettings
from yiwang.ssh_workers import ssh_work
from yiwang.store import open_store


def plain_netmiko(lab: RunningSSHLab, devices: list[tuple[str, str, str]], workers: int) -> tuple[float, int]:
    def one(device: tuple[str, str, str]) -> bool:
        _, platform, host = device
        try:
            cli = cli_of(platform)
            conn = ConnectHandler(device_type=cli.netmiko_type, host=host, port=lab.port, username=lab.username,
                                  password=lab.password, secret=lab.password, fast_cli=True, global_cmd_verify=True)
            conn.send_command(cli.config_command, read_timeout=10)
            conn.disconnect()
            return True
        except Exception:
            return False

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ok = list(pool.map(one, devices))
    return time.perf_counter() - start, ok.count(False)


async def archive_run(targets: list[PollTarget], ssh: SshSettings, tmp: Path) -> tuple[float, int]:
    work = ssh_work(ssh, tmp / f"state-{len(targets)}")
    archive, index = GitArchive(tmp / f"repo-{len(targets)}"), open_store(f"sqlite:///{tmp}/a-{len(targets)}.db").archive
    start = time.perf_counter()
    results = await backup(targets, work.configs, archive, index)
    wall = time.perf_counter() - start
    work.close()
    return wall, sum(not r.ok for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=0, help="0: every network device of the city")
    parser.add_argument("--workers", type=int, default=32, help="SSH sessions at once")
    parser.add_argument("--processes", type=int, default=1, help="SSH worker processes; 0: threads here")
    parser.add_argument("--compare-platform", default="huawei_vrp")
    args = parser.parse_args()
    plan = generate_city(2026, "city")
    with tempfile.TemporaryDirectory() as tmp, running_lab(Path(tmp) / "lab", ["--profile", "city", "--limit",
                                                                               str(args.devices)], timeout=120) as lab:
        login = SshLogin(lab.username, lab.password)
        targets = [PollTarget(name, addrs[0], (("device", name), ("platform", plan.device(name).platform)),
                              port=lab.port, credential=login) for name, addrs in lab.addresses.items()]
        print(f"platforms: {dict(Counter(dict(t.tags)['platform'] for t in targets))}, workers={args.workers}, "
              f"processes={args.processes}")
        ssh = SshSettings(workers=args.workers, processes=args.processes)
        subset = [t for t in targets if dict(t.tags)["platform"] == args.compare_platform]
        ours_sub, ours_sub_failed = asyncio.run(archive_run(subset, ssh, Path(tmp)))
        plain, plain_failed = plain_netmiko(lab, [(t.device, args.compare_platform, t.host) for t in subset],
                                            args.workers)
        print(f"{args.compare_platform} x{len(subset)}: archive backup {ours_sub:.2f}s (failed {ours_sub_failed}), "
              f"plain netmiko threads {plain:.2f}s (failed {plain_failed})")
        wall, failed = asyncio.run(archive_run(targets, ssh, Path(tmp)))
        rss = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
        print(f"devices={len(targets)} wall_s={wall:.2f} failed={failed} peak_rss_mb={rss:.0f}")


if __name__ == "__main__":
    main()
