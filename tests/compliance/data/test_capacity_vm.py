"""The uplink-capacity history against a real VictoriaMetrics on loopback, written by yiwang's own InfluxSink (so the
names the reader asks for are the names the sink writes)."""

from __future__ import annotations

import asyncio
import time

import pytest

from collectors.model import Sample
from inventory.model import Endpoint, Link
from tests.sinks.servers import VictoriaMetrics
from yiwang.compliance.data_rules import WEEK_SAMPLES, VictoriaMetricsHistory, capacity_result
from yiwang.sinks.influx import InfluxSink, InfluxTarget

pytestmark = pytest.mark.integration

LINK = Link("hb.hg.c1", Endpoint("c1-agg01", "XGigabitEthernet0/0/1"), Endpoint("hg-core-01", "XGE0/0/5"),
            "carrier", 1000.0)


def write_week(server: VictoriaMetrics, now_s: float, missing: int, in_bps: float, out_bps: float) -> None:
    tags = (("device", "c1-agg01"), ("if_index", "6"), ("interface", "XGigabitEthernet0/0/1"))
    samples = [Sample("interface", tags, {"in_bps": in_bps, "out_bps": out_bps}, int((now_s - 150 - i * 300) * 1e9))
               for i in range(missing, WEEK_SAMPLES)]
    other = Sample("interface", (("device", "c1-agg01"), ("if_index", "7"), ("interface", "GigabitEthernet0/0/1")),
                   {"in_bps": 999e6, "out_bps": 999e6}, int((now_s - 150) * 1e9))
    sink = InfluxSink(InfluxTarget(server.influx_url, "yiwang", "metrics"), "token")

    async def run() -> None:
        await sink.write([*samples, other])
        await sink.close()

    asyncio.run(run())
    server.force_flush()


def test_a_full_week_from_victoria_metrics(victoria: VictoriaMetrics) -> None:
    now = float(int(time.time()) // 300 * 300)
    write_week(victoria, now, 0, in_bps=300e6, out_bps=650e6)
    found = capacity_result(VictoriaMetricsHistory(victoria.url), LINK, now)
    assert found.status == "pass", found.detail
    assert found.detail.startswith("p95 650.0 Mbit/s = 65.0% of 1000 Mbit/s (limit 70%) over 2016 five-minute")


def test_a_gap_in_the_history_is_too_few_samples(victoria: VictoriaMetrics) -> None:
    now = float(int(time.time()) // 300 * 300)
    write_week(victoria, now, 12, in_bps=300e6, out_bps=100e6)
    found = capacity_result(VictoriaMetricsHistory(victoria.url), LINK, now)
    assert found.status == "error"
    assert found.detail.startswith("only 2004 samples of the 2016 a week needs (VictoriaMetrics export")


def test_an_unreachable_history_is_an_error() -> None:
    found = capacity_result(VictoriaMetricsHistory("http://127.0.0.1:9", timeout_s=2), LINK, time.time())
    assert found.status == "error"
