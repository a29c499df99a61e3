"""Carriers against their SLAs (运营商 SLA): per carrier and calendar month (UTC+8), the availability of its links, the
outages, the round-trip times, and the links that broke the contract.

What the history holds (what yiwang writes, as a VictoriaMetrics fed by the influx sink names it; a Prometheus
scraping yiwang's /metrics has the same names behind `yiwang_`):
- `icmp_up` (1 = an echo reply came back, 0 = none of the pings did) and `icmp_rtt_seconds` (the mean round trip,
  absent without replies), labelled `device`, `family` and the area path (collectors/icmp.py);
- `interface_oper_status` (IF-MIB ifOperStatus: 1 = up, 2 = down, 7 = lowerLayerDown, ...), labelled `device`,
  `interface`, `if_index` (collectors/snmp/profiles/if-mib.yaml).

A link is judged by its lower end (`link.local`): the device behind it and the interface it hangs on. The month is
cut into 5-minute windows (t-5m, t]. A window is
- down when every ping of the lower device in it failed (a single lost round is fping's or the network's noise, not
  an outage), or when the lower interface reported anything but up in it (the device itself saying so is enough);
- up when it is not down and either source has a sample in it;
- unknown when neither has: a monitoring gap, left out of the denominator and reported as such.
Availability = up windows / known windows.

The counting is the server's: per device and per interface, a handful of sums and counts over a subquery of the
month, from which each link's up and known windows follow by inclusion and exclusion (`counts_of`). Only the links
under 100 % have their 5-minute windows fetched, to find the outages (maximal runs of down windows). That keeps a
city of 4,000 links to a few dozen queries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from collectors.ifname import NAME, same_interface
from inventory.model import Carrier, Link

STEP_S = 300
UTC8 = timezone(timedelta(hours=8))
NO_SLA = "no SLA in the inventory: 清单中无此运营商的 SLA"
NO_DATA = "no ICMP or interface status in the month: 本月无数据"


@dataclass(frozen=True, slots=True)
class ReachMetrics:
    icmp_up: str = "icmp_up"
    icmp_rtt: str = "icmp_rtt_seconds"
    oper_status: str = "interface_oper_status"

    @classmethod
    def prefixed(cls, prefix: str) -> ReachMetrics:
        plain = cls()
        return cls(prefix + plain.icmp_up, prefix + plain.icmp_rtt, prefix + plain.oper_status)


@dataclass(frozen=True, slots=True)
class Month:
    label: str  # YYYY-MM
    start_s: float  # the month's first instant, UTC+8
    end_s: float  # the month's end, or the last 5-minute mark before now for the month in progress

    @property
    def windows(self) -> int:
        return int((self.end_s - self.start_s) // STEP_S)

    def window_ends(self) -> list[float]:
        return [self.start_s + STEP_S * (i + 1) for i in range(self.windows)]


def month_of(text: str | None, now_s: float) -> Month:
    """The calendar month `text` (YYYY-MM; None: the month in progress), UTC+8. Raises ValueError for a malformed
    month or one that has not begun."""
    now = datetime.fromtimestamp(now_s, UTC8)
    if text is None:
        year, month = now.year, now.month
    else:
        match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
        if match is None or not 1 <= int(match[2]) <= 12:
            raise ValueError(f"month {text!r} is not YYYY-MM")
        year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=UTC8)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC8)
    end = min(following.timestamp(), math.floor(now_s / STEP_S) * STEP_S)
    if end - start.timestamp() < STEP_S:
        raise ValueError(f"month {year:04d}-{month:02d} has no complete 5-minute window yet (UTC+8)")
    return Month(f"{year:04d}-{month:02d}", start.timestamp(), end)


# --- one link ------------------------------------------------------------------------------------------------

def window_state(icmp_up: float | None, oper_up: float | None) -> bool | None:
    """A window's state from the device's ping (max of icmp_up in it: 0 = every ping failed) and its interface
    (1 = up at every poll in it, 0 = not up at some poll); None on both sides is an unknown window."""
    if icmp_up is None and oper_up is None:
        return None
    return not (icmp_up == 0 or oper_up == 0)


@dataclass(frozen=True, slots=True)
class Counts:
    """Window counts of one link, as the server sums them."""

    icmp: float = 0  # windows with a ping sample
    icmp_up: float = 0  # ... of which some ping got a reply
    oper: float = 0  # windows with an interface status sample
    oper_link_up: float = 0  # ... of which up (the interface up, and the ping not all failed where there was one)
    both: float = 0  # windows with both
    both_icmp_up: float = 0  # ... of which some ping got a reply


def counts_of(c: Counts) -> tuple[int, int]:
    """(known, up) windows: the union of the two sources' windows, and of them those neither calls down.
    Windows with an interface status are judged by `oper_link_up`; the ping-only windows are the ping's windows
    less those that had a status too."""
    known = c.icmp + c.oper - c.both
    up = c.oper_link_up + c.icmp_up - c.both_icmp_up
    return round(known), round(up)


@dataclass(frozen=True, slots=True)
class Outage:
    start_s: float  # the first down window's start
    end_s: float  # the last down window's end

    @property
    def minutes(self) -> int:
        return round((self.end_s - self.start_s) / 60)


def outages_of(states: Sequence[tuple[float, bool | None]]) -> list[Outage]:
    """Maximal runs of down windows, `states` being (window end, state) in time order on the 5-minute grid. An
    unknown window ends a run: what happened in a gap is not known, and is not counted either way."""
    found: list[Outage] = []
    run_start: float | None = None
    last_end = 0.0
    for end, state in states:
        contiguous = run_start is not None and end - last_end == STEP_S
        if state is False and contiguous:
            last_end = end
            continue
        if run_start is not None:
            found.append(Outage(run_start, last_end))
            run_start = None
        if state is False:
            run_start, last_end = end - STEP_S, end
    if run_start is not None:
        found.append(Outage(run_start, last_end))
    return found


@dataclass(frozen=True, slots=True)
class LinkAvailability:
    link: Link
    windows: int  # 5-minute windows in the period
    known: int
    up: int
    outages: tuple[Outage, ...] = ()
    rtt_mean_ms: float | None = None
    rtt_p95_ms: float | None = None

    @property
    def availability(self) -> float | None:
        return self.up / self.known if self.known else None

    @property
    def unknown_minutes(self) -> int:
        return (self.windows - self.known) * STEP_S // 60

    @property
    def down_minutes(self) -> int:
        return (self.known - self.up) * STEP_S // 60


# --- one carrier ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CarrierReport:
    name: str
    carrier: Carrier | None  # None: no SLA in the inventory
    links: tuple[LinkAvailability, ...]
    rtt_sum_s: float = 0.0
    rtt_count: float = 0.0
    breaking: tuple[LinkAvailability, ...] = field(default=())

    @property
    def known(self) -> int:
        return sum(one.known for one in self.links)

    @property
    def up(self) -> int:
        return sum(one.up for one in self.links)

    @property
    def availability(self) -> float | None:
        return self.up / self.known if self.known else None

    @property
    def outages(self) -> int:
        return sum(len(one.outages) for one in self.links)

    @property
    def down_minutes(self) -> int:
        return sum(one.down_minutes for one in self.links)

    @property
    def unknown_minutes(self) -> int:
        return sum(one.unknown_minutes for one in self.links)

    @property
    def rtt_mean_ms(self) -> float | None:
        return self.rtt_sum_s / self.rtt_count * 1000 if self.rtt_count else None

    @property
    def rtt_p95_ms(self) -> float | None:
        """The 95th percentile of its links' own 95th percentiles (nearest rank): 95 % of the links kept 95 % of
        their pings under it. The pooled samples' percentile would need every sample of the month here."""
        found = sorted(one.rtt_p95_ms for one in self.links if one.rtt_p95_ms is not None)
        return found[math.ceil(0.95 * len(found)) - 1] if found else None

    @property
    def meets_availability(self) -> bool | None:
        if self.carrier is None or self.availability is None:
            return None
        return self.availability * 100 >= self.carrier.sla_availability_pct

    @property
    def meets_latency(self) -> bool | None:
        if self.carrier is None or self.carrier.sla_latency_ms is None or self.rtt_mean_ms is None:
            return None
        return self.rtt_mean_ms <= self.carrier.sla_latency_ms


