"""config-backup-fresh, uplink-capacity and uplink-redundancy over plain inputs, and the backup rule over a real
(temporary SQLite) archive index."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from inventory.model import Area, Device, Endpoint, Inventory, Level, Link
from yiwang.archive.index import BackupStatus
from yiwang.compliance.data_rules import (
    WEEK_SAMPLES,
    backup_results,
    capacity_result,
    config_backup_fresh,
    five_minute_peaks,
    p95,
    redundancy_results,
    uplink_capacity,
    uplink_redundancy,
)
from yiwang.store import open_store

NOW = 1_796_083_200.0  # 2026-12-01 00:00 UTC
HOUR = 3600.0


def status(ok_hours_ago: float | None, reason: str = "ok", error: str = "") -> BackupStatus:
    ok = None if ok_hours_ago is None else NOW - ok_hours_ago * HOUR
    return BackupStatus("r1", ok, NOW - HOUR, reason, error, "abc" if ok else None)


# --- config-backup-fresh -------------------------------------------------------------------------------------------

def test_fresh_backup_passes() -> None:
    found = config_backup_fresh(status(3), NOW)
    assert found.status == "pass"
    assert found.rule == "config-backup-fresh"
    assert found.detail == "last good backup 3 h ago (2026-11-30 21:00 UTC)"


def test_old_backup_fails_with_its_age_and_the_last_failure() -> None:
    found = config_backup_fresh(status(30, "timeout", "no prompt after 10 s"), NOW)
    assert found.status == "fail"
    assert found.detail == ("last good backup 30 h ago (2026-11-29 18:00 UTC); last attempt 2026-11-30 23:00 UTC: "
                            "timeout (no prompt after 10 s)")


def test_exactly_the_limit_fails_and_just_under_passes() -> None:
    assert config_backup_fresh(status(24), NOW).status == "fail"
    just_under = config_backup_fresh(status(23.99), NOW)
    assert just_under.status == "pass"
    assert "24 h" in just_under.detail  # 23.99 rounds to a whole 24 …
    assert config_backup_fresh(status(23.9), NOW).detail.startswith("last good backup 23.9 h ago")


def test_never_backed_up() -> None:
    assert config_backup_fresh(None, NOW).detail == "never backed up"
    failed = config_backup_fresh(status(None, "auth", "permission denied"), NOW)
    assert failed.status == "fail"
    assert failed.detail.startswith("never backed up; last attempt")


def test_a_backup_from_the_future_is_an_error_not_a_pass() -> None:
    assert config_backup_fresh(status(-2), NOW).status == "error"
    assert config_backup_fresh(status(-0.01), NOW).status == "pass"  # seconds of skew between two clocks


def test_the_parameter_changes_the_limit() -> None:
    assert config_backup_fresh(status(30), NOW, max_age_h=48).status == "pass"


def test_over_a_real_archive_index(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'yiwang.sqlite'}")
    store.archive.record_ok("fresh", NOW - 2 * HOUR, "c1")
    store.archive.record_ok("stale", NOW - 50 * HOUR, "c2")
    store.archive.record_failure("stale", NOW - HOUR, "timeout", "read timed out")
    store.archive.record_failure("broken", NOW - HOUR, "auth", "denied")
    found = backup_results(store.archive, ["fresh", "stale", "broken", "unknown"], NOW)
    assert {k: v.status for k, v in found.items()} == {"fresh": "pass", "stale": "fail", "broken": "fail",
                                                       "unknown": "fail"}
    assert "last attempt" in found["stale"].detail and "read timed out" in found["stale"].detail
    assert found["unknown"].detail == "never backed up"


def test_an_unreadable_index_is_an_error_for_every_device(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'yiwang.sqlite'}")
    store.engine.dispose()
    (tmp_path / "yiwang.sqlite").write_bytes(b"not a database" * 100)
    found = backup_results(store.archive, ["a", "b"], NOW)
    assert {v.status for v in found.values()} == {"error"}
    assert found["a"].detail.startswith("the archive index could not be read")


# --- uplink-capacity ------------------------------------------------------------------------------------------------

def test_p95_nearest_rank() -> None:
    assert p95(list(range(1, 21))) == 19  # ceil(0.95 * 20) = 19th smallest
    assert p95(list(range(1, 101))) == 95
    assert p95([5.0]) == 5.0
    assert p95(list(range(1, 22))) == 20  # ceil(19.95) = 20
    shuffled = list(range(1, 2017))
    random.Random(1).shuffle(shuffled)
    assert p95(shuffled) == 1916  # ceil(0.95 * 2016) = 1916
    with pytest.raises(ValueError):
        p95([])


def week(level_bps: float, peaks: int = 0, peak_bps: float = 0.0) -> list[float]:
    return [peak_bps] * peaks + [level_bps] * (WEEK_SAMPLES - peaks)


def test_capacity_pass_fail_and_exactly_at_the_threshold() -> None:
    assert uplink_capacity(week(60e6), 100).status == "pass"
    assert uplink_capacity(week(80e6), 100).status == "fail"
    at = uplink_capacity(week(70e6), 100)
    assert at.status == "fail"  # "below 70 %": exactly 70 % is not below
    assert at.detail.startswith("p95 70.0 Mbit/s = 70.0% of 100 Mbit/s (limit 70%) over 2016 five-minute samples")


def test_capacity_ignores_the_top_five_percent() -> None:
    # 100 samples (< 5 % of 2016) at line rate do not move a p95 that the other 1916 keep at 50 %.
    assert uplink_capacity(week(50e6, peaks=100, peak_bps=100e6), 100).status == "pass"
    assert uplink_capacity(week(50e6, peaks=101, peak_bps=100e6), 100).status == "fail"


def test_too_few_samples_is_an_error_never_a_pass() -> None:
    found = uplink_capacity([1e6] * 2015, 100, source="test history")
    assert found.status == "error"
    assert found.detail == "only 2015 samples of the 2016 a week needs (test history)"
    assert uplink_capacity([], 100).detail == "only 0 samples of the 2016 a week needs"
    assert uplink_capacity([float("nan")] * 2016, 100).status == "error"


def test_a_zero_bandwidth_is_an_error() -> None:
    assert uplink_capacity(week(1e6), 0).status == "error"


def test_five_minute_peaks_take_the_larger_direction_per_window() -> None:
    start = 1000.0
    inbound = [(start + 0, 10.0), (start + 60, 30.0), (start + 300, 5.0), (start + 900, 7.0)]
    outbound = [(start + 30, 15.0), (start + 330, 50.0), (start + 1200, 99.0)]  # the last one is past the end
    assert five_minute_peaks(inbound, outbound, start, start + 1200) == [20.0, 50.0, 7.0]


class FixedHistory:
    name = "fixed"

    def __init__(self, values: list[float]) -> None:
        self.values = values
        self.asked: list[tuple[str, str, float, float]] = []

    def samples(self, device: str, interface: str, start_s: float, end_s: float) -> list[float]:
        self.asked.append((device, interface, start_s, end_s))
        return self.values


class BrokenHistory:
    name = "broken"

    def samples(self, device: str, interface: str, start_s: float, end_s: float) -> list[float]:
        raise ConnectionRefusedError("connection refused")


LINK = Link("hb.hg.c1", Endpoint("c1-agg01", "XGigabitEthernet0/0/1"), Endpoint("hg-core-01", "XGE0/0/5"),
            "carrier", 1000.0)


def test_capacity_reads_the_lower_end_over_the_last_week() -> None:
    history = FixedHistory(week(100e6))
    found = capacity_result(history, LINK, NOW)
    assert history.asked == [("c1-agg01", "XGigabitEthernet0/0/1", NOW - 7 * 86400, NOW)]
    assert found.status == "pass"
    assert found.detail.endswith("(fixed, c1-agg01:XGigabitEthernet0/0/1)")
    assert capacity_result(BrokenHistory(), LINK, NOW).status == "error"


# --- uplink-redundancy ----------------------------------------------------------------------------------------------

VRRP_CONFIG = "interface Vlanif100\n ip address 10.0.0.2 255.255.255.0\n vrrp vrid 1 virtual-ip 10.0.0.1\n#\nreturn\n"


def test_redundancy_by_level_links_and_vrrp() -> None:
    two = [LINK, Link("hb.hg.c1", Endpoint("c1-agg02", "X1"), Endpoint("hg-core-02", "X2"), "c", 1000.0)]
    assert uplink_redundancy(Level.COUNTY, two, None, "huawei_vrp").status == "pass"
    assert uplink_redundancy(Level.COUNTY, [LINK], VRRP_CONFIG, "huawei_vrp").status == "pass"
    failed = uplink_redundancy(Level.CITY, [LINK], "interface X\n undo vrrp vrid 1\n#\nreturn\n", "huawei_vrp")
    assert failed.status == "fail"
    assert [e.as_json() for e in failed.evidence] == [{"missing": None}]
    assert uplink_redundancy(Level.COUNTY, [LINK], None, "huawei_vrp").status == "error"
    for level in (Level.TOWNSHIP, Level.VILLAGE):
        assert uplink_redundancy(level, [LINK], VRRP_CONFIG, "huawei_vrp").status == "not-applicable"


def test_redundancy_over_an_inventory() -> None:
    inv = Inventory(
        areas={a.id: a for a in (Area("hb", "Hubei", Level.PROVINCE), Area("hb.hg", "HG", Level.CITY, "hb"),
                                 Area("hb.hg.c1", "C1", Level.COUNTY, "hb.hg"),
                                 Area("hb.hg.c1.t1", "T1", Level.TOWNSHIP, "hb.hg.c1"))},
        devices={d.name: d for d in (Device("c1-agg01", "huawei_vrp", "agg", "hb.hg.c1", "10.0.0.1"),
                                     Device("c1-fw", "hp_comware", "fw", "hb.hg.c1", "10.0.0.2"),
                                     Device("t1-sw", "cisco_ios", "sw", "hb.hg.c1.t1", "10.0.1.1"),
                                     Device("srv", "linux", "server", "hb.hg.c1", "10.0.0.9"))},
        links=[LINK, Link("hb.hg.c1.t1", Endpoint("t1-sw", "Gi0/1"), Endpoint("c1-agg01", "Gi0/0/1"), "c", 100.0)])
    found = redundancy_results(inv, {"c1-agg01": VRRP_CONFIG})
    assert {k: v.status for k, v in found.items()} == {"c1-agg01": "pass", "c1-fw": "not-applicable",
                                                       "t1-sw": "not-applicable"}
