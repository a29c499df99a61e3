"""The link samples `yiwang run` computes from the metric history, end to end: synthetic months written into a real
VictoriaMetrics through yiwang's own influx sink, read back by the capacity collector, evaluated by the alert engine
with the shipped rules (the forecast rule fires for the link crossing 90 % within 30 days, not for the one beyond),
exported as a Prometheus rule file that promtool checks and unit-tests, and a real `yiwang run` whose /metrics and
influx sink carry the names the documentation promises.

Every series is constant within each 24-hour window back from NOW: point i (i x 300 s before NOW) is
L - s x floor(i / 288). Worked out by hand for links.py's definitions:
- day k's p95 is L - s k, at x = -(k + 0.5) days; Theil-Sen's median slope is s, its level at now the median of
  y - s x = L - s k + s (k + 0.5) = L + s/2 for every day.
- days to a threshold T: (T - (L + s/2)) / s.
- p95 over 7 days (2016 points, nearest rank ceil(0.95 x 2016) = 1916): ascending, 288 points per day from day 6
  (the lowest) up; 1916 lies in the 7th block, day 0: L. Over 30 days (8640, rank 8208): block ceil(8208/288) = 29
  from the lowest day 29, i.e. day 1: L - s.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from alerts.engine import evaluate
from alerts.export import write_prometheus_rules
from alerts.rules import DEFAULT_RULES, load_rules
from alerts.state import EngineState
from alerts.topology import Topology
from collectors.model import Sample
from inventory.model import Area, Device, Endpoint, Inventory, Level, Link
from tests.capacity.written import write_through_sink
from tests.e2e.conftest import free_tcp_port, start_run, stop_run, wait_for_api, write_config
from tests.sinks.servers import VictoriaMetrics
from yiwang.capacity.history import PromHistory
from yiwang.capacity.samples import CapacityCollector, link_samples
from yiwang.config import CapacitySettings

pytestmark = pytest.mark.integration
PROMTOOL = shutil.which("promtool")
NOW = float(int(time.time()) // 300 * 300)
MONTH = 30 * 288
# device: (Mbit/s, L, s): fast crosses 90 % in (0.9 - 0.8025) / 0.005 = 19.5 days and is over 70 % already (its
# 7-day p95 is L = 0.80); slow crosses 90 % in (0.9 - 0.505) / 0.01 = 39.5 days and 70 % in 19.5; flat never.
LINKS = {"fast": (100.0, 0.80, 0.005), "slow": (20.0, 0.50, 0.01), "flat": (50.0, 0.30, 0.0)}


def inventory() -> Inventory:
    areas = [Area("hb", "湖北", Level.PROVINCE), Area("hb.hg", "黄冈", Level.CITY, "hb"),
             Area("hb.hg.hz", "黄州区", Level.COUNTY, "hb.hg")]
    areas += [Area(f"hb.hg.hz.{name}", f"{name}镇", Level.TOWNSHIP, "hb.hg.hz") for name in LINKS]
    devices = [Device("core", "huawei_vrp", "core", "hb.hg", "127.0.0.1")]
    devices += [Device(name, "huawei_vrp", "access", f"hb.hg.hz.{name}", "127.0.0.1") for name in LINKS]
    links = [Link(f"hb.hg.hz.{name}", Endpoint(name, "GigabitEthernet0/0/1"), Endpoint("core", f"Gi0/0/{i}"),
                  "China Telecom", mbps) for i, (name, (mbps, _, _)) in enumerate(LINKS.items())]
    return Inventory({a.id: a for a in areas}, {d.name: d for d in devices}, links)


def write_history(server: VictoriaMetrics) -> None:
    samples = []
    for name, (mbps, level, slope) in LINKS.items():
        for i in range(MONTH):
            ratio = level - slope * (i // 288)
            # mid-window, so the 5-minute mean at NOW - 300 i is this one sample
            samples.append(Sample("interface", (("device", name), ("if_index", "6"),
                                                ("interface", "GigabitEthernet0/0/1")),
                                  {"in_bps": ratio * mbps * 1e6}, int((NOW - 300 * i - 150) * 1e9)))
    write_through_sink(server, samples)


def collect(inv: Inventory, url: str) -> list[Sample]:
    collector = CapacityCollector(inv, CapacitySettings(history_url=url), PromHistory(url), clock=lambda: NOW)

    async def run() -> list[Sample]:
        return [s for result in [r async for r in collector.collect(())] for s in result.samples]

    return asyncio.run(run())


def by_key(samples: list[Sample]) -> dict[tuple[str, str, str], float]:
    """{(device, "p95 7d" | "days 90", direction): value}"""
    found = {}
    for s in samples:
        (field, value), = s.fields.items()
        what = f"p95 {s.tag('window')}" if field == "p95_ratio" else f"days {s.tag('threshold')}"
        found[(s.tag("device"), what, s.tag("direction"))] = value
    return found


def test_samples_from_a_real_history_and_the_forecast_alert(victoria: VictoriaMetrics) -> None:
    write_history(victoria)
    inv = inventory()
    samples = collect(inv, victoria.url)
    got = by_key(samples)
    assert got[("fast", "p95 7d", "in")] == pytest.approx(0.80)
    assert got[("fast", "p95 30d", "in")] == pytest.approx(0.795)
    assert got[("fast", "days 90", "in")] == pytest.approx(19.5, abs=1e-3)
    assert got[("fast", "days 70", "in")] == 0.0  # already over 70 %
    assert got[("slow", "days 90", "in")] == pytest.approx(39.5, abs=1e-3)
    assert got[("slow", "days 70", "in")] == pytest.approx(19.5, abs=1e-3)
    assert got[("slow", "p95 30d", "in")] == pytest.approx(0.49)
    assert got[("flat", "p95 7d", "in")] == pytest.approx(0.30)
    # no crossing: no days sample; "out" has no history at all: no sample either
    assert not [k for k in got if k[0] == "flat" and k[1].startswith("days")]
    assert not [k for k in got if k[2] == "out"]
    one = next(s for s in samples if s.tag("device") == "fast" and s.tag("threshold") == "90")
    assert dict(one.tags) == {"device": "fast", "interface": "GigabitEthernet0/0/1", "direction": "in",
                              "threshold": "90", "carrier": "China Telecom", "province": "湖北", "city": "黄冈",
                              "county": "黄州区", "township": "fast镇"}

    rules = [r for r in load_rules([DEFAULT_RULES]) if r.name == "link_forecast_saturation"]
    state, _ = evaluate(rules, EngineState(), samples, int(NOW * 1e9), Topology.from_inventory(inv))
    firing = [a for a in state.alerts.values() if a.status == "firing"]
    assert [(a.labels["device"], a.value) for a in firing] == [("fast", pytest.approx(19.5, abs=1e-3))]
    assert "链路预计30天内达到90%" in firing[0].annotations["summary"]
    assert "fast镇" in firing[0].annotations["description"]


def test_a_history_that_is_down_is_logged_once_and_keeps_nothing_new(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_tcp_port()}"  # nothing listens there
    inv = inventory()
    collector = CapacityCollector(inv, CapacitySettings(history_url=url), PromHistory(url, 2.0), clock=lambda: NOW)

    async def twice() -> list[object]:
        return [r for _ in range(2) async for r in collector.collect(())]

    with caplog.at_level("WARNING", "yiwang.capacity"):
        assert asyncio.run(twice()) == []
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "cannot connect" in said[0] and url in said[0]


def test_no_contracted_rate_gives_no_samples() -> None:
    from yiwang.capacity.links import link_report

    link = Link("hb", Endpoint("x", "Gi0/1"), Endpoint("core", "Gi0/2"), "China Unicom", 0)
    assert link_samples(inventory(), [link_report(link, {"in": [(NOW, 1e6)]}, NOW)], NOW, 0) == []


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_the_exported_rule_fires_in_prometheus_for_the_link_within_30_days(tmp_path: Path) -> None:
    rules = [r for r in load_rules([DEFAULT_RULES]) if r.name == "link_forecast_saturation"]
    export = write_prometheus_rules(rules, tmp_path / "rules.yml")
    assert export.skipped == {}
    checked = subprocess.run([str(PROMTOOL), "check", "rules", str(tmp_path / "rules.yml")], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    base = 'interface="Gi0/0/1",direction="in",carrier="China Telecom",county="黄州区"'
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": f'yiwang_link_days_to_saturation{{device="fast",threshold="90",{base}}}', "values": "19.5x5"},
            {"series": f'yiwang_link_days_to_saturation{{device="slow",threshold="90",{base}}}', "values": "39.5x5"},
            {"series": f'yiwang_link_days_to_saturation{{device="slow",threshold="70",{base}}}', "values": "19.5x5"},
        ],
        "alert_rule_test": [{"eval_time": "3m", "alertname": "link_forecast_saturation", "exp_alerts": [{
            "exp_labels": {"severity": "warning", "device": "fast", "threshold": "90", "interface": "Gi0/0/1",
                           "direction": "in", "carrier": "China Telecom", "county": "黄州区"},
            "exp_annotations": {
                "summary": "链路预计30天内达到90% · uplink fast Gi0/0/1 forecast to reach 90% of its contract "
                           "in 20 days",
                "description": "The uplink of 黄州区 (fast Gi0/0/1) is forecast to cross 90 % of its contracted "
                               "bandwidth in 19.5 days (0: its 7-day 95th percentile is there already); see yiwang "
                               "capacity upgrades."}}]}],
    }]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, allow_unicode=True), encoding="utf-8")
    ran = subprocess.run([str(PROMTOOL), "test", "rules", "tests.yml"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_a_running_yiwang_exposes_the_link_samples(victoria: VictoriaMetrics, tmp_path: Path) -> None:
    """`yiwang run` with capacity.history_url: its /metrics carries yiwang_link_p95_ratio and
    yiwang_link_days_to_saturation, and its influx sink writes link_p95_ratio back into the same VictoriaMetrics."""
    write_history(victoria)
    folder = tmp_path / "inventory"
    folder.mkdir()
    inv = inventory()
    document = {
        "areas": [{"id": a.id, "name": a.name, "level": a.level.label, **({"parent": a.parent} if a.parent else {})}
                  for a in inv.areas.values()],
        "devices": [{"name": d.name, "platform": d.platform, "role": d.role, "area": d.area, "address": d.address}
                    for d in inv.devices.values()],
        "links": [{"area": link.area, "local": str(link.local), "remote": str(link.remote), "carrier": link.carrier,
                   "bandwidth_mbps": link.bandwidth_mbps} for link in inv.links]}
    (folder / "inventory.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    port = free_tcp_port()
    config = write_config(tmp_path / "yiwang.yaml", tmp_path / "state", inventory=[str(folder)],
                          api={"port": port}, auth={"enabled": False}, audit={"path": str(tmp_path / "audit.jsonl")},
                          influx={"url": victoria.influx_url}, capacity={"history_url": victoria.url})
    log = tmp_path / "run.log"
    process = start_run(config, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_api(url, process, log)
        deadline = time.monotonic() + 60
        text = ""
        while "yiwang_link_days_to_saturation{" not in text:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
            text = httpx.get(f"{url}/metrics").text
        fast = [line for line in text.splitlines()
                if line.startswith("yiwang_link_days_to_saturation{") and 'device="fast"' in line
                and 'threshold="90"' in line]
        assert len(fast) == 1 and 'direction="in"' in fast[0] and 'township="fast镇"' in fast[0], fast
        assert math.isclose(float(fast[0].rsplit(" ", 1)[1]), 19.5, abs_tol=0.01)
        assert 'yiwang_link_p95_ratio{' in text and 'window="7d"' in text and 'window="30d"' in text
        assert "# TYPE yiwang_link_p95_ratio gauge" in text
        deadline = time.monotonic() + 60
        while True:  # the influx sink: the same samples under measurement_field names
            victoria.force_flush()
            found = json.loads(httpx.get(f"{victoria.url}/api/v1/series",
                                         params={"match[]": '{__name__=~"link_.*"}'}).text)["data"]
            names = {s["__name__"] for s in found}
            if names == {"link_p95_ratio", "link_days_to_saturation"}:
                break
            assert time.monotonic() < deadline, names
            time.sleep(1)
    finally:
        if process.poll() is None:
            stop_run(process)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
