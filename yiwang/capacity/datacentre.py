"""The cloud centre (云中心): per cabinet and per site, U used and free, nominal power against the budget, servers and
their utilisation; what-if for a move (`plan_move`) and the month a site runs out at a given growth (`runs_out`).

Pure: the inventory's `Datacentre` and, optionally, each server's utilisation in; reports out. Utilisation comes from
HOST-RESOURCES polling (collectors/snmp/profiles/host-resources.yaml: measurement `cpu` with `load_percent` per
processor, `storage` with `size_bytes`/`used_bytes` per hrStorage row) through `utilisation_from_samples`; a server
without an agent simply has none. Power is the servers' nominal figures, not a meter reading: a cabinet whose
nominal sum is over its budget is reported as such, never capped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from collectors.model import Sample
from inventory.datacentre import Cabinet, Datacentre, Server

MEMORY = "Physical memory"  # hrStorageDescr of RAM as net-snmp names it


@dataclass(frozen=True, slots=True)
class Utilisation:
    cpu_pct: float | None = None  # mean over the processors
    memory_pct: float | None = None
    disk_pct: float | None = None  # over all mounted file systems together
    cpu_p95_pct: float | None = None  # from a history only (capacity.hosts): a poll has no percentile


@dataclass(frozen=True, slots=True)
class CabinetUse:
    cabinet: str
    site: str
    room: str
    height_u: int
    used_u: int
    free_u: int
    power_w: float
    budget_w: float
    servers: int
    over_budget: bool
    largest_free_run_u: int  # the tallest server that still fits: free U are not always together
    cpu_pct: float | None = None  # means over the servers with a reading
    memory_pct: float | None = None
    disk_pct: float | None = None
    cpu_p95_pct: float | None = None  # the mean of the servers' 95th percentiles
    measured: int = 0  # servers with a utilisation reading

    @property
    def power_pct(self) -> float:
        return 100.0 * self.power_w / self.budget_w

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "power_pct": round(self.power_pct, 1)}


@dataclass(frozen=True, slots=True)
class SiteUse:
    site: str
    name: str
    cabinets: int
    height_u: int
    used_u: int
    free_u: int
    power_w: float
    budget_w: float
    servers: int
    empty_cabinets: int
    over_budget: tuple[str, ...]  # the cabinets over their power budget
    cpu_pct: float | None = None
    memory_pct: float | None = None
    disk_pct: float | None = None
    cpu_p95_pct: float | None = None
    measured: int = 0

    @property
    def power_pct(self) -> float:
        return 100.0 * self.power_w / self.budget_w if self.budget_w else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "over_budget": list(self.over_budget), "power_pct": round(self.power_pct, 1)}


def utilisation_from_samples(samples: Iterable[Sample]) -> dict[str, Utilisation]:
    """{device: utilisation} from the HOST-RESOURCES samples of a poll; memory is the "Physical memory" row, disk
    every row mounted at a path ("/", "/data"), which leaves out swap, buffers and cached memory."""
    cpus: dict[str, list[float]] = {}
    memory: dict[str, tuple[float, float]] = {}
    disks: dict[str, list[tuple[float, float]]] = {}
    for sample in samples:
        device = sample.tag("device")
        if sample.measurement == "cpu" and "load_percent" in sample.fields:
            cpus.setdefault(device, []).append(float(sample.fields["load_percent"]))
        elif sample.measurement == "storage" and {"size_bytes", "used_bytes"} <= set(sample.fields):
            sizes = (float(sample.fields["size_bytes"]), float(sample.fields["used_bytes"]))
            storage = sample.tag("storage")
            if storage == MEMORY:
                memory[device] = sizes
            elif storage.startswith("/"):
                disks.setdefault(device, []).append(sizes)
    found: dict[str, Utilisation] = {}
    for device in cpus.keys() | memory.keys() | disks.keys():
        disk = disks.get(device, [])
        found[device] = Utilisation(
            cpu_pct=sum(cpus[device]) / len(cpus[device]) if cpus.get(device) else None,
            memory_pct=_pct(*memory[device]) if device in memory else None,
            disk_pct=_pct(sum(s for s, _ in disk), sum(u for _, u in disk)) if disk else None)
    return found


def _pct(size: float, used: float) -> float | None:
    return 100.0 * used / size if size > 0 else None


def free_runs(cabinet: Cabinet, servers: Iterable[Server]) -> list[tuple[int, int]]:
    """(first U, length) of each stretch of free U, bottom up."""
    taken = {u for s in servers for u in range(s.position_u, s.top_u + 1)}
    runs: list[tuple[int, int]] = []
    start = None
    for u in range(1, cabinet.height_u + 2):
        free = u <= cabinet.height_u and u not in taken
        if free and start is None:
            start = u
        elif not free and start is not None:
            runs.append((start, u - start))
            start = None
    return runs


def cabinet_usage(dc: Datacentre, utilisation: Mapping[str, Utilisation] | None = None,
                  site: str | None = None) -> list[CabinetUse]:
    """Keyed by the server's `device` (falling back to its name) in `utilisation`."""
    utilisation = utilisation or {}
    placed = dc.servers_by_cabinet()
    rows = []
    for cabinet in dc.cabinets.values():
        if site is not None and cabinet.site != site:
            continue
        servers = placed[cabinet.id]
        used = sum(s.height_u for s in servers)
        power = sum(s.power_w for s in servers)
        readings = [u for s in servers if (u := utilisation.get(s.device or s.name)) is not None]
        rows.append(CabinetUse(
            cabinet.id, cabinet.site, cabinet.room, cabinet.height_u, used, cabinet.height_u - used, power,
            cabinet.power_budget_kw * 1000, len(servers), power > cabinet.power_budget_kw * 1000,
            max((length for _, length in free_runs(cabinet, servers)), default=0),
            *_means(readings), measured=len(readings)))
    return rows


