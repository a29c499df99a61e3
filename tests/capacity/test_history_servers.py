"""The same synthetic month written into a real VictoriaMetrics (through yiwang's own InfluxDB line protocol sink, so
the names read are the names written) and a real Prometheus (OpenMetrics backfilled with promtool into its data
directory before it starts), read back through yiwang.capacity.history over loopback: both answer the same 5-minute
points, and the links report on either equals the report on the series itself, whether computed from the points
(link_traffic) or from the figures each server aggregates itself (link_summaries: quantile_over_time over
subqueries), with the 95th percentiles and forecast dates worked out by hand in tests/capacity/test_links.py."""

from __future__ import annotations

import asyncio
import math
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from collectors.model import Sample
from inventory.model import Endpoint, Link
from tests.capacity.written import write_through_sink
from tests.sinks.servers import Prometheus, VictoriaMetrics, free_port, start_victoria_metrics
from yiwang.capacity import history as history_module
from yiwang.capacity.history import HistoryError, PromHistory, link_traffic
from yiwang.capacity.links import DAY_S, LinkReport, Point, link_report, upgrades
from yiwang.capacity.service import link_reports

from .series import NOW, SINE_P95, ramp, series, sine_with_outages, step
from .test_links import link

pytestmark = pytest.mark.integration

# Regex and PromQL metacharacters in a device name. No backslash: the line protocol path stores one changed
# (tests/sinks/test_line_protocol.py, fix_backslashes), so the name read back would not be the name written.
HOSTILE = 'v.sine"(1)|* 区'
LINKS = [link("v-step", 100.0), link(HOSTILE, 10.0)]
# The in/out series of each link, and a decoy whose name the hostile one's unescaped regex would match.
TRAFFIC = {("v-step", "in"): series(step, 100.0), ("v-step", "out"): series(ramp, 100.0),
           (HOSTILE, "in"): series(sine_with_outages, 10.0), (HOSTILE, "out"): series(lambda i: 0.25, 10.0),
           ('vXsine"(1)|* 区', "in"): series(lambda i: 0.99, 10.0)}
RAW_OFFSET_S = 150.0  # raw samples sit mid-window, so (t-5m, t] and [t-5m, t] hold the same one


def raw_samples() -> list[tuple[str, str, float, float]]:
    """(device, direction, unix s, bit/s) for every raw sample: one per 5-minute point."""
    return [(device, direction, at - RAW_OFFSET_S, bps) for (device, direction), points in TRAFFIC.items()
            for at, bps in points]


def write_victoria(server: VictoriaMetrics) -> None:
    samples = [Sample("interface", (("device", device), ("if_index", "6"), ("interface", "GigabitEthernet0/0/1")),
                      {f"{direction}_bps": bps}, int(at * 1e9)) for device, direction, at, bps in raw_samples()]

    write_through_sink(server, samples)


def openmetrics() -> str:
    lines = []
    for direction in ("in", "out"):
        lines.append(f"# TYPE interface_{direction}_bps gauge")
        for device, raw_direction, at, bps in raw_samples():
            if raw_direction == direction:
                quoted = device.replace("\\", "\\\\").replace('"', '\\"')
                lines.append(f'interface_{direction}_bps{{device="{quoted}",if_index="6",'
                             f'interface="GigabitEthernet0/0/1"}} {bps!r} {at:.3f}')
    return "\n".join([*lines, "# EOF", ""])


