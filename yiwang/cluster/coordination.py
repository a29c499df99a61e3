"""Poller-group membership over Redis: leases, a leader that publishes the assignment, atomic per-slot claims.

Public API (the poller role builds on exactly this):

    membership = PollerMembership(url, group, member, keys_to_devices, lease_ttl_s=15.0)
    await membership.start()          # never fails for an unreachable Redis: it keeps trying in the background
    devices = await membership.claim(slot)   # frozenset of device names; empty on ANY failure, never raises
    membership.granted_keys           # the townships of the last claim
    membership.epoch                  # the assignment epoch this member last saw
    membership.is_leader              # it won tooz's leader election in its group
    await membership.drained.wait()   # set once the leader has moved this member's share away after a drain
    await membership.leave()          # graceful: lease dropped and the assignment republished at once

    await request_drain(url, group, member)   # -> True when the member is known in the group
    await cluster_status(url, group, interval_s=60.0) -> ClusterStatus   (error set, never raises, when unreachable)

`slot = floor(unix_time / interval_s)` (`slot_of`). Claim before polling, poll only what was granted.

Redis keys of group G (the URL's database):
    lease:G:M                  PX lease TTL, renewed every TTL/3 by member M; its existence is M's liveness
    yiwang:cluster:G:members   set of members that joined and did not leave
    yiwang:cluster:G:drain     set of members asked to drain
    yiwang:cluster:G:state     hash: epoch, leader, live, draining, counts ({member: [townships, devices]}), at_ms
    yiwang:cluster:G:shares    hash member -> JSON list of its keys in the current epoch
    yiwang:cluster:G:claimed   hash key -> last slot it was granted in
    yiwang:cluster:G:lastclaim hash member -> last slot it claimed

tooz (redis driver, group `yiwang.pollers.G`) provides the group membership and the leader election. The leader
recomputes (epoch + 1) whenever the live members (lease keys) or drain flags differ from the published ones. The
assignment is a pure function of (keys, live non-draining members), and publishing is a compare-and-set on the
epoch, so a stale second leader (a paused process whose tooz lock expired) can only publish the same answer.
The townships assigned are those of the leader's `keys_to_devices`: the members of a group are expected to load the
same inventory (a township only the leader lacks is assigned to nobody until it has it).

Fencing: a claim grants nothing unless the member's lease key exists, its epoch is the stored one and the key's last
claimed slot is older; and the member itself claims nothing once its last successful renewal is older than
TTL - margin on its monotonic clock. A stale epoch is retried once with the epoch the script returned, because the
grant is always computed from the stored assignment and a member that missed a republish must not lose a slot.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from tooz import ToozError, coordination

from yiwang.cluster import partition, scripts
from yiwang.cluster.transport import raise_if_cancelled, redis_client

log = logging.getLogger(__name__)

T = TypeVar("T")

# What a failed call to Redis can raise through redis-py's asyncio client.
FAILURES = (RedisError, OSError, asyncio.TimeoutError, ValueError)
# tooz wraps most redis errors in ToozError, but not those raised from its futures' get().
TOOZ_FAILURES = (ToozError, RedisError, OSError)


# Group and member names become parts of Redis keys and tooz ids.
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def slot_of(unix_time: float, interval_s: float) -> int:
    return math.floor(unix_time / interval_s)


@dataclass(frozen=True, slots=True)
class GroupKeys:
    group: str

    def lease(self, member: str) -> str:
        return f"lease:{self.group}:{member}"

    def _key(self, name: str) -> str:
        return f"yiwang:cluster:{self.group}:{name}"

    @property
    def members(self) -> str:
        return self._key("members")

    @property
    def drain(self) -> str:
        return self._key("drain")

    @property
    def state(self) -> str:
        return self._key("state")

    @property
    def shares(self) -> str:
        return self._key("shares")

    @property
    def claimed(self) -> str:
        return self._key("claimed")

    @property
    def lastclaim(self) -> str:
        return self._key("lastclaim")


@dataclass(frozen=True, slots=True)
class Published:
    epoch: int
    leader: str | None
    live: tuple[str, ...]
    draining: tuple[str, ...]
    counts: Mapping[str, tuple[int, int]]


def tooz_url(url: str, namespace: str = "yiwang") -> str:
    """redis://host:port/DB as tooz's redis driver wants it (the database as `?db=`)."""
    parts = urlsplit(url)
    db = parts.path.strip("/") or "0"
    return urlunsplit((parts.scheme, parts.netloc, "", urlencode({"db": db, "namespace": namespace}), ""))


