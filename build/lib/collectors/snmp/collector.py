"""The SNMP collector: a thin I/O shell around the pure profile -> samples code."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from collectors.base import PollResult, PollTarget
from collectors.model import Sample
from collectors.snmp.profile import Profile, Table
from collectors.snmp.rates import CounterMemory
from collectors.snmp.samples import Walked, scalar_fields, table_labels, table_samples, text_of
from collectors.snmp.session import SnmpFailure, SnmpSession, Target, V2cCredentials, V3Credentials

REDISCOVER_EVERY = 30  # cycles; ifName/ifAlias change rarely and strings are the costliest varbinds
MAX_REPETITIONS_CAP = 50


class SessionFactory(Protocol):
    def session(self, target: Target, credential: object) -> SnmpSession: ...


@dataclass(slots=True)
class DeviceMemory:
    counters: CounterMemory = field(default_factory=CounterMemory)
    facts: dict[str, str] = field(default_factory=dict)
    labels: dict[int, dict[str, dict[str, str]]] = field(default_factory=dict)  # table position -> index -> tags
    rows: int = 0
    cycles_since_discovery: int = REDISCOVER_EVERY


class SnmpCollector:
    name = "snmp"

    def __init__(self, profiles: Mapping[str, Profile], sessions: SessionFactory,
                 timeout: float = 2.0, retries: int = 1) -> None:
        self._profiles = profiles
        self._sessions = sessions
        self._timeout = timeout
        self._retries = retries
        self._memory: dict[str, DeviceMemory] = {}

    def forget(self, device: str) -> None:
        self._memory.pop(device, None)

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
        session = self._sessions.session(
            Target(target.host, target.port, self._timeout, self._retries), target.credential)
        memory = self._memory.setdefault(target.device, DeviceMemory())
        try:
            samples, varbinds = await self._poll(session, target, profiles, memory)
        except SnmpFailure as exc:
            return self._failed(target, started, exc.reason, f"{target.device} ({target.host}): {exc}")
        finally:
            await session.close()
        duration = time.perf_counter() - started
        return PollResult(target.device, self.name, samples, True, duration_s=duration, varbinds=varbinds)

    def _failed(self, target: PollTarget, started: float, reason: str, error: str) -> PollResult:
        duration = time.perf_counter() - started
        return PollResult(target.device, self.name, [], False, reason, error, duration, 0)

    async def _poll(self, session: SnmpSession, target: PollTarget, profiles: list[Profile],
                    memory: DeviceMemory) -> tuple[list[Sample], int]:
        discover = memory.cycles_since_discovery >= REDISCOVER_EVERY
        scalar_oids = [c.oid for p in profiles for c in p.scalars]
        fact_oids = [oid for p in profiles for oid in p.facts.values()] if discover else []
        got = await session.get(scalar_oids + fact_oids) if scalar_oids or fact_oids else {}
        varbinds = len(got)
        tables = [t for p in profiles for t in p.tables]
        if discover:
            label_oids = [oid for t in tables for oid in t.labels.values()]
            walked_labels = await session.walk_columns(label_oids) if label_oids else {}
            varbinds += sum(len(v) for v in walked_labels.values())
            memory.labels = {i: table_labels(t, walked_labels) for i, t in enumerate(tables)}
            memory.facts = {name: text_of(got.get(oid)) for p in profiles for name, oid in p.facts.items()}
            memory.cycles_since_discovery = 0
        memory.cycles_since_discovery += 1
        columns = [c.oid for t in tables for c in t.columns]
        repetitions = min(max(memory.rows + 1, 2), MAX_REPETITIONS_CAP)
        walked = await session.walk_columns(columns, max_repetitions=repetitions) if columns else {}
        varbinds += sum(len(v) for v in walked.values())
        memory.rows = max((len(v) for v in walked.values()), default=0)
        now = time.time_ns()
        base = dict(target.tags)
        samples = _scalar_samples(profiles, got, base, now, memory)
        for position, table in enumerate(tables):
            samples.extend(table_samples(table, walked, memory.labels.get(position, {}), base, now, memory.counters))
            if any(index not in memory.labels.get(position, {}) for index, _ in _first_column(table, walked)):
                memory.cycles_since_discovery = REDISCOVER_EVERY  # a new row appeared: name it next cycle
        return samples, varbinds


def _first_column(table: Table, walked: Walked) -> list[tuple[str, object]]:
    if not table.labels or not table.columns:
        return []
    return list(walked.get(table.columns[0].oid, ()))


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
    """v2c through the fast codec (the hot path); v3 through pysnmp, which owns USM and its crypto."""

    def __init__(self) -> None:
        from collectors.snmp.fast_v2c import FastV2cEngine

        self._fast = FastV2cEngine()
        self._v3: Any = None

    def session(self, target: Target, credential: object) -> SnmpSession:
        if isinstance(credential, V2cCredentials):
            return self._fast.session(target, credential)
        if isinstance(credential, V3Credentials):
            if self._v3 is None:
                from collectors.snmp.pysnmp_session import PysnmpEngine

                self._v3 = PysnmpEngine()
            session: SnmpSession = self._v3.session(target, credential)
            return session
        raise TypeError(f"no SNMP session for credential type {type(credential).__name__}")

    async def close(self) -> None:
        await self._fast.close()
        if self._v3 is not None:
            await self._v3.close()


def make_snmp_collector(profile_dirs: tuple[str, ...] = (), timeout: float = 2.0, retries: int = 1) -> SnmpCollector:
    """A picklable recipe (with functools.partial) for poll worker processes."""
    from collectors.snmp.profile import load_profiles

    return SnmpCollector(load_profiles(*(Path(d) for d in profile_dirs)), DefaultSessions(), timeout, retries)
