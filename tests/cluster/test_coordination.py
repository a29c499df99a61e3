"""Membership, leases, the leader's assignment and the atomic claims against a real redis-server on loopback.

Leases are 1 s here (renewed every 1/3 s, the leader checking every 1/3 s), so a failover takes about 1.3 s."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis

from tests.cluster.redis_server import RedisServer, redis_server
from yiwang.cluster.coordination import (
    GroupKeys,
    PollerMembership,
    claim_keys,
    cluster_status,
    request_drain,
)

TTL = 1.0
KEYS = {f"t{i}": frozenset({f"t{i}-sw", f"t{i}-ap"}) for i in range(40)}
ALL_DEVICES = frozenset().union(*KEYS.values())
ROOT = Path(__file__).resolve().parents[2]


async def until(condition: Callable[[], object], timeout: float = 5.0) -> float:
    """Seconds it took for `condition` to hold; fails after `timeout`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "condition not reached"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


@asynccontextmanager
async def members(url: str, group: str, names: list[str], ttl: float = TTL) -> AsyncIterator[list[PollerMembership]]:
    started = [PollerMembership(url, group, name, KEYS, lease_ttl_s=ttl) for name in names]
    for member in started:
        await member.start()
    try:
        yield started
    finally:
        for member in started:
            await member.leave()


