"""WorkerPool with real worker processes: results of every target, a device always on the same worker, targets
sent once and kept, and a worker that dies failing only its own devices."""

from __future__ import annotations

import asyncio
import os
import signal

from collectors.base import PollResult, PollTarget
from collectors.model import Sample
from yiwang.polling import WorkerPool, shard_of


class PidCollector:
    """Answers with the worker's pid and how many times the device was polled there; a device named `hang-*`
    never answers, so a test can kill its worker mid-cycle."""

    name = "pid"

    def __init__(self) -> None:
        self.polls: dict[str, int] = {}

    async def poll(self, target: PollTarget) -> PollResult:
        if target.device.startswith("hang"):
            await asyncio.sleep(3600)
        self.polls[target.device] = self.polls.get(target.device, 0) + 1
        sample = Sample("worker", (("device", target.device),),
                        {"pid": float(os.getpid()), "polls": float(self.polls[target.device])}, 0)
        return PollResult(target.device, self.name, [sample], True)


def _targets(names: list[str]) -> list[PollTarget]:
    return [PollTarget(name, "127.0.0.1", (("device", name),)) for name in names]


async def _cycle(pool: WorkerPool, targets: list[PollTarget]) -> dict[str, PollResult]:
    return {r.device: r async for r in pool.collect(targets)}


def test_every_target_answers_on_its_own_worker_across_cycles() -> None:
    async def run() -> None:
        pool = WorkerPool(PidCollector, 2, 10, "pid")
        targets = _targets([f"d{i}" for i in range(50)])
        try:
            first = await _cycle(pool, targets)
            second = await _cycle(pool, targets)  # the workers kept their targets: nothing was sent again
            pids = pool.pids()
        finally:
            await pool.close()
        assert set(first) == set(second) == {t.device for t in targets}
        for device, result in second.items():
            fields = result.samples[0].fields
            assert fields["polls"] == 2  # the same worker both times, so its memory of the device carries on
            assert int(fields["pid"]) == pids[shard_of(device, 2)]
        assert len({r.samples[0].fields["pid"] for r in second.values()}) == 2

    asyncio.run(run())


def test_new_targets_reach_the_workers() -> None:
    async def run() -> None:
        pool = WorkerPool(PidCollector, 2, 10, "pid")
        try:
            await _cycle(pool, _targets(["a", "b", "c"]))
            changed = await _cycle(pool, _targets(["a", "d"]))
        finally:
            await pool.close()
        assert set(changed) == {"a", "d"}
        assert changed["a"].samples[0].fields["polls"] == 2 and changed["d"].samples[0].fields["polls"] == 1

    asyncio.run(run())


def test_a_dead_worker_fails_its_own_devices_and_is_replaced() -> None:
    names = [f"d{i}" for i in range(20)]
    hang = next(f"hang{i}" for i in range(100) if shard_of(f"hang{i}", 2) == 0)
    targets = _targets([*names, hang])

    async def run() -> tuple[dict[str, PollResult], dict[str, PollResult]]:
        pool = WorkerPool(PidCollector, 2, 10, "pid")
        try:
            pool.start()
            doomed = pool.pids()[0]
            asyncio.get_running_loop().call_later(1.0, os.kill, doomed, signal.SIGKILL)
            during = await _cycle(pool, targets)
            after = await _cycle(pool, _targets(names))  # a new worker, which must be sent its targets
            assert doomed not in pool.pids()
        finally:
            await pool.close()
        return during, after

    during, after = asyncio.run(run())
    assert set(during) == {*names, hang}
    assert during[hang].ok is False and during[hang].reason == "worker-died"
    survivors = [n for n in names if shard_of(n, 2) == 1]
    assert survivors and all(during[n].ok for n in survivors)
    assert set(after) == set(names) and all(r.ok for r in after.values())


def test_a_pool_closed_mid_cycle_ends_its_workers_promptly() -> None:
    """`yiwang run` stopping cancels a cycle under way; a worker still polling (a device that never answers) reads
    no "stop" until its cycle ends, so it is terminated: the close takes about STOP_WAIT_S, not the cycle's end."""
    from yiwang.polling import STOP_WAIT_S

    hang = next(f"hang{i}" for i in range(100) if shard_of(f"hang{i}", 2) == 0)

    async def run() -> float:
        pool = WorkerPool(PidCollector, 2, 10, "pid")
        pool.start()
        pids = pool.pids()
        cycle = asyncio.ensure_future(_cycle(pool, _targets(["d1", "d2", hang])))
        await asyncio.sleep(1.0)
        cycle.cancel()
        started = asyncio.get_running_loop().time()
        await pool.close()
        took = asyncio.get_running_loop().time() - started
        for pid in pids:  # ended and reaped: no such process any more
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            raise AssertionError(f"worker {pid} is still running")
        return took

    took = asyncio.run(run())
    assert STOP_WAIT_S <= took < STOP_WAIT_S + 1.5
