"""The links report on series built by hand (tests/capacity/series.py); every expected number is worked out below
from the series' definition, not by running the code under test.

The 95th percentile is PromQL's quantile_over_time (yiwang.capacity.links): of n sorted values, rank r = 0.95 (n - 1)
counted from 0, linear between the values at floor(r) and floor(r) + 1."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from inventory.model import Area, Device, Endpoint, Inventory, Level, Link
from yiwang.capacity.links import (
    DAY_S,
    Crossing,
    Day,
    Summary,
    Trend,
    crossing,
    link_from_summaries,
    link_report,
    plan_yaml,
    propose_mbps,
    quantile,
    theil_sen,
    upgrades,
)
from yiwang.change.bandwidth import read_bandwidth_plan

from .series import MONTH, NOW, SINE_C, SINE_P95, ramp, series, sine_with_outages, step


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
    # 30 days = 8640 points; r = 0.95 x 8639 = 8207.05, between ranks 8207 and 8208. Sorted, the 8340 points at 30 %
    # are ranks 0..8339, so both are 30 %: the 300-point (25 h) burst is inside the top 5 %.
    assert down.p95_30d == pytest.approx(0.30)
    # 7 days = 2016 points, r = 0.95 x 2015 = 1914.25; ranks 1914 and 1915 are past the 1716 at 30 % (ranks
    # 0..1715): the week's p95 is the burst.
    assert down.p95_7d == pytest.approx(0.95)
    assert down.peak_30d == pytest.approx(0.95)
    assert down.points == MONTH and down.outage_points == 0
    # Day 0 is 288 points at 95 %; day 1 has 12 at 95 % and 276 at 30 % (r = 0.95 x 287 = 272.65: ranks 272 and
    # 273, both 30 %); days 1-29 are 30 %.
    # One high day of 30 moves no median: slope 0, level 30 %.
    assert down.trend == Trend(0.0, pytest.approx(0.30), 30)  # type: ignore[arg-type]
    assert down.cross_warn.already and down.cross_full.already  # the last week's p95 is over both
    assert up.points == 0 and up.p95_7d is None and up.trend is None and not up.cross_full.already


def test_a_ramp_has_its_slope_and_forecast_dates() -> None:
    (down, _) = report_of("v-ramp", 100.0, ramp).directions
    # ratio(i) = 0.50 - 0.01 i/288, falling with i (age) and linear in it: rank k (from 0) of the n points i = a ..
    # a+n-1 is i = a + n-1 - k, and between two ranks the interpolation is the line itself, so a fractional rank r is
    # the value at i = a + n-1 - r. Month: r = 8207.05 -> i = 8639 - 8207.05 = 431.95 -> 0.50 - 0.01 x 431.95/288.
    assert down.p95_30d == pytest.approx(0.50 - 0.01 * 431.95 / 288)  # 48.50017 %, nearest rank would say 48.5
    # Week: r = 1914.25 of i = 0..2015 -> i = 100.75.
    assert down.p95_7d == pytest.approx(0.50 - 0.01 * 100.75 / 288)
    assert down.peak_30d == pytest.approx(0.50)
    # Day k: r = 272.65 of i = 288k .. 288k+287 -> i = 288k + 14.35 -> 0.50 - 0.01 k - 0.1435/288, at x = -(k + 0.5)
    # days: y = 0.505 - 0.1435/288 + 0.01 x, so the slope is 0.01/day and the level at now 0.505 - 0.1435/288.
    level = 0.505 - 0.1435 / 288
    assert down.trend is not None
    assert down.trend.slope_per_day == pytest.approx(0.01)
    assert down.trend.level == pytest.approx(level)
    assert down.trend.days == 30
    # 70 % after (0.70 - level)/0.01 = 19.550 days: 2026-01-20 21:12 UTC+8 -> 2026-01-20;
    # 90 % after 39.550 days -> 2026-02-09.
    assert down.cross_warn.at_s == pytest.approx(NOW + (0.70 - level) / 0.01 * DAY_S)
    assert down.cross_full.at_s == pytest.approx(NOW + (0.90 - level) / 0.01 * DAY_S)
    assert down.cross_warn.on() == date(2026, 1, 20) and down.cross_full.on() == date(2026, 2, 9)
    assert down.cross_full.label() == "2026-02-09"


def test_a_sine_with_outages_keeps_its_trend() -> None:
    (down, _) = report_of("v-sine", 100.0, sine_with_outages).directions
    # 8640 points less day 10 (288), day 12's missing 188 and day 15's 143 zero points.
    assert (down.points, down.outage_points) == (8640 - 288 - 188 - 143, 143)
    # A whole day k is 0.59 - 0.01 k + 0.1 sin(2 pi j/288) for j = 0..287; its p95 is the day's level plus 0.1
    # SINE_P95 (worked out in series.py). Days: 30 less 10 (missing) and 12 (100 points < 144) = 28; day 15 (its
    # peak half down, 145 points left) is an outlier far below. The 27 others lie on y = 0.595 + 0.1 SINE_P95 +
    # 0.01 x: 351 of the 378 pairwise slopes are 0.01, so the median.
    assert down.trend is not None
    assert down.trend.days == 28
    assert down.trend.slope_per_day == pytest.approx(0.01)
    level = 0.595 + 0.1 * SINE_P95  # 0.69371
    assert down.trend.level == pytest.approx(level)
    # The week's values are at most 0.59 + 0.1 < 70 %: not already; 70 % in 0.629 days (2026-01-01 15:05 UTC,
    # 23:05 UTC+8), 90 % in 20.629 (2026-01-21 15:05 UTC, 23:05 UTC+8).
    assert down.p95_7d is not None and down.p95_7d < 0.70
    assert down.cross_warn.days_from(NOW) == pytest.approx((0.70 - level) / 0.01)
    assert down.cross_full.days_from(NOW) == pytest.approx((0.90 - level) / 0.01)
    assert (down.cross_warn.label(), down.cross_full.label()) == ("2026-01-01", "2026-01-21")


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
        report_of("v-ramp", 1000.0, ramp),  # level + 30 x 0.01 = 0.80450 of 1000 -> 804.5 < 0.7 s -> 2000
        report_of("v-sine", 10.0, lambda i: 0.30, sine_with_outages),  # out: 0.9937 of 10 -> 9.94 -> 20
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
    assert ranked[1].forecast_bps == pytest.approx((0.595 + 0.1 * SINE_P95 + 0.30) * 10e6)
    assert ranked[2].forecast_ratio == pytest.approx(0.505 - 0.1435 / 288 + 0.30)


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


def test_the_95th_percentile_is_promqls_and_within_one_step_of_nearest_rank() -> None:
    # n = 4: r = 0.95 x 3 = 2.85, between the third (3) and the fourth (4) value: 3 + 0.85 x (4 - 3).
    assert quantile([4.0, 1.0, 3.0, 2.0]) == pytest.approx(3.85)
    assert quantile([7.0]) == 7.0 and quantile([1.0, 9.0], 0.0) == 1.0 and quantile([1.0, 9.0], 1.0) == 9.0
    # n = 20 values 1..20: r = 0.95 x 19 = 18.05 -> 19 + 0.05 = 19.05; nearest rank ceil(0.95 x 20) = 19th -> 19:
    # apart by 0.05, less than the step (1) between the two adjacent values.
    assert quantile([float(v) for v in range(20, 0, -1)]) == pytest.approx(19.05)


def test_the_aggregated_figures_give_the_same_report_as_the_points() -> None:
    # What history.link_summaries hands over for the step (bit/s of a 100 Mbit/s link), worked out as in
    # test_a_burst_under_36_hours_is_free_in_the_month_but_not_in_the_week: day 0 at 95 %, the rest at 30 %.
    days = (Day(0, 95e6, 288), *(Day(k, 30e6, 288) for k in range(1, 30)))
    summary = Summary(MONTH, 0, 95e6, 30e6, 95e6, days)
    got = link_from_summaries(link("v-step", 100.0), {"in": summary}, NOW)
    assert got.directions == report_of("v-step", 100.0, step).directions
    # A day with too few points is left out of the trend, not counted low.
    thin = Summary(MONTH, 0, 95e6, 30e6, 95e6, (Day(0, 1e6, 143), *days[1:]))
    (down, _) = link_from_summaries(link("v-step", 100.0), {"in": thin}, NOW).directions
    assert down.trend == Trend(0.0, pytest.approx(0.30), 29)  # type: ignore[arg-type]
