"""The compliance service of `yiwang run` over a real git archive and SQLite: a run stored, never two at once, and
the newest run as samples through the collector (the devices' own, and the areas' under device "")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.base import PollTarget
from collectors.model import Sample
from inventory.model import Area, Device, Inventory, Level
from yiwang.archive.git import GitArchive
from yiwang.archive.index import BackupStatus
from yiwang.compliance.history import ComplianceHistory
from yiwang.compliance.samples import ComplianceCollector
from yiwang.compliance.service import ComplianceService, RunBusy
from yiwang.config import ComplianceSettings
from yiwang.store import open_store

CASES = Path(__file__).parent / "cases"
INVENTORY = Inventory(
    areas={a.id: a for a in (Area("hb", "湖北", Level.PROVINCE), Area("hb.hg", "黄冈", Level.CITY, "hb"),
                             Area("hb.hg.c1", "黄州区", Level.COUNTY, "hb.hg"))},
    devices={d.name: d for d in (Device("c1-agg", "huawei_vrp", "agg", "hb.hg.c1", "10.0.0.1"),
                                 Device("c1-sw", "cisco_ios", "sw", "hb.hg.c1", "10.0.0.2"))})
TARGETS = [PollTarget(name, "10.0.0.1", (("county", "黄州区"), ("device", name))) for name in INVENTORY.devices]


class Index:
    def status(self) -> dict[str, BackupStatus]:
        return {}


def _service(tmp_path: Path) -> ComplianceService:
    git = GitArchive(tmp_path / "configs")
    git.store("c1-agg", (CASES / "huawei_vrp" / "hardened" / "config.txt").read_text(), datetime.now(UTC))
    store = open_store(f"sqlite:///{tmp_path / 'y.sqlite'}")
    return ComplianceService(ComplianceSettings(), INVENTORY, git, Index(), ComplianceHistory(store.engine), TARGETS,
                             lambda device: [])


async def _collected(service: ComplianceService) -> dict[str, list[Sample]]:
    return {r.device: r.samples async for r in ComplianceCollector(service.samples).collect(TARGETS)}


async def test_a_run_then_its_samples_per_device_and_per_area(tmp_path: Path) -> None:
    service = _service(tmp_path)
    assert await _collected(service) == {}  # no run yet: no samples, no result
    summary = await service.run("manual")
    assert summary.run.devices == 2 and not service.running
    found = await _collected(service)
    assert set(found) == {"c1-agg", "c1-sw", ""}
    checks = {s.tag("check"): s.fields["failed"] for s in found["c1-sw"]}
    assert set(checks) == {"pw-irreversible", "remote-mgmt-encrypted", "no-default-account", "mgmt-acl",
                           "snmp-v3-priv-only", "firmware-advisory"}  # the high rules
    assert set(checks.values()) == {0.0}  # no configuration: `error` on each, which is no failure
    areas = [s for s in found[""] if s.measurement == "compliance"]
    assert {s.tag("county") for s in areas} == {"", "黄州区"} and len(areas) == 3 * 17
    backup = next(s for s in areas if s.tag("county") == "黄州区" and s.tag("rule") == "config-backup-fresh")
    assert backup.fields == {"failed": 2.0, "checked": 2.0}  # neither has a backup in the index
    readiness = [s for s in found[""] if s.measurement == "ipv6_readiness"]
    assert [dict(s.tags)["county"] for s in readiness] == ["黄州区"] and "ready_ratio" not in readiness[0].fields


async def test_an_operators_run_is_refused_while_one_is_under_way_and_the_scheduled_one_waits(
        tmp_path: Path) -> None:
    service = _service(tmp_path)
    service._running.acquire()  # a run under way
    try:
        assert service.running
        with pytest.raises(RunBusy):
            await service.run("manual", wait=False)
        waiting = asyncio.ensure_future(service.run("backup"))
        await asyncio.sleep(0.3)
        assert not waiting.done()
    finally:
        service._running.release()
    assert (await waiting).run.trigger == "backup"