async def read_published(client: aioredis.Redis, keys: GroupKeys) -> Published:
    raw = await client.hgetall(keys.state)
    counts = {m: (int(c[0]), int(c[1])) for m, c in json.loads(raw.get("counts", "{}")).items()}
    leader = raw.get("leader")
    return Published(int(raw.get("epoch", 0)), str(leader) if leader else None,
                     tuple(json.loads(raw.get("live", "[]"))), tuple(json.loads(raw.get("draining", "[]"))), counts)


async def live_members(client: aioredis.Redis, keys: GroupKeys) -> tuple[list[str], list[str]]:
    """(live members, drain-flagged members), each sorted."""
    known = sorted(str(m) for m in await client.smembers(keys.members))
    async with client.pipeline(transaction=False) as pipe:
        for member in known:
            pipe.exists(keys.lease(member))
        pipe.smembers(keys.drain)
        *exists, drain = await pipe.execute()
    return [m for m, alive in zip(known, exists, strict=True) if alive], sorted(drain)


async def publish_if_changed(client: aioredis.Redis, keys: GroupKeys, me: str,
                             keys_to_devices: Mapping[str, frozenset[str]]) -> int | None:
    """Recompute and publish when live members or drain flags changed; the new epoch, or None when nothing did."""
    published = await read_published(client, keys)
    live, drain = await live_members(client, keys)
    draining = sorted(set(live) & set(drain))
    if published.epoch and (list(published.live), list(published.draining)) == (live, draining):
        return None
    active = [m for m in live if m not in drain]
    held = partition.shares(partition.assign(keys_to_devices, active))
    counts = {m: (len(ks), len(partition.devices_of(ks, keys_to_devices))) for m, ks in held.items()}
    pairs = [item for m, ks in sorted(held.items()) for item in (m, json.dumps(sorted(ks)))]
    epoch = await client.eval(scripts.PUBLISH, 2, keys.state, keys.shares, published.epoch, me, json.dumps(live),
                              json.dumps(draining), json.dumps(counts), int(time.time() * 1000), *pairs)
    return int(epoch) if int(epoch) > 0 else None


async def claim_keys(client: aioredis.Redis, keys: GroupKeys, member: str, epoch: int,
                     slot: int) -> tuple[str, int, frozenset[str]]:
    """One CLAIM call: (status "ok" | "lease" | "epoch", the stored epoch, granted keys)."""
    reply = await client.eval(scripts.CLAIM, 5, keys.lease(member), keys.state, keys.shares, keys.claimed,
                              keys.lastclaim, member, epoch, slot)
    status, current = reply[0], int(reply[1] or 0)
    # cjson encodes an empty table as {}, not []
    return status, current, frozenset(json.loads(reply[2]) or ()) if status == "ok" else frozenset()


