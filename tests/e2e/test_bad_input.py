"""A device that times out, an agent that answers malformed BER, a broken inventory entry and hostile strings:
each is reported precisely and the rest of the cycle carries on."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from lab import lab_inventory_dir
from lab.city import HOSTILE_DEVICE, HOSTILE_SYS_NAME
from tests.snmp_wire.fake_agent import fake_agent
from yiwang.assemble import assemble
from yiwang.config import load_settings


def _garbage(_: bytes) -> list[bytes]:
    return [b"\x30\x82\xff\xff\x02\x01\x01garbage"]


def _silent(_: bytes) -> list[bytes]:
    return []


def _extra_inventory(folder: Path, silent_port: int, garbage_port: int) -> None:
    village = next(
        a for a in yaml.safe_load((folder / "areas.yaml").read_text())["areas"] if a["level"] == "village")
    credential = yaml.safe_load((folder / "credentials.yaml").read_text())["credentials"][0]["name"]
    (folder / "zz-extra.yaml").write_text(yaml.safe_dump({"devices": [
        {"name": "silent-agent", "platform": "huawei_vrp", "role": "access", "area": village["id"],
         "address": "127.0.0.1", "snmp": {"credential": credential, "profiles": ["system", "if-mib"],
                                          "port": silent_port}},
        {"name": "garbage-agent", "platform": "hp_comware", "role": "access", "area": village["id"],
         "address": "127.0.0.1", "snmp": {"credential": credential, "profiles": ["system", "if-mib"],
                                          "port": garbage_port}},
        {"name": "broken-entry", "platform": "junos", "role": "access", "area": village["id"],
         "address": "127.0.0.9"},
    ]}))


async def test_failures_become_data_and_the_cycle_carries_on(lab_state: Path, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory"
    shutil.copytree(lab_inventory_dir(lab_state), inventory)
    config = tmp_path / "yiwang.yaml"
    async with fake_agent(_silent) as silent, fake_agent(_garbage) as garbage:
        _extra_inventory(inventory, silent.port, garbage.port)
        config.write_text(yaml.safe_dump({
            "state_dir": str(lab_state), "inventory": [str(inventory)],
            "database_url": f"sqlite:///{tmp_path / 'y.sqlite'}",
            "poll": {"timeout_s": 1.0, "retries": 1}}))
        assembly = assemble(load_settings(config), workers=1)
        try:
            report = await assembly.monitor.cycle("snmp")
        finally:
            await assembly.close()
        assert len(silent.received) == 2  # the first try and one retry
    failures = {f.device: f for f in report.failures}
    assert set(failures) == {"silent-agent", "garbage-agent"}
    assert failures["silent-agent"].reason == "timeout"
    assert f"127.0.0.1:{silent.port}" in failures["silent-agent"].error
    assert failures["garbage-agent"].reason == "malformed"
    assert "silent-agent" in failures["silent-agent"].error
    assert report.ok == report.devices - 2 and report.ok > 100
    # the broken entry names its file, entry and field, and is the only one left out
    assert any("zz-extra.yaml" in p and "broken-entry" in p and "'platform'" in p for p in assembly.problems)
    # health is recorded per device, with the reason and the precise error
    store_health = {h.device: h for h in _health(tmp_path)}
    assert store_health["garbage-agent"].reason == "malformed" and not store_health["garbage-agent"].ok
    assert store_health[HOSTILE_DEVICE].ok
    # hostile device strings arrive intact as data, for the sinks to escape
    info = [s for s in assembly.latest.device_samples(HOSTILE_DEVICE) if s.measurement == "device_info"]
    assert info and info[0].tag("sys_name") == HOSTILE_SYS_NAME


def _health(tmp_path: Path) -> list:
    from yiwang.store import Store

    store = Store(f"sqlite:///{tmp_path / 'y.sqlite'}")
    try:
        return store.health()
    finally:
        store.close()
