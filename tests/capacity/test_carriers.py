"""The carriers report (运营商 SLA) on a synthetic month written into a real VictoriaMetrics through yiwang's own influx
sink (ICMP samples made by collectors.icmp.icmp_sample, interface samples with the IF-MIB `oper_status` field, so the
names read are the names written) and into a real Prometheus (the same raw samples as OpenMetrics, promtool
backfilled): availability, outages and round trips computed by hand here, and both servers answering alike."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collectors.icmp import PingFigures, icmp_sample
from collectors.model import Sample
from inventory.loader import load_inventory
from inventory.model import Carrier, Endpoint, Link
from tests.capacity.written import write_through_sink
from tests.sinks.servers import Prometheus, VictoriaMetrics, free_port, start_victoria_metrics
from yiwang.capacity.carriers import (
    NO_SLA,
    CarrierReport,
    Outage,
    carrier_row,
    month_of,
    outages_of,
    window_state,
)
from yiwang.capacity.history import HistoryError, PromHistory
from yiwang.capacity.reach import carriers_report

from .test_history_servers import BackfilledPrometheus

MONTH = month_of("2025-12", 1_800_000_000)  # December 2025 in UTC+8, long over
W = MONTH.windows  # 31 x 288 = 8,928 windows
CARRIERS = {"China Telecom": Carrier("China Telecom", "中国电信", 99.9, 30.0),
            "China Unicom": Carrier("China Unicom", "中国联通", 99.9, None)}
UPLINK = "GigabitEthernet0/0/1"


def link(device: str, carrier: str) -> Link:
    return Link(f"area-{device}", Endpoint(device, UPLINK), Endpoint("agg", f"Gi-{device}"), carrier, 100.0)


LINKS = [link("v-a", "China Telecom"), link("v-b", "China Telecom"), link("v-c", "China Unicom"),
         link("v-d", "Great Wall Broadband")]

# Per link, what each window i (0 .. W-1, the window ending at start + 300 (i + 1)) holds: (ping answered?, oper
# status) with None for no sample. v-a has every kind of window:
GAP = range(100, 124)  # 24 windows without any sample: unknown, 120 minutes
DOWN_BOTH = range(1000, 1012)  # 12 windows, ping failed and interface down: one outage of 60 minutes
DOWN_OPER = range(2000, 2003)  # 3 windows, ping fine but interface down: down, 15 minutes
PING_ONLY_UP = range(3000, 3006)  # 6 windows without interface status, ping fine: up
PING_ONLY_DOWN = range(3010, 3014)  # 4 windows without interface status, ping failed: down, 20 minutes
OPER_ONLY_UP = range(4000, 4002)  # 2 windows without ping, interface up: up
OPER_ONLY_DOWN = range(4005, 4006)  # 1 window without ping, interface down: down, 5 minutes
C_DOWN = range(6000, 6006)  # v-c: 30 minutes down


def window(device: str, i: int) -> tuple[bool | None, int | None]:
    if device == "v-a":
        if i in GAP:
            return None, None
        if i in DOWN_BOTH:
            return False, 2
        if i in DOWN_OPER:
            return True, 2
        if i in PING_ONLY_UP:
            return True, None
        if i in PING_ONLY_DOWN:
            return False, None
        if i in OPER_ONLY_UP:
            return None, 1
        if i in OPER_ONLY_DOWN:
            return None, 2
    if device == "v-c" and i in C_DOWN:
        return False, 7  # lowerLayerDown
    return True, 1


RTT = {"v-a": 0.010, "v-b": 0.020, "v-c": 0.015, "v-d": 0.005}


def raw() -> Iterator[tuple[str, str, str, float, float]]:
    """(metric, device, interface, unix s, value): one sample mid-window per source, as a 5-minute poller leaves."""
    for each in LINKS:
        device = each.local.device
        for i in range(W):
            at = MONTH.start_s + 300 * i + 150
            answered, status = window(device, i)
            if answered is not None:
                yield "icmp_up", device, "", at, 1.0 if answered else 0.0
                if answered:
                    yield "icmp_rtt_seconds", device, "", at, RTT[device]
            if status is not None:
                # v-a's agent prints the short name: the report must still find it (collectors.ifname)
                yield "interface_oper_status", device, "GE0/0/1" if device == "v-a" else UPLINK, at, float(status)
            if device == "v-a":
                # Two other ports on the same numbers, down all month: never taken for the uplink.
                yield "interface_oper_status", device, "XGigabitEthernet0/0/1", at, 2.0
                yield "interface_oper_status", device, "GigabitEthernet0/0/2", at, 2.0


def write_victoria(server: VictoriaMetrics) -> None:
    samples = []
    for metric, device, interface, at, value in raw():
        if metric == "icmp_up":
            rtt = RTT[device] if value else None
            figures = PingFigures(3, 3 if value else 0, rtt)
            samples.append(icmp_sample({"device": device, "county": "测试县"}, "ipv4", figures, int(at * 1e9)))
        elif metric == "interface_oper_status":
            tags = (("device", device), ("if_index", "6"), ("interface", interface))
            samples.append(Sample("interface", tags, {"oper_status": value}, int(at * 1e9)))

    write_through_sink(server, samples)


def openmetrics() -> str:
    families: dict[str, list[str]] = {}
    for metric, device, interface, at, value in raw():
        labels = f'device="{device}",family="ipv4"' if metric.startswith("icmp") else \
            f'device="{device}",if_index="6",interface="{interface}"'
        families.setdefault(metric, []).append(f"{metric}{{{labels}}} {value!r} {at:.3f}")
    lines = []
    for metric, found in families.items():
        lines += [f"# TYPE {metric} gauge", *found]
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture(scope="module")
def victoria_month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    server = start_victoria_metrics(tmp_path_factory.mktemp("vm"))
    try:
        write_victoria(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    base = tmp_path_factory.mktemp("prometheus")
    (base / "month.om").write_text(openmetrics(), encoding="utf-8")
    (base / "data").mkdir()
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(base / "month.om"),
                    str(base / "data")], check=True, capture_output=True, timeout=300)
    server = BackfilledPrometheus("prometheus", free_port(), base / "data", base / "server.log")
    server.start(timeout=120.0)
    try:
        yield server
    finally:
        server.stop()


def report(url: str) -> dict[str, CarrierReport]:
    from inventory.model import Inventory

    inventory = Inventory(carriers=dict(CARRIERS))
    return {r.name: r for r in asyncio.run(carriers_report(PromHistory(url), inventory, LINKS, MONTH))}


def check(found: dict[str, CarrierReport]) -> None:
    assert W == 31 * 288
    telecom, unicom, great_wall = found["China Telecom"], found["China Unicom"], found["Great Wall Broadband"]
    a, b = telecom.links
    # v-a: the gap is unknown and out of the denominator; down are the windows where the ping all failed or the
    # interface was not up: 12 + 3 + 4 + 1.
    assert (a.known, a.up) == (W - 24, W - 24 - 20)
    assert a.unknown_minutes == 120 and a.down_minutes == 100
    start = MONTH.start_s
    assert list(a.outages) == [Outage(start + 300 * 1000, start + 300 * 1012), Outage(start + 300 * 2000,
                                                                                      start + 300 * 2003),
                               Outage(start + 300 * 3010, start + 300 * 3014), Outage(start + 300 * 4005,
                                                                                      start + 300 * 4006)]
    assert [o.minutes for o in a.outages] == [60, 15, 20, 5]
    assert (b.known, b.up, b.outages) == (W, W, ())  # at 100 %: no windows fetched, no outages
    # Telecom: 17,812 up of 17,832 known = 99.8878 % < 99.9: broken, by v-a (99.7754 %) alone.
    assert telecom.availability == pytest.approx((2 * W - 44) / (2 * W - 24))
    assert telecom.meets_availability is False
    assert [str(one.link.local) for one in telecom.breaking] == [f"v-a:{UPLINK}"]
    assert a.availability == pytest.approx((W - 44) / (W - 24))
    # Round trips: one sample per window where the ping answered: v-a has W - 24 - 12 - 4 - 2 - 1 of them at 10 ms
    # (the gap, the failed pings, and the oper-only windows have none), v-b W at 20 ms.
    n_a = W - 24 - 12 - 4 - 2 - 1
    assert telecom.rtt_mean_ms == pytest.approx((n_a * 10 + W * 20) / (n_a + W))
    assert (a.rtt_p95_ms, b.rtt_p95_ms) == (pytest.approx(10), pytest.approx(20))
    assert telecom.rtt_p95_ms == pytest.approx(20) and telecom.meets_latency is True
    # Unicom: 30 minutes down of the month, 99.9328 %: kept, no link listed; no latency SLA to meet.
    assert unicom.availability == pytest.approx((W - 6) / W) and unicom.meets_availability is True
    assert unicom.breaking == () and unicom.meets_latency is None
    assert [o.minutes for o in unicom.links[0].outages] == [30]
    # A carrier the inventory does not define: reported, never judged.
    assert great_wall.carrier is None and great_wall.meets_availability is None
    assert carrier_row(great_wall)["problem"] == NO_SLA and great_wall.availability == 1.0


pytestmark = pytest.mark.integration


def test_victoria_metrics_answers_the_hand_computed_month(victoria_month: VictoriaMetrics) -> None:
    check(report(victoria_month.url))


def test_prometheus_answers_alike(victoria_month: VictoriaMetrics, prometheus: Prometheus) -> None:
    from_prometheus, from_victoria = report(prometheus.url), report(victoria_month.url)
    check(from_prometheus)
    for name, found in from_victoria.items():
        other = from_prometheus[name]
        assert [(one.known, one.up, one.outages) for one in found.links] == \
            [(one.known, one.up, one.outages) for one in other.links]
        assert (found.rtt_sum_s, found.rtt_count) == (pytest.approx(other.rtt_sum_s), other.rtt_count)


def test_the_overviews_carriers_panel_is_the_month_so_far_computed_on_its_timer(
        victoria_month: VictoriaMetrics) -> None:
    """`yiwang run`'s carriers panel (yiwang.capacity.sla_panel) on the same month, seen on 2025-12-18 08:40 (UTC+8,
    window 5000 just closed), through the overview feed; then with the history gone the figures stay."""
    from inventory.model import Inventory
    from yiwang.capacity.sla_panel import CarrierSlas
    from yiwang.config import CapacitySettings
    from yiwang.overview_feed import OverviewFeed

    class Health:
        states: dict[str, dict[str, object]] = {}
        counts: dict[str, dict[str, int]] = {}

    class Latest:
        def device_samples(self, device: str) -> list[Sample]:
            return []

    now = MONTH.start_s + 300 * 5000 + 7
    inventory = Inventory(links=list(LINKS), carriers=dict(CARRIERS))
    slas = CarrierSlas(inventory, CapacitySettings(history_url=victoria_month.url), PromHistory(victoria_month.url),
                       clock=lambda: now)
    feed = OverviewFeed(inventory, Health(), Latest(), clock=lambda: 1)  # type: ignore[arg-type]
    feed.carriers = slas
    asyncio.run(slas.refresh(feed.refresh))
    panel = feed.current().panels["carriers"]
    assert panel["month"] == "2025-12" and panel["problem"] is None
    assert panel["computed_at"] == "2025-12-18T00:40:07+00:00"
    rows = {r["carrier"]: r for r in panel["carriers"]}
    assert list(rows) == ["China Telecom", "China Unicom", "Great Wall Broadband"]
    telecom, unicom, great_wall = rows.values()
    # 5,000 windows a link. v-a: 24 unknown, 20 down (the four outages all lie before window 5000); v-b all up:
    # 9,956 up of 9,976 known = 99.7995 % < 99.9 % broken. Pings answered: v-a 4,976 - 12 - 4 - 3 at 10 ms, v-b
    # 5,000 at 20 ms: (4,957 x 10 + 5,000 x 20) / 9,957 = 15.02 ms, within 30 ms.
    assert (telecom["availability_pct"], telecom["sla_availability_pct"], telecom["meets_sla"]) == \
        (round(9956 / 9976 * 100, 4), 99.9, False)
    assert (telecom["outages"], telecom["outage_minutes"], telecom["breaking_links"]) == (4, 100, 1)
    assert (telecom["rtt_mean_ms"], telecom["sla_latency_ms"], telecom["meets_latency"]) == (15.02, 30.0, True)
    # v-c's 30 minutes down come at window 6000: not yet in this month so far.
    assert (unicom["availability_pct"], unicom["meets_sla"], unicom["outages"]) == (100.0, True, 0)
    assert (unicom["rtt_mean_ms"], unicom["sla_latency_ms"], unicom["meets_latency"]) == (15.0, None, None)
    assert great_wall["meets_sla"] is None and great_wall["problem"] == NO_SLA
    # The history gone: the figures stay, the problem beside them.
    slas.history = PromHistory(f"http://127.0.0.1:{free_port()}")
    asyncio.run(slas.refresh(feed.refresh))
    after = feed.current().panels["carriers"]
    assert after["carriers"] == panel["carriers"] and after["month"] == "2025-12"
    assert after["problem"].startswith("metric history http://127.0.0.1:")


def test_a_database_that_is_down_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(HistoryError) as caught:
        report(url)
    assert str(caught.value).startswith(f"metric history {url}: cannot connect (ConnectError")


# --- pure -------------------------------------------------------------------------------------------------------

def test_window_states_and_runs() -> None:
    assert [window_state(1, 1), window_state(0, 1), window_state(1, 0), window_state(None, None),
            window_state(None, 1), window_state(0, None)] == [True, False, False, None, True, False]
    # A gap ends a run: down, down, gap, down is two outages.
    states = [(300.0, True), (600.0, False), (900.0, False), (1200.0, None), (1500.0, False), (1800.0, True)]
    assert outages_of(states) == [Outage(300.0, 900.0), Outage(1200.0, 1500.0)]


def test_months_are_utc8_calendar_months() -> None:
    from datetime import datetime

    december = month_of("2025-12", 1_800_000_000)
    assert datetime.fromtimestamp(december.start_s).astimezone().utcoffset() is not None
    assert december.start_s == datetime.fromisoformat("2025-12-01T00:00:00+08:00").timestamp()
    assert december.end_s == datetime.fromisoformat("2026-01-01T00:00:00+08:00").timestamp()
    now = datetime.fromisoformat("2026-03-10T12:07:00+08:00").timestamp()
    running = month_of(None, now)
    assert running.label == "2026-03" and running.end_s == datetime.fromisoformat(
        "2026-03-10T12:05:00+08:00").timestamp()
    for bad in ("2026-13", "26-01", "2026-04"):
        with pytest.raises(ValueError):
            month_of(bad, now)


# --- the inventory ----------------------------------------------------------------------------------------------

@dataclass
class Case:
    entry: object
    field: str
    message: str


BAD = [Case({"name": "X", "name_zh": "某", "sla_availability_pct": 120}, "sla_availability_pct", "percentage"),
       Case({"name": "X", "name_zh": "某", "sla_availability_pct": "99.9%"}, "sla_availability_pct", "number"),
       Case({"name": "X", "name_zh": "某"}, "sla_availability_pct", "is required"),
       Case({"name": "X", "sla_availability_pct": 99.9}, "name_zh", "is required"),
       Case({"name": "X", "name_zh": "某", "sla_availability_pct": 99.9, "sla_latency_ms": -1}, "sla_latency_ms",
            "positive"),
       Case({"name": "X", "name_zh": "某", "sla_availability_pct": 99.9, "sla": 1}, "sla", "unknown field"),
       Case({"name": "X", "name_zh": "某", "sla_availability_pct": True}, "sla_availability_pct", "number")]


@pytest.mark.parametrize("case", BAD, ids=[f"{c.field}:{c.message}" for c in BAD])
def test_a_bad_carrier_is_reported_with_file_and_entry(tmp_path: Path, case: Case) -> None:
    import yaml

    path = tmp_path / "carriers.yaml"
    good = {"name": "China Mobile", "name_zh": "中国移动", "sla_availability_pct": 99.9}
    path.write_text(yaml.safe_dump({"carriers": [good, case.entry]}, allow_unicode=True), encoding="utf-8")
    result = load_inventory([path])
    assert list(result.inventory.carriers) == ["China Mobile"]
    assert result.inventory.carriers["China Mobile"] == Carrier("China Mobile", "中国移动", 99.9, None)
    (problem,) = result.problems
    assert (problem.file, problem.entry, problem.field) == (str(path), "carrier 'X'", case.field)
    assert case.message in problem.message


def test_a_duplicate_carrier_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "carriers.yaml"
    path.write_text("carriers:\n- {name: A, name_zh: 甲, sla_availability_pct: 99.9}\n"
                    "- {name: A, name_zh: 乙, sla_availability_pct: 99.5}\n", encoding="utf-8")
    result = load_inventory([path])
    assert result.inventory.carriers["A"].name_zh == "甲"
    assert [str(p) for p in result.problems] == [f"{path}: carrier 'A': field 'name': duplicate carrier 'A'"]


def test_the_api_route_gives_the_same_month_as_json_and_csv(victoria_month: VictoriaMetrics) -> None:
    # The route alone in a TestClient with authentication off: what crosses a wire is the history read, real here.
    from types import SimpleNamespace

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.capacity import carrier_routes
    from api.security import Gate
    from inventory.model import Inventory
    from yiwang.auth.sessions import SessionStore
    from yiwang.config import CapacitySettings

    app = FastAPI()
    app.state.gate = Gate(None, SessionStore(60, 60), secure_cookies=False)
    services = SimpleNamespace(inventory=Inventory(links=list(LINKS), carriers=dict(CARRIERS)))
    app.include_router(carrier_routes(services, CapacitySettings(history_url=victoria_month.url)))
    client = TestClient(app)
    answer = client.get("/api/capacity/carriers", params={"month": MONTH.label})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["month"] == MONTH.label and body["windows"] == W
    by_name = {row["carrier"]: row for row in body["carriers"]}
    # The hand-computed month of `check`: Telecom broken by v-a alone, Unicom kept, Great Wall not judged.
    assert by_name["China Telecom"]["meets_sla"] is False
    assert [one["link"] for one in by_name["China Telecom"]["breaking"]] == [f"v-a:{UPLINK}"]
    assert by_name["China Unicom"]["meets_sla"] is True and by_name["China Unicom"]["outage_minutes"] == 30
    assert by_name["Great Wall Broadband"]["meets_sla"] is None
    sheet = client.get("/api/capacity/carriers", params={"month": MONTH.label, "format": "csv"})
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert f"carriers-{MONTH.label}-all.csv" in sheet.headers["content-disposition"]
    rows = {row["carrier"]: row for row in csv.DictReader(io.StringIO(sheet.text))}
    assert set(rows) == set(by_name)
    assert rows["China Unicom"]["outage_minutes"] == "30" and rows["China Telecom"]["meets_sla"] == "False"
    assert client.get("/api/capacity/carriers", params={"month": "2025-13"}).status_code == 422
    assert client.get("/api/capacity/carriers", params={"area": "nowhere"}).status_code == 404
