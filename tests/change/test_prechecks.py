"""The pure decisions of the change prechecks, and the change window as the alert engine reads it (SQLite)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from alerts.rules import DEFAULT_RULES, load_rules
from alerts.state import AlertRecord
from collectors.model import Sample
from inventory.loader import load_inventory
from inventory.model import Inventory
from tests.change.conftest import Docs, write_documents
from yiwang.alerting import AlertStage
from yiwang.archive.backup import BackupResult
from yiwang.archive.index import BackupStatus
from yiwang.change.prechecks import (
    Readiness,
    backup_age_s,
    backup_fresh,
    blocking_windows,
    close_change_window,
    describe_age,
    describe_taken,
    open_change_window,
    post_checks,
    prechecks,
    uplink_alerts,
    uplink_problem,
    window_owner,
)
from yiwang.config import Settings
from yiwang.store import Store, open_store

HOUR_NS = 3600 * 10**9
NOW_NS = 1_800_000_000 * 10**9


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, small_docs_once: Docs) -> Inventory:
    return load_inventory([write_documents(tmp_path_factory.mktemp("inv"), small_docs_once)]).inventory


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path}/y.db")


def village(inventory: Inventory, index: int = 0) -> str:
    names = sorted(d.name for d in inventory.devices.values()
                   if (link := inventory.uplink_of(d.area)) is not None and link.local.device == d.name
                   and inventory.areas[d.area].level.label == "village")
    return names[index]


def status(last_ok_at: float | None, commit: str | None = "c0ffee0123") -> BackupStatus:
    return BackupStatus("r1", last_ok_at, last_ok_at or 0.0, "ok", "", commit)


def test_readiness_is_ready_only_without_problems() -> None:
    assert Readiness("r1").ready
    assert not Readiness("r1", ("no ICMP reply from 10.0.0.5",)).ready


def test_backup_freshness() -> None:
    assert backup_age_s(None, 1000.0) is None
    assert backup_age_s(status(None), 1000.0) is None
    assert backup_age_s(status(400.0), 1000.0) == 600.0
    assert backup_fresh(status(1000.0 - 3600), 1000.0, 3600.0)
    assert not backup_fresh(status(1000.0 - 3601), 1000.0, 3600.0)
    assert not backup_fresh(status(None), 1000.0, 3600.0)
    assert describe_age(42.4) == "42 s old"
    assert describe_age(12 * 60 + 5) == "12 min old"


def test_a_backup_taken_now_names_its_commit_or_the_one_it_matched() -> None:
    assert describe_taken(BackupResult("r1", True, commit="abc1234def"), None) == "taken now (commit abc1234)"
    assert describe_taken(BackupResult("r1", True), status(5.0)) == "taken now (unchanged since commit c0ffee0)"
    assert describe_taken(BackupResult("r1", True), None) == "taken now (unchanged)"


def test_only_firing_alerts_on_the_devices_own_uplink_count(small: Inventory) -> None:
    device = village(small)
    other = village(small, 1)
    link = small.uplink_of(small.devices[device].area)
    assert link is not None
    firing = AlertRecord("f1", "uplink_down", "critical", {"link": link.area, "device": link.remote.device},
                         status="firing", firing_since_ns=NOW_NS)
    pending = AlertRecord("f2", "uplink_utilisation_high", "major", {"link": link.area}, status="pending")
    elsewhere = AlertRecord("f3", "uplink_down", "critical",
                            {"link": small.devices[other].area}, status="firing")
    on_device = AlertRecord("f4", "cpu_high", "major", {"device": device}, status="firing")
    assert uplink_alerts(small, device, [firing, pending, elsewhere, on_device]) == [firing]
    assert uplink_alerts(small, other, [firing]) == []
    assert uplink_problem(small, device, firing) == (
        f"uplink {link.local.interface} has a firing alert: uplink_down (since 2027-01-15 08:00:00 UTC)")


def test_windows_of_other_jobs_block_and_an_operators_does_not(small: Inventory) -> None:
    device = village(small)
    path = [a.id for a in small.path(small.devices[device].area)]

    def row(id_: int, created_by: str, **kw: object) -> dict[str, object]:
        return {"id": id_, "kind": "maintenance", "starts_ns": NOW_NS - HOUR_NS, "ends_ns": NOW_NS + HOUR_NS,
                "area": None, "device": device, "rule": None, "comment": "", "created_by": created_by, **kw}

    other = row(20, "change job ef34", comment="released by ann; change job ef34, window 17")
    mine = row(21, "change job ab12", comment="released by ann; change job ab12, window 21")
    operator = row(22, "bob")
    over = row(23, "change job cd56", ends_ns=NOW_NS)
    elsewhere = row(24, "change job cd56", device=village(small, 1))
    by_area = row(25, "change job gh78", device=None, area=path[2])  # the county around it
    silence = row(26, "change job ij90", kind="silence")
    assert window_owner("change job ef34") == "ef34" and window_owner("bob") is None
    assert window_owner("change job ef34; drop table") is None
    found = blocking_windows([other, mine, operator, over, elsewhere, by_area, silence], device, path, "ab12", NOW_NS)
    assert found == ["in maintenance window 17 of job ef34 until 2027-01-15 09:00:00 UTC",
                     "in maintenance window 25 of job gh78 until 2027-01-15 09:00:00 UTC"]


def test_a_change_window_holds_the_alerts_of_its_devices_and_ends_when_closed(small: Inventory,
                                                                               store: Store) -> None:
    """The real alert stage over the window's rows: a device unreachable inside the window fires held."""
    device, outside = village(small), village(small, 1)
    number = open_change_window(store.engine, "ab12", [device], ends_ns=NOW_NS + HOUR_NS, created_by="ann",
                                inventory=small, starts_ns=NOW_NS - HOUR_NS)
    area = small.devices[device].area
    assert [(r["device"], r["area"], r["rule"], r["created_by"], r["comment"]) for r in store.silences(NOW_NS)] == [
        (device, None, None, "change job ab12", f"released by ann; change job ab12, window {number}"),
        (None, area, "area_outage", "change job ab12", f"released by ann; change job ab12, window {number}")]
    stage = AlertStage(load_rules([DEFAULT_RULES]), small, store)

    def down(name: str, at: int) -> list[Sample]:
        tags = (("device", name),)
        return [Sample("poll", (("collector", "snmp"), *tags), {"up": 0.0}, at),
                Sample("icmp", (*tags, ("family", "ipv4")), {"up": 0.0}, at)]

    stage.evaluate(down(device, NOW_NS) + down(outside, NOW_NS), NOW_NS)
    later = NOW_NS + 121 * 10**9
    # A village router silent cuts its village off: the engine folds its alert into the village's roll-up
    fired = {(t.rule, t.labels.get("device") or t.labels["area"]): t
             for t in stage.evaluate(down(device, later) + down(outside, later), later) if t.kind == "firing"}
    other_area = small.devices[outside].area
    assert {key: t.notify for key, t in fired.items()} == {
        ("area_outage", area): False, ("area_outage", other_area): True,
        ("device_unreachable", device): False, ("device_unreachable", outside): False}
    assert fired[("area_outage", area)].held == "silenced"

    close_change_window(store.engine, number, later)
    assert store.silences(later) == []
    after = later + 10**9
    sent = [t for t in stage.evaluate(down(device, after) + down(outside, after), after) if t.notify]
    assert [(t.rule, t.labels["area"]) for t in sent] == [("area_outage", area)]


