"""The reference city as a plan: areas, devices with their interfaces and traffic, and uplinks.

`generate_city` is pure: the same seed and profile give the same plan, byte for byte. The "small" profile is a
slice of the "city" plan for the same seed, so a name or an address means the same device in both.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from inventory.datacentre import Datacentre
from inventory.model import Area, Endpoint, Level, Link
from lab.datacentre import OLD, PolledServer, city_datacentre, small_datacentre
from lab.export import write_inventory
from lab.hardening import HARDENED, Hardening, hardening_of
from lab.names import Place, Township, huanggang, made_up_place
from lab.platforms import MODELS, ROLE_MODELS, first_if_index, port_name

PROFILES = ("city", "small")
SMALL_COUNTY = "huangzhou"
SMALL_SERVERS = 6

# (id, administrative code, townships); the uneven split follows the real county sizes and sums to 136. The names
# are the real ones, from lab/data/huanggang.json.
COUNTIES: tuple[tuple[str, str, int], ...] = (
    ("huangzhou", "421102", 7), ("tuanfeng", "421121", 10), ("hongan", "421122", 12), ("luotian", "421123", 12),
    ("yingshan", "421124", 11), ("xishui", "421125", 15), ("qichun", "421126", 15), ("huangmei", "421127", 16),
    ("macheng", "421181", 20), ("wuxue", "421182", 18),
)
TOWNSHIPS = 136
VILLAGES = 4088
SERVERS = 150

CARRIERS = ("China Telecom", "China Unicom", "China Mobile", "Hubei E-Gov Private Line")
# Weights per level for CARRIERS: villages buy from the public carriers, counties mostly ride the private line.
CARRIER_WEIGHTS: dict[Level, tuple[int, ...]] = {
    Level.VILLAGE: (5, 3, 3, 1), Level.TOWNSHIP: (4, 3, 1, 2), Level.COUNTY: (2, 1, 0, 7), Level.CITY: (0, 0, 0, 1),
}
PLATFORM_WEIGHTS: dict[str, dict[str, int]] = {
    "county-aggregation": {"huawei_vrp": 6, "hp_comware": 4},
    "township-switch": {"huawei_vrp": 5, "hp_comware": 4, "ruijie_os": 1, "cisco_ios": 0},
    "village-access": {"huawei_vrp": 45, "hp_comware": 35, "ruijie_os": 15, "cisco_ios": 5},
}
HOSTILE_DEVICE = "hg-huangzhou-t01-v001"
HOSTILE_SYS_NAME = "<script>alert(1)</script>$(reboot);rm -rf / \n{{7*7}}"
HOSTILE_ALIAS = "\"users\" '; DROP TABLE links;-- | `id` ${IFS}&& echo 黄冈 \r\n{{7*7}} <b>x</b>"

COUNTER64 = ("in_octets", "in_ucast", "out_octets", "out_ucast")
COUNTER32 = ("in_discards", "in_errors", "out_discards", "out_errors")
COUNTERS = COUNTER64 + COUNTER32


@dataclass(frozen=True, slots=True)
class TrafficDefaults:
    """How busy links are, as a fraction of the contracted bandwidth (or port speed), per level."""

    utilisation: Mapping[str, tuple[float, float]] = field(default_factory=lambda: {
        "city": (0.05, 0.25), "county": (0.03, 0.20), "township": (0.05, 0.30), "village": (0.05, 0.35),
        "access": (0.0005, 0.05), "server": (0.01, 0.15), "core": (0.05, 0.20),
    })
    # Upstream is this fraction of downstream: users fetch more than they send.
    upstream: tuple[float, float] = (0.2, 0.6)
    packet_bytes: tuple[float, float] = (350.0, 1100.0)
    # Share of interfaces that carry a trickle of errors and discards even when nothing is wrong.
    noisy_share: float = 0.02
    # Normal traffic never exceeds this share of the port speed; "saturate" is a fault, not a baseline.
    ceiling: float = 0.9
    rate_scale: float = 1.0


@dataclass(frozen=True, slots=True)
class InterfacePlan:
    index: int
    name: str
    if_type: int  # 6 ethernetCsmacd, 24 softwareLoopback
    speed_mbps: int
    alias: str
    admin_up: bool = True
    oper_up: bool = True
    mac: str = ""
    # Per-second growth and the value at lab start, keyed by COUNTERS names.
    rates: Mapping[str, float] = field(default_factory=dict)
    initial: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CpuPlan:
    index: int
    mean: float  # percent
    swing: float
    period_s: float


@dataclass(frozen=True, slots=True)
class StoragePlan:
    index: int
    descr: str
    unit_bytes: int
    size: int  # in units
    used: int


@dataclass(frozen=True, slots=True)
class DevicePlan:
    name: str
    platform: str
    role: str
    area: str
    model: str
    address: str | None
    address6: str | None
    sys_name: str
    sys_descr: str
    sys_object_id: str
    uptime_s: int
    interfaces: tuple[InterfacePlan, ...]
    cpus: tuple[CpuPlan, ...] = ()
    mem_percent: int = 0
    storage: tuple[StoragePlan, ...] = ()
    site: str | None = None
    cabinet: str | None = None
    hostile: bool = False
    hardening: Hardening = HARDENED  # what its configuration breaks of the 等保 rules (lab.hardening)

    @property
    def host(self) -> str:
        return self.address or self.address6 or ""

    def interface(self, name: str) -> InterfacePlan:
        for iface in self.interfaces:
            if iface.name == name:
                return iface
        raise KeyError(f"device {self.name!r} has no interface {name!r}")


@dataclass(frozen=True, slots=True)
class CityPlan:
    seed: int
    profile: str
    areas: tuple[Area, ...]
    devices: tuple[DevicePlan, ...]
    links: tuple[Link, ...]
    # The cloud centres' sites, cabinets and placed servers (lab.datacentre).
    datacentre: Datacentre = field(default_factory=Datacentre)

    def device(self, name: str) -> DevicePlan:
        for device in self.devices:
            if device.name == name:
                return device
        raise KeyError(f"no device {name!r} in the {self.profile} lab")

    def subtree(self, area_id: str) -> set[str]:
        return {a.id for a in self.areas if a.id == area_id or a.id.startswith(area_id + ".")}

    def devices_under(self, area_id: str) -> list[DevicePlan]:
        inside = self.subtree(area_id)
        return [d for d in self.devices if d.area in inside]

    def to_inventory_yaml(self, out_dir: Path, secret_file: Path, port: int = 161) -> list[Path]:
        return write_inventory(self, out_dir, secret_file, port)


def generate_city(seed: int, profile: str = "city", traffic: TrafficDefaults | None = None) -> CityPlan:
    if profile not in PROFILES:
        raise ValueError(f"unknown lab profile {profile!r}; use one of {PROFILES}")
    builder = _Builder(seed, traffic or TrafficDefaults())
    builder.lay_out()
    return builder.plan(profile)


def split_total(rng: random.Random, total: int, parts: int, low: int) -> list[int]:
    """`parts` uneven counts, each at least `low`, summing exactly to `total` (largest remainder)."""
    weights = [rng.uniform(0.5, 1.7) for _ in range(parts)]
    spare = total - low * parts
    raw = [spare * w / sum(weights) for w in weights]
    counts = [low + int(x) for x in raw]
    by_fraction = sorted(range(parts), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    for i in by_fraction[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _weighted(rng: random.Random, weights: Mapping[str, int]) -> str:
    names = [k for k, w in weights.items() if w > 0]
    return rng.choices(names, [weights[k] for k in names])[0]


@dataclass(slots=True)
class _Port:
    """An interface being planned; traffic on a link is filled in from both ends at once."""

    name: str
    speed: int
    alias: str
    down_bps: float = 0.0  # bytes/s arriving on this port (ifIn*)
    up_bps: float = 0.0  # bytes/s leaving it (ifOut*)
    used: bool = True
    if_type: int = 6


@dataclass(slots=True)
class _Dev:
    name: str
    platform: str
    role: str
    area: str
    address: str | None
    address6: str | None = None
    ports: list[_Port] = field(default_factory=list)
    site: str | None = None
    cabinet: str | None = None
    counts: dict[int, int] = field(default_factory=dict)

    def add_port(self, speed: int, alias: str) -> _Port:
        # Ports are numbered per speed class, as vendors number GE and 10GE ports separately.
        klass = 10000 if speed >= 10000 else 1000
        number = self.counts.get(klass, 0) + 1
        self.counts[klass] = number
        port = _Port(port_name(self.platform, klass, number), speed, alias)
        self.ports.append(port)
        return port


class _Builder:
    def __init__(self, seed: int, traffic: TrafficDefaults) -> None:
        self.seed = seed
        self.traffic = traffic
        # Separate streams so that, say, adding a server does not reshuffle every village name.
        self.names = random.Random(f"{seed}:names")
        self.shape = random.Random(f"{seed}:shape")
        self.load = random.Random(f"{seed}:load")
        self.areas: list[Area] = []
        # The English names, for interface descriptions: ifAlias is a DisplayString (NVT ASCII), and operators write
        # descriptions in pinyin so every platform's CLI shows them alike.
        self.area_names: dict[str, str] = {}
        self.devs: list[_Dev] = []
        self.links: list[Link] = []

    def lay_out(self) -> None:
        real = huanggang()
        province = _area("hb", real.province, Level.PROVINCE, None)
        city = _area("hb.hg", real.city, Level.CITY, "hb")
        self._area(province)
        self._area(city)
        pe = self._dev("hb-egov-pe01", "huawei_vrp", "province-uplink", province.id, None)
        pe.address6 = "::1"
        backbone = pe.add_port(10000, "uplink to Hubei e-gov backbone via Hubei E-Gov Private Line")
        self._load(backbone, "core", 10000)
        cores = [self._dev(f"hg-core-0{i}", "huawei_vrp", "city-core", city.id, f"127.16.0.{i + 1}") for i in (1, 2)]
        self._link(city, cores[0], pe, 10000, "Hubei E-Gov Private Line")
        backup = cores[1].add_port(10000, "backup uplink to Hubei via China Telecom")
        pe_backup = pe.add_port(10000, f"backup downlink to {cores[1].name} via China Telecom")
        self._pair(backup, pe_backup, 10000, "core")
        peer_a = cores[0].add_port(10000, f"peer link to {cores[1].name}")
        peer_b = cores[1].add_port(10000, f"peer link to {cores[0].name}")
        self._pair(peer_a, peer_b, 10000, "core")
        self._servers(city, cores)
        townships = iter(self._village_counts())
        for k, (slug, code, n_townships) in enumerate(COUNTIES):
            self._county(city, cores[k % 2], k, slug, code, n_townships, townships)

    def plan(self, profile: str) -> CityPlan:
        areas, devs, links = self.areas, self.devs, self.links
        datacentre = city_datacentre(self.seed, [PolledServer(d.name, d.cabinet or "") for d in devs
                                                 if d.role == "server" and d.site == OLD])
        if profile == "small":
            # The whole city is laid out first (the random streams run in city order), then sliced, so every
            # name and address in "small" is the one the city has.
            county = f"hb.hg.{SMALL_COUNTY}"
            areas = [a for a in areas if a.level <= Level.CITY or a.id == county or a.id.startswith(county + ".")]
            keep = {a.id for a in areas}
            servers = {d.name for d in [d for d in devs if d.role == "server"][:SMALL_SERVERS]}
            devs = [d for d in devs if (d.area in keep and d.role != "server") or d.name in servers]
            links = [link for link in links if link.area in keep]
            datacentre = small_datacentre(datacentre, {d.name for d in devs})
        return CityPlan(self.seed, profile, tuple(areas), tuple(self._finish(d) for d in devs), tuple(links),
                        datacentre)

    def _area(self, area: Area) -> None:
        self.areas.append(area)
        self.area_names[area.id] = area.name_en or area.name

    def _village_counts(self) -> list[int]:
        return split_total(self.shape, VILLAGES, TOWNSHIPS, low=8)

    def _dev(self, name: str, platform: str, role: str, area: str, address: str | None) -> _Dev:
        dev = _Dev(name, platform, role, area, address)
        self.devs.append(dev)
        return dev

    def _county(self, city: Area, core: _Dev, k: int, slug: str, code: str, n_townships: int,
                village_counts: Iterator[int]) -> None:
        real = huanggang().counties[code]
        county = _area(f"{city.id}.{slug}", real.place, Level.COUNTY, city.id)
        self._area(county)
        net = 17 + k
        agg = self._dev(f"hg-{slug}-agg01", _weighted(self.shape, PLATFORM_WEIGHTS["county-aggregation"]),
                        "county-aggregation", county.id, f"127.{net}.0.1")
        carrier = self._carrier(Level.COUNTY)
        self._link(county, agg, core, 10000, carrier)
        towns = self._townships(real.townships, n_townships)
        for t, real_town in enumerate(towns, start=1):
            town = _area(f"{county.id}.t{t:02d}", real_town.place, Level.TOWNSHIP, county.id)
            self._area(town)
            sw = self._dev(f"hg-{slug}-t{t:02d}-sw01", _weighted(self.shape, PLATFORM_WEIGHTS["township-switch"]),
                           "township-switch", town.id, f"127.{net}.{t}.1")
            self._link(town, sw, agg, 1000, self._carrier(Level.TOWNSHIP))
            places = self._villages(real_town, next(village_counts))
            for v, place in enumerate(places, start=1):
                village = _area(f"{town.id}.v{v:03d}", place, Level.VILLAGE, town.id)
                self._area(village)
                self._village(village, sw, f"hg-{slug}-t{t:02d}-v{v:03d}", f"127.{net}.{t}.{v + 1}")

    def _townships(self, real: tuple[Township, ...], wanted: int) -> list[Township]:
        """The county's first `wanted` townships in code order; made-up towns (no code) where it has fewer."""
        towns = list(real[:wanted])
        taken = {t.place.name for t in towns}
        while len(towns) < wanted:
            place = made_up_place(self.names, "town", taken)
            taken.add(place.name)
            towns.append(Township(place, ()))
        return towns

    def _villages(self, town: Township, wanted: int) -> list[Place]:
        """The township's first `wanted` villages in code order; made-up ones (no code) where it has fewer."""
        places = list(town.villages[:wanted])
        taken = {p.name for p in places}
        # A city subdistrict (街道) is made of urban communities, not villages.
        kind = "community" if town.place.name.endswith("街道") else "village"
        while len(places) < wanted:
            place = made_up_place(self.names, kind, taken)
            taken.add(place.name)
            places.append(place)
        return places

    def _village(self, village: Area, sw: _Dev, name: str, address: str) -> None:
        dev = self._dev(name, _weighted(self.shape, PLATFORM_WEIGHTS["village-access"]), "village-access",
                        village.id, address)
        bandwidth = self.shape.choice((50, 100, 100, 200))
        self._link(village, dev, sw, bandwidth, self._carrier(Level.VILLAGE),
                   speed=100 if bandwidth <= 100 else 1000)
        used = self.shape.randint(3, 7)
        for n in range(7):
            port = dev.add_port(1000, f"{self.area_names[village.id]} office LAN {n + 1}")
            port.speed = 1000 if self.shape.random() < 0.7 else 100
            port.used = n < used
            if port.used:
                self._load(port, "access", port.speed)

    def _servers(self, city: Area, cores: list[_Dev]) -> None:
        roles = ("web", "app", "app", "db", "gis", "mq", "cache", "backup", "mon", "file")
        for i in range(SERVERS):
            site = "dc1" if i < 120 else "dc2"
            row = "AB"[(i % 120) // 60] if site == "dc1" else "C"
            cabinet = f"{row}{((i % 60) // 10) + 1:02d}"
            dev = self._dev(f"hg-{site}-{roles[i % len(roles)]}-{i + 1:03d}", "linux", "server", city.id,
                            f"127.16.{1 + i // 100}.{i % 100 + 1}")
            dev.site, dev.cabinet = site, cabinet
            lo = _Port("lo", 10, "", if_type=24)
            dev.ports.append(lo)
            speed = 10000 if self.shape.random() < 0.3 else 1000
            for n in range(2):
                port = dev.add_port(speed, "")
                port.used = n == 0 or self.shape.random() < 0.5
                if port.used:
                    self._load(port, "server", speed)
        # The core's ports towards the server farms, so a DC outage is visible on the network side too.
        for core in cores:
            for site in ("dc1", "dc2"):
                port = core.add_port(10000, f"downlink to {site} server farm")
                self._load(port, "core", 10000)

    def _link(self, area: Area, local: _Dev, parent: _Dev, bandwidth: int, carrier: str,
              speed: int | None = None) -> None:
        parent_name = self.area_names.get(area.parent or "", area.parent)
        speed = speed or bandwidth
        up = local.add_port(speed, f"uplink to {parent_name} via {carrier}")
        # Both ends of a link negotiate the same speed.
        down = parent.add_port(speed, f"downlink to {self.area_names[area.id]} via {carrier}")
        self._pair(up, down, bandwidth, area.level.label)
        self.links.append(Link(area.id, Endpoint(local.name, up.name), Endpoint(parent.name, down.name), carrier,
                               float(bandwidth)))

    def _pair(self, child: _Port, parent: _Port, bandwidth: float, level: str) -> None:
        # Both ends of a link see the same traffic, mirrored: what the parent sends, the child receives.
        self._load(child, level, bandwidth)
        parent.down_bps, parent.up_bps = child.up_bps, child.down_bps

    def _load(self, port: _Port, level: str, bandwidth: float) -> None:
        lo, hi = self.traffic.utilisation[level]
        down = bandwidth * 1e6 / 8 * self.load.uniform(lo, hi) * self.traffic.rate_scale
        ceiling = min(bandwidth, port.speed) * 1e6 / 8 * self.traffic.ceiling
        port.down_bps = min(down, ceiling)
        port.up_bps = min(down * self.load.uniform(*self.traffic.upstream), ceiling)

    def _carrier(self, level: Level) -> str:
        return self.shape.choices(CARRIERS, CARRIER_WEIGHTS[level])[0]

    def _finish(self, dev: _Dev) -> DevicePlan:
        rng = random.Random(f"{self.seed}:device:{dev.name}")
        model = MODELS[ROLE_MODELS[dev.role][dev.platform]]
        uptime = rng.randint(3, 300) * 86400 + rng.randint(0, 86399)
        start = first_if_index(dev.platform)
        interfaces = []
        for i, port in enumerate(dev.ports):
            index = start + i
            interfaces.append(self._interface(rng, dev, port, index, uptime))
        hostile = dev.name == HOSTILE_DEVICE
        if hostile:
            first_access = next(i for i, p in enumerate(dev.ports) if "office LAN" in p.alias)
            interfaces[first_access] = replace(interfaces[first_access], alias=HOSTILE_ALIAS)
        plan = DevicePlan(
            name=dev.name, platform=dev.platform, role=dev.role, area=dev.area, model=model.name,
            address=dev.address, address6=dev.address6, sys_name=HOSTILE_SYS_NAME if hostile else dev.name,
            sys_descr=model.sys_descr.format(name=dev.name), sys_object_id=model.sys_object_id, uptime_s=uptime,
            interfaces=tuple(interfaces), site=dev.site, cabinet=dev.cabinet, hostile=hostile,
            hardening=hardening_of(self.seed, dev.name, dev.area),
        )
        return self._resources(rng, plan)

    def _interface(self, rng: random.Random, dev: _Dev, port: _Port, index: int, uptime: int) -> InterfacePlan:
        rates: dict[str, float] = dict.fromkeys(COUNTERS, 0.0)
        if port.used and port.if_type != 24:
            size_in = rng.uniform(*self.traffic.packet_bytes)
            size_out = rng.uniform(*self.traffic.packet_bytes)
            rates.update(in_octets=port.down_bps, out_octets=port.up_bps,
                         in_ucast=port.down_bps / size_in, out_ucast=port.up_bps / size_out)
            if rng.random() < self.traffic.noisy_share:
                rates.update(in_errors=rng.uniform(0.001, 0.02), in_discards=rng.uniform(0.001, 0.05),
                             out_discards=rng.uniform(0.001, 0.05))
        # Counters have been running since boot, at a rate that was not always today's.
        history = rng.uniform(0.3, 1.0) * uptime
        initial = {k: int(v * history) % (2**64 if k in COUNTER64 else 2**32) for k, v in rates.items()}
        mac = "" if port.if_type == 24 else _mac(dev.name, index)
        return InterfacePlan(index, port.name, port.if_type, port.speed, port.alias, admin_up=port.used,
                             oper_up=port.used, mac=mac, rates=rates, initial=initial)

    def _resources(self, rng: random.Random, plan: DevicePlan) -> DevicePlan:
        if plan.platform == "linux":
            n_cpus = rng.choice((4, 8, 16, 32))
            busy = rng.uniform(2, 60)
            cpus = tuple(CpuPlan(196608 + i, busy, rng.uniform(1, 8), rng.uniform(300, 1800)) for i in range(n_cpus))
            ram_kb = rng.choice((16, 32, 64, 128)) * 1024 * 1024
            root = 100 * 2**30 // 4096
            data = rng.choice((500, 1000, 2000, 4000)) * 2**30 // 4096
            storage = (
                StoragePlan(1, "Physical memory", 1024, ram_kb, int(ram_kb * rng.uniform(0.2, 0.9))),
                StoragePlan(3, "Virtual memory", 1024, ram_kb * 2, int(ram_kb * rng.uniform(0.2, 0.9))),
                StoragePlan(31, "/", 4096, root, int(root * rng.uniform(0.2, 0.8))),
                StoragePlan(36, "/data", 4096, data, int(data * rng.uniform(0.1, 0.85))),
            )
            return replace(plan, cpus=cpus, storage=storage)
        # Entity indexes as the vendors number their main boards.
        boards = (67108867, 67108868) if plan.role in ("city-core", "province-uplink") else (67108867,)
        if plan.platform == "hp_comware":
            boards = (212, 213) if plan.role == "county-aggregation" else (212,)
        cpus = tuple(CpuPlan(b, rng.uniform(5, 35), rng.uniform(2, 10), rng.uniform(300, 1800)) for b in boards)
        return replace(plan, cpus=cpus, mem_percent=rng.randint(20, 75))


def _area(area_id: str, place: Place, level: Level, parent: str | None) -> Area:
    return Area(area_id, place.name, level, parent, place.code, place.name_en)


def _mac(name: str, index: int) -> str:
    # Locally administered (0x02) so a lab MAC can never collide with a real vendor's OUI.
    digest = hashlib.blake2b(f"{name}:{index}".encode(), digest_size=4).digest()
    return "02:59:" + ":".join(f"{b:02x}" for b in digest)
