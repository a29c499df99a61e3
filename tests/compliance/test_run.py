"""One run's results over a small inventory, pure (no archive, no store): which device gets which rule, from which
input; a device with no archived configuration; exemptions on the data rules; the severities."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from inventory.model import Area, Device, Endpoint, Inventory, Level, Link
from yiwang.archive.index import BackupStatus
from yiwang.assemble import backup_job
from yiwang.compliance.model import Exemption
from yiwang.compliance.pack import RuleSettings, load_pack
from yiwang.compliance.run import DataSources, checked_devices, evaluate_all

CASES = Path(__file__).parent / "cases"
TODAY = date(2026, 11, 30)
NOW = 1_796_000_000.0
INVENTORY = Inventory(
    areas={a.id: a for a in (Area("hb", "Hubei", Level.PROVINCE), Area("hb.hg", "HG", Level.CITY, "hb"),
                             Area("hb.hg.c1", "C1", Level.COUNTY, "hb.hg"),
                             Area("hb.hg.c1.t1", "T1", Level.TOWNSHIP, "hb.hg.c1"))},
    devices={d.name: d for d in (Device("c1-agg01", "huawei_vrp", "agg", "hb.hg.c1", "10.0.0.1"),
                                 Device("t1-sw", "cisco_ios", "sw", "hb.hg.c1.t1", "10.0.1.1"),
                                 Device("srv", "linux", "server", "hb.hg.c1", "10.0.0.9"))},
    links=[Link("hb.hg.c1", Endpoint("c1-agg01", "GE0/0/1"), Endpoint("hg-core", "GE1/0/1"), "c", 1000.0),
           Link("hb.hg.c1.t1", Endpoint("t1-sw", "Gi0/1"), Endpoint("c1-agg01", "GE0/0/2"), "c", 100.0)])


def test_every_rule_on_every_device_with_a_cli_from_its_inputs() -> None:
    pack = load_pack(settings=RuleSettings(exemptions=(
        Exemption("config-backup-fresh", None, "hb.hg.c1.t1", "moved next week", date(2026, 12, 31), "Li"),)))
    configs = {"c1-agg01": (CASES / "huawei_vrp" / "hardened" / "config.txt").read_text()}
    statuses = {"c1-agg01": BackupStatus("c1-agg01", NOW - 3600, NOW - 3600, "ok", "", "abc"),
                "t1-sw": BackupStatus("t1-sw", NOW - 30 * 3600, NOW - 60, "timeout", "no answer", None)}
    found = evaluate_all(INVENTORY, checked_devices(INVENTORY), configs, statuses, pack, DataSources(),
                         today=TODAY, now_s=NOW)
    assert {r.device for r in found} == {"c1-agg01", "t1-sw"}  # the server has no CLI yiwang reads
    by = {(r.device, r.rule): r for r in found}
    assert len(found) == 2 * 17 and [r.rule for r in found[:17]] == [r.id for r in pack.rules]
    # the hardened configuration passes its rules; the device with none is `error` on every configuration rule
    assert by["c1-agg01", "syslog-server"].status == "pass"
    for rule in (r.id for r in pack.rules if r.source == "config"):
        assert by["t1-sw", rule].status == "error" and by["t1-sw", rule].detail == "no configuration in the archive"
    assert by["c1-agg01", "config-backup-fresh"].status == "pass"
    stale = by["t1-sw", "config-backup-fresh"]
    assert stale.status == "exempt" and stale.exemption is not None and stale.exemption["approved_by"] == "Li"
    assert "last attempt" in stale.detail and stale.severity == "medium"
    assert by["c1-agg01", "uplink-redundancy"].status == "fail"  # one uplink, no VRRP in the hardened config
    assert by["t1-sw", "uplink-redundancy"].status == "not-applicable"  # a township needs none
    assert by["c1-agg01", "uplink-capacity"].detail == "no metric history configured (compliance.metrics_url)"
    assert by["c1-agg01", "firmware-advisory"].detail == "no advisory file configured (compliance.advisories)"
    assert by["c1-agg01", "firmware-advisory"].severity == "high"
    assert by["t1-sw", "mgmt-acl"].area_path == ("hb", "hb.hg", "hb.hg.c1", "hb.hg.c1.t1")


def test_a_disabled_data_rule_is_not_run() -> None:
    pack = load_pack(settings=RuleSettings(disabled=frozenset({"uplink-capacity", "firmware-advisory"})))
    found = evaluate_all(INVENTORY, checked_devices(INVENTORY), {}, {}, pack, DataSources(), today=TODAY, now_s=NOW)
    assert {r.rule for r in found} == {r.id for r in pack.rules} and len(pack.rules) == 15


def test_a_failing_run_after_the_backup_is_logged_and_the_backups_go_on(caplog: pytest.LogCaptureFixture) -> None:
    class Archive:
        backups = 0

        async def backup(self) -> list[object]:
            self.backups += 1
            return []

    async def broken_run() -> object:
        raise OSError("the database is gone")

    archive = Archive()
    for _ in range(2):
        asyncio.run(backup_job(archive, broken_run))  # type: ignore[arg-type]
    assert archive.backups == 2
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "the compliance run after the backup failed"] * 2
