"""Links: per uplink and direction, how full it is against its contracted rate and when it will be too full; the
upgrade list and the bandwidth plan it proposes. Pure: the figures come aggregated from the history database
(`history.link_summaries`, PromQL on the server) or, for a few links, from raw points (`history.link_traffic`,
`summarise`); both end in `direction_from_summary`, so they cannot disagree on the rules below.

Utilisation is bit/s over the inventory link's contracted `bandwidth_mbps` (what the carrier sells and enforces), not
ifSpeed (the port's line rate: a 100 Mbit/s contract on a 1 Gbit/s port would look 10 % full when it is saturated).
A link without a contracted rate is reported as such, never guessed from the port.

Every figure is over 5-minute points, each the mean of the raw samples in its window. The 95th percentile is
PromQL's `quantile_over_time(0.95, ...)`: sort the n points, take rank 0.95 (n - 1) counted from 0, and where it
falls between two points interpolate linearly between them (numpy's default `percentile` is the same). Why this one:
the database computes it where the points are, so the city's 85 M points never cross the wire (a report over the
raw points took minutes and gigabytes), and Prometheus and VictoriaMetrics both answer it alike. How it differs
from the nearest-rank 95th percentile that carriers' and LibreNMS's billing read (the ceil(0.95 n)-th smallest
point, always a measured value; `yiwang.compliance.data_rules.p95`): both lie between the same two adjacent sorted
5-minute points, so they differ by at most the step between those two values, on a month of traffic usually a
small fraction of a percent; the bill's number is never further from ours than that. Either way the top 5 % (36
hours of a 30-day month) are bursts the link may take.

Outages are left out of every number: a window without a measurement is no point at all, and a point of exactly
zero bit/s is an outage too (a live uplink always carries routing and management traffic; a link that is down
shows zero, its counters stopped), counted in `outage_points`. Counting them as idle would hide a saturated link
behind its outages.

The trend is a Theil-Sen line through the daily 95th percentiles of the last 30 days (day k is the 24 hours
(now - (k+1) d, now - k d]): the median of the slopes between every two days, its level at `now` the median of the
days' values less slope x day. Why daily p95: one value per day removes the diurnal and most of the weekly swing
that a fit through 8,640 raw points would chase, and is the number that matters for capacity; and the server hands
over 30 numbers a series, not 8,640. Why Theil-Sen and not least squares (Prometheus' predict_linear): up to 29 % of
the days can be wrong (an outage half-day, a holiday, a one-off flood) without moving the median slope, where one
such day tilts a least-squares line. Days with fewer than half their points (an outage or a monitoring gap) are left
out rather than counted low; the days that remain keep their real dates, so a gap does not compress time. The
forecast dates are where that line crosses 70 % and 90 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from statistics import median

import yaml

from inventory.model import Endpoint, Link

Point = tuple[float, float]  # (unix seconds, bit/s): the mean over the 5 minutes that end at that second
STEP_S = 300.0
DAY_S = 86_400.0
WEEK_DAYS, MONTH_DAYS = 7, 30
WARN, FULL = 0.70, 0.90
# The carriers' standard contracted rates (Mbit/s): a proposed upgrade is one of these.
STEPS_MBPS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
MIN_DAY_POINTS = 144  # half of a day's 288 five-minute points: fewer and the day's p95 says more about the gap
P95 = 0.95
MIN_TREND_DAYS = 7  # fewer days and a slope is noise
HORIZON_DAYS = 5 * 365  # a crossing further away than this is no forecast
AHEAD_DAYS = 30  # the upgrade sizes the link for its forecast this far ahead
CHINA = timezone(timedelta(hours=8))


@dataclass(frozen=True, slots=True)
class Trend:
    slope_per_day: float  # utilisation (ratio of the contracted rate) per day
    level: float  # the line's value at `now`
    days: int  # daily 95th percentiles it was fitted to

    def at(self, days_ahead: float) -> float:
        return self.level + self.slope_per_day * days_ahead


@dataclass(frozen=True, slots=True)
class Crossing:
    """When the trend crosses `threshold`: already (the 7-day p95 is at or over it), at `at_s`, or never seen
    (flat or falling, no trend, or beyond HORIZON_DAYS)."""

    threshold: float
    already: bool = False
    at_s: float | None = None

    def days_from(self, now_s: float) -> float:
        if self.already:
            return 0.0
        return math.inf if self.at_s is None else max(0.0, (self.at_s - now_s) / DAY_S)

    def label(self, tz: tzinfo = CHINA) -> str:
        if self.already:
            return "already"
        return "" if self.at_s is None else self.on(tz).isoformat()

    def on(self, tz: tzinfo = CHINA) -> date:
        assert self.at_s is not None
        return datetime.fromtimestamp(self.at_s, tz).date()


@dataclass(frozen=True, slots=True)
class Direction:
    direction: str  # "in" | "out" as the lower end's interface counts it
    points: int  # 5-minute points with traffic in the last 30 days
    outage_points: int  # zero-traffic points left out
    p95_7d: float | None  # ratios of the contracted rate
    p95_30d: float | None
    peak_30d: float | None
    trend: Trend | None
    cross_warn: Crossing
    cross_full: Crossing


@dataclass(frozen=True, slots=True)
class LinkReport:
    link: Link
    directions: tuple[Direction, ...]  # empty when `problem` says why
    problem: str = ""

    @property
    def bandwidth_mbps(self) -> float | None:
        return contracted(self.link)

    def days_to_full(self, now_s: float) -> float:
        return min((d.cross_full.days_from(now_s) for d in self.directions), default=math.inf)

    def p95_30d(self) -> float:
        return max((d.p95_30d or 0.0 for d in self.directions), default=0.0)


@dataclass(frozen=True, slots=True)
class Upgrade:
    report: LinkReport
    direction: str  # the direction whose forecast sizes it
    forecast_bps: float  # its p95 AHEAD_DAYS ahead
    proposed_mbps: int | None  # None: more than the largest standard step can carry under 70 %
    days_to_full: float  # 0 when already over 90 %, inf when no crossing is forecast

    @property
    def forecast_ratio(self) -> float:
        return self.forecast_bps / ((self.report.bandwidth_mbps or math.nan) * 1e6)


def contracted(link: Link) -> float | None:
    """The link's contracted rate in Mbit/s, or None when the inventory gives none usable."""
    value = link.bandwidth_mbps
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return None


