"""Who polls what: pure functions from the inventory and the live members to an assignment. No I/O.

A partition key is a device's township (a device above township level, at a county or the city core, keys on its
own area), so a township with its villages stays on one poller: counter memory and topology stay local. Keys are
spread over members with tooz's consistent hash ring, so a member joining or leaving moves only its own share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tooz.hashring import HashRing

from inventory.model import Inventory, Level

DEFAULT_GROUP = "default"
# Virtual points per member on the ring: tooz's default (32) leaves shares uneven by ±30% with 3 members; 128
# keeps them within about ±10% at a negligible cost (the ring is rebuilt only when the membership changes).
RING_PARTITIONS = 128


def partition_key(inventory: Inventory, device_name: str) -> str:
    """The device's township-level area id, or its own area when that sits above township level."""
    area = inventory.devices[device_name].area
    for ancestor in inventory.path(area):
        if ancestor.level is Level.TOWNSHIP:
            return ancestor.id
    return area


def poller_group(inventory: Inventory, device_name: str) -> str:
    """The nearest `poller_group` up the device's area chain, else "default"."""
    for ancestor in reversed(inventory.path(inventory.devices[device_name].area)):
        if ancestor.poller_group:
            return ancestor.poller_group
    return DEFAULT_GROUP


def devices_by_key(inventory: Inventory, group: str | None = None) -> dict[str, frozenset[str]]:
    """Partition key -> device names, for the devices of one poller group (all groups when None)."""
    found: dict[str, set[str]] = {}
    for name in inventory.devices:
        if group is None or poller_group(inventory, name) == group:
            found.setdefault(partition_key(inventory, name), set()).add(name)
    return {key: frozenset(names) for key, names in found.items()}


def assign(keys: Iterable[str], members: Iterable[str]) -> dict[str, str]:
    """Key -> member over a consistent hash ring; empty when there are no members."""
    ring_members = sorted(set(members))
    if not ring_members:
        return {}
    ring = HashRing(ring_members, partitions=RING_PARTITIONS)
    return {key: _only(ring.get_nodes(key.encode("utf-8"))) for key in keys}


def _only(nodes: set[str]) -> str:
    (node,) = nodes
    return node


def shares(assignment: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """Member -> the keys it holds."""
    found: dict[str, set[str]] = {}
    for key, member in assignment.items():
        found.setdefault(member, set()).add(key)
    return {member: frozenset(keys) for member, keys in found.items()}


def devices_of(keys: Iterable[str], keys_to_devices: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The devices under the given keys; a key the mapping does not know contributes nothing."""
    return frozenset().union(*(keys_to_devices.get(key, frozenset()) for key in keys))
