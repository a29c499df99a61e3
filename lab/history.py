"""The simulated city's traffic history: every uplink's 5-minute rates, both directions, as yiwang's SNMP poller
and InfluxDB line protocol sink leave them in a VictoriaMetrics (`interface_in_bps` / `interface_out_bps`, labelled
device, interface, if_index and the area path), backfilled through its `/api/v1/import` so that `yiwang capacity
links|upgrades` have a month to read without a month of polling.

Pure and deterministic: `link_histories(plan, ...)` decides how each uplink behaves and `series(history, ...)` draws
its points, from the city seed alone (the same seed gives the same points, byte for byte). `import_lines` turns them
into VictoriaMetrics' JSON lines one series at a time, so the whole city (85 M points) never sits in memory, and
`backfill` is the thin I/O shell that posts them in batches.

How a link's traffic is drawn, as a ratio of its contracted `bandwidth_mbps` (what the capacity report divides by):
its busy-hour level at the window's end is the lab plan's rate for the uplink's lower end (lab.city: 5-35 % of the
contract for a village), earlier levels shrink by its county's monthly growth (1-6 %, one rate per county); each
point is that level times the hour's share (office hours 9-12 and 14-17.5 the peak, lunch a dip, night a tenth),
times the day's (weekends 40 %, public holidays 30 %), times ±6 % noise; upstream is a fixed share of downstream.
Chosen by the seed: a few links `saturating` (busy hours at the contract, policed at 99 % of it), a few growing fast
(`fast`: 76 % now, 40 % a month, so their trend crosses 90 % in about 16 days), and about one carrier link in fifty
with outages (hours of zero traffic, the link down, or of no points at all, the poller cut off), and one carrier's
incident: all its links in the city seat's district down for hours at once (`incident_of`).

With reachability (`yiwang lab history` draws it, the capacity benchmark does not): each uplink's lower end's pings
(`icmp_up`, `icmp_rtt_seconds`, around its carrier's typical round trip, lab.carriers) and interface status
(`interface_oper_status`), with the same outages: what yiwang.capacity.carriers reads.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import httpx

from inventory.model import Area, Level, Link
from lab.carriers import BY_NAME

if TYPE_CHECKING:
    from lab.city import CityPlan

STEP_S = 300
DAY_S = 86_400
UTC8_S = 8 * 3600  # China's time, no daylight saving: local days and hours by arithmetic
EPOCH = date(1970, 1, 1)
RAW_OFFSET_S = 150  # a raw sample sits mid-window: the point at t is the mean over (t-5m, t], whatever the edge rule
METRICS = {"in": "interface_in_bps", "out": "interface_out_bps"}  # the influx sink's measurement_field names
# What collectors/icmp.py and the IF-MIB profile's oper_status leave in the same database (yiwang.capacity.carriers).
ICMP_UP, ICMP_RTT, OPER_STATUS = "icmp_up", "icmp_rtt_seconds", "interface_oper_status"
OPER_UP, OPER_DOWN = 1.0, 2.0
RTT_SPREAD = (0.8, 1.4)  # a ping's round trip around its carrier's typical one

# Share of the busy-hour level by local hour (UTC+8), joined linearly at 5-minute resolution.
HOURLY = (0.08, 0.07, 0.06, 0.06, 0.06, 0.07, 0.10, 0.22, 0.60, 1.00, 1.00, 1.00,
          0.72, 0.80, 1.00, 1.00, 1.00, 0.85, 0.50, 0.32, 0.30, 0.26, 0.18, 0.11)
WEEKEND, HOLIDAY = 0.40, 0.30
NOISE = 0.06
POLICED = 0.99  # a carrier polices at the contract: a saturated link flattens just under it

# 中国法定节假日 (the State Council's announced days off; the make-up working weekends are left out: they are
# weekdays in the lab).
HOLIDAYS: dict[date, str] = {}
for _first, _last, _name in (
        ("2025-01-01", "2025-01-01", "元旦"), ("2025-01-28", "2025-02-04", "春节"),
        ("2025-04-04", "2025-04-06", "清明节"), ("2025-05-01", "2025-05-05", "劳动节"),
        ("2025-05-31", "2025-06-02", "端午节"), ("2025-10-01", "2025-10-08", "国庆节·中秋节"),
        ("2026-01-01", "2026-01-03", "元旦"), ("2026-02-15", "2026-02-23", "春节"),
        ("2026-04-04", "2026-04-06", "清明节"), ("2026-05-01", "2026-05-05", "劳动节"),
        ("2026-06-19", "2026-06-21", "端午节"), ("2026-09-25", "2026-09-27", "中秋节"),
        ("2026-10-01", "2026-10-07", "国庆节"), ("2027-01-01", "2027-01-01", "元旦")):
    _day = date.fromisoformat(_first)
    while _day <= date.fromisoformat(_last):
        HOLIDAYS[_day] = _name
        _day += timedelta(days=1)

SATURATING, FAST = 3, 3
SATURATING_LEVEL = 0.97
FAST_LEVEL, FAST_GROWTH = 0.76, 0.40
GROWTH = (0.01, 0.06)  # a county's traffic grows by this much a month
OUTAGE_SHARE = 0.02
PRIVATE_LINE = "Hubei E-Gov Private Line"  # the e-government's own line: no carrier outages drawn on it


@dataclass(frozen=True, slots=True)
class Outage:
    start_s: int
    end_s: int  # points with start_s < t <= end_s
    missing: bool  # no points at all (the poller cut off) rather than zero traffic (the link down)


@dataclass(frozen=True, slots=True)
class LinkHistory:
    """How one uplink's traffic is drawn: the rates on its lower end's interface (`link.local`)."""

    link: Link
    labels: tuple[tuple[str, str], ...]  # the sink's tags for that interface, without the metric name
    level: float  # busy-hour downstream ("in") ratio of the contract at the window's end
    up_share: float  # upstream ("out") as a share of downstream
    growth: float  # per month
    kind: str  # "normal" | "saturating" | "fast"
    outages: tuple[Outage, ...] = ()
    rtt_ms: float = 10.0  # its carrier's typical round trip (lab.carriers)
    family: str = "ipv4"  # of the lower device's management address, as the ICMP samples are tagged
    incident: bool = False  # down in the carrier's incident (`incident_of`)


@dataclass(frozen=True, slots=True)
class Series:
    labels: tuple[tuple[str, str], ...]  # __name__ first
    timestamps_ms: list[int]
    values: list[float]


def grid(at_s: float) -> int:
    return int(at_s // STEP_S * STEP_S)


def link_histories(plan: CityPlan, end_s: float, days: int) -> list[LinkHistory]:
    """One LinkHistory per uplink of `plan` with a contracted rate, in the plan's order."""
    end = grid(end_s)
    areas = {area.id: area for area in plan.areas}
    devices = {device.name: device for device in plan.devices}
    links = [link for link in plan.links if link.bandwidth_mbps and link.bandwidth_mbps > 0]
    pick = random.Random(f"{plan.seed}:{plan.profile}:history:pick")
    # The busiest levels' links, townships and villages: where an upgrade programme finds its candidates.
    candidates = sorted((link for link in links if areas[link.area].level >= Level.TOWNSHIP), key=_key)
    chosen = pick.sample(candidates, min(len(candidates), SATURATING + FAST))
    kinds = {_key(link): "saturating" for link in chosen[:SATURATING]}
    kinds |= {_key(link): "fast" for link in chosen[SATURATING:]}
    incident = incident_of(plan, links, kinds, end, days)
    histories = []
    for link in links:
        local = devices[link.local.device]
        interface = local.interface(link.local.interface)
        rng = random.Random(f"{plan.seed}:history:{link.local}")
        kind = kinds.get(_key(link), "normal")
        planned = interface.rates.get("in_octets", 0.0) * 8 / (link.bandwidth_mbps * 1e6)
        up_share = interface.rates.get("out_octets", 0.0) / interface.rates["in_octets"] \
            if interface.rates.get("in_octets") else 0.3
        level, growth = {"saturating": (SATURATING_LEVEL, _county_growth(plan.seed, link.area)),
                         "fast": (FAST_LEVEL, FAST_GROWTH)}.get(kind, (planned, _county_growth(plan.seed, link.area)))
        outages: tuple[Outage, ...] = ()
        if kind == "normal" and link.carrier != PRIVATE_LINE and rng.random() < OUTAGE_SHARE:
            outages = _outages(rng, end, days)
        hit = kind == "normal" and incident is not None and incident.hits(link)
        if hit and incident is not None:
            outages = tuple(sorted((*outages, incident.outage), key=lambda o: o.start_s))
        labels = (("device", link.local.device), ("if_index", str(interface.index)),
                  ("interface", link.local.interface), *_path_labels(areas, local.area))
        lab = BY_NAME.get(link.carrier)
        histories.append(LinkHistory(link, tuple(sorted(labels)), level, up_share, growth, kind, outages,
                                     lab.rtt_ms if lab else 10.0, "ipv4" if local.address else "ipv6", hit))
    return histories


