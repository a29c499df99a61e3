"""The same inventory as an Ansible inventory: each area a group, nested like the tree; playbooks use it.

Network devices are driven by the `yiwang.extranet` collection's action plugins, which open their own SSH session
in the controller (`connection: local`): a host carries its platform, address, the host-key file yiwang pins it in,
and a REFERENCE to its credential ({file: PATH} or {env: NAME}), which the plugin resolves itself, so no secret is
ever an Ansible variable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inventory.addressing import Ipv6Plan
from inventory.model import Credential, Device, Inventory, SecretRef

# Names of our platforms in Ansible's network collections, for reference; `linux` is an ordinary ssh host.
NETWORK_OS = {
    "huawei_vrp": "community.network.ce",
    "hp_comware": "community.network.comware",
    "ruijie_os": "ruijie_os",
    "cisco_ios": "cisco.ios.ios",
}


def group_name(area_id: str) -> str:
    """Ansible group names must be identifiers; area ids are dotted paths."""
    return "area_" + re.sub(r"[^A-Za-z0-9_]", "_", area_id)


def credential_reference(credential: Credential, secrets_base: Path | None) -> dict[str, Any]:
    """The credential as the plugins read it: the user name, and where each secret is (never the secret)."""
    def where(ref: SecretRef) -> dict[str, str]:
        if ref.env is not None:
            return {"env": ref.env}
        path = Path(ref.file or "").expanduser()
        # Relative files are relative to the state dir, as for the poller (yiwang.assemble); the plugin runs
        # elsewhere, so it gets the absolute path.
        return {"file": str(secrets_base / path if secrets_base is not None and not path.is_absolute() else path)}
    return {"user": credential.options.get("user", ""), **{k: where(v) for k, v in credential.secrets.items()}}


def to_ansible(inv: Inventory, secrets_base: Path | None = None,
               known_hosts: Callable[[str], Path] | None = None) -> dict[str, Any]:
    """`known_hosts(device)`: the file the device's SSH host key is pinned in (the one yiwang's sessions use)."""
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
    uplinks = {link.local.device: link for link in inv.links}
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
            host["ansible_connection"] = "local"
            host["ansible_python_interpreter"] = "{{ ansible_playbook_python }}"
            host["ansible_network_os"] = NETWORK_OS[device.platform]
        uplink = uplinks.get(device.name)
        if uplink is not None:
            host["yiwang_uplink"] = {"interface": uplink.local.interface, "peer_device": uplink.remote.device,
                                     "peer_interface": uplink.remote.interface,
                                     "bandwidth_mbps": uplink.bandwidth_mbps}
        if inv.ipv6_plan is not None:
            planned = ipv6_of(inv.ipv6_plan, device.name)
            if planned is not None:
                host["yiwang_ipv6"] = planned
        snmp_reference = snmp_community_reference(inv, device, secrets_base)
        if snmp_reference is not None:
            host["yiwang_snmp_community"] = snmp_reference
        if device.ssh_credential is not None:
            host["yiwang_credential"] = credential_reference(inv.credentials[device.ssh_credential], secrets_base)
            if device.ssh_port != 22:
                host["ansible_port"] = device.ssh_port
            if known_hosts is not None:
                host["yiwang_known_hosts"] = str(known_hosts(device.name))
        groups[group_name(device.area)]["hosts"][device.name] = host
        by_platform.setdefault(f"platform_{device.platform}", {"hosts": {}})["hosts"][device.name] = {}
    children: dict[str, Any] = {}
    # Ansible accepts a group defined once and referenced elsewhere, so every area is listed flat under `all`
    # with its children named; that keeps the file linear in size however deep the tree is.
    for name, group in groups.items():
        children[name] = {k: v for k, v in group.items() if v}
    children.update(by_platform)
    return {"all": {"children": children}}


def ipv6_of(plan: Ipv6Plan, device: str) -> dict[str, Any] | None:
    """What the IPv6 change configures on `device`: its loopback, each planned interface address with the other
    end, and `parent_address`, the upper end of its own uplink (what it pings, and a village's default route)."""
    loopback = plan.loopback(device)
    interfaces = plan.interfaces(device)
    if loopback is None and not interfaces:
        return None
    uplink = plan.uplink(device)
    return {
        "loopback": str(loopback) if loopback is not None else None,
        "interfaces": [{"name": found.interface, "address": str(found.address), "peer_device": found.peer.device,
                        "peer_address": str(found.peer_address)} for found in interfaces],
        "uplink": uplink.lower.interface if uplink is not None else None,
        "parent_device": uplink.upper.device if uplink is not None else None,
        "parent_address": str(uplink.upper_address.ip) if uplink is not None else None,
    }


def snmp_community_reference(inv: Inventory, device: Device, secrets_base: Path | None) -> dict[str, str] | None:
    """Where the device's SNMP community is, for the change templates that bind SNMP to the management ACL
    (rendered inside a `no_log` task); a reference like the SSH credential, never the community itself."""
    if device.snmp is None or device.snmp.credential not in inv.credentials:
        return None
    community = inv.credentials[device.snmp.credential].secrets.get("community")
    if community is None:
        return None
    return credential_reference(Credential("", "", {"community": community}, {}), secrets_base)["community"]

