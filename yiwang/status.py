"""Pure: per-device status from the last poll results, rolled up the area tree."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inventory.model import Inventory


@dataclass(frozen=True, slots=True)
class DeviceState:
    ok: bool
    reason: str
    error: str
    time_ns: int


def device_status(results: Mapping[str, DeviceState]) -> str:
    """up when any way in answers; ICMP alone up with SNMP failing is 'degraded' (the agent, not the link)."""
    if not results:
        return "unknown"
    oks = [state.ok for state in results.values()]
    if all(oks):
        return "up"
    return "degraded" if any(oks) else "down"


AreaCounts = Mapping[str, Mapping[str, int]]


def area_counts(inv: Inventory, states: Mapping[str, Mapping[str, DeviceState]]) -> dict[str, dict[str, int]]:
    """Devices per status under every area, each device counted at every level above it."""
    counts: dict[str, dict[str, int]] = {area: {"total": 0, "up": 0, "degraded": 0, "down": 0, "unknown": 0}
                                         for area in inv.areas}
    for device in inv.devices.values():
        status = device_status(states.get(device.name, {}))
        area: str | None = device.area
        while area is not None:
            counts[area]["total"] += 1
            counts[area][status] += 1
            area = inv.areas[area].parent
    return counts


def area_tree(inv: Inventory, counts: AreaCounts, root: str | None, depth: int) -> list[dict[str, Any]]:
    """The area tree from `root` (or from the top) down `depth` levels, each node with its counts."""
    tree = inv.children()

    def node(area_id: str, remaining: int) -> dict[str, Any]:
        area = inv.areas[area_id]
        count = counts[area_id]
        kids = sorted(tree.get(area_id, []), key=lambda a: a.id)
        result: dict[str, Any] = {"id": area.id, "name": area.name, "level": area.level.label,
                                  "status": area_status(count), "devices": dict(count),
                                  "children_count": len(kids)}
        if remaining > 0:
            result["children"] = [node(child.id, remaining - 1) for child in kids]
        return result

    tops = [inv.areas[root]] if root is not None else sorted(tree.get(None, []), key=lambda a: a.id)
    return [node(a.id, depth) for a in tops]


def area_status(count: Mapping[str, int]) -> str:
    if count["total"] == 0 or count["unknown"] == count["total"]:
        return "unknown"
    if count["down"] == 0 and count["degraded"] == 0:
        return "ok"
    if count["down"] == count["total"]:
        return "down"
    return "degraded"