@dataclass(frozen=True, slots=True)
class Day:
    age: int  # day k: the 24 hours (now - (k+1) d, now - k d]
    p95_bps: float
    points: int  # 5-minute points with traffic in it


@dataclass(frozen=True, slots=True)
class Summary:
    """One direction's last 30 days, aggregated (bit/s, over the 5-minute points with traffic): what the history
    database answers per series, or `summarise` computes from points."""

    points: int = 0
    outage_points: int = 0
    p95_7d_bps: float | None = None
    p95_30d_bps: float | None = None
    peak_30d_bps: float | None = None
    days: tuple[Day, ...] = ()


def quantile(values: Iterable[float], q: float = P95) -> float:
    """PromQL's quantile_over_time (and numpy's default percentile): rank q (n - 1) from 0 in the sorted values,
    linear between the two points either side. `values` must not be empty."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def link_report(link: Link, traffic: Mapping[str, Sequence[Point]], now_s: float) -> LinkReport:
    """From raw points: `traffic` is {"in": points, "out": points} of the link's lower end (`link.local`)."""
    return link_from_summaries(link, {name: summarise(traffic.get(name, ()), now_s) for name in ("in", "out")},
                               now_s)


def link_from_summaries(link: Link, summaries: Mapping[str, Summary], now_s: float) -> LinkReport:
    """From the aggregated figures of the link's lower end (`link.local`), {"in": ..., "out": ...}; a direction
    missing is one without any point."""
    mbps = contracted(link)
    if mbps is None:
        return LinkReport(link, (), "no contracted bandwidth_mbps in the inventory (ifSpeed is not the contract)")
    directions = tuple(direction_from_summary(name, summaries.get(name, Summary()), mbps, now_s)
                       for name in ("in", "out"))
    if not any(d.points for d in directions):
        return LinkReport(link, directions, f"no traffic history in the last {MONTH_DAYS} days")
    return LinkReport(link, directions)


def direction_report(direction: str, points: Iterable[Point], bandwidth_mbps: float, now_s: float) -> Direction:
    return direction_from_summary(direction, summarise(points, now_s), bandwidth_mbps, now_s)


