"""SSH facts and backups in worker processes: the sessions are held by the worker, not by this process, and a worker
killed mid-cycle fails its devices with a reason while the next cycle works."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest

from collectors.base import PollResult, PollTarget
from collectors.ssh.session import SshLogin
from lab.city import generate_city
from lab.ssh.faults import Faults
from lab.ssh.process import RunningSSHLab, running_lab
from yiwang.archive.backup import backup
from yiwang.archive.git import GitArchive
from yiwang.config import SshSettings
from yiwang.ssh_workers import SshWork, ssh_work
from yiwang.store import open_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSSHLab]:
    with running_lab(tmp_path_factory.mktemp("sshlab"), ["--per-platform", "1"]) as running:
        yield running


@pytest.fixture
def targets(lab: RunningSSHLab) -> Iterator[list[PollTarget]]:
    plan = generate_city(2026, "small")
    login = SshLogin(lab.username, lab.password)
    yield [PollTarget(name, addresses[0], (("device", name), ("platform", plan.device(name).platform)),
                      port=lab.port, credential=login) for name, addresses in lab.addresses.items()]
    lab.set_faults({})


@pytest.fixture
async def work(tmp_path: Path) -> AsyncIterator[SshWork]:
    running = ssh_work(SshSettings(processes=1, workers=4, read_timeout_s=20), tmp_path)
    yield running
    await asyncio.to_thread(running.close)


def ssh_sessions(pid: int, port: int) -> int:
    return sum(1 for c in psutil.Process(pid).net_connections("tcp")
               if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED)


async def kill_mid_session(work: SshWork, lab: RunningSSHLab) -> int:
    """Wait until the worker holds an SSH session (and this process none), then kill it; its pid."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pid in work.pids():
            if ssh_sessions(pid, lab.port):
                assert ssh_sessions(os.getpid(), lab.port) == 0
                os.kill(pid, signal.SIGKILL)
                return pid
        await asyncio.sleep(0.05)
    raise AssertionError("no worker ever held an SSH session")


async def test_facts_run_in_a_worker_that_may_die(work: SshWork, lab: RunningSSHLab,
                                                  targets: list[PollTarget]) -> None:
    first = [r async for r in work.facts.collect(targets)]
    assert sorted(r.device for r in first) == sorted(t.device for t in targets)
    assert all(r.ok for r in first), [(r.device, r.reason, r.error) for r in first]
    (pid,) = work.pids()
    assert pid != os.getpid()

    lab.set_faults({targets[0].device: Faults(delay_s=0.2)})  # a slow device keeps the cycle open
    cycle = asyncio.ensure_future(_all(work.facts.collect(targets)))
    killed = await kill_mid_session(work, lab)
    died = {r.device: r for r in await cycle}
    assert set(died) == {t.device for t in targets}  # every device is accounted for
    slow = died[targets[0].device]
    assert (slow.ok, slow.reason, slow.collector) == (False, "worker-died", "ssh")
    assert "died" in slow.error and targets[0].device in slow.error

    lab.set_faults({})
    again = await _all(work.facts.collect(targets))
    assert all(r.ok for r in again), [(r.device, r.reason, r.error) for r in again]
    assert work.pids() and killed not in work.pids()


async def test_backups_fetch_in_a_worker_and_commit_here(work: SshWork, lab: RunningSSHLab,
                                                         targets: list[PollTarget], tmp_path: Path) -> None:
    archive, index = GitArchive(tmp_path / "repo"), open_store(f"sqlite:///{tmp_path / 'archive.db'}").archive
    first = await backup(targets, work.configs, archive, index)
    assert [r.device for r in first] == [t.device for t in targets]
    assert all(r.ok and r.commit for r in first), first
    assert work.pids() and os.getpid() not in work.pids()
    assert all((tmp_path / "ssh" / "known_hosts" / t.device).exists() for t in targets)  # pinned by the worker

    slow = targets[1].device
    lab.set_faults({slow: Faults(delay_s=0.2)})
    running = asyncio.ensure_future(backup(targets, work.configs, archive, index))
    await kill_mid_session(work, lab)
    results = {r.device: r for r in await running}
    assert (results[slow].ok, results[slow].reason) == (False, "worker-died")
    status = index.status()[slow]
    assert status.last_reason == "worker-died" and status.last_commit == first[1].commit  # last good kept
    assert len(archive.versions(slow)) == 1

    lab.set_faults({})
    again = await backup(targets, work.configs, archive, index)
    assert all(r.ok and r.commit is None for r in again), again  # nothing changed on the devices
    assert index.status()[slow].last_reason == "ok"


async def test_threads_in_this_process_when_asked(lab: RunningSSHLab, targets: list[PollTarget],
                                                  tmp_path: Path) -> None:
    work = ssh_work(SshSettings(processes=0, workers=4), tmp_path)
    try:
        results = await _all(work.facts.collect(targets))
        assert all(r.ok for r in results) and work.pids() == []
    finally:
        work.close()


async def _all(results: AsyncIterator[PollResult]) -> list[PollResult]:
    return [r async for r in results]