def test_a_window_is_refused_without_devices_or_time(store: Store) -> None:
    with pytest.raises(ValueError, match="at least one device"):
        open_change_window(store.engine, "ab12", [], ends_ns=NOW_NS, created_by="ann", inventory=Inventory())
    with pytest.raises(ValueError, match="end after it starts"):
        open_change_window(store.engine, "ab12", ["r1"], ends_ns=NOW_NS, created_by="ann", inventory=Inventory(),
                           starts_ns=NOW_NS)
    with pytest.raises(ValueError, match="cannot own"):
        open_change_window(store.engine, "a b", ["r1"], ends_ns=NOW_NS, created_by="ann", inventory=Inventory(),
                           starts_ns=0)


def test_a_device_not_in_the_inventory_is_its_own_problem(small: Inventory, store: Store, tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    found = asyncio.run(prechecks(["ghost; reboot"], settings=settings, inventory=small, engine=store.engine,
                                  job_id="ab12", busy={}))
    assert found == {"ghost; reboot": Readiness("ghost; reboot", ("not in the inventory",))}
    assert asyncio.run(post_checks(["ghost"], settings=settings, inventory=small)) == {"ghost": "not in the inventory"}


def test_a_device_the_inventory_gives_no_snmp_nor_ssh_cannot_be_ready(small: Inventory, store: Store,
                                                                        tmp_path: Path) -> None:
    name = village(small)
    bare = replace(small.devices[name], address="127.0.0.1", address6=None, snmp=None, ssh_credential=None)
    inventory = replace(small, devices={**small.devices, name: bare})
    found = asyncio.run(prechecks([name], settings=Settings(state_dir=tmp_path), inventory=inventory,
                                  engine=store.engine, job_id="ab12", busy={name: "ab12"}))  # its own job: no obstacle
    assert found[name].problems == ("not reachable by SNMP: the inventory gives it no SNMP access",
                                    "no backup younger than the limit, and none can be taken: the inventory gives it "
                                    "no SSH access")
    assert found[name].backup == "none"
