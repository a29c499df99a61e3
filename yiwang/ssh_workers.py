"""Where netmiko sessions run: in worker processes of their own (the default), or as threads of this process
(`ssh: {processes: 0}`, the earlier design, kept for comparison and for the command line).

Facts and backups get a pool each, so a backup never waits for a facts cycle to finish (a worker runs one cycle at a
time) and each is bounded by `ssh.workers` sessions. Worker processes start on the first cycle and each device
always goes to the same one, so its pinned host key is written by one process only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from collectors.base import CycleCollector
from collectors.ssh.collector import SshCollector, make_ssh_collector
from collectors.ssh.session import SessionSettings, SshRunner
from yiwang.archive.fetch import ConfigFetcher, make_config_fetcher
from yiwang.config import SshSettings
from yiwang.polling import Concurrent, WorkerPool


@dataclass(slots=True)
class SshWork:
    facts: CycleCollector  # "ssh": facts, interfaces, optics and neighbours; one PollResult per device
    configs: CycleCollector  # "config": what `ConfigArchive` fetches with; a FetchedConfig per device that worked
    stopper: Callable[[], None] = field(repr=False)
    pools: tuple[WorkerPool, ...] = ()  # empty when sessions are threads here

    def pids(self) -> list[int]:
        """The worker processes running now (none before the first cycle, and none with `processes: 0`)."""
        return [pid for pool in self.pools for pid in pool.pids()]

    def close(self) -> None:
        """Blocking: ends the sessions' threads or processes."""
        self.stopper()


def ssh_work(ssh: SshSettings, state_dir: Path, use_ipv6: bool = False) -> SshWork:
    session = SessionSettings(state_dir / "ssh", read_timeout=ssh.read_timeout_s)
    if ssh.processes == 0:
        runner = SshRunner(session, max_workers=ssh.workers)  # one thread pool shared by facts and backups
        return SshWork(Concurrent(SshCollector(runner, use_ipv6), ssh.workers),
                       Concurrent(ConfigFetcher(runner, use_ipv6), ssh.workers), runner.close)
    per_process = -(-ssh.workers // ssh.processes)
    facts = WorkerPool(functools.partial(make_ssh_collector, session, per_process, use_ipv6), ssh.processes,
                       per_process, SshCollector.name)
    configs = WorkerPool(functools.partial(make_config_fetcher, session, per_process, use_ipv6), ssh.processes,
                         per_process, ConfigFetcher.name)

    def stop() -> None:
        facts.stop()
        configs.stop()

    return SshWork(facts, configs, stop, (facts, configs))