def summarise(points: Iterable[Point], now_s: float) -> Summary:
    """The figures `history.link_summaries` asks the database for, computed here from 5-minute points."""
    month: list[Point] = []
    outages = 0
    for at, bps in points:
        if now_s - MONTH_DAYS * DAY_S < at <= now_s and math.isfinite(bps):
            if bps <= 0:
                outages += 1
            else:
                month.append((at, bps))
    week = [bps for at, bps in month if at > now_s - WEEK_DAYS * DAY_S]
    by_day: dict[int, list[float]] = {}
    for at, bps in month:
        by_day.setdefault(int((now_s - at) // DAY_S), []).append(bps)
    values = [bps for _, bps in month]
    return Summary(len(month), outages, quantile(week) if week else None, quantile(values) if values else None,
                   max(values, default=None),
                   tuple(Day(age, quantile(day), len(day)) for age, day in sorted(by_day.items())))


def direction_from_summary(direction: str, summary: Summary, bandwidth_mbps: float, now_s: float) -> Direction:
    """The direction's report from its aggregated figures and the contracted rate (Mbit/s)."""
    capacity = bandwidth_mbps * 1e6

    def ratio(bps: float | None) -> float | None:
        return None if bps is None else bps / capacity

    p95_7d = ratio(summary.p95_7d_bps)
    trend = theil_sen(daily_points(summary.days, capacity))
    return Direction(direction, summary.points, summary.outage_points, p95_7d, ratio(summary.p95_30d_bps),
                     ratio(summary.peak_30d_bps), trend,
                     crossing(WARN, p95_7d, trend, now_s), crossing(FULL, p95_7d, trend, now_s))


def daily_points(days: Iterable[Day], capacity_bps: float) -> list[Point]:
    """(day's middle in days from now, its p95 as a ratio of the contract) for each day of the month with at least
    MIN_DAY_POINTS points: day 0 is (now-24h, now], its middle -0.5."""
    return sorted((-(day.age + 0.5), day.p95_bps / capacity_bps) for day in days
                  if 0 <= day.age < MONTH_DAYS and day.points >= MIN_DAY_POINTS)


def theil_sen(days: Sequence[Point]) -> Trend | None:
    """The median slope over every pair of days and the median intercept at x = 0 (now); None with too few days."""
    if len(days) < MIN_TREND_DAYS:
        return None
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(days) for x2, y2 in days[i + 1:] if x2 != x1]
    slope = median(slopes)
    return Trend(slope, median(y - slope * x for x, y in days), len(days))


def crossing(threshold: float, p95_7d: float | None, trend: Trend | None, now_s: float) -> Crossing:
    if p95_7d is not None and p95_7d >= threshold:
        return Crossing(threshold, already=True)
    if trend is None or trend.slope_per_day <= 0:
        return Crossing(threshold)
    # The line may be over the threshold at `now` while the last week's p95 is not: then it crosses today.
    days = max(0.0, (threshold - trend.level) / trend.slope_per_day)
    return Crossing(threshold, at_s=now_s + days * DAY_S) if days <= HORIZON_DAYS else Crossing(threshold)


def forecast_bps(direction: Direction, bandwidth_mbps: float, days_ahead: float = AHEAD_DAYS) -> float:
    """The direction's p95 `days_ahead` on the trend line, never below the last week's p95 (a falling trend does
    not shrink the link)."""
    ahead = direction.trend.at(days_ahead) if direction.trend is not None else 0.0
    return max(direction.p95_7d or 0.0, ahead) * bandwidth_mbps * 1e6


def propose_mbps(bps: float, steps: Sequence[int] = STEPS_MBPS, target: float = WARN) -> int | None:
    """The smallest standard rate that carries `bps` under `target`; None when none does."""
    return next((step for step in steps if bps < target * step * 1e6), None)


def upgrades(reports: Iterable[LinkReport], now_s: float) -> list[Upgrade]:
    """The links whose p95 AHEAD_DAYS ahead is 70 % of their contract or more, the most urgent first: the fewest
    days until 90 % (already over it first), then the highest 30-day p95."""
    found = []
    for report in reports:
        mbps = report.bandwidth_mbps
        if report.problem or mbps is None:
            continue
        driver = max(report.directions, key=lambda d: forecast_bps(d, mbps))
        bps = forecast_bps(driver, mbps)
        if bps >= WARN * mbps * 1e6:
            found.append(Upgrade(report, driver.direction, bps, propose_mbps(bps), report.days_to_full(now_s)))
    return sorted(found, key=lambda u: (u.days_to_full, -u.report.p95_30d(), str(u.report.link.local)))


def plan_yaml(chosen: Iterable[Upgrade], all_links: Iterable[Link], now_s: float) -> str:
    """The bandwidth plan `yiwang/change/bandwidth.py` reads: a list of {link, mbps, note}. A link is named by its
    lower device when that device is the lower end of no other link in `all_links` (the inventory's), else by its
    lower end `device:interface`. Upgrades beyond the largest standard step are left out (the report shows them)."""
    lower: dict[str, int] = {}
    for link in all_links:
        lower[link.local.device] = lower.get(link.local.device, 0) + 1
    entries = []
    for upgrade in chosen:
        if upgrade.proposed_mbps is None:
            continue
        link = upgrade.report.link
        name = link.local.device if lower.get(link.local.device) == 1 else str(link.local)
        entries.append({"link": name, "mbps": upgrade.proposed_mbps, "note": _note(upgrade, now_s)})
    header = (f"# 带宽提速计划 · bandwidth plan, yiwang capacity upgrades "
              f"{datetime.fromtimestamp(now_s, CHINA):%Y-%m-%d %H:%M} (UTC+8)\n")
    return header + (yaml.safe_dump(entries, allow_unicode=True, sort_keys=False, width=200) if entries else "[]\n")


def _note(upgrade: Upgrade, now_s: float) -> str:
    driver = next(d for d in upgrade.report.directions if d.direction == upgrade.direction)
    when = {"already": "已超过", "": "无"}.get(driver.cross_full.label(), driver.cross_full.label())
    way = {"in": "入向", "out": "出向"}[upgrade.direction]
    return (f"{way} p95(30天) {driver.p95_30d or 0:.1%} / {upgrade.report.bandwidth_mbps:g} Mbit/s; "
            f"{AHEAD_DAYS}天预测 {upgrade.forecast_bps / 1e6:.1f} Mbit/s; 达 90%: {when}")


def ends(links: Iterable[Link]) -> list[Endpoint]:
    return [link.local for link in links]


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else round(ratio * 100, 2)


def link_rows(reports: Iterable[LinkReport]) -> list[dict[str, object]]:
    """One flat row per link and direction (a link with a problem: one row saying it), for JSON, CSV and tables.
    Percentages of the contracted rate; dates in UTC+8."""
    rows: list[dict[str, object]] = []
    for report in reports:
        base = {"area": report.link.area, "link": str(report.link.local), "remote": str(report.link.remote),
                "carrier": report.link.carrier, "bandwidth_mbps": report.bandwidth_mbps}
        if not report.directions or report.problem:
            rows.append({**base, "direction": "", "problem": report.problem})
            continue
        for d in report.directions:
            rows.append({**base, "direction": d.direction, "points": d.points, "outage_points": d.outage_points,
                         "p95_7d_pct": _percent(d.p95_7d), "p95_30d_pct": _percent(d.p95_30d),
                         "peak_30d_pct": _percent(d.peak_30d),
                         "trend_pct_per_day": None if d.trend is None else round(d.trend.slope_per_day * 100, 3),
                         "reaches_70": d.cross_warn.label(), "reaches_90": d.cross_full.label(), "problem": ""})
    return rows


def upgrade_rows(chosen: Iterable[Upgrade]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for rank, upgrade in enumerate(chosen, start=1):
        report = upgrade.report
        driver = next(d for d in report.directions if d.direction == upgrade.direction)
        rows.append({"rank": rank, "area": report.link.area, "link": str(report.link.local),
                     "carrier": report.link.carrier, "bandwidth_mbps": report.bandwidth_mbps,
                     "direction": upgrade.direction, "p95_30d_pct": _percent(driver.p95_30d),
                     "forecast_30d_mbps": round(upgrade.forecast_bps / 1e6, 2),
                     "reaches_90": driver.cross_full.label(),
                     "days_to_90": None if math.isinf(upgrade.days_to_full) else round(upgrade.days_to_full, 1),
                     "proposed_mbps": upgrade.proposed_mbps})
    return rows