def carrier_reports(carriers: Mapping[str, Carrier], links: Iterable[LinkAvailability],
                    rtt_sums: Mapping[str, tuple[float, float]]) -> list[CarrierReport]:
    """One report per carrier of the inventory (in its order), then one per carrier name the links use that the
    inventory does not define (no SLA: never guessed from a similar name). `rtt_sums` is {device: (sum of RTT
    seconds, samples)}; a device behind several links counts once per carrier."""
    by_name: dict[str, list[LinkAvailability]] = {name: [] for name in carriers}
    for one in links:
        by_name.setdefault(one.link.carrier, []).append(one)
    reports = []
    for name, found in by_name.items():
        carrier = carriers.get(name)
        devices = {one.link.local.device for one in found}
        total = [rtt_sums.get(device, (0.0, 0.0)) for device in devices]
        breaking: tuple[LinkAvailability, ...] = ()
        if carrier is not None:
            below = [one for one in found if one.availability is not None
                     and one.availability * 100 < carrier.sla_availability_pct]
            breaking = tuple(sorted(below, key=lambda one: (one.availability, str(one.link.local))))
        reports.append(CarrierReport(name, carrier, tuple(found), sum(s for s, _ in total), sum(n for _, n in total),
                                     breaking))
    return reports


# --- output --------------------------------------------------------------------------------------------------

