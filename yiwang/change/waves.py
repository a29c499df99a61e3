"""How a change reaches a city: in waves an approver releases one at a time.

The first wave is a canary, a few villages spread over different counties, so that a mistake shows on a handful of
routers before it reaches a county. Then either one wave per county (the way the bureau's upgrade programme is run,
county by county) or waves of a fixed number of devices. Waves are computed from the inventory alone, in a stable
order (area ids, then device names), so the same plan gives the same waves every time and a job that resumes after a
restart finds its devices where it left them.

A device is in exactly one wave. A device above the villages that the change also touches (a township router whose
downlinks are being addressed) goes in the wave of its first village: the change to it is pushed with the first
village behind it, and later villages only touch their own routers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inventory.model import Inventory, Level


class WavePlanError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Wave:
    number: int  # 0 is the canary when there is one
    name: str  # "canary", a county's id, or "wave 3"
    devices: tuple[str, ...]


def plan_waves(inventory: Inventory, area_id: str, devices: Iterable[str], *, canary_villages: int = 3,
               wave_size: int | None = None) -> list[Wave]:
    """The waves for `devices` (all inside `area_id`): a canary of up to `canary_villages` villages, each from a
    different county while counties last, then one wave per county, or per `wave_size` devices when given."""
    if area_id not in inventory.areas:
        raise WavePlanError(f"no area {area_id!r}")
    if wave_size is not None and wave_size < 1:
        raise WavePlanError("a wave holds at least one device")
    if canary_villages < 0:
        raise WavePlanError("the canary cannot have fewer than 0 villages")
    inside = inventory.subtree(area_id)
    chosen = sorted(set(devices))
    for name in chosen:
        device = inventory.devices.get(name)
        if device is None:
            raise WavePlanError(f"no device {name!r} in the inventory")
        if device.area not in inside:
            raise WavePlanError(f"{name} is in {device.area}, outside {area_id}")
    ordered = _in_tree_order(inventory, chosen)
    canary = _canary(inventory, ordered, canary_villages)
    rest = [d for d in ordered if d not in set(canary)]
    waves = [Wave(0, "canary", tuple(canary))] if canary else []
    if wave_size is not None:
        for start in range(0, len(rest), wave_size):
            waves.append(Wave(len(waves), f"wave {len(waves)}", tuple(rest[start:start + wave_size])))
        return waves
    by_county: dict[str, list[str]] = {}
    for name in rest:
        by_county.setdefault(_county(inventory, inventory.devices[name].area) or area_id, []).append(name)
    for county in sorted(by_county):
        waves.append(Wave(len(waves), county, tuple(by_county[county])))
    return waves


def _in_tree_order(inventory: Inventory, names: Sequence[str]) -> list[str]:
    """Devices ordered by the village each belongs to (a device above the villages takes its first village's
    place, just before that village's own devices), then by name."""
    first_village: dict[str, str] = {}
    for area in sorted(inventory.areas.values(), key=lambda a: a.id):
        if area.level == Level.VILLAGE:
            for ancestor in inventory.path(area.id):
                first_village.setdefault(ancestor.id, area.id)

    def key(name: str) -> tuple[str, int, str]:
        area = inventory.areas[inventory.devices[name].area]
        return first_village.get(area.id, area.id), int(area.level), name  # a parent before its villages

    return sorted(names, key=key)


def _county(inventory: Inventory, area_id: str) -> str | None:
    return next((a.id for a in inventory.path(area_id) if a.level == Level.COUNTY), None)


def _canary(inventory: Inventory, ordered: Sequence[str], villages: int) -> list[str]:
    """The devices of up to `villages` villages, one per county in turn, with the devices above them that the
    change touches and that come first in tree order."""
    if villages == 0:
        return []
    village_of: dict[str, list[str]] = {}
    order: list[str] = []
    for name in ordered:
        area = inventory.areas[inventory.devices[name].area]
        if area.level == Level.VILLAGE:
            if area.id not in village_of:
                order.append(area.id)
            village_of.setdefault(area.id, []).append(name)
    picked: list[str] = []
    counties_used: set[str | None] = set()
    for pass_ in range(2):  # first one village per county, then any, until enough
        for village in order:
            if len(picked) == villages:
                break
            county = _county(inventory, village)
            if village in picked or (pass_ == 0 and county in counties_used):
                continue
            picked.append(village)
            counties_used.add(county)
    if not picked:
        return []
    ancestors = {a.id for village in picked for a in inventory.path(village)}
    chosen = set(picked)
    members = []
    for name in ordered:
        area_id = inventory.devices[name].area
        if area_id in chosen or (area_id in ancestors and _leads(inventory, ordered, name, chosen)):
            members.append(name)
    return members


def _leads(inventory: Inventory, ordered: Sequence[str], name: str, villages: set[str]) -> bool:
    """Whether a device above the villages comes, in tree order, with one of the canary's villages (it goes with
    its first village, and that village is in the canary)."""
    index = ordered.index(name)
    for later in ordered[index + 1:]:
        area = inventory.areas[inventory.devices[later].area]
        if area.level == Level.VILLAGE:
            return area.id in villages
    return False


def tiers(inventory: Inventory, devices: Iterable[str]) -> list[tuple[str, ...]]:
    """A wave's devices split top-down by level (county, then township, then village ...), to be pushed one tier
    after another: a device's post-check pings its parent's end, which must be configured by then. Devices of one
    tier are pushed at once."""
    by_level: dict[int, list[str]] = {}
    for name in devices:
        device = inventory.devices.get(name)
        if device is None:
            raise WavePlanError(f"no device {name!r} in the inventory")
        by_level.setdefault(int(inventory.areas[device.area].level), []).append(name)
    return [tuple(sorted(by_level[level])) for level in sorted(by_level)]
