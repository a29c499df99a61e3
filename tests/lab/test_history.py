"""lab.history, pure: the small city's month of uplink traffic is the same for the same seed, carries the poller's
own labels, has its office hours, weekends, holidays, growth and outages, and the links it chose to saturate or to
grow fast come out so through yiwang.capacity.links."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from statistics import mean

import pytest

from inventory.loader import load_inventory
from lab.city import generate_city
from lab.export import write_inventory
from lab.history import (
    HOLIDAY,
    HOLIDAYS,
    RAW_OFFSET_S,
    WEEKEND,
    LinkHistory,
    Series,
    batches,
    grid,
    import_lines,
    link_histories,
    series,
    summary,
)
from yiwang.capacity.links import DAY_S, MONTH_DAYS, Point, link_report, upgrades
from yiwang.targets import device_tags

CHINA = timezone(timedelta(hours=8))
SEED = 2026
# A Monday noon in UTC+8, two weeks after National Day (1-7 October 2026), so the 35 days hold that holiday.
END = grid(datetime(2026, 10, 19, 12, 0, tzinfo=CHINA).timestamp())
DAYS = 35


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return generate_city(SEED, "small")


@pytest.fixture(scope="module")
def histories(plan) -> list[LinkHistory]:  # type: ignore[no-untyped-def]
    return link_histories(plan, END, DAYS)


def points(one: Series) -> list[Point]:
    """As link_traffic reads them: the point at t is the sample stamped mid-window before it."""
    return [(ts / 1000 + RAW_OFFSET_S, value) for ts, value in zip(one.timestamps_ms, one.values, strict=True)]


def local(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, CHINA)


def test_the_same_seed_draws_the_same_lines_and_another_seed_others(plan, histories) -> None:  # type: ignore[no-untyped-def]
    again = link_histories(generate_city(SEED, "small"), END, DAYS)
    assert again == histories
    first = list(import_lines(histories[:5], SEED, END, DAYS))
    assert first == list(import_lines(again[:5], SEED, END, DAYS))
    other = link_histories(generate_city(SEED + 1, "small"), END, DAYS)
    assert list(import_lines(other[:5], SEED + 1, END, DAYS)) != first
    # One JSON line per series and direction, 288 points a day.
    assert len(first) == 10
    line = json.loads(first[0])
    assert line["metric"]["__name__"] == "interface_in_bps"
    assert len(line["values"]) == len(line["timestamps"]) <= DAYS * 288


def test_every_uplink_carries_the_labels_the_poller_writes(tmp_path: Path, plan, histories) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "inventory"
    write_inventory(plan, folder, Path("/nonexistent/lab-secret"))
    inventory = load_inventory([folder]).inventory
    assert len(histories) == len(inventory.links) == len(plan.links)
    for history in histories:
        device = inventory.devices[history.link.local.device]
        index = plan.device(device.name).interface(history.link.local.interface).index
        # What the SNMP poller tags an interface sample with (yiwang.targets + the if-mib profile's index and name).
        want = {**dict(device_tags(inventory, device)), "if_index": str(index),
                "interface": history.link.local.interface}
        assert dict(history.labels) == want


def test_office_hours_weekends_and_holidays(histories) -> None:  # type: ignore[no-untyped-def]
    calm = next(h for h in histories if h.kind == "normal" and not h.outages)
    down, _ = series(calm, SEED, END, DAYS)
    by_kind: dict[str, list[float]] = {"office": [], "night": [], "weekend": [], "holiday": []}
    for ts, value in zip(down.timestamps_ms, down.values, strict=True):
        at = local(ts)
        if not (10 <= at.hour < 11 or 2 <= at.hour < 3):
            continue
        busy = at.hour == 10
        if at.date() in HOLIDAYS or at.weekday() >= 5:
            if busy:
                by_kind["holiday" if at.date() in HOLIDAYS else "weekend"].append(value)
        else:
            by_kind["office" if busy else "night"].append(value)
    office = mean(by_kind["office"])
    assert len(by_kind["holiday"]) == 10 * 12  # 25-27 September, 1-7 October
    # HOURLY: 2-3 am is 0.06 of the busy hour; weekends 40 %, holidays 30 % of a weekday; growth over the month and
    # the ±6 % noise move each mean by a few percent.
    assert mean(by_kind["night"]) / office == pytest.approx(0.06, rel=0.1)
    assert mean(by_kind["weekend"]) / office == pytest.approx(WEEKEND, rel=0.1)
    assert mean(by_kind["holiday"]) / office == pytest.approx(HOLIDAY, rel=0.1)


def test_traffic_grows_by_the_countys_rate(histories) -> None:  # type: ignore[no-untyped-def]
    calm = next(h for h in histories if h.kind == "normal" and not h.outages)
    down, _ = series(calm, SEED, END, DAYS)
    # Tuesday 15 September and Tuesday 13 October, 28 days apart, neither a holiday: their 10-11 o'clock points
    # differ by the growth of 28 days, (1 + g) every 30 (the noise averages out over 12 points to about 1 %).
    def busy_hour(day: date) -> float:
        return mean(v for ts, v in zip(down.timestamps_ms, down.values, strict=True)
                    if local(ts).date() == day and local(ts).hour == 10)

    ratio = busy_hour(date(2026, 10, 13)) / busy_hour(date(2026, 9, 15))
    assert ratio == pytest.approx((1 + calm.growth) ** (28 / 30), rel=0.03)
    counties = {h.growth for h in histories if h.kind != "fast" and h.link.area.count(".") >= 3}
    assert len(counties) == 1  # the small city is one county: one rate
    assert 0.01 <= calm.growth <= 0.06


def test_outages_are_zero_or_missing_and_the_report_leaves_them_out(histories) -> None:  # type: ignore[no-untyped-def]
    broken = [h for h in histories if h.outages]
    assert broken and all(h.kind == "normal" and h.link.carrier != "Hubei E-Gov Private Line" for h in broken)
    for history in broken:
        down, up = series(history, SEED, END, DAYS)
        zero = [o for o in history.outages if not o.missing]
        at = [ts / 1000 + RAW_OFFSET_S for ts in down.timestamps_ms]
        for outage in history.outages:
            inside = [v for t, v in zip(at, down.values, strict=True) if outage.start_s < t <= outage.end_s]
            assert inside == ([] if outage.missing else [0.0] * len(inside))
        zeros = sum(1 for t, v in zip(at, down.values, strict=True) if v == 0.0 and t > END - MONTH_DAYS * DAY_S)
        report = link_report(history.link, {"in": points(down), "out": points(up)}, END)
        assert report.directions[0].outage_points == zeros
        assert (zeros > 0) == any(o.end_s > END - MONTH_DAYS * DAY_S for o in zero)


def test_the_chosen_links_come_out_saturated_or_growing_fast(histories) -> None:  # type: ignore[no-untyped-def]
    reports = {}
    for history in histories:
        down, up = series(history, SEED, END, DAYS)
        reports[str(history.link.local)] = link_report(history.link, {"in": points(down), "out": points(up)}, END)
    chosen = summary(histories)
    assert len(chosen["saturating"]) == len(chosen["fast"]) == 3
    for name in chosen["saturating"]:
        busy = reports[name].directions[0]
        assert busy.cross_full.already and 0.93 <= (busy.p95_30d or 0) <= 0.99
    for name in chosen["fast"]:
        busy = reports[name].directions[0]
        assert not busy.cross_full.already and 0 < busy.cross_full.days_from(END) <= 30
    # The upgrade list is exactly the chosen links: the plan's own rates stay under 70 % for the coming month.
    listed = upgrades(reports.values(), END)
    assert {str(u.report.link.local) for u in listed} == set(chosen["saturating"]) | set(chosen["fast"])
    assert [str(u.report.link.local) for u in listed[:3]] == sorted(
        chosen["saturating"], key=lambda n: (-reports[n].p95_30d(), n))


def test_batches_keep_lines_whole_and_under_the_size() -> None:
    lines = [b"a" * 40 + b"\n", b"b" * 70 + b"\n", b"c" * 10 + b"\n", b"d" * 200 + b"\n"]
    got = list(batches(lines, 100))
    assert got == [(lines[0], 1), (lines[1] + lines[2], 2), (lines[3], 1)]
    assert b"".join(body for body, _ in got) == b"".join(lines)
