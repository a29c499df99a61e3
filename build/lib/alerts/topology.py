"""Topology from the inventory alone: which area an alert is in, and which outages swallow which alerts.

An area is cut off when its uplink is down, or when its gateway device (the local end of its uplink; every own
device for an area without one) is unreachable. Everything beneath the topmost cut-off area is folded into one
roll-up alert for that area. No dependency is written by hand: "beneath" is `Inventory.subtree`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from alerts.state import fingerprint
from inventory.model import Inventory, Level, Link

OUTAGE_RULE = "area_outage"


@dataclass(frozen=True, slots=True)
class Topology:
    inventory: Inventory
    device_area: Mapping[str, str]
    ancestors: Mapping[str, frozenset[str]]  # area -> itself and every area above it
    link_ends: Mapping[tuple[str, str], Link]
    gateways: Mapping[str, frozenset[str]]
    labels_of: Mapping[str, Mapping[str, str]]

    @classmethod
    def from_inventory(cls, inventory: Inventory) -> Topology:
        ancestors = {area_id: frozenset(a.id for a in inventory.path(area_id)) for area_id in inventory.areas}
        link_ends: dict[tuple[str, str], Link] = {}
        for link in inventory.links:
            link_ends[(link.local.device, link.local.interface)] = link
            link_ends[(link.remote.device, link.remote.interface)] = link
        gateways: dict[str, set[str]] = {}
        for device in inventory.devices.values():
            gateways.setdefault(device.area, set()).add(device.name)
        for link in inventory.links:
            gateways[link.area] = {link.local.device}
        labels = {a.id: {"area": a.id, "area_name": a.name, "level": a.level.label} for a in inventory.areas.values()}
        return cls(inventory, {d.name: d.area for d in inventory.devices.values()}, ancestors, link_ends,
                   {area: frozenset(names) for area, names in gateways.items()}, labels)

    def link_at(self, device: str, interface: str) -> Link | None:
        return self.link_ends.get((device, interface))

    def areas_of(self, labels: Mapping[str, str]) -> set[str]:
        """The device's area, the link's area, or the roll-up's area: what silences and outages match on."""
        found = {labels[k] for k in ("link", "area") if labels.get(k) in self.ancestors}
        device_area = self.device_area.get(labels.get("device", ""))
        if device_area:
            found.add(device_area)
        return found

    def within(self, area: str, root: str) -> bool:
        return root in self.ancestors.get(area, ())

    def area_labels(self, area_id: str) -> dict[str, str]:
        return dict(self.labels_of.get(area_id, {}))


@dataclass(frozen=True, slots=True)
class Cause:
    """An active alert that says something is down: `kind` is the rule's `topology`."""

    fingerprint: str
    kind: str
    labels: Mapping[str, str]
    firing: bool


@dataclass(frozen=True, slots=True)
class Outage:
    area: str
    fingerprint: str
    firing: bool
    members: frozenset[str]
    affected: tuple[dict[str, str], ...]
    counts: dict[str, int] = field(default_factory=dict)


def down_areas(topology: Topology, causes: Iterable[Cause]) -> dict[str, list[Cause]]:
    unreachable: dict[str, Cause] = {}
    down: dict[str, list[Cause]] = {}
    for cause in causes:
        if cause.kind == "link_down" and cause.labels.get("link") in topology.ancestors:
            down.setdefault(cause.labels["link"], []).append(cause)
        elif cause.kind == "device_down":
            unreachable[cause.labels.get("device", "")] = cause
    for area, gateways in topology.gateways.items():
        if gateways and all(g in unreachable for g in gateways):
            down.setdefault(area, []).extend(unreachable[g] for g in sorted(gateways))
    return down


def outages(topology: Topology, causes: Iterable[Cause], alerts: Mapping[str, Mapping[str, str]]) -> list[Outage]:
    """`alerts` is fingerprint -> labels of every active alert; each outage lists those it swallows."""
    down = down_areas(topology, causes)
    roots = [a for a in sorted(down) if not any(other != a and topology.within(a, other) for other in down)]
    found = []
    for root in roots:
        inside = topology.inventory.subtree(root)
        members = frozenset(fp for fp, labels in alerts.items() if topology.areas_of(labels) & inside)
        areas = sorted((topology.inventory.areas[a] for a in inside), key=lambda a: a.id)
        affected = tuple({"id": a.id, "name": a.name, "level": a.level.label} for a in areas
                         if a.level >= Level.TOWNSHIP)
        counts = {
            "townships": sum(1 for a in areas if a.level == Level.TOWNSHIP),
            "villages": sum(1 for a in areas if a.level == Level.VILLAGE),
            "devices": sum(1 for area in topology.device_area.values() if area in inside),
            "alerts": len(members),
        }
        found.append(Outage(root, fingerprint(OUTAGE_RULE, {"area": root}), any(c.firing for c in down[root]),
                            members, affected, counts))
    return found
