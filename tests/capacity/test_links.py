"""The links report on series built by hand (tests/capacity/series.py); every expected number is worked out below
from the series' definition, not by running the code under test."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from inventory.model import Area, Device, Endpoint, Inventory, Level, Link
from yiwang.capacity.links import (
    DAY_S,
    Crossing,
    Trend,
    crossing,
    link_report,
    plan_yaml,
    propose_mbps,
    theil_sen,
    upgrades,
)
from yiwang.change.bandwidth import read_bandwidth_plan

from .series import MONTH, NOW, SINE_C, ramp, series, sine_with_outages, step


def link(device: str, mbps: float, interface: str = "GigabitEthernet0/0/1") -> Link:
    return Link(f"area-{device}", Endpoint(device, interface), Endpoint("core", f"XGigabitEthernet0/0/{device}"),
                "China Telecom", mbps)


def report_of(device: str, mbps: float, ratio_at: object, out_ratio_at: object = None):  # type: ignore[no-untyped-def]
    traffic = {"in": series(ratio_at, mbps)}  # type: ignore[arg-type]
    if out_ratio_at is not None:
        traffic["out"] = series(out_ratio_at, mbps)  # type: ignore[arg-type]
    return link_report(link(device, mbps), traffic, NOW)


def test_a_burst_under_36_hours_is_free_in_the_month_but_not_in_the_week() -> None:
    (down, up) = report_of("v-step", 100.0, step).directions
    # 30 days = 8640 points; nearest rank ceil(0.95 x 8640) = 8208. Sorted, the 8340 points at 30 % come first, so
    # the 8208th is 30 %: the 300-point (25 h) burst is inside the top 5 % (432 points).
    assert down.p95_30d == pytest.approx(0.30)
    # 7 days = 2016 points, rank ceil(1915.2) = 1916 > the 1716 at 30 %: the week's p95 is the burst.
    assert down.p95_7d == pytest.approx(0.95)
    assert down.peak_30d == pytest.approx(0.95)
    assert down.points == MONTH and down.outage_points == 0
    # Day 0 is 288 points at 95 %; day 1 has 12 at 95 % and 276 at 30 % (rank 274 -> 30 %); days 1-29 are 30 %.
    # One high day of 30 moves no median: slope 0, level 30 %.
    assert down.trend == Trend(0.0, pytest.approx(0.30), 30)  # type: ignore[arg-type]
    assert down.cross_warn.already and down.cross_full.already  # the last week's p95 is over both
    assert up.points == 0 and up.p95_7d is None and up.trend is None and not up.cross_full.already


def test_a_ramp_has_its_slope_and_forecast_dates() -> None:
    (down, _) = report_of("v-ramp", 100.0, ramp).directions
    # ratio(i) = 0.50 - 0.01 i/288, falling with i (age): the k-th smallest of n consecutive points is the oldest
    # but k-1. Month: rank 8208 of i = 0..8639 -> i = 8639 - 8207 = 432 -> 0.50 - 0.015.
    assert down.p95_30d == pytest.approx(0.485)
    # Week: rank 1916 of i = 0..2015 -> i = 100 -> 0.50 - 1/288.
    assert down.p95_7d == pytest.approx(0.50 - 1 / 288)
    assert down.peak_30d == pytest.approx(0.50)
    # Day k: rank 274 of i = 288k .. 288k+287 -> i = 288k + 14 -> 0.50 - 0.01 k - 0.14/288, at x = -(k + 0.5) days:
    # y = 0.505 - 0.14/288 + 0.01 x, so the slope is 0.01/day and the level at now 0.505 - 0.14/288.
    level = 0.505 - 0.14 / 288
    assert down.trend is not None
    assert down.trend.slope_per_day == pytest.approx(0.01)
    assert down.trend.level == pytest.approx(level)
    assert down.trend.days == 30
    # 70 % after (0.70 - level)/0.01 = 19.549 days: 2026-01-20 05:10 UTC+8 -> 2026-01-20;
    # 90 % after 39.549 days -> 2026-02-09.
    assert down.cross_warn.at_s == pytest.approx(NOW + (0.70 - level) / 0.01 * DAY_S)
    assert down.cross_full.at_s == pytest.approx(NOW + (0.90 - level) / 0.01 * DAY_S)
    assert down.cross_warn.on() == date(2026, 1, 20) and down.cross_full.on() == date(2026, 2, 9)
    assert down.cross_full.label() == "2026-02-09"


def test_a_sine_with_outages_keeps_its_trend() -> None:
    (down, _) = report_of("v-sine", 100.0, sine_with_outages).directions
    # 8640 points less day 10 (288), day 12's missing 188 and day 15's 143 zero points.
    assert (down.points, down.outage_points) == (8640 - 288 - 188 - 143, 143)
    # A whole day k is 0.59 - 0.01 k + 0.1 sin(2 pi j/288) for j = 0..287; its rank 274 is the 15th largest, the
    # sine at 72 +- 7 (72 is its top, then pairs at 72 +- d): 0.1 cos(2 pi 7/288) = 0.1 SINE_C over the day's level.
    # Days: 30 less 10 (missing) and 12 (100 points < 144) = 28; day 15 (its peak half down) is an outlier far below.
    # The 27 others lie on y = 0.595 + 0.1 SINE_C + 0.01 x: 351 of the 378 pairwise slopes are 0.01, so the median.
    assert down.trend is not None
    assert down.trend.days == 28
    assert down.trend.slope_per_day == pytest.approx(0.01)
    level = 0.595 + 0.1 * SINE_C
    assert down.trend.level == pytest.approx(level)
    # The week's values are at most 0.59 + 0.1 < 70 %: not already; 70 % in 0.62 days, 90 % in 20.62.
    assert down.p95_7d is not None and down.p95_7d < 0.70
    assert down.cross_warn.days_from(NOW) == pytest.approx((0.70 - level) / 0.01)
    assert down.cross_full.days_from(NOW) == pytest.approx((0.90 - level) / 0.01)


def test_least_squares_would_have_been_pulled_by_the_outage_day() -> None:
    # Why Theil-Sen: the sine's daily points with its outage day moved to yesterday (day 1, x = -1.5). Least
    # squares moves its slope by (0.30 - 0.6788) x (-1.5 - mean x) / sum((x - mean x)^2), about -0.0024 (a quarter
    # of the growth), so its 90 % date by weeks; the median slope stays 0.01.
    days = [(-(k + 0.5), 0.59 - 0.01 * k + 0.1 * SINE_C) for k in range(30) if k not in (1, 10, 12)]
    days.append((-1.5, 0.30))
    fit = theil_sen(sorted(days))
    assert fit is not None and fit.slope_per_day == pytest.approx(0.01)
    mean_x = sum(x for x, _ in days) / len(days)
    mean_y = sum(y for _, y in days) / len(days)
    ols = sum((x - mean_x) * (y - mean_y) for x, y in days) / sum((x - mean_x) ** 2 for x, _ in days)
    assert 0.0015 < 0.01 - ols < 0.0035


def test_flat_falling_and_too_short_histories_forecast_nothing() -> None:
    (flat, _) = report_of("v-flat", 100.0, lambda i: 0.40).directions
    assert flat.trend is not None and flat.trend.slope_per_day == 0.0 and flat.cross_full == Crossing(0.90)
    (falling, _) = report_of("v-fall", 100.0, lambda i: 0.20 + 0.01 * i / 288).directions
    assert falling.trend is not None and falling.trend.slope_per_day < 0
    assert falling.cross_warn.at_s is None and falling.cross_warn.label() == ""
    (short, _) = report_of("v-new", 100.0, lambda i: 0.5 if i < 6 * 288 else None).directions
    assert short.trend is None and short.p95_7d == pytest.approx(0.5)  # 6 days: a p95, but no slope
    # A slope so small the crossing is decades away is no forecast.
    assert crossing(0.90, 0.10, Trend(1e-6, 0.10, 30), NOW) == Crossing(0.90)


@pytest.mark.parametrize("bandwidth", [0.0, -5.0, math.nan, None])
def test_a_link_without_a_contracted_rate_is_said_not_guessed(bandwidth: float) -> None:
    found = link_report(link("v-nobw", bandwidth), {"in": [(NOW, 5e6)]}, NOW)
    assert found.directions == () and found.bandwidth_mbps is None
    assert found.problem.startswith("no contracted bandwidth_mbps")


def test_a_link_without_history_is_said() -> None:
    found = link_report(link("v-quiet", 100.0), {"in": [(NOW - 31 * DAY_S, 5e6)], "out": [(NOW, 0.0)]}, NOW)
    assert found.problem == "no traffic history in the last 30 days"


def test_standard_steps() -> None:
    assert propose_mbps(0) == 10
    assert propose_mbps(6.99e6) == 10 and propose_mbps(7e6) == 20  # 70 % of 10 is a limit, not under it
    assert propose_mbps(7000e6 - 1) == 10000 and propose_mbps(7000e6) is None


def city() -> tuple[list, Inventory]:  # type: ignore[type-arg]
    reports = [
        report_of("v-step", 50.0, step),  # forecast: the week's 95 % of 50 = 47.5 -> 47.5 < 0.7 s -> s = 100
        report_of("v-ramp", 1000.0, ramp),  # level + 30 x 0.01 = 0.8045 of 1000 -> 804.5 < 0.7 s -> 2000
        report_of("v-sine", 10.0, lambda i: 0.30, sine_with_outages),  # out: 0.9938 of 10 -> 9.94 -> 20
        report_of("v-flat", 100.0, lambda i: 0.40),  # 40 %, flat: no upgrade
        report_of("v-huge", 10000.0, lambda i: 0.75),  # 7.5 Gbit/s needs more than the largest step
        link_report(link("v-nobw", 0.0), {}, NOW),
    ]
    areas = {"city": Area("city", "市", Level.CITY)}
    devices = {"core": Device("core", "huawei_vrp", "core", "city")}
    links = []
    for report in reports:
        device = report.link.local.device
        areas[report.link.area] = Area(report.link.area, device, Level.COUNTY, "city")
        devices[device] = Device(device, "huawei_vrp", "county-router", report.link.area)
        links.append(report.link)
    # v-step has a second uplink, so the plan must name its link by the interface.
    links.append(Link("area-v-step", Endpoint("v-step", "GigabitEthernet0/0/2"), Endpoint("core", "XGE0/0/9"),
                      "China Unicom", 50.0))
    return reports, Inventory(areas, devices, links)


def test_the_upgrade_list_is_ranked_by_urgency() -> None:
    reports, _ = city()
    ranked = upgrades(reports, NOW)
    # v-step is over 90 % already (0 days), then v-sine (90 % in 20.6 days), v-ramp (39.5 days), and v-huge: flat
    # at 75 %, over 70 % but never forecast to reach 90 % (inf). v-flat needs none; v-nobw cannot be judged.
    assert [u.report.link.local.device for u in ranked] == ["v-step", "v-sine", "v-ramp", "v-huge"]
    assert [u.proposed_mbps for u in ranked] == [100, 20, 2000, None]
    assert [u.direction for u in ranked] == ["in", "out", "in", "in"]
    assert [u.days_to_full for u in ranked[:1]] == [0.0] and ranked[3].days_to_full == math.inf
    assert ranked[1].forecast_bps == pytest.approx((0.595 + 0.1 * SINE_C + 0.30) * 10e6)
    assert ranked[2].forecast_ratio == pytest.approx(0.505 - 0.14 / 288 + 0.30)


def test_the_plan_round_trips_through_the_change_playbooks_reader(tmp_path: Path) -> None:
    reports, inventory = city()
    text = plan_yaml(upgrades(reports, NOW), inventory.links, NOW)
    path = tmp_path / "bandwidth-plan.yaml"
    path.write_text(text, encoding="utf-8")
    changes = read_bandwidth_plan(path, inventory)
    got = [(change.link.local, change.mbps, change.old_mbps) for change in changes]
    assert got == [(Endpoint("v-step", "GigabitEthernet0/0/1"), 100, 50),
                   (Endpoint("v-sine", "GigabitEthernet0/0/1"), 20, 10),
                   (Endpoint("v-ramp", "GigabitEthernet0/0/1"), 2000, 1000)]
    assert "- link: v-step:GigabitEthernet0/0/1\n" in text and "- link: v-ramp\n" in text
    assert "v-huge" not in text  # beyond 10 Gbit/s: in the report, not in a plan the playbook would push
