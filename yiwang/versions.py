"""The software version each device runs, as the SSH collector last read it, kept in SQL.

The SSH collector's `device_facts` samples live in `yiwang run`'s LatestStore, i.e. in memory: a compliance run from
the command line (or one right after a restart) would have no version to judge `firmware-advisory` by. A pipeline
stage writes each SSH cycle's versions to the `device_versions` table; a run that has no fresh sample of a device
reads the last known version from there and says how old it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, insert, select, update

from collectors.base import PollResult
from collectors.model import Sample
from yiwang.pipeline import CycleReport
from yiwang.schema import device_versions as versions_t

log = logging.getLogger("yiwang.versions")

SSH_COLLECTOR = "ssh"
MAX_TEXT = 200  # the columns' width: a device's text is untrusted and may be longer


@dataclass(frozen=True, slots=True)
class KnownVersion:
    version: str
    model: str  # "" when the facts named none
    read_at: float  # epoch seconds

    def said(self, now_s: float) -> str:
        """How old the reading is, for a rule's detail: "read over SSH 26.5 h ago (2026-11-29 08:00 UTC)"."""
        hours = max(now_s - self.read_at, 0.0) / 3600.0
        stamp = datetime.fromtimestamp(self.read_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"the version the SSH collector read {hours:.1f} h ago ({stamp})"


def known_version(samples: Sequence[Sample]) -> KnownVersion | None:
    """The version in a device's `device_facts` sample (collectors/ssh/parse.py to_samples); None without one."""
    for sample in samples:
        if sample.measurement == "device_facts":
            tags = dict(sample.tags)
            version = tags.get("version", "")
            if not version:
                return None
            return KnownVersion(version[:MAX_TEXT], tags.get("model", "")[:MAX_TEXT], sample.time_ns / 1e9)
    return None


class VersionStore:
    """Synchronous and short, like `yiwang.store.Store`; async callers use `asyncio.to_thread`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, versions: Mapping[str, KnownVersion]) -> None:
        """Each device's newest reading, in one transaction (a reading older than the stored one is ignored)."""
        if not versions:
            return
        with self.engine.begin() as conn:
            stored = {row.device: row.read_at for row in conn.execute(select(versions_t.c.device,
                                                                             versions_t.c.read_at))}
            rows = [{"b_device": device, "version": v.version, "model": v.model, "read_at": v.read_at}
                    for device, v in versions.items() if v.read_at >= stored.get(device, float("-inf"))]
            updates = [r for r in rows if r["b_device"] in stored]
            if updates:
                conn.execute(update(versions_t).where(versions_t.c.device == bindparam("b_device")), updates)
            inserts = [{"device": r["b_device"], "version": r["version"], "model": r["model"],
                        "read_at": r["read_at"]} for r in rows if r["b_device"] not in stored]
            if inserts:
                conn.execute(insert(versions_t), inserts)

    def known(self) -> dict[str, KnownVersion]:
        with self.engine.connect() as conn:
            return {row.device: KnownVersion(row.version, row.model, row.read_at)
                    for row in conn.execute(select(versions_t))}


class VersionStage:
    """A pipeline stage: the versions of an SSH cycle, written when the cycle settles. A store that cannot be
    written is logged; monitoring goes on."""

    def __init__(self, store: VersionStore) -> None:
        self.store = store
        self._pending: dict[str, KnownVersion] = {}

    def take(self, result: PollResult) -> None:
        if result.collector != SSH_COLLECTOR:  # a partial result (a command failed) may still hold the facts
            return
        found = known_version(result.samples)
        if found is not None:
            self._pending[result.device] = found

    async def settle(self, report: CycleReport) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            await asyncio.to_thread(self.store.record, pending)
        except Exception as exc:  # noqa: BLE001 - a store outage must not stop monitoring; it is reported
            log.error("the devices' versions could not be recorded in the SQL store: %s", exc)
