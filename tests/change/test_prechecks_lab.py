"""The prechecks and post-checks of a wave against the small lab's SNMP agents and SSH devices, over real sockets:
a healthy device ready (its backup taken, then found fresh), a device made unreachable by the lab's own fault,
a firing alert on an uplink as the alert stage stores it, another job's window and device, an operator's window."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from collectors.model import Sample
from inventory.loader import load_inventory
from inventory.model import Inventory
from lab import lab_clear, lab_fault, lab_inventory_dir
from tests.e2e.conftest import lab_state  # noqa: F401 - the small lab, started once for the session
from yiwang.alerting import AlertStage
from yiwang.archive.git import GitArchive
from yiwang.change.prechecks import close_change_window, open_change_window, post_checks, prechecks
from yiwang.config import Settings
from yiwang.store import open_store

pytestmark = pytest.mark.integration
HOUR_NS = 3600 * 10**9


def villages(inventory: Inventory) -> list[str]:
    """Village routers (their village's gateway) reached by SNMP and SSH, one platform after another."""
    found = []
    for device in sorted(inventory.devices.values(), key=lambda d: d.name):
        link = inventory.uplink_of(device.area)
        if (inventory.areas[device.area].level.label == "village" and link is not None
                and link.local.device == device.name and device.snmp and device.ssh_credential):
            found.append(device)
    by_platform: dict[str, list[str]] = {}
    for device in found:
        by_platform.setdefault(device.platform, []).append(device.name)
    rounds = max(len(names) for names in by_platform.values())
    return [names[i] for i in range(rounds) for names in by_platform.values() if i < len(names)]


def test_prechecks_and_post_checks_on_the_lab(lab_state: Path, tmp_path: Path) -> None:  # noqa: F811
    settings = Settings.model_validate({
        "state_dir": str(tmp_path), "inventory": [str(lab_inventory_dir(lab_state))],
        "database_url": f"sqlite:///{tmp_path}/y.db",
        "poll": {"timeout_s": 1, "retries": 0, "icmp_count": 1}, "ssh": {"workers": 4, "read_timeout_s": 5}})
    inventory = load_inventory(settings.inventory).inventory
    store = open_store(settings.database)
    healthy, dead, alerted, windowed, busy, planned = villages(inventory)[:6]
    wave = [healthy, dead, alerted, windowed, busy, planned]

    # The uplink of `alerted` down for longer than the rule's `for`, through the alert stage as `yiwang run` has it
    link = inventory.uplink_of(inventory.devices[alerted].area)
    assert link is not None
    stage = AlertStage.from_files([], inventory, store)
    start_ns = time.time_ns() - 120 * 10**9
    for at in (start_ns, start_ns + 61 * 10**9):
        stage.evaluate([Sample("interface", (("device", link.remote.device), ("interface", link.remote.interface)),
                               {"oper_status": 2.0}, at)], at)
    assert "uplink_down" in [a["rule"] for a in stage.active() if a["status"] == "firing"]

    now_ns = time.time_ns()
    theirs = open_change_window(store.engine, "ef34", [windowed], ends_ns=now_ns + HOUR_NS, created_by="ann",
                                inventory=inventory)
    open_change_window(store.engine, "ab12", [healthy, planned], ends_ns=now_ns + HOUR_NS, created_by="ann",
                       inventory=inventory)  # this job's own window: no obstacle to itself
    stage.silence(starts_ns=now_ns - 10**9, ends_ns=now_ns + HOUR_NS, area=None, device=planned, rule=None,
                  comment="fibre works", created_by="bob", kind="maintenance")  # an operator's: planned for it

    fault = lab_fault(lab_state, "unreachable", dead)
    try:
        started = time.monotonic()
        first = asyncio.run(prechecks(wave, settings=settings, inventory=inventory, engine=store.engine,
                                      job_id="ab12", busy={busy: "cd56"}))
        print(f"prechecks of {len(wave)} devices: {time.monotonic() - started:.1f} s")
        after = asyncio.run(post_checks([healthy, dead], settings=settings, inventory=inventory))
        for name, readiness in first.items():
            print(name, readiness.problems, readiness.backup)
    finally:
        lab_clear(lab_state, fault.id)

    assert list(first) == wave
    for name in (healthy, planned):
        assert first[name].ready, first[name]
        assert first[name].backup.startswith("taken now (commit "), first[name]

    dead_host = inventory.devices[dead].host
    snmp_port = inventory.devices[dead].snmp.port  # type: ignore[union-attr]
    problems = list(first[dead].problems)
    if fault.method == "iptables":  # everything to it dropped: no echo reply and no backup either
        assert problems.pop(0) == f"no ICMP reply from {dead_host}", problems
        assert problems.pop().startswith("backup failed: "), problems
        assert first[dead].backup == "none fresh; the backup taken now failed"
    assert len(problems) == 1 and problems[0].startswith(f"no SNMP answer from {dead_host}:{snmp_port}: "), problems

    assert first[alerted].problems[0].startswith(
        f"uplink {link.local.interface} has a firing alert: uplink_down (since "), first[alerted]
    assert len(first[alerted].problems) == 1 and first[alerted].backup.startswith("taken now")

    assert first[windowed].problems[0].startswith(f"in maintenance window {theirs} of job ef34 until "), \
        first[windowed]
    assert first[busy].problems == ("in job cd56, which is running or awaiting approval",)
    for name in (windowed, busy):  # held by another job: no session opened to it, not even for a backup
        assert first[name].backup == "not taken: the device is held by another job"

    assert after[healthy] == ""
    assert after[dead].startswith(f"no SNMP answer from {dead_host}:{snmp_port}"), after

    # The other job's window over: `windowed` is free; `healthy` has a fresh backup, so no new version is made
    git = GitArchive(tmp_path / "configs")
    versions = len(git.versions(healthy))
    close_change_window(store.engine, theirs, time.time_ns())
    second = asyncio.run(prechecks([healthy, windowed], settings=settings, inventory=inventory,
                                   engine=store.engine, job_id="ab12", busy={}))
    assert second[healthy].ready and second[healthy].backup.endswith(" s old"), second[healthy]
    assert len(git.versions(healthy)) == versions == 1
    assert second[windowed].ready and second[windowed].backup.startswith("taken now (commit "), second[windowed]
