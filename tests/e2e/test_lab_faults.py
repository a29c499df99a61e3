"""Lab faults seen through yiwang: a township that goes dark, a link that goes down; both clear again."""

from __future__ import annotations

from pathlib import Path

import yaml

from lab import lab_clear, lab_fault
from yiwang.assemble import assemble
from yiwang.config import load_settings
from yiwang.status import area_tree


async def test_unreachable_township_and_a_link_down(lab_state: Path, tmp_path: Path) -> None:
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(lab_state), "database_url": f"sqlite:///{tmp_path}/y.db",
                                      "poll": {"timeout_s": 1.0, "retries": 1, "icmp_count": 2}}))
    assembly = assemble(load_settings(config), workers=1)
    monitor = assembly.monitor
    inv = assembly.services.inventory
    township = sorted(a for a in inv.areas if a.count(".") == 3)[1]
    dark = {d.name for d in inv.devices_in(township)}
    village_device = sorted(d.name for d in inv.devices.values() if d.area.startswith("hb.hg.huangzhou.t01.v"))[3]
    uplink = next(link for link in inv.links if link.local.device == village_device)
    try:
        lab_fault(lab_state, "unreachable", township)
        lab_fault(lab_state, "link-down", village_device, uplink.local.interface)
        snmp = await monitor.cycle("snmp")
        icmp = await monitor.cycle("icmp")
        assert {f.device for f in snmp.failures} == dark
        assert {f.reason for f in snmp.failures} == {"timeout"}
        assert {f.device for f in icmp.failures} == dark
        tree = area_tree(inv, assembly.services.health.counts, township, 0)[0]  # what /api/areas serves
        assert tree["status"] == "down" and tree["devices"]["down"] == len(dark)
        county = area_tree(inv, assembly.services.health.counts, "hb.hg.huangzhou", 0)[0]
        assert county["status"] == "degraded"
        interfaces = [s for s in assembly.latest.device_samples(village_device) if s.measurement == "interface"
                      and s.tag("interface") == uplink.local.interface]
        assert interfaces and interfaces[0].fields["oper_status"] == 2.0
    finally:
        lab_clear(lab_state)
    try:
        # the agents re-read rewritten data files on their next request; on a loaded machine that can take a cycle
        for _ in range(3):
            snmp = await monitor.cycle("snmp")
            icmp = await monitor.cycle("icmp")
            if snmp.failed == 0 and icmp.failed == 0:
                break
        assert snmp.failed == 0 and icmp.failed == 0, (snmp.failures[:3], icmp.failures[:3])
        interfaces = [s for s in assembly.latest.device_samples(village_device) if s.measurement == "interface"
                      and s.tag("interface") == uplink.local.interface]
        assert interfaces[0].fields["oper_status"] == 1.0
    finally:
        await assembly.close()