class PollerMembership:
    def __init__(self, url: str, group: str, member: str, keys_to_devices: Mapping[str, frozenset[str]],
                 lease_ttl_s: float = 15.0, check_interval_s: float | None = None) -> None:
        for kind, name in (("group", group), ("member", member)):
            if not NAME.fullmatch(name):
                raise ValueError(f"{kind} name {name!r}: letters, digits, '.', '_' or '-', at most 64")
        self.url, self.group, self.member = url, group, member
        self.keys_to_devices = dict(keys_to_devices)
        self.lease_ttl_s = lease_ttl_s
        self.renew_every_s = lease_ttl_s / 3
        self.check_interval_s = check_interval_s or lease_ttl_s / 3
        # Stop claiming a little before the lease can have expired on the server: the renewal was sent at or
        # before the time recorded, so the server's expiry is later than our estimate, never earlier.
        self.fence_after_s = lease_ttl_s - max(0.2, lease_ttl_s / 5)
        self.keys = GroupKeys(group)
        self.drained = asyncio.Event()
        self.granted_keys: frozenset[str] = frozenset()
        self._epoch = 0
        self._leader = False
        self._renewed_at: float | None = None
        self._token = uuid.uuid4().hex
        self._timeout_s = max(0.5, min(2.0, lease_ttl_s / 3))
        self._redis = redis_client(url, self._timeout_s, decode=True)
        self._tooz: coordination.CoordinationDriver | None = None
        # tooz is synchronous and its coordinator not made for two threads at once: every call to it goes through
        # this one thread, so a round still running when the member leaves ends before the leave begins (and a
        # left member never joins again).
        self._tooz_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"tooz-{group}-{member}")
        self._left = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def is_leader(self) -> bool:
        return self._leader

    @property
    def tooz_group(self) -> bytes:
        return f"yiwang.pollers.{self.group}".encode()

    async def start(self) -> None:
        await self._renew()
        await self._round()
        self._tasks = [asyncio.create_task(self._every(self.renew_every_s, self._renew), name="lease"),
                       asyncio.create_task(self._every(self.check_interval_s, self._round), name="coordination")]

    async def claim(self, slot: int) -> frozenset[str]:
        """The devices this member may poll in `slot`; empty on any failure (fencing)."""
        self.granted_keys = frozenset()
        if self._fenced():
            return frozenset()
        try:
            status, current, granted = await claim_keys(self._redis, self.keys, self.member, self._epoch, slot)
            if status == "epoch":
                self._epoch = current
                status, current, granted = await claim_keys(self._redis, self.keys, self.member, current, slot)
        except Exception as exc:  # noqa: BLE001 - the poller's contract is "empty, never raises"
            log.warning("claim of slot %s failed: %s", slot, type(exc).__name__)
            return frozenset()
        if status != "ok":
            return frozenset()
        self.granted_keys = granted
        return partition.devices_of(granted, self.keys_to_devices)

    async def leave(self) -> None:
        """Leave at once: the lease goes, and the assignment is republished without waiting for the leader."""
        self._left = True
        await self._cancel()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self.keys.lease(self.member))
                pipe.srem(self.keys.members, self.member)
                pipe.srem(self.keys.drain, self.member)
                await pipe.execute()
            await publish_if_changed(self._redis, self.keys, self.member, self.keys_to_devices)
        except FAILURES as exc:
            log.warning("leaving group %s: %s", self.group, type(exc).__name__)
            # Redis is gone, and tooz would spend seconds retrying to tell it: its keys expire on their own.
            self._tooz, self._leader = None, False
        await self._in_tooz_thread(self._tooz_stop)
        self._tooz_thread.shutdown(wait=False)
        await self._redis.aclose()

    async def abandon(self) -> None:
        """Stop renewing without a word, as a crashed process would (tests and benchmarks)."""
        self._left = True
        await self._cancel()
        self._tooz_thread.shutdown(wait=False, cancel_futures=True)
        await self._redis.aclose()

    async def _in_tooz_thread(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._tooz_thread, call)

    def _fenced(self) -> bool:
        return self._renewed_at is None or time.monotonic() - self._renewed_at > self.fence_after_s

    async def _cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _every(self, interval_s: float, step: Any) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await step()
            except Exception:  # noqa: BLE001 - a loop that dies would leave the member half alive
                log.exception("coordination step %s in group %s failed", step.__name__, self.group)
            raise_if_cancelled()  # a step's Redis call may have eaten it: leave() would wait for ever

    async def _renew(self) -> None:
        sent = time.monotonic()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self.keys.lease(self.member), self._token, px=int(self.lease_ttl_s * 1000))
                # Re-added every time: a Redis that restarted empty learns the members again.
                pipe.sadd(self.keys.members, self.member)
                await pipe.execute()
        except FAILURES as exc:
            log.warning("lease renewal in group %s failed: %s", self.group, type(exc).__name__)
            return
        self._renewed_at = sent

    async def _round(self) -> None:
        self._leader = await self._in_tooz_thread(self._tooz_round)
        try:
            if self._leader:
                await publish_if_changed(self._redis, self.keys, self.member, self.keys_to_devices)
            published = await read_published(self._redis, self.keys)
        except FAILURES as exc:
            log.warning("coordination round in group %s failed: %s", self.group, type(exc).__name__)
            return
        self._epoch = published.epoch
        if self.member in published.draining and self.member not in published.counts:
            self.drained.set()

    def _tooz_round(self) -> bool:
        """Heartbeat, run tooz's watchers (which holds the election); whether this member leads. In a thread."""
        if self._left:
            return False
        try:
            if self._tooz is None:
                self._tooz = self._tooz_join()
            self._tooz.heartbeat()
            self._tooz.run_watchers()
        except TOOZ_FAILURES as exc:
            log.warning("tooz in group %s: %s", self.group, type(exc).__name__)
            self._tooz_stop()
            return False
        return self._leader

    def _tooz_join(self) -> coordination.CoordinationDriver:
        whole_s = max(1, math.ceil(self.lease_ttl_s))
        # Synchronous: tooz already runs in a worker thread here, and its own thread pool takes a second to stop.
        coordinator = coordination.get_coordinator(tooz_url(self.url), self.member.encode(), timeout=whole_s,
                                                   lock_timeout=whole_s, membership_timeout=self.lease_ttl_s,
                                                   executor="synchronous")
        coordinator.start()
        # Created first: join_group_create sleeps a second before retrying when the group does not exist yet.
        with contextlib.suppress(coordination.GroupAlreadyExist):
            coordinator.create_group(self.tooz_group).get()
        with contextlib.suppress(coordination.MemberAlreadyExist):  # restarted before its old heartbeat expired
            coordinator.join_group(self.tooz_group, capabilities={"role": "poller"}).get()

        def elected(event: coordination.LeaderElected) -> None:
            self._leader = True

        coordinator.watch_elected_as_leader(self.tooz_group, elected)
        return coordinator

    def _tooz_stop(self) -> None:
        coordinator, self._tooz, self._leader = self._tooz, None, False
        if coordinator is None:
            return
        with contextlib.suppress(*TOOZ_FAILURES):
            coordinator.leave_group(self.tooz_group).get()
        with contextlib.suppress(*TOOZ_FAILURES):
            coordinator.stop()