async def settled(url: str, group: str, live: set[str]) -> int:
    """Wait until the published assignment is over exactly `live`; its epoch."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        deadline = time.monotonic() + 5
        while True:
            status = await cluster_status(url, group)
            if {m.name for m in status.members if m.townships} == live and status.epoch:
                return status.epoch
            assert time.monotonic() < deadline, f"never settled on {live}: {status}"
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()


async def claim_all(group: list[PollerMembership], slot: int) -> list[frozenset[str]]:
    return [await member.claim(slot) for member in group]


def disjoint(parts: list[frozenset[str]]) -> bool:
    return sum(len(p) for p in parts) == len(frozenset().union(*parts))


async def test_three_members_cover_every_township_once(redis: RedisServer) -> None:
    async with members(redis.url, "cover", ["p1", "p2", "p3"]) as group:
        await settled(redis.url, "cover", {"p1", "p2", "p3"})
        got = await claim_all(group, 100)
        assert frozenset().union(*got) == ALL_DEVICES and disjoint(got)
        # Exactly one as a rule; a leader paused past its 1 s tooz lock on a loaded machine can make two for a
        # moment, which the compare-and-set publish makes harmless.
        assert sum(m.is_leader for m in group) >= 1
        status = await cluster_status(redis.url, "cover", interval_s=60, now=101 * 60 + 5)
        assert status.leader in {"p1", "p2", "p3"} and status.error is None
        by_name = {m.name: m for m in status.members}
        assert sum(m.townships for m in status.members) == 40
        assert sum(m.devices for m in status.members) == 80
        assert {m.last_claimed_slot for m in status.members} == {100}
        assert {m.lag_slots for m in status.members} == {1}
        assert all(0 < m.lease_remaining_s <= TTL for m in status.members)
        assert by_name["p1"].devices == len(got[0])


async def test_claims_are_exclusive_per_slot_and_fenced(redis: RedisServer) -> None:
    keys = GroupKeys("fence")
    async with members(redis.url, "fence", ["a", "b"]) as (a, b):
        await settled(redis.url, "fence", {"a", "b"})
        first = await a.claim(7)
        assert first and await a.claim(7) == frozenset()  # claimed once per slot, however often asked
        assert disjoint([first, await b.claim(7)])
        client = aioredis.Redis.from_url(redis.url, decode_responses=True)
        try:
            status, current, granted = await claim_keys(client, keys, "a", a.epoch - 1, 8)
            assert (status, current, granted) == ("epoch", a.epoch, frozenset())  # a stale epoch gets nothing
            await client.delete(keys.lease("b"))
            status, _, granted = await claim_keys(client, keys, "b", b.epoch, 8)
            assert (status, granted) == ("lease", frozenset())  # no lease, no grant
        finally:
            await client.aclose()


async def test_a_share_moved_mid_slot_is_not_polled_twice_in_that_slot(redis: RedisServer) -> None:
    a, b = (PollerMembership(redis.url, "midslot", name, KEYS, lease_ttl_s=TTL) for name in ("a", "b"))
    await a.start()
    await b.start()
    try:
        await settled(redis.url, "midslot", {"a", "b"})
        of_a = await a.claim(20)
        assert of_a and of_a != ALL_DEVICES
        await a.leave()  # graceful: the assignment is republished before leave() returns
        status = await cluster_status(redis.url, "midslot")
        assert [(m.name, m.townships) for m in status.members] == [("b", 40)]
        # b now holds all 40 townships, but a's were claimed in slot 20 already: b gets only its old share there.
        assert await b.claim(20) == ALL_DEVICES - of_a
        assert await b.claim(21) == ALL_DEVICES
    finally:
        await b.leave()


async def _noop() -> None:
    return None


async def test_an_expired_lease_gives_a_new_epoch_and_the_survivors_its_share(redis: RedisServer) -> None:
    async with members(redis.url, "expiry", ["p1", "p2", "p3"]) as group:
        epoch = await settled(redis.url, "expiry", {"p1", "p2", "p3"})
        dead = next(m for m in group if not m.is_leader)
        await dead.abandon()  # heartbeats stop abruptly
        dead.leave = _noop  # type: ignore[method-assign]
        survivors = [m for m in group if m is not dead]
        took = await until(lambda: all(m.epoch > epoch for m in survivors), timeout=TTL + 2)
        assert took <= TTL + 2 * survivors[0].check_interval_s + 0.5
        got = await claim_all(survivors, 300)
        assert frozenset().union(*got) == ALL_DEVICES and disjoint(got)


async def test_a_killed_process_loses_its_townships(redis: RedisServer) -> None:
    child = subprocess.Popen([sys.executable, "-m", "tests.cluster.member_process", redis.url, "killed", "victim",
                              str(TTL), str(len(KEYS))], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        async with members(redis.url, "killed", ["s1", "s2"]) as survivors:
            await settled(redis.url, "killed", {"victim", "s1", "s2"})
            before = await claim_all(survivors, 50)
            assert frozenset().union(*before) < ALL_DEVICES  # the victim holds a share
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=5)
            killed_at = time.monotonic()
            await settled(redis.url, "killed", {"s1", "s2"})
            assert time.monotonic() - killed_at <= TTL + 2 * survivors[0].check_interval_s + 0.5
            after = await claim_all(survivors, 51)
            assert frozenset().union(*after) == ALL_DEVICES and disjoint(after)
    finally:
        child.kill()
        child.wait(timeout=5)


async def test_an_expired_member_fences_itself_before_the_server_does(redis: RedisServer) -> None:
    async with members(redis.url, "localfence", ["solo"], ttl=2.0) as (solo,):
        await settled(redis.url, "localfence", {"solo"})
        await solo._cancel()  # renewals stop; the key lives up to 2 s more on the server
        renewed_at = solo._renewed_at
        assert renewed_at is not None
        await until(lambda: time.monotonic() - renewed_at > solo.fence_after_s + 0.05, timeout=3)
        remaining = (await cluster_status(redis.url, "localfence")).members[0].lease_remaining_s
        assert remaining > 0 and await solo.claim(1) == frozenset()


async def test_drain_moves_the_share_and_the_drained_member_knows(redis: RedisServer) -> None:
    async with members(redis.url, "drain", ["p1", "p2", "p3"]) as group:
        await settled(redis.url, "drain", {"p1", "p2", "p3"})
        assert await request_drain(redis.url, "drain", "p2")
        assert not await request_drain(redis.url, "drain", "nobody")
        await asyncio.wait_for(group[1].drained.wait(), timeout=3)
        got = await claim_all(group, 9)
        assert got[1] == frozenset()
        assert got[0] | got[2] == ALL_DEVICES and disjoint(got)
        status = {m.name: m for m in (await cluster_status(redis.url, "drain")).members}
        assert status["p2"].draining and status["p2"].townships == 0
        assert not group[0].drained.is_set()


async def test_a_joining_member_moves_about_a_quarter_and_only_to_itself(redis: RedisServer) -> None:
    keys = GroupKeys("join")
    client = aioredis.Redis.from_url(redis.url, decode_responses=True)
    try:
        async with members(redis.url, "join", ["p1", "p2", "p3"]):
            await settled(redis.url, "join", {"p1", "p2", "p3"})
            before = await owners(client, keys)
            async with members(redis.url, "join", ["p4"]):
                await settled(redis.url, "join", {"p1", "p2", "p3", "p4"})
                after = await owners(client, keys)
        moved = {k for k in KEYS if before[k] != after[k]}
        assert {after[k] for k in moved} == {"p4"} and 4 <= len(moved) <= 16  # 10 of 40 expected
    finally:
        await client.aclose()


async def owners(client: aioredis.Redis, keys: GroupKeys) -> dict[str, str]:
    import json

    return {key: member for member, raw in (await client.hgetall(keys.shares)).items() for key in json.loads(raw)}


def test_names_that_would_break_keys_are_refused() -> None:
    for group, member in (("a b", "p1"), ("g", "p1:lease"), ("g", "")):
        try:
            PollerMembership("redis://127.0.0.1:1/0", group, member, KEYS)
        except ValueError:
            continue
        raise AssertionError(f"{group!r}/{member!r} accepted")


async def test_a_dead_redis_grants_nothing_and_raises_nothing() -> None:
    with redis_server() as own:
        membership = PollerMembership(own.url, "dead", "p1", KEYS, lease_ttl_s=TTL)
        await membership.start()
        try:
            await settled(own.url, "dead", {"p1"})
            assert await membership.claim(1) == ALL_DEVICES
            own.kill()
            assert await membership.claim(2) == frozenset()
            status = await cluster_status(own.url, "dead")
            assert status.error and status.members == ()
        finally:
            await membership.leave()
