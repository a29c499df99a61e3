"""The city's cloud centres: the old one (dc1: 200 cabinets in 4 rooms, ~3,000 servers placed with nominal figures)
and the new one (dc3: 500 empty cabinets in 5 rooms), deterministic from the seed.

Only the lab's SNMP server devices in dc1 (`lab.city`'s servers, ten to a cabinet in A01-A06 and B01-B06) are polled;
the rest are placement and nominal figures, which is all the capacity report needs of them. A few cabinets are set
on purpose so that the report always has something to say, the small profile included (its 10 cabinets are the
first 10 of the city's): A08 holds 4 U storage servers and is nearly full in U, A09 is over its power budget, A10
nearly full in power. The rest are drawn: mostly half to seven-eighths of the budget, some nearly full.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inventory.datacentre import Cabinet, Datacentre, Room, Server, Site

OLD, NEW = "dc1", "dc3"
OLD_ROOMS, OLD_ROWS_PER_ROOM, OLD_PER_ROW = 4, 5, 10  # 200 cabinets
NEW_ROOMS, NEW_ROWS_PER_ROOM, NEW_PER_ROW = 5, 10, 10  # 500 cabinets
HEIGHT_U = 42
OLD_BUDGETS_KW = (8.0, 10.0, 10.0, 12.0)
NEW_BUDGET_KW = 12.0
SMALL_CABINETS = {OLD: 10, NEW: 25}
STORAGE, OVER_BUDGET, POWER_FULL = "dc1-A08", "dc1-A09", "dc1-A10"
# (height U, low W, high W, weight): mostly 1 U and 2 U boxes, some 4 U.
Shape = tuple[int, int, int, int]
SHAPES: tuple[Shape, ...] = ((1, 250, 420, 6), (2, 420, 720, 3), (4, 850, 1300, 1))


@dataclass(frozen=True, slots=True)
class PolledServer:
    name: str
    cabinet: str  # as lab.city names it, "A01"


def city_datacentre(seed: int, polled: Iterable[PolledServer]) -> Datacentre:
    rng = random.Random(f"{seed}:datacentre")
    dc = Datacentre()
    dc.sites[OLD] = Site(OLD, "旧云中心 old cloud centre")
    dc.sites[NEW] = Site(NEW, "新云中心 new cloud centre")
    by_cabinet: dict[str, list[str]] = {}
    for server in polled:
        by_cabinet.setdefault(f"{OLD}-{server.cabinet}", []).append(server.name)
    rows = iter("ABCDEFGHIJKLMNOPQRST")
    for r in range(1, OLD_ROOMS + 1):
        room = Room(f"{OLD}-r{r}", OLD, f"{r}号机房 room {r}")
        dc.rooms[room.id] = room
        for _ in range(OLD_ROWS_PER_ROOM):
            row = next(rows)
            for n in range(1, OLD_PER_ROW + 1):
                cabinet = Cabinet(f"{OLD}-{row}{n:02d}", OLD, room.id, HEIGHT_U, rng.choice(OLD_BUDGETS_KW))
                dc.cabinets[cabinet.id] = cabinet
                _fill(rng, dc, cabinet, by_cabinet.get(cabinet.id, []))
    for r in range(1, NEW_ROOMS + 1):
        room = Room(f"{NEW}-r{r}", NEW, f"{r}号机房 room {r}")
        dc.rooms[room.id] = room
        for row in "ABCDEFGHIJ"[:NEW_ROWS_PER_ROOM]:
            for n in range(1, NEW_PER_ROW + 1):
                cabinet = Cabinet(f"{NEW}-{r}{row}{n:02d}", NEW, room.id, HEIGHT_U, NEW_BUDGET_KW)
                dc.cabinets[cabinet.id] = cabinet
    return dc


def _fill(rng: random.Random, dc: Datacentre, cabinet: Cabinet, polled: list[str]) -> None:
    budget = cabinet.power_budget_kw * 1000
    shapes: tuple[Shape, ...] = SHAPES
    if cabinet.id == STORAGE:
        shapes, target = ((4, 500, 700, 1),), budget
    elif cabinet.id == OVER_BUDGET:
        # 2 U boxes of 600 W and more: 21 of them fill 42 U at 12.6 kW or more, over even the largest budget.
        shapes, target = ((2, 600, 720, 1),), budget * 1.15
    elif cabinet.id == POWER_FULL or rng.random() < 0.08:
        target = budget * rng.uniform(0.93, 0.99)
    else:
        target = budget * rng.uniform(0.5, 0.88)
    u, power = 1, 0.0
    # The polled servers first, at the bottom: they are real agents, their figures a 2 U box's.
    for name in polled:
        watts = float(rng.randrange(420, 720, 10))
        _place(dc, Server(name, cabinet.id, u, 2, watts, device=name))
        u, power = u + 2, power + watts
    while True:
        height, low, high, _ = rng.choices(shapes, [s[3] for s in shapes])[0]
        watts = float(rng.randrange(low, high, 10))
        if u + height - 1 > cabinet.height_u or power + watts > target:
            return
        _place(dc, Server(f"{cabinet.id}-u{u:02d}", cabinet.id, u, height, watts))
        u, power = u + height, power + watts


def _place(dc: Datacentre, server: Server) -> None:
    dc.servers[server.name] = server


def small_datacentre(dc: Datacentre, devices: set[str]) -> Datacentre:
    """The first cabinets of each site, with their servers; a server whose device the small lab does not run keeps
    its place and figures but is not polled."""
    small = Datacentre(dict(dc.sites))
    for site, count in SMALL_CABINETS.items():
        for cabinet in dc.cabinets_of(site)[:count]:
            small.cabinets[cabinet.id] = cabinet
            small.rooms[cabinet.room] = dc.rooms[cabinet.room]
    for server in dc.servers.values():
        if server.cabinet in small.cabinets:
            keep = server.device if server.device in devices else None
            small.servers[server.name] = Server(server.name, server.cabinet, server.position_u, server.height_u,
                                                server.power_w, keep)
    small.rooms = {r: dc.rooms[r] for r in dc.rooms if r in small.rooms}  # in the city's order
    return small


def datacentre_document(dc: Datacentre) -> Mapping[str, list[dict[str, Any]]]:
    """The `datacentre.yaml` that inventory.loader reads back."""
    return {
        "sites": [{"id": s.id, "name": s.name} for s in dc.sites.values()],
        "rooms": [{"id": r.id, "site": r.site, "name": r.name} for r in dc.rooms.values()],
        "cabinets": [{"id": c.id, "site": c.site, "room": c.room, "height_u": c.height_u,
                      "power_budget_kw": c.power_budget_kw} for c in dc.cabinets.values()],
        "servers": [{"name": s.name, "cabinet": s.cabinet, "position_u": s.position_u, "height_u": s.height_u,
                     "power_w": int(s.power_w), **({"device": s.device} if s.device else {})}
                    for s in dc.servers.values()],
    }