async def request_drain(url: str, group: str, member: str) -> bool:
    """Flag `member` for draining; True when it is a member of the group. The leader moves its share away."""
    keys = GroupKeys(group)
    client = redis_client(url, 2.0, decode=True)
    try:
        if not await client.sismember(keys.members, member):
            return False
        await client.sadd(keys.drain, member)
        return True
    finally:
        await client.aclose()


@dataclass(frozen=True, slots=True)
class MemberStatus:
    name: str
    lease_remaining_s: float  # 0 when the lease has expired
    draining: bool
    townships: int
    devices: int
    last_claimed_slot: int | None
    lag_slots: int | None  # current slot - last claimed slot


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    group: str
    epoch: int
    leader: str | None
    current_slot: int
    members: tuple[MemberStatus, ...]
    error: str | None = None


async def cluster_status(url: str, group: str, interval_s: float = 60.0, now: float | None = None) -> ClusterStatus:
    """What the group looks like now; an unreachable Redis gives an empty status with `error` set."""
    keys = GroupKeys(group)
    current = slot_of(time.time() if now is None else now, interval_s)
    client = redis_client(url, 2.0, decode=True)
    try:
        published = await read_published(client, keys)
        names = sorted({str(m) for m in await client.smembers(keys.members)} | set(published.live))
        async with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.pttl(keys.lease(name))
            pipe.hgetall(keys.lastclaim)
            pipe.smembers(keys.drain)
            *ttls, lastclaim, drain = await pipe.execute()
    except FAILURES as exc:
        return ClusterStatus(group, 0, None, current, (), error=f"{type(exc).__name__}: {exc}")
    finally:
        await client.aclose()
    members = []
    for name, ttl_ms in zip(names, ttls, strict=True):
        last = int(lastclaim[name]) if name in lastclaim else None
        townships, devices = published.counts.get(name, (0, 0))
        members.append(MemberStatus(name, max(0, ttl_ms) / 1000, name in drain, townships, devices, last,
                                    None if last is None else current - last))
    return ClusterStatus(group, published.epoch, published.leader, current, tuple(members))