def _means(readings: list[Utilisation]) -> tuple[float | None, float | None, float | None, float | None]:
    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return round(sum(known) / len(known), 1) if known else None

    return (mean([r.cpu_pct for r in readings]), mean([r.memory_pct for r in readings]),
            mean([r.disk_pct for r in readings]), mean([r.cpu_p95_pct for r in readings]))


def site_usage(dc: Datacentre, utilisation: Mapping[str, Utilisation] | None = None,
               site: str | None = None) -> list[SiteUse]:
    utilisation = utilisation or {}
    cabinets = cabinet_usage(dc, utilisation, site)
    readings: dict[str, list[Utilisation]] = {}
    for server in dc.servers.values():
        reading = utilisation.get(server.device or server.name)
        if reading is not None:
            readings.setdefault(dc.cabinets[server.cabinet].site, []).append(reading)
    rows = []
    for ident, meta in dc.sites.items():
        if site is not None and ident != site:
            continue
        mine = [c for c in cabinets if c.site == ident]
        rows.append(SiteUse(
            ident, meta.name, len(mine), sum(c.height_u for c in mine), sum(c.used_u for c in mine),
            sum(c.free_u for c in mine), sum(c.power_w for c in mine), sum(c.budget_w for c in mine),
            sum(c.servers for c in mine), sum(1 for c in mine if c.servers == 0),
            tuple(c.cabinet for c in mine if c.over_budget), *_means(readings.get(ident, [])),
            measured=len(readings.get(ident, []))))
    return rows


@dataclass(frozen=True, slots=True)
class Placement:
    cabinet: str
    positions: tuple[int, ...]  # the bottom U of each server placed

    @property
    def count(self) -> int:
        return len(self.positions)


@dataclass(frozen=True, slots=True)
class MovePlan:
    site: str
    servers: int
    server_u: int
    server_w: float
    needed_u: int
    needed_w: float
    placements: tuple[Placement, ...] = ()
    placed: int = 0
    free_u_after: int = 0
    headroom_w_after: float = 0.0  # the site's budget left, over cabinets not over budget already
    fits_by_u: int = 0  # how many such servers the site could take, counting U only / power only / both
    fits_by_power: int = 0
    fits: int = 0
    refusal: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "placements": [{"cabinet": p.cabinet, "count": p.count, "positions": list(p.positions)}
                                               for p in self.placements]}


