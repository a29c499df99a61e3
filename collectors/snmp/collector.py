"""The SNMP collector: a thin I/O shell around the pure profile -> samples code."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from collectors.base import PollResult, PollTarget
from collectors.model import Sample
from collectors.snmp.ber import BadValue
from collectors.snmp.over_ipv6 import SYS_UPTIME, ipv6_probe_host, polled_over_ipv6, snmp_ipv6_sample
from collectors.snmp.profile import Profile, Table
from collectors.snmp.rates import CounterMemory
from collectors.snmp.samples import (
    bad_values,
    fallback_plan,
    row_indexes,
    scalar_fields,
    table_labels,
    table_samples,
    text_of,
)
from collectors.snmp.session import SnmpFailure, SnmpSession, Target, V2cCredentials, V3Credentials, Value

log = logging.getLogger(__name__)

REDISCOVER_EVERY = 30  # cycles; ifName/ifAlias change rarely and strings are the costliest varbinds
MAX_REPETITIONS_CAP = 50


class SessionFactory(Protocol):
    def session(self, target: Target, credential: object) -> SnmpSession: ...


@dataclass(slots=True)
class DeviceMemory:
    counters: CounterMemory = field(default_factory=CounterMemory)
    facts: dict[str, str] = field(default_factory=dict)
    labels: dict[int, dict[str, dict[str, str]]] = field(default_factory=dict)  # table position -> index -> tags
    rows_named: dict[int, set[str]] = field(default_factory=dict)  # table position -> rows seen on discovery
    rows: int = 0
    cycles_since_discovery: int = REDISCOVER_EVERY
    skip: set[str] | None = None  # columns this device's walk leaves out (see _walk_tables)
    bad: int = 0  # undecodable varbinds in the last cycle, logged when the count changes
    ipv6_reason: str = "ok"  # the last IPv6 GET's outcome (dual-stack devices), logged when it changes


@dataclass(frozen=True, slots=True)
class WalkShape:
    """What one set of profiles reads, worked out once rather than per device and cycle."""

    tables: tuple[Table, ...]
    columns: tuple[str, ...]  # every column a table walk may read, fallbacks included, in walk order
    fallbacks: frozenset[str]
    primaries: frozenset[str]  # the columns that have a fallback
    planned: tuple[Table, ...]  # the tables with fallbacks

    @classmethod
    def of(cls, profiles: list[Profile]) -> WalkShape:
        tables = tuple(t for p in profiles for t in p.tables)
        pairs = [(c.oid, c.fallback.oid) for t in tables for c in t.columns if c.fallback is not None]
        return cls(tables, tuple(dict.fromkeys(oid for t in tables for oid in t.walk_oids)),
                   frozenset(f for _, f in pairs), frozenset(c for c, _ in pairs),
                   tuple(t for t in tables if any(c.fallback is not None for c in t.columns)))


class SnmpCollector:
    name = "snmp"

    def __init__(self, profiles: Mapping[str, Profile], sessions: SessionFactory,
                 timeout: float = 2.0, retries: int = 1) -> None:
        self._profiles = profiles
        self._sessions = sessions
        self._timeout = timeout
        self._retries = retries
        self._memory: dict[str, DeviceMemory] = {}
        self._shapes: dict[tuple[str, ...], WalkShape] = {}

    async def close(self) -> None:
        close = getattr(self._sessions, "close", None)
        if close is not None:
            await close()

    async def poll(self, target: PollTarget) -> PollResult:
        started = time.perf_counter()
        try:
            profiles = [self._profiles[name] for name in target.profiles]
        except KeyError as exc:
            return self._failed(target, started, "config", f"{target.device}: unknown SNMP profile {exc.args[0]!r}")
        host6 = ipv6_probe_host(target)
        if host6 is None:
            result = await self._poll_profiles(target, profiles, started)
            if polled_over_ipv6(target):
                result.samples.append(snmp_ipv6_sample(dict(target.tags), result.reason, result.duration_s,
                                                       time.time_ns()))
            return result
        # Side by side, so the IPv6 GET adds no time to a device whose IPv6 answers, and its failure (a sample)
        # cannot reach the IPv4 poll's result.
        result, answer = await asyncio.gather(self._poll_profiles(target, profiles, started),
                                              self._answers_over_ipv6(target, host6))
        result.samples.append(answer)
        return result

    async def _poll_profiles(self, target: PollTarget, profiles: list[Profile], started: float) -> PollResult:
        session = self._sessions.session(
            Target(target.host, target.port, self._timeout, self._retries), target.credential)
        memory = self._memory.setdefault(target.device, DeviceMemory())
        shape = self._shapes.get(target.profiles)
        if shape is None:
            shape = self._shapes[target.profiles] = WalkShape.of(profiles)
        try:
            samples, varbinds, bad = await self._poll(session, target, profiles, shape, memory)
        except SnmpFailure as exc:
            return self._failed(target, started, exc.reason, f"{target.device} ({target.host}): {exc}")
        finally:
            await session.close()
        if len(bad) != memory.bad:
            memory.bad = len(bad)
            if bad:
                log.warning("%s (%s): %d varbind(s) undecodable, counted as missing; first: %s", target.device,
                            target.host, len(bad), bad[0].reason)
        duration = time.perf_counter() - started
        return PollResult(target.device, self.name, samples, True, duration_s=duration, varbinds=varbinds,
                          bad_varbinds=len(bad))

    async def _answers_over_ipv6(self, target: PollTarget, host6: str) -> Sample:
        """One GET of sysUpTime at host6; any reply, even noSuchObject, is an answer."""
        started = time.perf_counter()
        session = self._sessions.session(Target(host6, target.port, self._timeout, self._retries), target.credential)
        reason, error = "ok", ""
        try:
            await session.get([SYS_UPTIME])
        except SnmpFailure as exc:
            reason, error = exc.reason, str(exc)
        finally:
            await session.close()
        memory = self._memory.setdefault(target.device, DeviceMemory())
        if reason != memory.ipv6_reason:  # once per change: a city not yet on IPv6 would fill the log each cycle
            memory.ipv6_reason = reason
            if error:
                log.info("%s: SNMP over IPv6 does not answer: %s", target.device, error)
        return snmp_ipv6_sample(dict(target.tags), reason, time.perf_counter() - started, time.time_ns())

    def _failed(self, target: PollTarget, started: float, reason: str, error: str) -> PollResult:
        duration = time.perf_counter() - started
        return PollResult(target.device, self.name, [], False, reason, error, duration, 0)

    async def _poll(self, session: SnmpSession, target: PollTarget, profiles: list[Profile], shape: WalkShape,
                    memory: DeviceMemory) -> tuple[list[Sample], int, list[BadValue]]:
        discover = memory.cycles_since_discovery >= REDISCOVER_EVERY
        scalar_oids = [c.oid for p in profiles for c in p.scalars]
        fact_oids = [oid for p in profiles for oid in p.facts.values()] if discover else []
        got = await session.get(scalar_oids + fact_oids) if scalar_oids or fact_oids else {}
        varbinds = len(got)
        bad = bad_values(got.values())
        tables = shape.tables
        if discover:
            label_oids = list(dict.fromkeys(oid for t in tables for oids in t.labels.values() for oid in oids))
            walked_labels = await session.walk_columns(label_oids) if label_oids else {}
            varbinds += sum(len(v) for v in walked_labels.values())
            bad += bad_values(v for rows in walked_labels.values() for _, v in rows)
            memory.labels = {i: table_labels(t, walked_labels) for i, t in enumerate(tables)}
            memory.facts = {name: text_of(got.get(oid)) for p in profiles for name, oid in p.facts.items()}
            memory.cycles_since_discovery = 0
        memory.cycles_since_discovery += 1
        walked = await _walk_tables(session, shape, memory, discover)
        varbinds += sum(len(v) for v in walked.values())
        bad += bad_values(v for rows in walked.values() for _, v in rows)
        memory.rows = max((len(v) for v in walked.values()), default=0)
        now = time.time_ns()
        base = dict(target.tags)
        samples = _scalar_samples(profiles, got, base, now, memory)
        for position, table in enumerate(tables):
            samples.extend(table_samples(table, walked, memory.labels.get(position, {}), base, now, memory.counters))
            rows = row_indexes(table, walked)
            if discover:
                memory.rows_named[position] = rows
            elif table.labels and not rows <= memory.rows_named.get(position, set()):
                memory.cycles_since_discovery = REDISCOVER_EVERY  # a new row appeared: name it next cycle
        return samples, varbinds, bad


async def _walk_tables(session: SnmpSession, shape: WalkShape, memory: DeviceMemory,
                       discover: bool) -> dict[str, list[tuple[str, Value]]]:
    """One GETBULK stream over the columns this device answers.

    A fallback column (ifInOctets) is walked only while some row lacks its primary (ifHCInOctets); a primary that
    answered no row is left out until the next discovery tries it again. A walk that finds a row needing a
    fallback not walked yet reads it at once in a second stream, so a device costs more only when what it
    answers changes, and a device with HC counters on every row never walks a 32-bit column."""
    if memory.skip is None:
        memory.skip = set(shape.fallbacks)
    skip = memory.skip - shape.primaries if discover else memory.skip
    columns = [oid for oid in shape.columns if oid not in skip]
    repetitions = min(max(memory.rows + 1, 2), MAX_REPETITIONS_CAP)
    walked = await session.walk_columns(columns, max_repetitions=repetitions) if columns else {}
    if not shape.planned:
        return walked
    needed: set[str] = set()
    silent: set[str] = set()
    for table in shape.planned:
        table_needed, table_silent = fallback_plan(table, walked)
        needed |= table_needed
        silent |= table_silent
    missing = [oid for oid in shape.columns if oid in needed and oid not in walked]
    if missing:
        walked = {**walked, **await session.walk_columns(missing, max_repetitions=repetitions)}
    memory.skip = set(shape.fallbacks - needed) | silent
    return walked


def _scalar_samples(profiles: list[Profile], got: Mapping[str, object], base: dict[str, str], now: int,
                    memory: DeviceMemory) -> list[Sample]:
    samples: list[Sample] = []
    tags = tuple(sorted(base.items()))
    for profile in profiles:
        fields = scalar_fields(profile, got)
        if "uptime_seconds" in fields:
            memory.counters.observe_uptime(fields["uptime_seconds"])
        if fields:
            samples.append(Sample(profile.measurement, tags, fields, now))
    if memory.facts:
        info = tuple(sorted({**base, **{k: v for k, v in memory.facts.items() if v}}.items()))
        samples.append(Sample("device_info", info, {"info": 1.0}, now))
    return samples


class DefaultSessions:
    """v2c and v3 through the fast codec's engine (one socket per family); pysnmp stays the tests' reference."""

    def __init__(self) -> None:
        from collectors.snmp.fast_v2c import FastV2cEngine

        self._fast = FastV2cEngine()

    def session(self, target: Target, credential: object) -> SnmpSession:
        if isinstance(credential, V2cCredentials | V3Credentials):
            return self._fast.session(target, credential)
        raise TypeError(f"no SNMP session for credential type {type(credential).__name__}")

    async def close(self) -> None:
        await self._fast.close()


def make_snmp_collector(profile_dirs: tuple[str, ...] = (), timeout: float = 2.0, retries: int = 1) -> SnmpCollector:
    """A picklable recipe (with functools.partial) for poll worker processes."""
    from collectors.snmp.profile import load_profiles

    return SnmpCollector(load_profiles(*(Path(d) for d in profile_dirs)), DefaultSessions(), timeout, retries)
