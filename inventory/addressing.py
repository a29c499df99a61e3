"""The IPv6 address plan as the inventory holds it: `ipv6-plan.yaml`, written by `yiwang change plan-ipv6`.

The file is the record of what was allocated, so it is checked on load as strictly as it is written. Its shape:
an area's prefix is one slot of its parent's prefix at the next level's length; slot 0 of every area is the area's
own block (for a village, the whole prefix): /64 number 0 of the own block holds the loopbacks of the area's
devices (one /128 each, from ::1), /64 number 1 on are the area's links, each with ::1 on the upper end (the
parent's device) and ::2 on the lower end. Everything below is derived from those rules, so a hand edit that breaks
them (a prefix outside its parent, two areas on one slot, a link address that is not its /64's ::1 or ::2) is
refused with the area and the numbers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import AddressValueError, IPv6Address, IPv6Interface, IPv6Network, NetmaskValueError, ip_network
from typing import Any, NamedTuple

from inventory.model import Endpoint, Level

LINK_LENGTH = 64
UPPER_HOST, LOWER_HOST = 1, 2
ROOT_FIELDS = ("root", "prefix", "lengths", "areas", "links", "loopbacks")


def network6(text: Any) -> IPv6Network:
    """An IPv6 network written as its network address: `2408:8000::/48`, never `2408:8000::1/48` or IPv4."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not an IPv6 prefix")
    try:
        network = ip_network(text.strip(), strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            raise ValueError(f"{text!r} has host bits set: the prefix is "
                             f"{ip_network(text.strip(), strict=False)}") from None
        raise ValueError(f"{text!r} is not an IPv6 prefix") from None
    if not isinstance(network, IPv6Network):
        raise ValueError(f"{text!r} is an IPv4 prefix; the plan needs an IPv6 one")
    if "/" not in text:
        raise ValueError(f"{text!r} has no prefix length")
    return network


def slot_of(child: IPv6Network, parent: IPv6Network) -> int:
    return (int(child.network_address) - int(parent.network_address)) >> (128 - child.prefixlen)


def subnet_at(parent: IPv6Network, length: int, index: int) -> IPv6Network:
    return IPv6Network((int(parent.network_address) + (index << (128 - length)), length))


@dataclass(frozen=True, slots=True)
class PlannedArea:
    id: str
    level: Level
    prefix: IPv6Network
    own: IPv6Network  # slot 0 of the next level, or the whole prefix at the deepest level
    loopbacks: IPv6Network  # the first /64 of `own`

    @classmethod
    def of(cls, area_id: str, level: Level, prefix: IPv6Network, own: IPv6Network) -> PlannedArea:
        return cls(area_id, level, prefix, own, subnet_at(own, LINK_LENGTH, 0))


@dataclass(frozen=True, slots=True)
class PlannedLink:
    area: str
    prefix: IPv6Network
    upper: Endpoint  # the parent area's end
    lower: Endpoint  # the area's own device
    upper_address: IPv6Interface
    lower_address: IPv6Interface

    @classmethod
    def of(cls, area: str, prefix: IPv6Network, upper: Endpoint, lower: Endpoint) -> PlannedLink:
        base = int(prefix.network_address)
        return cls(area, prefix, upper, lower, IPv6Interface((base + UPPER_HOST, LINK_LENGTH)),
                   IPv6Interface((base + LOWER_HOST, LINK_LENGTH)))


@dataclass(frozen=True, slots=True)
class PlannedLoopback:
    device: str
    area: str
    address: IPv6Address


@dataclass(frozen=True, slots=True)
class InterfaceAddress:
    """One planned interface address of a device, with the other end of its link."""

    interface: str
    address: IPv6Interface
    peer: Endpoint
    peer_address: IPv6Address
    link_area: str


@dataclass(frozen=True, slots=True)
class PlanRoot:
    """One area's subtree planned from one prefix."""

    area: str
    prefix: IPv6Network
    lengths: Mapping[Level, int]  # the prefix length of each level, from the root's down to the village
    areas: tuple[PlannedArea, ...]
    links: tuple[PlannedLink, ...]
    loopbacks: tuple[PlannedLoopback, ...]

    def own_of(self, level: Level, prefix: IPv6Network) -> IPv6Network:
        deeper = self.lengths.get(Level(level + 1)) if level < max(Level) else None
        return subnet_at(prefix, deeper, 0) if deeper is not None else prefix


@dataclass(frozen=True)
class Ipv6Plan:
    roots: tuple[PlanRoot, ...] = ()
    areas: Mapping[str, PlannedArea] = field(init=False, repr=False, compare=False)
    loopbacks: Mapping[str, PlannedLoopback] = field(init=False, repr=False, compare=False)
    # Built on the first `interfaces` call: most loads of the inventory never ask.
    _interfaces: dict[str, tuple[InterfaceAddress, ...]] = field(init=False, repr=False, compare=False,
                                                                 default_factory=dict)
    _uplinks: dict[str, PlannedLink] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "areas", {a.id: a for root in self.roots for a in root.areas})
        object.__setattr__(self, "loopbacks", {lo.device: lo for root in self.roots for lo in root.loopbacks})

    def links(self) -> Iterator[PlannedLink]:
        for root in self.roots:
            yield from root.links

    def root(self, area_id: str) -> PlanRoot | None:
        return next((r for r in self.roots if r.area == area_id), None)

    def loopback(self, device: str) -> IPv6Address | None:
        """The device's planned /128: its IPv6 management address once the change has configured it."""
        planned = self.loopbacks.get(device)
        return planned.address if planned else None

    def uplink(self, device: str) -> PlannedLink | None:
        """The planned link the device is the lower end of (towards its parent)."""
        if not self._uplinks:
            self._uplinks.update((link.lower.device, link) for link in self.links())
        return self._uplinks.get(device)

    def interfaces(self, device: str) -> tuple[InterfaceAddress, ...]:
        """The device's planned interface addresses, one per link end, with the address of the other end."""
        if not self._interfaces:
            by_device: dict[str, list[InterfaceAddress]] = {}
            for link in self.links():
                by_device.setdefault(link.upper.device, []).append(InterfaceAddress(
                    link.upper.interface, link.upper_address, link.lower, link.lower_address.ip, link.area))
                by_device.setdefault(link.lower.device, []).append(InterfaceAddress(
                    link.lower.interface, link.lower_address, link.upper, link.upper_address.ip, link.area))
            self._interfaces.update((k, tuple(v)) for k, v in by_device.items())
        return self._interfaces.get(device, ())


