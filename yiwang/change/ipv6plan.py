"""The IPv6 address plan of an area's subtree, derived from one prefix: a prefix per area down the tree
(city -> county -> township -> village), a /64 per link and a /128 loopback per network device.

Why an allocation table and not a hash. Stability means that adding an area never renumbers another. A hash of the
area id into its level's slots would be stable without a record, but with 63 slots per township and 41 villages in
the fullest one, collisions are certain (the birthday bound is about 10 areas), and whichever way a collision is
settled (probing, ordering by id) makes an area's prefix depend on which other areas exist: the stability is lost
exactly when it matters. So the plan file is the record: an area that has a prefix keeps it, a new area takes the
lowest free slot of its parent, and an area that left the inventory frees its slot. The same inventory and file give
the same file, byte for byte, because new areas are taken in natural order of their ids (t2 before t10).

The shape (see `inventory.addressing`): each level has one prefix length for the whole plan (every township a /57,
say), so the plan reads like a table. Slot 0 of every area is the area's own block: its first /64 holds the
loopbacks of the area's devices, the next /64s its uplinks (::1 on the parent's end, ::2 on the area's end). The
bits per level are chosen at the first plan: each level gets what its fullest parent needs (children + slot 0), the
village's own block what its busiest area needs (loopbacks + links), and any bits the prefix has beyond that are
handed out one at a time from the bottom (own block, village, township, county, then again) as room to grow. Later
plans keep the lengths in the file; a level that outgrows them is refused, never silently renumbered.

Only network devices (platforms with a CLI) get loopbacks; servers are hosts, not part of the routed plan. The
plan is intent: a device's planned loopback is not its `address6` until a change has configured it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import AddressValueError, IPv6Address, IPv6Network, NetmaskValueError
from typing import Any

import yaml

from collectors.platforms import SSH_PLATFORMS
from inventory.addressing import (
    LINK_LENGTH,
    Ipv6Plan,
    PlannedArea,
    PlannedLink,
    PlannedLoopback,
    PlanRoot,
    network6,
    slot_of,
    subnet_at,
)
from inventory.loader import LoadResult
from inventory.model import Area, Inventory, Level, Link

PLAN_FILE = "ipv6-plan.yaml"
HEADER = """\
# The IPv6 address plan, written by `yiwang change plan-ipv6`. This file is the record of what was allocated:
# planning again keeps every entry and gives new areas, links and devices the lowest free slot. Review it in git.
# Slot 0 of each area is its own block: its first /64 holds the loopbacks (/128 each), the next /64s its links
# (::1 on the upper end, ::2 on the lower end). Hand edits are checked whenever the inventory is loaded.
"""
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class PlanError(ValueError):
    """The plan is refused and nothing is written; the message names the area and the numbers."""


class InvalidPrefix(PlanError):
    pass


class PrefixTooSmall(PlanError):
    pass


class LevelExhausted(PlanError):
    pass


class PrefixConflict(PlanError):
    pass


class PlanFileInconsistent(PlanError):
    pass


class InventoryUnfit(PlanError):
    pass


@dataclass(frozen=True, slots=True)
class LevelBudget:
    """The bits of one level: `bits` in the plan, `needed` by its fullest parent today."""

    level: Level
    length: int
    bits: int
    needed: int
    fullest: str  # the parent area with the most children at this level ("" when there are none)
    children: int

    @property
    def capacity(self) -> int:
        return 2**self.bits - 1  # slot 0 is the parent's own block


@dataclass(frozen=True, slots=True)
class OwnBudget:
    """The village's own block (loopbacks + links), which is also the size of every township's own block."""

    bits: int
    needed: int
    busiest: str
    links: int


@dataclass(slots=True)
class Tally:
    kept: int = 0
    new: int = 0
    released: int = 0


@dataclass(frozen=True, slots=True)
class PlanSummary:
    root: str
    name: str
    prefix: IPv6Network
    first: bool  # no plan for this root before: the lengths were chosen now
    levels: tuple[LevelBudget, ...]
    own: OwnBudget
    spare: int  # bits beyond what the tree needs today
    tallies: Mapping[str, Tally]  # per level label, "links" and "loopbacks"


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    plan: Ipv6Plan
    summary: PlanSummary


def parse_prefix(text: str) -> IPv6Network:
    try:
        prefix = network6(text)
    except (ValueError, AddressValueError, NetmaskValueError) as exc:
        raise InvalidPrefix(f"--prefix {exc}") from None
    if prefix.prefixlen >= LINK_LENGTH:
        raise PrefixTooSmall(f"{prefix} leaves no room: links are /64s, so the plan needs a prefix shorter than /64")
    return prefix


def plan_from_load(result: LoadResult, prefix: str, root: str | None = None) -> PlanOutcome:
    """Refuse an inventory with problems: an area left out of it would free its slot for another to take."""
    plan_problems = [p for p in result.problems if p.entry.startswith("ipv6_plan")]
    if plan_problems:
        lines = "\n".join(f"  {p}" for p in plan_problems[:20])
        more = f"\n  ... and {len(plan_problems) - 20} more" if len(plan_problems) > 20 else ""
        raise PlanFileInconsistent(f"the plan file is inconsistent ({len(plan_problems)} problems); fix or restore "
                                   f"it from git:\n{lines}{more}")
    if result.problems:
        raise InventoryUnfit(f"the inventory has {len(result.problems)} problems (first: {result.problems[0]}); an "
                             "entry left out would lose its allocation: fix them first (`yiwang inventory check`)")
    return plan_ipv6(result.inventory, prefix, root)


def plan_ipv6(inv: Inventory, prefix_text: str, root_id: str | None = None) -> PlanOutcome:
    """Plan `root_id` (default: the only city) from the prefix, keeping what `inv.ipv6_plan` allocated. Call it
    through `plan_from_load`, which refuses a plan file with problems instead of planning as if it were empty."""
    prefix = parse_prefix(prefix_text)
    root = _root(inv, root_id)
    existing = inv.ipv6_plan or Ipv6Plan()
    old = existing.root(root.id)
    others = tuple(r for r in existing.roots if r.area != root.id)
    _check_conflicts(inv, root, prefix, old, others)
    if old is not None and min(old.lengths) != root.level:
        raise PlanFileInconsistent(f"{root.id} is planned as a {min(old.lengths).label}, but the inventory has it "
                                   f"as a {root.level.label}: remove its entry from the plan file to plan it again")
    tree = _Tree(inv, root)
    levels, own = tree.needs()
    available = LINK_LENGTH - prefix.prefixlen
    needed = sum(b.needed for b in levels) + own.needed
    if old is None:
        if needed > available:
            raise PrefixTooSmall(_too_small(root, prefix, levels, own, needed, available))
        lengths = _choose_lengths(root.level, prefix.prefixlen, levels, own, available - needed)
    else:
        lengths = dict(old.lengths)
    levels = tuple(_with_lengths(b, lengths) for b in levels)
    own = OwnBudget(LINK_LENGTH - lengths[Level.VILLAGE], own.needed, own.busiest, own.links)
    allocator = _Allocator(inv, tree, prefix, lengths, old)
    new_root = allocator.run()
    _check_configured(inv, new_root)
    plan = Ipv6Plan(tuple(sorted((*others, new_root), key=lambda r: r.prefix)))
    summary = PlanSummary(root.id, root.name, prefix, old is None, levels, own, available - needed,
                          allocator.tallies)
    return PlanOutcome(plan, summary)


def _root(inv: Inventory, root_id: str | None) -> Area:
    if root_id is not None:
        if root_id not in inv.areas:
            raise InventoryUnfit(f"no area {root_id!r} in the inventory")
        return inv.areas[root_id]
    cities = sorted(a.id for a in inv.areas.values() if a.level is Level.CITY)
    if len(cities) != 1:
        raise InventoryUnfit(f"the inventory has {len(cities)} cities ({', '.join(cities) or 'none'}); name the "
                             "area to plan with --area")
    return inv.areas[cities[0]]


def _check_conflicts(inv: Inventory, root: Area, prefix: IPv6Network, old: PlanRoot | None,
                     others: Iterable[PlanRoot]) -> None:
    if old is not None and old.prefix != prefix:
        raise PrefixConflict(f"{root.id} ({root.name}) is planned from {old.prefix} ({len(old.areas)} areas, "
                             f"{len(old.links)} links allocated); planning it from {prefix} would renumber every "
                             "one: to renumber on purpose, remove its entry from the plan file first")
    subtree = inv.subtree(root.id)
    for other in others:
        if other.prefix.overlaps(prefix):
            raise PrefixConflict(f"{prefix} for {root.id} overlaps {other.prefix}, from which {other.area} is "
                                 "already planned")
        if other.area in subtree or root.id in {a.id for a in other.areas}:
            outer, inner = (root.id, other.area) if other.area in subtree else (other.area, root.id)
            raise PrefixConflict(f"{inner} lies inside {outer}: one area cannot be planned from two prefixes")


def _check_configured(inv: Inventory, root: PlanRoot) -> None:
    """An address a device already has inside the prefix would be handed out a second time."""
    planned = {lo.device: lo.address for lo in root.loopbacks}
    for device in sorted(inv.devices.values(), key=lambda d: d.name):
        if device.address6 is None:
            continue
        address = IPv6Address(device.address6)
        if address in root.prefix and planned.get(device.name) != address:
            raise PrefixConflict(f"device {device.name} already has address6 {address}, inside {root.prefix} "
                                 f"which the plan hands out for {root.area}: plan from a prefix that does not contain "
                                 "it, or change the device's address6")


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _bits_for(slots: int) -> int:
    return max(1, (slots - 1).bit_length())


class _Tree:
    """The subtree to plan, in the order allocation walks it."""

    def __init__(self, inv: Inventory, root: Area) -> None:
        self.root = root
        self.ids = inv.subtree(root.id)
        self.children: dict[str, list[Area]] = {}
        for area in inv.areas.values():
            if area.id in self.ids and area.parent is not None and area.id != root.id:
                self.children.setdefault(area.parent, []).append(area)
        for kids in self.children.values():
            kids.sort(key=lambda a: _natural(a.id))
        self.links: dict[str, list[Link]] = {}
        for link in inv.links:
            if link.area in self.ids:
                self.links.setdefault(link.area, []).append(link)
        for links in self.links.values():
            links.sort(key=lambda lk: (_natural(str(lk.local)), _natural(str(lk.remote))))
        self.levels = [Level(n) for n in range(root.level + 1, max(Level) + 1)]

    def at(self, level: Level) -> list[Area]:
        found = [a for a in [self.root, *(k for kids in self.children.values() for k in kids)] if a.level == level]
        return sorted(found, key=lambda a: _natural(a.id))

    def needs(self) -> tuple[tuple[LevelBudget, ...], OwnBudget]:
        levels = []
        for level in self.levels:
            parents = self.at(Level(level - 1))
            fullest = max(parents, key=lambda a: len(self.children.get(a.id, [])), default=None)
            count = len(self.children.get(fullest.id, [])) if fullest else 0
            levels.append(LevelBudget(level, 0, 0, _bits_for(count + 1), fullest.id if fullest and count else "",
                                      count))
        # The village prefix is the own block of a village and, one level up, of a township.
        owners = [a for lv in (Level.VILLAGE, Level.TOWNSHIP) if lv >= self.root.level for a in self.at(lv)]
        busiest = max(owners, key=lambda a: len(self.links.get(a.id, [])), default=None)
        links = len(self.links.get(busiest.id, [])) if busiest else 0
        return tuple(levels), OwnBudget(0, _bits_for(links + 1), busiest.id if busiest and links else "", links)


def _too_small(root: Area, prefix: IPv6Network, levels: Iterable[LevelBudget], own: OwnBudget, needed: int,
               available: int) -> str:
    parts = []
    for b in levels:
        where = f"{b.fullest} has {b.children}" if b.children else "none yet"
        parts.append(f"{b.level.label} {b.needed} bits ({where} + slot 0 = {b.children + 1} slots)")
    parts.append(f"each village's own block {own.needed} bits (loopbacks + {max(own.links, 1)} link /64s)")
    return (f"{prefix} is too small for {root.id} ({root.name}): below /{prefix.prefixlen} it has {available} bits "
            f"down to the /64 links, the tree needs {needed}: {'; '.join(parts)}. Use a "
            f"/{LINK_LENGTH - needed} or shorter prefix")


def _choose_lengths(root_level: Level, root_length: int, levels: tuple[LevelBudget, ...], own: OwnBudget,
                    spare: int) -> dict[Level, int]:
    bits = {b.level: b.needed for b in levels}
    own_bits = own.needed
    # Room to grow, one bit at a time from the bottom: village LANs and new villages come far more often than
    # new counties.
    order: list[Level | None] = [None, *sorted(bits, reverse=True)]
    for n in range(spare):
        pick = order[n % len(order)]
        if pick is None:
            own_bits += 1
        else:
            bits[pick] += 1
    lengths = {root_level: root_length}
    length = root_length
    for level in sorted(bits):
        length += bits[level]
        lengths[level] = length
    assert length + own_bits == LINK_LENGTH, (length, own_bits)  # noqa: S101 - the budget adds up by construction
    return lengths


def _with_lengths(budget: LevelBudget, lengths: Mapping[Level, int]) -> LevelBudget:
    bits = lengths[budget.level] - lengths[Level(budget.level - 1)]
    return LevelBudget(budget.level, lengths[budget.level], bits, budget.needed, budget.fullest, budget.children)


@dataclass(slots=True)
class _Allocator:
    inv: Inventory
    tree: _Tree
    prefix: IPv6Network
    lengths: Mapping[Level, int]
    old: PlanRoot | None
    tallies: dict[str, Tally] = field(default_factory=dict)
    areas: dict[str, PlannedArea] = field(default_factory=dict)

    def run(self) -> PlanRoot:
        shell = PlanRoot(self.tree.root.id, self.prefix, self.lengths, (), (), ())
        root = self.tree.root
        self.areas[root.id] = PlannedArea.of(root.id, root.level, self.prefix,
                                                shell.own_of(root.level, self.prefix))
        old_areas = {a.id: a for a in self.old.areas} if self.old else {}
        for key in [*(lv.label for lv in (root.level, *self.tree.levels)), "links", "loopbacks"]:
            self.tallies[key] = Tally()
        self._tally(root.level.label, old_areas.get(root.id), self.areas[root.id])
        for level in self.tree.levels:
            for parent in self.tree.at(Level(level - 1)):
                self._children(shell, parent, level, old_areas)
        links = self._links()
        loopbacks = self._loopbacks()
        for level in [root.level, *self.tree.levels]:
            kept_or_new = {a for a in self.areas.values() if a.level == level}
            gone = [a for a in old_areas.values() if a.level == level and a not in kept_or_new]
            self.tallies.setdefault(level.label, Tally()).released += len(gone)
        return PlanRoot(root.id, self.prefix, self.lengths, tuple(sorted(self.areas.values(), key=lambda a: a.prefix)),
                        tuple(sorted(links, key=lambda lk: lk.prefix)),
                        tuple(sorted(loopbacks, key=lambda lo: lo.address)))

    def _tally(self, key: str, old: Any, new: Any) -> None:
        tally = self.tallies.setdefault(key, Tally())
        if old == new:
            tally.kept += 1
        else:
            tally.new += 1

    def _children(self, shell: PlanRoot, parent: Area, level: Level, old_areas: Mapping[str, PlannedArea]) -> None:
        mine = self.areas[parent.id]
        length = self.lengths[level]
        kids = self.tree.children.get(parent.id, [])
        taken: dict[int, str] = {}
        placed: dict[str, IPv6Network] = {}
        for kid in kids:
            old = old_areas.get(kid.id)
            if old is None or old.level != level or not old.prefix.subnet_of(mine.prefix):
                continue
            slot = slot_of(old.prefix, mine.prefix)
            if slot != 0 and slot not in taken:
                taken[slot] = kid.id
                placed[kid.id] = old.prefix
        slots = 2 ** (length - mine.prefix.prefixlen)
        free = (n for n in range(1, slots) if n not in taken)
        for kid in kids:
            if kid.id not in placed:
                lowest = next(free, None)
                if lowest is None:
                    raise LevelExhausted(
                        f"{parent.level.label} {parent.id} ({parent.name}, {mine.prefix}) has no free /{length} for "
                        f"{level.label} {kid.id}: its {slots - 1} {level.label} slots (/{length}, slot 0 is its own "
                        f"block) are all taken and {len(kids)} {level.label}s are in the inventory; the plan's "
                        f"lengths were fixed at the first plan, so renumbering needs a new plan")
                placed[kid.id] = subnet_at(mine.prefix, length, lowest)
            prefix = placed[kid.id]
            self.areas[kid.id] = PlannedArea.of(kid.id, level, prefix, shell.own_of(level, prefix))
            self._tally(level.label, old_areas.get(kid.id), self.areas[kid.id])

    def _links(self) -> list[PlannedLink]:
        old_links = {(str(lk.lower), str(lk.upper)): lk for lk in self.old.links} if self.old else {}
        result = []
        for area_id, links in sorted(self.tree.links.items(), key=lambda item: _natural(item[0])):
            area = self.areas[area_id]
            capacity = 2 ** (LINK_LENGTH - area.own.prefixlen)
            wanted = [(link, old_links.get((str(link.local), str(link.remote)))) for link in links]
            kept: dict[tuple[str, str], IPv6Network] = {}
            for link, old in wanted:
                if old and old.area == area_id and old.prefix.subnet_of(area.own) and old.prefix != area.loopbacks:
                    kept[(str(link.local), str(link.remote))] = old.prefix
            taken = {slot_of(prefix, area.own) for prefix in kept.values()}
            free = (n for n in range(1, capacity) if n not in taken)
            for link, old in wanted:
                prefix = kept.get((str(link.local), str(link.remote)))
                if prefix is None:
                    slot = next(free, None)
                    if slot is None:
                        raise LevelExhausted(
                            f"{area_id} has {len(links)} links but its own block {area.own} holds {capacity} /64s, "
                            f"one of them its loopbacks; link {link.local} - {link.remote} gets none")
                    prefix = subnet_at(area.own, LINK_LENGTH, slot)
                planned = PlannedLink.of(area_id, prefix, link.remote, link.local)
                self._tally("links", old, planned)
                result.append(planned)
        placed = set(result)
        self.tallies.setdefault("links", Tally()).released += sum(1 for lk in old_links.values() if lk not in placed)
        return result

    def _loopbacks(self) -> list[PlannedLoopback]:
        old_loops = {lo.device: lo for lo in self.old.loopbacks} if self.old else {}
        by_area: dict[str, list[str]] = {}
        for device in self.inv.devices.values():
            if device.area in self.tree.ids and device.platform in SSH_PLATFORMS:
                by_area.setdefault(device.area, []).append(device.name)
        result = []
        for area_id, names in sorted(by_area.items(), key=lambda item: _natural(item[0])):
            net = self.areas[area_id].loopbacks
            names.sort(key=_natural)
            keep = {name: old_loops[name] for name in names
                    if name in old_loops and old_loops[name].area == area_id and old_loops[name].address in net}
            taken = {int(lo.address) - int(net.network_address) for lo in keep.values()}
            free = (n for n in range(1, net.num_addresses) if n not in taken)
            for name in names:
                planned = keep.get(name) or PlannedLoopback(name, area_id, net[next(free)])
                self._tally("loopbacks", old_loops.get(name), planned)
                result.append(planned)
        kept = set(result)
        self.tallies.setdefault("loopbacks", Tally()).released += sum(
            1 for lo in old_loops.values() if lo not in kept)
        return result


def render_plan(plan: Ipv6Plan) -> str:
    """The plan file's text: roots by prefix, areas and links by prefix, loopbacks by address; one line each."""
    roots = []
    for root in plan.roots:
        roots.append({
            "root": root.area,
            "prefix": str(root.prefix),
            "lengths": {level.label: length for level, length in sorted(root.lengths.items())},
            "areas": [{"id": a.id, "prefix": str(a.prefix), "loopbacks": str(a.loopbacks)} for a in root.areas],
            "links": [{"area": lk.area, "prefix": str(lk.prefix), "upper": str(lk.upper),
                       "upper_address": str(lk.upper_address), "lower": str(lk.lower),
                       "lower_address": str(lk.lower_address)} for lk in root.links],
            "loopbacks": [{"device": lo.device, "area": lo.area, "address6": str(lo.address)}
                          for lo in root.loopbacks],
        })
    body = yaml.dump({"ipv6_plan": roots}, Dumper=_Dumper, default_flow_style=None, sort_keys=False, width=1000,
                     allow_unicode=True)
    return HEADER + body
