"""The same inventory as an Ansible inventory: each area a group, nested like the tree; playbooks use it."""

from __future__ import annotations

import re
from typing import Any

from inventory.model import Inventory

# netmiko/ansible network_cli names for our platforms; `linux` is an ordinary ssh host.
NETWORK_OS = {
    "huawei_vrp": "community.network.ce",
    "hp_comware": "community.network.comware",
    "ruijie_os": "ruijie_os",
    "cisco_ios": "cisco.ios.ios",
}


def group_name(area_id: str) -> str:
    """Ansible group names must be identifiers; area ids are dotted paths."""
    return "area_" + re.sub(r"[^A-Za-z0-9_]", "_", area_id)


def to_ansible(inv: Inventory) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for area in inv.areas.values():
        groups[group_name(area.id)] = {
            "hosts": {},
            "children": {},
            "vars": {"yiwang_area": area.id, "yiwang_area_name": area.name, "yiwang_level": area.level.label},
        }
    for area in inv.areas.values():
        if area.parent is not None:
            groups[group_name(area.parent)]["children"][group_name(area.id)] = {}
    by_platform: dict[str, dict[str, Any]] = {}
    for device in inv.devices.values():
        host: dict[str, Any] = {
            "ansible_host": device.host,
            "yiwang_platform": device.platform,
            "yiwang_role": device.role,
            "yiwang_area": device.area,
        }
        if device.address6:
            host["yiwang_address6"] = device.address6
        if device.platform in NETWORK_OS:
            host["ansible_connection"] = "ansible.netcommon.network_cli"
            host["ansible_network_os"] = NETWORK_OS[device.platform]
        groups[group_name(device.area)]["hosts"][device.name] = host
        by_platform.setdefault(f"platform_{device.platform}", {"hosts": {}})["hosts"][device.name] = {}
    children: dict[str, Any] = {}
    # Ansible accepts a group defined once and referenced elsewhere, so every area is listed flat under `all`
    # with its children named; that keeps the file linear in size however deep the tree is.
    for name, group in groups.items():
        children[name] = {k: v for k, v in group.items() if v}
    children.update(by_platform)
    return {"all": {"children": children}}