def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 4)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _local(at_s: float) -> str:
    return datetime.fromtimestamp(at_s, UTC8).strftime("%Y-%m-%d %H:%M")


def outage_json(outage: Outage) -> dict[str, object]:
    return {"start": _local(outage.start_s), "end": _local(outage.end_s), "minutes": outage.minutes}


def link_json(one: LinkAvailability) -> dict[str, object]:
    return {"link": str(one.link.local), "area": one.link.area, "carrier": one.link.carrier,
            "availability_pct": _pct(one.availability), "known_windows": one.known, "up_windows": one.up,
            "down_minutes": one.down_minutes, "unknown_minutes": one.unknown_minutes,
            "outages": [outage_json(o) for o in one.outages], "rtt_mean_ms": _ms(one.rtt_mean_ms),
            "rtt_p95_ms": _ms(one.rtt_p95_ms), "problem": None if one.known else NO_DATA}


def carrier_row(report: CarrierReport) -> dict[str, object]:
    carrier = report.carrier
    return {"carrier": report.name, "name_zh": carrier.name_zh if carrier else None, "links": len(report.links),
            "availability_pct": _pct(report.availability),
            "sla_availability_pct": carrier.sla_availability_pct if carrier else None,
            "meets_sla": report.meets_availability, "outages": report.outages,
            "outage_minutes": report.down_minutes, "unknown_minutes": report.unknown_minutes,
            "rtt_mean_ms": _ms(report.rtt_mean_ms), "rtt_p95_ms": _ms(report.rtt_p95_ms),
            "sla_latency_ms": carrier.sla_latency_ms if carrier else None, "meets_latency": report.meets_latency,
            "breaking_links": len(report.breaking),
            "problem": NO_SLA if carrier is None else (None if report.known else NO_DATA)}


def report_json(month: Month, reports: Sequence[CarrierReport]) -> dict[str, object]:
    return {"month": month.label, "start": datetime.fromtimestamp(month.start_s, UTC8).isoformat(),
            "end": datetime.fromtimestamp(month.end_s, UTC8).isoformat(), "windows": month.windows,
            "carriers": [carrier_row(r) | {"breaking": [link_json(one) for one in r.breaking]} for r in reports]}


def breaking_rows(reports: Sequence[CarrierReport]) -> list[dict[str, object]]:
    rows = []
    for report in reports:
        for one in report.breaking:
            row = link_json(one)
            row["outages"] = "; ".join(f"{_local(o.start_s)} +{o.minutes} min" for o in one.outages)
            rows.append(row)
    return rows


# --- matching the history's labels to the inventory ----------------------------------------------------------

def interface_pattern(names: Iterable[str]) -> str:
    """A regex (PromQL, fully anchored) that every printed form of these interface names matches: the number part
    at the end (`GE0/0/1`, `Gi 0/0/1` and `GigabitEthernet0/0/1` all end in it), or the whole name when it has no
    number. It may match other interfaces too: those answers are left unused (`pick_interface`)."""
    parts = set()
    for name in names:
        match = NAME.match(name.replace(" ", ""))
        parts.add(".*" + re.escape(match.group(2)) if match else "(?i:" + re.escape(name) + ")")
    return "|".join(sorted(parts))


def pick_interface(printed: Iterable[str], planned: str, weight: Mapping[str, float]) -> str | None:
    """The printed interface name that is the inventory's `planned`; of several (one device answering under two
    spellings), the one with the most windows."""
    found = [name for name in printed if same_interface(name, planned) or same_interface(planned, name)]
    return max(found, key=lambda name: (weight.get(name, 0.0), name)) if found else None