@dataclass(frozen=True, slots=True)
class Incident:
    """A carrier's fault that takes all its links in one county down at once (a duct dug up by road works): what
    makes a carrier break its SLA in a month, so that the carriers report has a breach to show."""

    carrier: str
    county: str
    outage: Outage

    def hits(self, link: Link) -> bool:
        return link.carrier == self.carrier and (link.area == self.county or link.area.startswith(self.county + "."))


INCIDENT_COUNTY = "hb.hg.huangzhou"  # the city seat's district: in the small lab and the whole city alike
INCIDENT_MARGIN = 2.0  # the carrier's month falls this many times further below 99.9 % than the SLA allows


def incident_of(plan: CityPlan, links: Sequence[Link], kinds: Mapping[str, str], end: int,
                days: int) -> Incident | None:
    """The seed's carrier incident: a public carrier, the hours and the start. It lasts long enough that even the
    whole city's count of the carrier's links falls below 99.9 % in its month (INCIDENT_MARGIN), and it sits within
    one month (UTC+8) inside the history."""
    rng = random.Random(f"{plan.seed}:history:incident")
    carriers = sorted(name for name, lab in BY_NAME.items() if lab.public)
    carrier = rng.choice(carriers)
    everyone = [link for link in links if link.carrier == carrier]
    hit = [link for link in everyone if kinds.get(_key(link), "normal") == "normal"
           and Incident(carrier, INCIDENT_COUNTY, Outage(0, 0, False)).hits(link)]
    if not hit or days < 2:
        return None
    needed = INCIDENT_MARGIN * 0.001 * 31 * 24 * len(everyone) / len(hit)
    hours = max(rng.randint(6, 12), math.ceil(needed))
    hours = min(hours, days * 24 // 2)
    start = grid(end - rng.uniform(hours * 3600, days * DAY_S - STEP_S))
    stop = start + hours * 3600
    first_of_month = _month_start(stop)
    if start < first_of_month:  # across a month's turn: moved wholly into the later month
        start, stop = first_of_month, first_of_month + hours * 3600
        if stop > end:
            start, stop = first_of_month - hours * 3600, first_of_month
    return Incident(carrier, INCIDENT_COUNTY, Outage(start, stop, missing=False))


def _month_start(at_s: int) -> int:
    local = EPOCH + timedelta(days=(at_s + UTC8_S) // DAY_S)
    first = local.replace(day=1)
    return (first - EPOCH).days * DAY_S - UTC8_S


def _key(link: Link) -> str:
    return str(link.local)


def _county_growth(seed: int, area: str) -> float:
    county = ".".join(area.split(".")[:3])  # hb.hg.<county>; the city's own links share the city's rate
    return random.Random(f"{seed}:history:growth:{county}").uniform(*GROWTH)


def _path_labels(areas: Mapping[str, Area], area_id: str) -> list[tuple[str, str]]:
    """{level label: area name} from the province down, as `Inventory.path_labels` gives the poller's tags."""
    found = []
    current: str | None = area_id
    while current is not None:
        area = areas[current]
        found.append((area.level.label, area.name))
        current = area.parent
    return found


def _outages(rng: random.Random, end: int, days: int) -> tuple[Outage, ...]:
    found = []
    for _ in range(rng.randint(1, 3)):
        hours = rng.randint(2, 18)
        start = grid(end - rng.uniform(hours * 3600, days * DAY_S))
        found.append(Outage(start, start + hours * 3600, missing=rng.random() < 0.5))
    return tuple(sorted(found, key=lambda o: o.start_s))


def day_share(day: date) -> float:
    if day in HOLIDAYS:
        return HOLIDAY
    return WEEKEND if day.weekday() >= 5 else 1.0


def _hour_share() -> list[float]:
    """HOURLY at every 5-minute slot of a local day, the slot's point being the mean over the 5 minutes before it."""
    shares = []
    for slot in range(DAY_S // STEP_S):
        hour = slot * STEP_S / 3600
        low = int(hour)
        frac = hour - low
        shares.append(HOURLY[low % 24] * (1 - frac) + HOURLY[(low + 1) % 24] * frac)
    return shares


HOUR_SHARE = _hour_share()


def series(history: LinkHistory, seed: int, end_s: float, days: int) -> tuple[Series, Series]:
    """The (in, out) raw samples of one link over the `days` before `end_s` (on the 5-minute grid): one sample per
    5-minute window, stamped mid-window, bit/s. Missing outages leave gaps; zero outages are 0."""
    end = grid(end_s)
    count = days * DAY_S // STEP_S
    start = end - (count - 1) * STEP_S
    rng = random.Random(f"{seed}:history:points:{history.link.local}")
    capacity = history.link.bandwidth_mbps * 1e6
    growth = math.exp(math.log1p(history.growth) / (30 * DAY_S / STEP_S))  # per 5-minute step
    # One step before `start`: the loop steps it up first, so the point at `end` has exactly `history.level`.
    level = history.level * capacity * growth ** ((start - end) / STEP_S - 1)
    ceiling = POLICED * capacity
    day_shares: dict[int, float] = {}
    stamps: list[int] = []
    down: list[float] = []
    up: list[float] = []
    outages = history.outages
    for i in range(count):
        at = start + i * STEP_S
        level *= growth
        if outages and any(o.start_s < at <= o.end_s for o in outages):
            if not next(o for o in outages if o.start_s < at <= o.end_s).missing:
                stamps.append((at - RAW_OFFSET_S) * 1000)
                down.append(0.0)
                up.append(0.0)
            continue
        day, second = divmod(at - RAW_OFFSET_S + UTC8_S, DAY_S)
        if day not in day_shares:
            day_shares[day] = day_share(EPOCH + timedelta(days=day))
        busy = level * day_shares[day] * HOUR_SHARE[second // STEP_S]
        stamps.append((at - RAW_OFFSET_S) * 1000)
        down.append(round(min(ceiling, busy * (1 + NOISE * (2 * rng.random() - 1))), 1))
        up.append(round(min(ceiling, busy * history.up_share * (1 + NOISE * (2 * rng.random() - 1))), 1))
    return (Series((("__name__", METRICS["in"]), *history.labels), stamps, down),
            Series((("__name__", METRICS["out"]), *history.labels), list(stamps), up))


def reachability(history: LinkHistory, seed: int, end_s: float, days: int) -> tuple[Series, Series, Series]:
    """(icmp_up, icmp_rtt_seconds, interface_oper_status) of the link's lower end over the same windows as
    `series`: a down outage is failed pings (no round trip) and the interface down, a missing one no sample at all,
    the rest answered pings around the carrier's round trip and the interface up."""
    end = grid(end_s)
    count = days * DAY_S // STEP_S
    start = end - (count - 1) * STEP_S
    rng = random.Random(f"{seed}:history:rtt:{history.link.local}")
    stamps: list[int] = []
    up: list[float] = []
    rtt_stamps: list[int] = []
    rtt: list[float] = []
    status: list[float] = []
    for i in range(count):
        at = start + i * STEP_S
        outage = next((o for o in history.outages if o.start_s < at <= o.end_s), None)
        if outage is not None and outage.missing:
            continue
        stamp = (at - RAW_OFFSET_S) * 1000
        stamps.append(stamp)
        if outage is not None:
            up.append(0.0)
            status.append(OPER_DOWN)
            continue
        up.append(1.0)
        status.append(OPER_UP)
        rtt_stamps.append(stamp)
        rtt.append(round(history.rtt_ms * rng.uniform(*RTT_SPREAD) / 1000, 6))
    device = history.link.local.device
    icmp_labels = tuple(sorted((("device", device), ("family", history.family),
                                *((k, v) for k, v in history.labels if k not in ("device", "if_index", "interface")))))
    return (Series((("__name__", ICMP_UP), *icmp_labels), stamps, up),
            Series((("__name__", ICMP_RTT), *icmp_labels), rtt_stamps, rtt),
            Series((("__name__", OPER_STATUS), *history.labels), list(stamps), status))


def all_series(history: LinkHistory, seed: int, end_s: float, days: int, with_reachability: bool
               ) -> Iterator[Series]:
    yield from series(history, seed, end_s, days)
    if with_reachability:
        yield from reachability(history, seed, end_s, days)


def import_lines(histories: Iterable[LinkHistory], seed: int, end_s: float, days: int,
                 with_reachability: bool = False) -> Iterator[bytes]:
    """VictoriaMetrics `/api/v1/import` JSON lines, one per series, drawn one link at a time."""
    for history in histories:
        for one in all_series(history, seed, end_s, days, with_reachability):
            yield json_line(one)


def json_line(one: Series) -> bytes:
    return (json.dumps({"metric": dict(one.labels), "values": one.values, "timestamps": one.timestamps_ms},
                       ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def batches(lines: Iterable[bytes], batch_bytes: int) -> Iterator[tuple[bytes, int]]:
    """(body, lines in it) of at most about `batch_bytes` each (a line longer than that is a batch of its own)."""
    body: list[bytes] = []
    size = 0
    for line in lines:
        if body and size + len(line) > batch_bytes:
            yield b"".join(body), len(body)
            body, size = [], 0
        body.append(line)
        size += len(line)
    if body:
        yield b"".join(body), len(body)


def summary(histories: Sequence[LinkHistory]) -> dict[str, list[str]]:
    """{kind: the links' lower ends} for the chosen links, and those with outages."""
    found: dict[str, list[str]] = {"saturating": [], "fast": [], "outages": [], "incident": []}
    for history in histories:
        if history.kind != "normal":
            found[history.kind].append(str(history.link.local))
        if history.incident:
            found["incident"].append(str(history.link.local))
        elif history.outages:
            found["outages"].append(str(history.link.local))
    return found


class BackfillError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Backfilled:
    series: int
    points: int
    bytes: int
    seconds: float


def backfill(url: str, histories: Sequence[LinkHistory], seed: int, end_s: float, days: int,
             batch_bytes: int = 8 << 20, timeout_s: float = 300.0, with_reachability: bool = False) -> Backfilled:
    """Posts every link's series to `url`/api/v1/import, a batch in flight while the next is drawn (drawing is
    Python's work, storing the server's), then asks the server to make them searchable at once. With
    `with_reachability`, each link's pings and interface status too (`reachability`)."""
    url = url.rstrip("/")
    started = time.monotonic()
    counted = {"series": 0, "points": 0, "bytes": 0}

    def counted_lines() -> Iterator[bytes]:
        for history in histories:
            for one in all_series(history, seed, end_s, days, with_reachability):
                counted["series"] += 1
                counted["points"] += len(one.values)
                yield json_line(one)

    counted["bytes"] = import_lines_into(url, counted_lines(), batch_bytes, timeout_s)
    return Backfilled(counted["series"], counted["points"], counted["bytes"], time.monotonic() - started)


def import_lines_into(url: str, lines: Iterable[bytes], batch_bytes: int = 8 << 20, timeout_s: float = 300.0) -> int:
    """Posts JSON lines to `url`/api/v1/import in batches, one in flight while the next is drawn (drawing is
    Python's work, storing the server's), then asks the server to make them searchable at once; the bytes sent."""
    url = url.rstrip("/")
    sent = 0
    with httpx.Client(timeout=timeout_s) as client, ThreadPoolExecutor(max_workers=1) as sender:
        def post(body: bytes) -> None:
            try:
                response = client.post(url + "/api/v1/import", content=body)
            except httpx.HTTPError as exc:
                raise BackfillError(f"{url}: cannot import ({type(exc).__name__}: {exc or 'no detail'})") from None
            if response.status_code >= 300:
                raise BackfillError(f"{url}/api/v1/import answered HTTP {response.status_code}: "
                                    f"{' '.join(response.text.split())[:200]}")

        pending: Future[None] | None = None
        for body, _ in batches(lines, batch_bytes):
            if pending is not None:
                pending.result()
            sent += len(body)
            pending = sender.submit(post, body)
        if pending is not None:
            pending.result()
        try:
            # VictoriaMetrics keeps fresh rows in memory for a second or two; a Prometheus-compatible server
            # without this endpoint just has them searchable a little later.
            client.get(url + "/internal/force_flush")
        except httpx.HTTPError:
            pass
    return sent
