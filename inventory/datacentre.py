"""The cloud centre in the inventory: sites, rooms, cabinets and the servers placed in them (an optional file such
as `datacentre.yaml` with the sections `sites`, `rooms`, `cabinets`, `servers`).

A server's HOST-RESOURCES figures come from polling: `device` names the inventory device (platform linux, with SNMP)
that is this server, so polling stays the devices' and a server without an agent is still placed and counted.
Positions count U from 1 at the bottom, as the cabinet's rails are labelled; a server at position 5 of height 2
takes U 5 and 6.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Problem = tuple[str, str, str, str]  # (file, entry, field, message), as inventory.loader.InventoryProblem


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    site: str
    name: str


@dataclass(frozen=True, slots=True)
class Cabinet:
    id: str
    site: str
    room: str
    height_u: int
    power_budget_kw: float


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    cabinet: str
    position_u: int
    height_u: int
    power_w: float  # nominal (nameplate or measured typical), not the live draw
    device: str | None = None

    @property
    def top_u(self) -> int:
        return self.position_u + self.height_u - 1


@dataclass(slots=True)
class Datacentre:
    sites: dict[str, Site] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)
    cabinets: dict[str, Cabinet] = field(default_factory=dict)  # in file order: the order a move fills them
    servers: dict[str, Server] = field(default_factory=dict)

    def cabinets_of(self, site: str) -> list[Cabinet]:
        return [c for c in self.cabinets.values() if c.site == site]

    def servers_by_cabinet(self) -> dict[str, list[Server]]:
        placed: dict[str, list[Server]] = {c: [] for c in self.cabinets}
        for server in self.servers.values():
            placed[server.cabinet].append(server)
        return placed


class _Bad(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


Raw = list[tuple[str, int, Any]]


def parse_datacentre(raw: Mapping[str, Raw], devices: Iterable[str]) -> tuple[Datacentre, list[Problem]]:
    """Each broken entry is left out and reported; what depends on it (a room of a bad site, a server of a bad
    cabinet) is reported in its turn, never dropped silently."""
    dc = Datacentre()
    problems: list[Problem] = []
    known_devices = set(devices)
    _add(raw.get("sites", []), "site", "id", _site, dc.sites, problems)
    _add(raw.get("rooms", []), "room", "id", lambda e: _room(e, dc), dc.rooms, problems)
    _add(raw.get("cabinets", []), "cabinet", "id", lambda e: _cabinet(e, dc), dc.cabinets, problems)
    taken: dict[str, dict[int, str]] = {}  # cabinet -> U -> the server holding it
    _add(raw.get("servers", []), "server", "name", lambda e: _server(e, dc, known_devices, taken), dc.servers,
         problems)
    return dc, problems


def _add(entries: Raw, kind: str, key: str, parse: Callable[[Any], Any], into: dict[str, Any],
         problems: list[Problem]) -> None:
    for file, index, entry in entries:
        name = entry.get(key) if isinstance(entry, dict) else None
        label = f"{kind} {name!r}" if name else f"{kind} #{index + 1}"
        if isinstance(entry, dict) and name is not None and str(name) in into:
            # Checked before parsing so that a duplicate server does not claim U in its cabinet.
            problems.append((file, label, key, f"duplicate {kind} {str(name)!r}"))
            continue
        try:
            item = parse(entry)
        except _Bad as exc:
            problems.append((file, label, exc.field, exc.message))
            continue
        into[getattr(item, key)] = item


def _fields(entry: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise _Bad("", f"entry must be a mapping, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise _Bad(str(unknown[0]), "unknown field")
    return entry


def _text(entry: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None or value == "":
        if required:
            raise _Bad(key, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad(key, f"must be text, got {type(value).__name__}")
    return str(value)


def _whole(entry: dict[str, Any], key: str, low: int) -> int:
    value = entry.get(key)
    if value is None:
        raise _Bad(key, "is required")
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _Bad(key, f"{value!r} is not a whole number of at least {low}")
    return value


def _number(entry: dict[str, Any], key: str, positive: bool) -> float:
    value = entry.get(key)
    if value is None:
        raise _Bad(key, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (positive and value == 0):
        raise _Bad(key, f"{value!r} is not a {'positive' if positive else 'non-negative'} number")
    return float(value)


def _site(entry: Any) -> Site:
    entry = _fields(entry, ("id", "name"))
    ident = str(_text(entry, "id"))
    return Site(ident, _text(entry, "name", required=False) or ident)


def _room(entry: Any, dc: Datacentre) -> Room:
    entry = _fields(entry, ("id", "site", "name"))
    ident = str(_text(entry, "id"))
    site = str(_text(entry, "site"))
    if site not in dc.sites:
        raise _Bad("site", f"unknown or broken site {site!r}")
    return Room(ident, site, _text(entry, "name", required=False) or ident)


def _cabinet(entry: Any, dc: Datacentre) -> Cabinet:
    entry = _fields(entry, ("id", "site", "room", "height_u", "power_budget_kw"))
    ident = str(_text(entry, "id"))
    site = str(_text(entry, "site"))
    if site not in dc.sites:
        raise _Bad("site", f"unknown or broken site {site!r}")
    room = str(_text(entry, "room"))
    if room not in dc.rooms:
        raise _Bad("room", f"unknown or broken room {room!r}")
    if dc.rooms[room].site != site:
        raise _Bad("room", f"room {room!r} is in site {dc.rooms[room].site!r}, not {site!r}")
    return Cabinet(ident, site, room, _whole(entry, "height_u", 1), _number(entry, "power_budget_kw", True))


def _server(entry: Any, dc: Datacentre, devices: set[str], taken: dict[str, dict[int, str]]) -> Server:
    entry = _fields(entry, ("name", "cabinet", "position_u", "height_u", "power_w", "device"))
    name = str(_text(entry, "name"))
    cabinet_id = str(_text(entry, "cabinet"))
    if cabinet_id not in dc.cabinets:
        raise _Bad("cabinet", f"unknown or broken cabinet {cabinet_id!r}")
    cabinet = dc.cabinets[cabinet_id]
    server = Server(name, cabinet_id, _whole(entry, "position_u", 1), _whole(entry, "height_u", 1),
                    _number(entry, "power_w", False), _text(entry, "device", required=False))
    if server.top_u > cabinet.height_u:
        raise _Bad("position_u", f"U {server.position_u}–{server.top_u} goes beyond cabinet {cabinet_id!r} "
                                 f"of {cabinet.height_u} U")
    if server.device is not None and server.device not in devices:
        raise _Bad("device", f"unknown or broken device {server.device!r}")
    used = taken.setdefault(cabinet_id, {})
    clash = next((used[u] for u in range(server.position_u, server.top_u + 1) if u in used), None)
    if clash is not None:
        other = dc.servers[clash]
        raise _Bad("position_u", f"U {server.position_u}–{server.top_u} overlaps server {clash!r} "
                                 f"(U {other.position_u}–{other.top_u}) in cabinet {cabinet_id!r}")
    used.update(dict.fromkeys(range(server.position_u, server.top_u + 1), name))
    return server
