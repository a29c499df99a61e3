"""The pages that read the metric history, in Debian's headless Chromium against `yiwang run` on the small lab with
`capacity.history_url` on a real VictoriaMetrics filled by the lab's own history (lab.history, two days of every
uplink: traffic, pings, interface status; nothing else writes there, the run has no influx sink): a device page
draws its uplink's last 24 h point for point, and the overview's carriers panel shows the month's SLA figures
computed from that history, as text."""

from __future__ import annotations

import bisect
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from lab import lab_inventory_dir
from lab.city import generate_city
from lab.history import LinkHistory, backfill, grid, link_histories, series
from tests.e2e.conftest import free_tcp_port, write_config
from tests.e2e.test_overview_page import CHROMIUM, Site, served
from tests.sinks.servers import start_victoria_metrics
from yiwang.capacity.carriers import month_of

playwright_api = pytest.importorskip("playwright.sync_api")

SEED, DAYS = 2026, 2  # the lab's seed (tests/e2e/conftest.py); two days: the device page's day and a day before

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="Debian's chromium is not installed")]


@dataclass
class Filled:
    site: Site
    histories: list[LinkHistory]
    end_s: float  # the history's last 5-minute window ends here


@pytest.fixture(scope="module")
def filled(lab_state: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    work = tmp_path_factory.mktemp("overview-history")
    end = time.time()
    try:  # the panel is computed as the run starts, within two minutes
        if month_of(None, end).label != month_of(None, end + 120).label:
            raise ValueError("a month's turn")
    except ValueError:
        pytest.skip("a month (UTC+8) begins within minutes: its carriers panel would have no window yet")
    victoria = start_victoria_metrics(work)
    try:
        histories = link_histories(generate_city(SEED, "small"), end, DAYS)
        backfill(victoria.url, histories, SEED, end, DAYS, with_reachability=True)
        port = free_tcp_port()
        config = write_config(work / "yiwang.yaml", work / "state", inventory=[str(lab_inventory_dir(lab_state))],
                              database_url=f"sqlite:///{work / 'y.sqlite'}", api={"port": port},
                              ssh={"enabled": False}, capacity={"history_url": victoria.url})
        with served(config, work, port) as site:
            yield Filled(site, histories, end)
            ended = left_open(site)
            stopping = time.monotonic()
        # A wall display's event stream was open: the stop ends it rather than waiting for it (and cuts the
        # capacity and carriers jobs, reading this history, after its grace), a few seconds, not minutes.
        took = time.monotonic() - stopping
        assert ended.wait(5) and took < 10, f"yiwang run took {took:.1f} s to stop"
    finally:
        victoria.stop()


def left_open(site: Site) -> threading.Event:
    """An overview event stream, opened and read in a thread; the event is set when the server ends it."""
    ended, opened = threading.Event(), threading.Event()

    def read() -> None:
        with httpx.Client(base_url=site.url, cookies=site.http.cookies, timeout=60) as client, \
                client.stream("GET", "/api/overview/stream") as answer:
            opened.set()
            with contextlib.suppress(httpx.HTTPError):
                for _ in answer.iter_bytes():
                    pass
        ended.set()

    threading.Thread(target=read, daemon=True).start()
    assert opened.wait(10)
    return ended


def test_a_device_page_draws_its_uplinks_last_day_point_for_point(filled: Filled) -> None:
    # An uplink without outages, on a device that is the lower end of no other link: its chart is that link's.
    lower_ends = [h.link.local.device for h in filled.histories]
    chosen = next(h for h in filled.histories if not h.outages and lower_ends.count(h.link.local.device) == 1)
    device, interface = chosen.link.local.device, chosen.link.local.interface
    drawn_in, drawn_out = series(chosen, SEED, filled.end_s, DAYS)
    known_in = {ms // 1000: v for ms, v in zip(drawn_in.timestamps_ms, drawn_in.values, strict=True)}
    known_out = {ms // 1000: v for ms, v in zip(drawn_out.timestamps_ms, drawn_out.values, strict=True)}

    page = filled.site.page()
    page.goto(f"{filled.site.url}/device/{device}")
    page.wait_for_selector("html[data-ready]", timeout=30_000)
    assert page.text_content("#traffic-iface") == interface
    assert page.is_visible("#traffic") and page.is_hidden("#traffic-empty")
    # What ECharts was given to draw (and holds): the series' points as [ms, bit/s].
    found = page.evaluate("""() => echarts.getInstanceByDom(document.getElementById('traffic')).getOption().series
        .map(s => ({name: s.name, data: s.data}))""")
    assert [s["name"] for s in found] == ["入", "出"]
    for drawn, known in zip(found, (known_in, known_out), strict=True):
        points = [(int(ms) // 1000, value) for ms, value in drawn["data"]]
        times = [t for t, _ in points]
        # The page asks every 5 minutes from its load back 24 h: 289 times. The answer at t is the last raw point
        # at or before t, one every 300 s. The last time lies past the history's end (drawn before the run
        # started): VictoriaMetrics answers it with the last point or, once that is too old, not at all.
        assert 288 <= len(points) <= 289 and times[-1] - times[0] >= 86_400 - 300
        assert all(b - a == 300 for a, b in zip(times, times[1:], strict=False))
        stamps = sorted(known)
        expected = [(t, known[stamps[bisect.bisect_right(stamps, t) - 1]]) for t in times]
        assert all(0 <= t - stamps[bisect.bisect_right(stamps, t) - 1] < 300 for t in times[:288])
        assert points == expected
    assert filled.site.csp_violations(page) == []
    page.context.close()


def availability(histories: list[LinkHistory], carrier: str, first_s: float, last_s: float, history_end_s: float
                 ) -> tuple[float | None, int]:
    """(availability %, windows down) of `carrier`'s links over the 5-minute windows ending in (first_s, last_s]
    that the history holds: a window in a down outage is down, one in a missing outage unknown, the rest up."""
    up = down = 0
    history_start = grid(history_end_s) - (DAYS * 86_400 // 300 - 1) * 300
    for h in histories:
        if h.link.carrier != carrier:
            continue
        at = max(history_start, (int(first_s) // 300 + 1) * 300)
        while at <= min(last_s, grid(history_end_s)):
            outage = next((o for o in h.outages if o.start_s < at <= o.end_s), None)
            if outage is None:
                up += 1
            elif not outage.missing:
                down += 1
            at += 300
    return (round(100 * up / (up + down), 4) if up + down else None), down


def test_the_carriers_panel_shows_the_months_sla_from_the_history(filled: Filled) -> None:
    site = filled.site
    page = site.page()
    page.goto(site.url + "/")
    page.wait_for_selector("html[data-ready]", timeout=30_000)
    page.wait_for_selector("#carriers table tbody tr", timeout=30_000)
    panel = site.http.get("/api/overview/panels").json()["carriers"]
    month = month_of(None, datetime.fromisoformat(panel["computed_at"]).timestamp())
    assert panel["month"] == month.label and panel["problem"] is None
    assert f"{month.label} 月至今" in (page.text_content("#carriers .sla-month") or "")
    shown = {cells[0]: cells for cells in page.locator("#carriers table tbody tr").evaluate_all(
        "rs => rs.map(r => [...r.children].map(c => c.textContent))")}
    hit = [h for h in filled.histories if h.incident]
    assert hit, "the small lab's seed draws a carrier incident in two days of history"
    incident = next(o for o in hit[0].outages if all(o in h.outages for h in hit))
    carriers = sorted({h.link.carrier for h in filled.histories})
    assert sorted(row["carrier"] for row in panel["carriers"]) == carriers
    for row in panel["carriers"]:
        carrier = row["carrier"]
        # the month so far as the panel computed it: its windows the history holds
        pct, down = availability(filled.histories, carrier, month.start_s, month.end_s, filled.end_s)
        links = sum(h.link.carrier == carrier for h in filled.histories)
        assert (row["links"], row["availability_pct"], row["outage_minutes"]) == (links, pct, 5 * down), carrier
        cells = shown[row["name_zh"] or carrier]  # the page: name, links, availability, SLA, kept or broken, ...
        assert cells[:5] == [row["name_zh"] or carrier, str(links), f"{pct:.3f}%",
                             f"{row['sla_availability_pct']:.3f}%", "达标" if pct >= row["sla_availability_pct"]
                             else "未达标"], carrier
        if carrier == hit[0].link.carrier and incident.start_s >= month.start_s:
            assert cells[4] == "未达标"  # the seed's incident, long enough to break a whole month, in this one
    assert site.csp_violations(page) == []
    page.context.close()
    assert site.problems == []