def _capacity(cabinet: Cabinet, servers: list[Server], server_u: int, server_w: float) -> tuple[list[int], int]:
    """(bottom U of every slot a server of that height fits into, how many the power budget allows)."""
    slots = [start + k * server_u for start, length in free_runs(cabinet, servers)
             for k in range(length // server_u)]
    headroom = cabinet.power_budget_kw * 1000 - sum(s.power_w for s in servers)
    by_power = len(slots) if server_w <= 0 else max(0, math.floor(headroom / server_w + 1e-9))
    return slots, by_power


def plan_move(dc: Datacentre, *, servers: int, server_u: int, server_w: float, to_site: str) -> MovePlan:
    """Fill the site's cabinets in inventory order, each up to its free U (whole free stretches, bottom up) and its
    power budget. Refused (with the placements it could make) when the site cannot take them all."""
    if servers < 1 or server_u < 1 or server_w < 0:
        raise ValueError("servers and server U must be at least 1, server power not negative")
    needed = MovePlan(to_site, servers, server_u, server_w, servers * server_u, servers * server_w)
    if to_site not in dc.sites:
        known = ", ".join(dc.sites) or "none"
        return _with(needed, refusal=f"no site {to_site!r} in the inventory (sites: {known})")
    placed = dc.servers_by_cabinet()
    placements: list[Placement] = []
    left = servers
    fits_by_u = fits_by_power = fits = 0
    free_u = headroom = 0.0
    for cabinet in dc.cabinets_of(to_site):
        slots, by_power = _capacity(cabinet, placed[cabinet.id], server_u, server_w)
        fits_by_u += len(slots)
        fits_by_power += by_power
        fits += min(len(slots), by_power)
        take = min(left, len(slots), by_power)
        if take:
            placements.append(Placement(cabinet.id, tuple(slots[:take])))
            left -= take
        used_u = sum(s.height_u for s in placed[cabinet.id]) + take * server_u
        free_u += cabinet.height_u - used_u
        power = sum(s.power_w for s in placed[cabinet.id]) + take * server_w
        headroom += max(0.0, cabinet.power_budget_kw * 1000 - power)
    refusal = None
    if left:
        limit = "U" if fits_by_u <= fits_by_power else "power budget"
        refusal = (f"site {to_site!r} can take {fits} of the {servers} servers ({server_u} U, {server_w:g} W each); "
                   f"{limit} runs out first: {fits_by_u} fit by U, {fits_by_power} by power")
    return _with(needed, placements=tuple(placements), placed=servers - left, free_u_after=int(free_u),
                 headroom_w_after=headroom, fits_by_u=fits_by_u, fits_by_power=fits_by_power, fits=fits,
                 refusal=refusal)


def _with(plan: MovePlan, **changes: Any) -> MovePlan:
    return MovePlan(**{**asdict(plan), "placements": plan.placements, **changes})


@dataclass(frozen=True, slots=True)
class Exhaustion:
    site: str
    growth_per_month: float  # servers
    server_u: int
    server_w: float
    fits_by_u: int
    fits_by_power: int
    fits: int
    month_u: str | None = None  # "YYYY-MM" the site runs out of U (counting U only); None: no growth
    month_power: str | None = None
    month: str | None = None  # the first of the two, with cabinets that have U but no power counted right
    months: int | None = None
    limit: str | None = None  # "U" | "power"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def runs_out(dc: Datacentre, site: str, *, growth_per_month: float, today: date, server_u: int | None = None,
             server_w: float | None = None) -> Exhaustion:
    """The month in which `site` cannot take that month's new servers, at `growth_per_month` servers a month of the
    site's average height (rounded up) and nominal power (or the ones given). Months are counted from `today`'s:
    growth `g` has added `m * g` servers by the end of month `m`, so the site runs out in the first month `m` with
    `m * g > capacity`, that is `m = floor(capacity / g) + 1`. Capacity is counted cabinet by cabinet, as
    `plan_move` places them, so free U in a cabinet with no power left are not counted."""
    if site not in dc.sites:
        raise ValueError(f"no site {site!r} in the inventory")
    mine = [s for s in dc.servers.values() if dc.cabinets[s.cabinet].site == site]
    if server_u is None:
        # Rounded up: a server of 2.5 U on average needs 3 free U together in some cabinet.
        server_u = max(1, math.ceil(sum(s.height_u for s in mine) / len(mine))) if mine else 1
    if server_w is None:
        server_w = sum(s.power_w for s in mine) / len(mine) if mine else 0.0
    plan = plan_move(dc, servers=1, server_u=server_u, server_w=server_w, to_site=site)
    found = Exhaustion(site, growth_per_month, server_u, server_w, plan.fits_by_u, plan.fits_by_power, plan.fits)
    if growth_per_month <= 0:
        return found

    def month(capacity: int) -> tuple[int, str]:
        months = math.floor(capacity / growth_per_month + 1e-9) + 1
        index = today.year * 12 + today.month - 1 + months
        return months, f"{index // 12:04d}-{index % 12 + 1:02d}"

    months, when = month(plan.fits)
    limit = "U" if plan.fits_by_u <= plan.fits_by_power else "power"
    return Exhaustion(site, growth_per_month, server_u, server_w, plan.fits_by_u, plan.fits_by_power, plan.fits,
                      month(plan.fits_by_u)[1], month(plan.fits_by_power)[1], when, months, limit)


@dataclass(frozen=True, slots=True)
class DatacentreReport:
    sites: list[SiteUse]
    cabinets: list[CabinetUse]
    exhaustion: list[Exhaustion] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"sites": [s.as_json() for s in self.sites], "cabinets": [c.as_json() for c in self.cabinets],
                "exhaustion": [e.as_json() for e in self.exhaustion]}


def report(dc: Datacentre, utilisation: Mapping[str, Utilisation] | None = None, site: str | None = None,
           growth_per_month: float | None = None, today: date | None = None) -> DatacentreReport:
    sites = site_usage(dc, utilisation, site)
    exhaustion = []
    if growth_per_month is not None:
        exhaustion = [runs_out(dc, s.site, growth_per_month=growth_per_month, today=today or date.today())
                      for s in sites if s.servers]
    return DatacentreReport(sites, cabinet_usage(dc, utilisation, site), exhaustion)