@dataclass
class BackfilledPrometheus(Prometheus):
    def _command(self) -> list[str]:
        # Retention counts back from the newest block, and the default 15 days would drop half the month.
        return [*super()._command(), "--storage.tsdb.retention.time=100y"]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    base = tmp_path_factory.mktemp("prometheus")
    source = base / "month.om"
    source.write_text(openmetrics(), encoding="utf-8")
    (base / "data").mkdir()
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source),
                    str(base / "data")], check=True, capture_output=True, timeout=300)
    server = BackfilledPrometheus("prometheus", free_port(), base / "data", base / "server.log")
    server.start(timeout=120.0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def victoria_month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    server = start_victoria_metrics(tmp_path_factory.mktemp("vm"))
    try:
        write_victoria(server)
        yield server
    finally:
        server.stop()


def read(url: str) -> dict[tuple[Endpoint, str], list[Point]]:
    ends = [each.local for each in LINKS]
    return asyncio.run(link_traffic(PromHistory(url), ends, NOW - 30 * DAY_S + 1, NOW))


def assert_same_points(got: list[Point], want: list[Point]) -> None:
    assert [at for at, _ in got] == [at for at, _ in want]
    # VictoriaMetrics keeps 12 significant digits of a float; Prometheus all of them.
    assert all(math.isclose(a, b, rel_tol=1e-11, abs_tol=1e-6) for (_, a), (_, b) in zip(got, want, strict=True))


def test_both_databases_answer_the_written_points(victoria_month: VictoriaMetrics, prometheus: Prometheus,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from_prometheus = read(prometheus.url)
    monkeypatch.setattr(history_module, "MAX_STEPS", 1000)  # VictoriaMetrics is asked in 9 pieces, joined again
    from_victoria = read(victoria_month.url)
    for answer in (from_prometheus, from_victoria):
        assert set(answer) == {(each.local, direction) for each in LINKS for direction in ("in", "out")}
        for each in LINKS:
            for direction in ("in", "out"):
                assert_same_points(answer[(each.local, direction)], TRAFFIC[(each.local.device, direction)])


def test_the_reports_agree_and_equal_the_pure_computation(victoria_month: VictoriaMetrics,
                                                          prometheus: Prometheus) -> None:
    answers = [read(victoria_month.url), read(prometheus.url)]
    for each in LINKS:
        pure = link_report(each, {d: TRAFFIC[(each.local.device, d)] for d in ("in", "out")}, NOW)
        for answer in answers:
            found = link_report(each, {d: answer[(each.local, d)] for d in ("in", "out")}, NOW)
            for got, want in zip(found.directions, pure.directions, strict=True):
                assert (got.points, got.outage_points) == (want.points, want.outage_points)
                for name in ("p95_7d", "p95_30d", "peak_30d"):
                    assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-9)
                assert got.cross_full.days_from(NOW) == pytest.approx(want.cross_full.days_from(NOW), rel=1e-6)
    # And the hand-computed numbers of tests/capacity/test_links.py, through the wire.
    assert_hand_computed(link_report(LINKS[0], {d: answers[1][(LINKS[0].local, d)] for d in ("in", "out")}, NOW),
                         link_report(LINKS[1], {d: answers[1][(LINKS[1].local, d)] for d in ("in", "out")}, NOW))


def assert_hand_computed(step_link: LinkReport, sine_link: LinkReport) -> None:
    """The numbers worked out in tests/capacity/test_links.py: the step's month p95 is 30 %, its week's 95 %; the
    ramp's month p95 is 0.50 - 0.01 x 431.95/288 and it reaches 90 % (0.90 - level)/0.01 days after NOW, level =
    0.505 - 0.1435/288, on 2026-02-09; the sine with outages and gaps (a missing day, a day too thin to count)
    keeps 0.01 a day, level 0.595 + 0.1 SINE_P95, 90 % on 2026-01-21; its 143 zero points are outages."""
    down, up = step_link.directions
    assert (down.p95_30d, down.p95_7d, down.peak_30d) == (pytest.approx(0.30), pytest.approx(0.95),
                                                          pytest.approx(0.95))
    assert up.p95_30d == pytest.approx(0.50 - 0.01 * 431.95 / 288)
    assert up.p95_7d == pytest.approx(0.50 - 0.01 * 100.75 / 288)
    assert up.cross_full.days_from(NOW) == pytest.approx((0.90 - (0.505 - 0.1435 / 288)) / 0.01)
    assert up.cross_full.label() == "2026-02-09"
    sine, flat = sine_link.directions
    assert (sine.points, sine.outage_points) == (8640 - 288 - 188 - 143, 143)
    assert sine.trend is not None and sine.trend.days == 28
    assert sine.trend.slope_per_day == pytest.approx(0.01)
    assert sine.trend.level == pytest.approx(0.595 + 0.1 * SINE_P95)
    assert sine.cross_full.days_from(NOW) == pytest.approx((0.90 - 0.595 - 0.1 * SINE_P95) / 0.01)
    assert (sine.cross_warn.label(), sine.cross_full.label()) == ("2026-01-01", "2026-01-21")
    assert (flat.p95_30d, flat.peak_30d, flat.points) == (pytest.approx(0.25), pytest.approx(0.25), 8640)


def aggregated(url: str, links: list[Link], now_s: float = NOW) -> list[LinkReport]:
    return asyncio.run(link_reports(PromHistory(url), links, now_s))


def assert_same_report(got: LinkReport, want: LinkReport) -> None:
    assert got.problem == want.problem
    for found, pure in zip(got.directions, want.directions, strict=True):
        assert (found.points, found.outage_points) == (pure.points, pure.outage_points)
        for name in ("p95_7d", "p95_30d", "peak_30d"):
            assert getattr(found, name) == pytest.approx(getattr(pure, name), rel=1e-9)
        assert (found.trend is None) == (pure.trend is None)
        if found.trend is not None and pure.trend is not None:
            assert found.trend.days == pure.trend.days
            assert found.trend.slope_per_day == pytest.approx(pure.trend.slope_per_day, rel=1e-9, abs=1e-12)
            assert found.trend.level == pytest.approx(pure.trend.level, rel=1e-9)
        assert found.cross_full.days_from(NOW) == pytest.approx(pure.cross_full.days_from(NOW), rel=1e-6)


def test_the_servers_aggregates_give_the_hand_computed_reports(victoria_month: VictoriaMetrics,
                                                               prometheus: Prometheus) -> None:
    for server in (victoria_month, prometheus):
        found = aggregated(server.url, LINKS)
        for each, got in zip(LINKS, found, strict=True):
            assert_same_report(got, link_report(each, {d: TRAFFIC[(each.local.device, d)] for d in ("in", "out")},
                                                NOW))
        assert_hand_computed(*found)
        # The decoy (its name matches the hostile one's regex were it not escaped) is in no figure: the sine's
        # peak is its own 0.59 + 0.1, not the decoy's 99 %.
        assert found[1].directions[0].peak_30d == pytest.approx(0.69)
        # The step's week is over 90 % already (0 days), the sine reaches it in 20.6 days.
        assert [u.report.link.local.device for u in upgrades(found, NOW)] == ["v-step", HOSTILE]


@pytest.mark.parametrize("before_s", [0.0, 17.0, 3 * 3600.0 + 17.0, 4.5 * DAY_S])
def test_off_the_grid_and_midday_the_servers_agree(victoria_month: VictoriaMetrics, prometheus: Prometheus,
                                                   before_s: float) -> None:
    # A `now` between grid points and away from midnight UTC: both servers put their subquery points on the same
    # 5-minute grid and the daily range on `now`'s own days (not midnights), so they agree with each other and
    # with the points' report at the grid point before `now` (the step's burst then partly out of the week).
    now = NOW - before_s
    grid_now = now // 300 * 300
    for server in (victoria_month, prometheus):
        for each, got in zip(LINKS, aggregated(server.url, LINKS, now), strict=True):
            traffic = {d: [p for p in TRAFFIC[(each.local.device, d)] if p[0] <= grid_now] for d in ("in", "out")}
            assert_same_report(got, link_report(each, traffic, grid_now))


def test_a_link_without_contract_and_one_without_history(victoria_month: VictoriaMetrics) -> None:
    nobw = Link("area-v-step", Endpoint("v-step", "GigabitEthernet0/0/1"), Endpoint("core", "X"), "China Telecom",
                0.0)
    silent = Link("area-none", Endpoint("v-none", "GigabitEthernet0/0/1"), Endpoint("core", "Y"), "China Unicom",
                  100.0)
    without, quiet = aggregated(victoria_month.url, [nobw, silent])
    assert without.directions == () and without.problem.startswith("no contracted bandwidth_mbps")
    assert quiet.problem == "no traffic history in the last 30 days"


def test_a_database_that_is_down_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for attempt in (lambda: read(url), lambda: aggregated(url, LINKS)):
        with pytest.raises(HistoryError) as caught:
            attempt()
        assert str(caught.value).startswith(f"metric history {url}: cannot connect (ConnectError")
        assert "Traceback" not in str(caught.value)


def test_an_error_answer_and_a_wrong_server_are_clear_errors(victoria_month: VictoriaMetrics,
                                                             prometheus: Prometheus) -> None:
    for server in (victoria_month, prometheus):
        with pytest.raises(HistoryError) as caught:
            asyncio.run(PromHistory(server.url).query("sum(("))
        assert str(caught.value).startswith(f"metric history {server.url}: ")
        assert "bad_data" in str(caught.value) or "422" in str(caught.value) or "400" in str(caught.value)
    with pytest.raises(HistoryError, match=r"not a Prometheus API answer"):
        asyncio.run(PromHistory(victoria_month.url + "/no/such/path").query("up"))
    with pytest.raises(HistoryError, match=r"//admin:\*\*\*@127\.0\.0\.1"):
        asyncio.run(PromHistory(f"http://admin:s3cret@127.0.0.1:{free_port()}").query("up"))
