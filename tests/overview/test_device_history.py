"""The device page's 24 h interface history (yiwang.overview_device.read_history, what GET /api/overview/devices/{name}
attaches) from a real VictoriaMetrics filled through yiwang's own influx sink: known 5-minute points back, by
interface and direction, and nothing of another device or from before the day."""

from __future__ import annotations

import asyncio

import pytest

from collectors.model import Sample
from tests.capacity.written import write_through_sink
from tests.sinks.servers import VictoriaMetrics, free_port
from yiwang.capacity.history import PromHistory, TrafficMetrics
from yiwang.overview_device import read_history

pytestmark = pytest.mark.integration

END = 1_767_225_600.0  # 2026-01-01 00:00 UTC, on the 5-minute grid
STEPS = 24  # the last two hours


def rows() -> list[dict[str, object]]:
    return [{"name": name, "history": {"in": [], "out": []}} for name in ("GE0/0/1", "GE0/0/2", "GE0/0/9")]


def test_the_last_day_of_each_interface_comes_back_point_for_point(victoria: VictoriaMetrics) -> None:
    samples = []
    for k in range(STEPS):  # point k at END - 300 k: in = 1000 k + 1 bit/s, out = twice that; GE0/0/2: in only
        at = int((END - 300 * k) * 1e9)
        samples.append(Sample("interface", (("device", "d1"), ("interface", "GE0/0/1")),
                              {"in_bps": 1000.0 * k + 1, "out_bps": 2000.0 * k + 2}, at))
        samples.append(Sample("interface", (("device", "d1"), ("interface", "GE0/0/2")), {"in_bps": 7.0}, at))
        samples.append(Sample("interface", (("device", "d2"), ("interface", "GE0/0/1")), {"in_bps": 99.0}, at))
    # 25 hours old: before the page's day
    samples.append(Sample("interface", (("device", "d1"), ("interface", "GE0/0/1")), {"in_bps": 5e9},
                          int((END - 25 * 3600) * 1e9)))
    write_through_sink(victoria, samples)
    found = rows()
    assert asyncio.run(read_history(PromHistory(victoria.url), "d1", found, TrafficMetrics(), END)) is None
    ge1, ge2, ge9 = found
    times = [END - 300 * k for k in reversed(range(STEPS))]
    assert ge1["history"] == {"in": [[t, 1000.0 * k + 1] for t, k in zip(times, reversed(range(STEPS)), strict=True)],
                              "out": [[t, 2000.0 * k + 2] for t, k in zip(times, reversed(range(STEPS)), strict=True)]}
    assert ge2["history"] == {"in": [[t, 7.0] for t in times], "out": []}
    assert ge9["history"] == {"in": [], "out": []}  # an interface the history does not know: empty, not an error


def test_a_history_that_is_down_is_a_note_and_empty_charts() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    found = rows()
    problem = asyncio.run(read_history(PromHistory(url), "d1", found, TrafficMetrics(), END))
    assert problem is not None and problem.startswith(f"interface history: metric history {url}: cannot connect")
    assert all(row["history"] == {"in": [], "out": []} for row in found)