class PlanProblem(NamedTuple):
    file: str
    entry: str
    field: str
    message: str


class _Bad(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_plan(entries: Sequence[tuple[str, int, Any]]) -> tuple[Ipv6Plan | None, list[PlanProblem]]:
    """Each `ipv6_plan` entry is one root; a root with any problem is left out and every problem reported."""
    roots: list[PlanRoot] = []
    problems: list[PlanProblem] = []
    for file, index, entry in entries:
        label = f"ipv6_plan #{index + 1}"
        if isinstance(entry, dict) and isinstance(entry.get("root"), str):
            label = f"ipv6_plan root {entry['root']!r}"
        found = _parse_root(entry)
        if isinstance(found, PlanRoot):
            clash = _clash(found, roots)
            if clash:
                problems.append(PlanProblem(file, label, "prefix", clash))
            else:
                roots.append(found)
        else:
            problems += [PlanProblem(file, label, f, m) for f, m in found]
    if not entries:
        return None, problems
    return Ipv6Plan(tuple(sorted(roots, key=lambda r: r.prefix))), problems


def _clash(new: PlanRoot, roots: Iterable[PlanRoot]) -> str:
    for other in roots:
        if other.prefix.overlaps(new.prefix):
            return f"{new.prefix} of {new.area!r} overlaps {other.prefix} of {other.area!r}"
        shared = {a.id for a in new.areas} & {a.id for a in other.areas}
        if shared:
            return f"area {min(shared)!r} is planned under both {other.area!r} and {new.area!r}"
        links = {(str(lk.lower), str(lk.upper)) for lk in new.links} & {(str(lk.lower), str(lk.upper))
                                                                       for lk in other.links}
        if links:
            return f"link {min(links)[0]} is planned under both {other.area!r} and {new.area!r}"
        devices = {lo.device for lo in new.loopbacks} & {lo.device for lo in other.loopbacks}
        if devices:
            return f"device {min(devices)!r} has a loopback under both {other.area!r} and {new.area!r}"
    return ""


def _parse_root(entry: Any) -> PlanRoot | list[tuple[str, str]]:
    if not isinstance(entry, dict):
        return [("", f"must be a mapping, got {type(entry).__name__}")]
    unknown = sorted(set(entry) - set(ROOT_FIELDS))
    if unknown:
        return [(unknown[0], "unknown field")]
    try:
        root_id = entry.get("root")
        if not isinstance(root_id, str) or not root_id:
            raise _Bad("root", "is required: the id of the area planned from the prefix")
        prefix = _network(entry.get("prefix"), "prefix")
        lengths = _lengths(entry.get("lengths"), prefix)
    except _Bad as exc:
        return [(exc.field, exc.message)]
    problems: list[tuple[str, str]] = []
    areas = _areas(entry.get("areas"), root_id, prefix, lengths, problems)
    if problems:
        return problems
    links = _links(entry.get("links"), areas, problems)
    loopbacks = _loopbacks(entry.get("loopbacks"), areas, problems)
    if problems:
        return problems
    # In the order the file is written in, whatever order a hand edit left.
    return PlanRoot(root_id, prefix, lengths, tuple(sorted(areas.values(), key=lambda a: a.prefix)),
                    tuple(sorted(links, key=lambda lk: lk.prefix)), tuple(sorted(loopbacks, key=lambda lo: lo.address)))


def _parts(text: Any) -> tuple[int, int] | None:
    """(address, length) of `address/length`, parsed by the C library: ipaddress's parser is the bulk of loading
    a city's plan. None when the text is not plainly that; the caller then asks the slow, explaining parser."""
    if not isinstance(text, str):
        return None
    address, _, length = text.partition("/")
    if not length.isdigit() or int(length) > 128:
        return None
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big"), int(length)
    except OSError:
        return None


def _network_or_none(text: Any) -> IPv6Network | None:
    parts = _parts(text)
    try:
        return IPv6Network(parts) if parts else None
    except ValueError:  # host bits set
        return None


def _network(text: Any, field: str) -> IPv6Network:
    # The fast path for the thousands of prefixes a city's plan holds; `network6` explains what is wrong.
    found = _network_or_none(text)
    if found is not None:
        return found
    try:
        return network6(text)
    except (ValueError, AddressValueError, NetmaskValueError) as exc:
        raise _Bad(field, str(exc)) from None


def _lengths(value: Any, prefix: IPv6Network) -> dict[Level, int]:
    if not isinstance(value, dict) or not value:
        raise _Bad("lengths", "must map each level, from the root's down to village, to its prefix length")
    lengths: dict[Level, int] = {}
    for key, length in value.items():
        try:
            level = Level[str(key).upper()]
        except KeyError:
            raise _Bad(f"lengths.{key}", f"{key!r} is not a level") from None
        if not isinstance(length, int) or isinstance(length, bool) or not 0 <= length <= LINK_LENGTH - 1:
            raise _Bad(f"lengths.{key}", f"{length!r} is not a prefix length from /0 to /63")
        lengths[level] = length
    levels = sorted(lengths)
    if levels != list(range(levels[0], max(Level) + 1)):
        raise _Bad("lengths", f"must name every level from {levels[0].label} down to village, one length each")
    if lengths[levels[0]] != prefix.prefixlen:
        raise _Bad(f"lengths.{levels[0].label}",
                   f"/{lengths[levels[0]]} is not the root prefix's length /{prefix.prefixlen}")
    for upper, lower in zip(levels, levels[1:], strict=False):
        if lengths[lower] <= lengths[upper]:
            raise _Bad(f"lengths.{lower.label}", f"/{lengths[lower]} is not longer than the {upper.label}'s "
                                                 f"/{lengths[upper]}")
    return lengths


def _entries(value: Any, section: str, problems: list[tuple[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append((section, "must be a list"))
        return []
    good = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            good.append((f"{section}[{index}]", item))
        else:
            problems.append((f"{section}[{index}]", "must be a mapping"))
    return good


def _areas(value: Any, root_id: str, prefix: IPv6Network, lengths: Mapping[Level, int],
           problems: list[tuple[str, str]]) -> dict[str, PlannedArea]:
    level_of = {length: level for level, length in lengths.items()}
    root_level = min(lengths)
    shell = PlanRoot(root_id, prefix, lengths, (), (), ())
    by_prefix: dict[IPv6Network, PlannedArea] = {}
    areas: dict[str, PlannedArea] = {}
    # Parents before children, so each area's parent is known when the area is checked.
    parsed: list[tuple[str, str, IPv6Network, Any]] = []
    for where, item in _entries(value, "areas", problems):
        try:
            area_id = item.get("id")
            if not isinstance(area_id, str) or not area_id:
                raise _Bad(f"{where}.id", "is required")
            if set(item) - {"id", "prefix", "loopbacks"}:
                raise _Bad(f"{where}.{sorted(set(item) - {'id', 'prefix', 'loopbacks'})[0]}", "unknown field")
            parsed.append((where, area_id, _network(item.get("prefix"), f"{where}.prefix"), item.get("loopbacks")))
        except _Bad as exc:
            problems.append((exc.field, exc.message))
    for where, area_id, net, loopbacks in sorted(parsed, key=lambda p: p[2].prefixlen):
        level = level_of.get(net.prefixlen)
        if level is None:
            problems.append((f"{where}.prefix", f"area {area_id!r}: {net} is not at the length of any level "
                                                f"({', '.join(f'{lv.label} /{n}' for lv, n in lengths.items())})"))
            continue
        if area_id in areas:
            problems.append((f"{where}.id", f"area {area_id!r} is listed twice"))
            continue
        if net in by_prefix:
            problems.append((f"{where}.prefix", f"areas {by_prefix[net].id!r} and {area_id!r} share {net}"))
            continue
        if level == root_level:
            if area_id != root_id or net != prefix:
                problems.append((f"{where}.prefix", f"area {area_id!r}: {net} is the root's length, but the root is "
                                                    f"{root_id!r} on {prefix}"))
                continue
        else:
            parent = by_prefix.get(net.supernet(new_prefix=lengths[Level(level - 1)]))
            if parent is None:
                problems.append((f"{where}.prefix", f"area {area_id!r}: {net} lies in no planned "
                                                    f"{Level(level - 1).label}'s prefix"))
                continue
            if net.subnet_of(parent.own):
                problems.append((f"{where}.prefix", f"area {area_id!r}: {net} is slot 0 of {parent.id!r} "
                                                    f"({parent.prefix}), which is that area's own block"))
                continue
        area = PlannedArea.of(area_id, level, net, shell.own_of(level, net))
        if _parts(loopbacks) != (int(area.loopbacks.network_address), LINK_LENGTH):
            problems.append((f"{where}.loopbacks", f"area {area_id!r}: {loopbacks!r} is not {area.loopbacks}, "
                                                   "the first /64 of its own block"))
            continue
        areas[area_id] = area
        by_prefix[net] = area
    if root_id not in areas and not problems:
        problems.append(("areas", f"the root area {root_id!r} ({prefix}) is not listed"))
    return areas


def _links(value: Any, areas: Mapping[str, PlannedArea], problems: list[tuple[str, str]]) -> list[PlannedLink]:
    links: list[PlannedLink] = []
    seen: dict[IPv6Network, str] = {}
    ends: set[tuple[str, str]] = set()
    link_fields = {"area", "prefix", "upper", "upper_address", "lower", "lower_address"}
    for where, item in _entries(value, "links", problems):
        try:
            if set(item) - link_fields:
                raise _Bad(f"{where}.{sorted(set(item) - link_fields)[0]}", "unknown field")
            area = areas.get(str(item.get("area")))
            if area is None:
                raise _Bad(f"{where}.area", f"{item.get('area')!r} is not a planned area")
            net = _network(item.get("prefix"), f"{where}.prefix")
            upper, lower = (_endpoint(item.get(k), f"{where}.{k}") for k in ("upper", "lower"))
            link = PlannedLink.of(area.id, net, upper, lower)
            if net.prefixlen != LINK_LENGTH or not net.subnet_of(area.own) or net == area.loopbacks:
                raise _Bad(f"{where}.prefix", f"link of {area.id!r}: {net} is not a /64 of the area's own block "
                                              f"{area.own} after its loopbacks {area.loopbacks}")
            for key, planned in (("upper_address", link.upper_address), ("lower_address", link.lower_address)):
                if _parts(item.get(key)) != (int(planned.ip), LINK_LENGTH):
                    raise _Bad(f"{where}.{key}", f"link of {area.id!r} on {net}: {item.get(key)!r} is not "
                                                 f"{planned}")
            if net in seen:
                raise _Bad(f"{where}.prefix", f"{net} is planned for links of both {seen[net]!r} and {area.id!r}")
            if (str(lower), str(upper)) in ends:
                raise _Bad(f"{where}.lower", f"link {lower} - {upper} is listed twice")
        except _Bad as exc:
            problems.append((exc.field, exc.message))
            continue
        seen[net] = area.id
        ends.add((str(lower), str(upper)))
        links.append(link)
    return links


def _endpoint(text: Any, field: str) -> Endpoint:
    try:
        return Endpoint.parse(str(text))
    except ValueError as exc:
        raise _Bad(field, str(exc)) from None


def _loopbacks(value: Any, areas: Mapping[str, PlannedArea],
               problems: list[tuple[str, str]]) -> list[PlannedLoopback]:
    loopbacks: list[PlannedLoopback] = []
    taken: dict[IPv6Address, str] = {}
    devices: set[str] = set()
    for where, item in _entries(value, "loopbacks", problems):
        try:
            if set(item) - {"device", "area", "address6"}:
                raise _Bad(f"{where}.{sorted(set(item) - {'device', 'area', 'address6'})[0]}", "unknown field")
            device = item.get("device")
            if not isinstance(device, str) or not device:
                raise _Bad(f"{where}.device", "is required")
            area = areas.get(str(item.get("area")))
            if area is None:
                raise _Bad(f"{where}.area", f"{item.get('area')!r} is not a planned area")
            try:
                address = IPv6Address(str(item.get("address6")))
            except AddressValueError:
                raise _Bad(f"{where}.address6", f"{item.get('address6')!r} is not an IPv6 address") from None
            if address not in area.loopbacks or address == area.loopbacks.network_address:
                raise _Bad(f"{where}.address6", f"device {device!r}: {address} is not a host of {area.id!r}'s "
                                                f"loopback /64 {area.loopbacks}")
            if address in taken:
                raise _Bad(f"{where}.address6", f"{address} is planned for both {taken[address]!r} and {device!r}")
            if device in devices:
                raise _Bad(f"{where}.device", f"device {device!r} is listed twice")
        except _Bad as exc:
            problems.append((exc.field, exc.message))
            continue
        taken[address] = device
        devices.add(device)
        loopbacks.append(PlannedLoopback(device, area.id, address))
    return loopbacks
