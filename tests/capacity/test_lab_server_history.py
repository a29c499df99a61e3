"""The lab's servers' history (lab.server_history): deterministic from the seed, drawn as its docstring says (checked
on a server built by hand), and, backfilled into a real VictoriaMetrics, read back by `yiwang.capacity.hosts` as the
means and percentiles of the very points drawn."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from pathlib import Path

import pytest

from lab.city import generate_city
from lab.server_history import (
    CPU_NOISE,
    GB,
    ServerHistory,
    backfill,
    import_lines,
    server_histories,
    shape,
    stamps,
    values,
)
from tests.sinks.servers import VictoriaMetrics
from yiwang.capacity.history import PromHistory
from yiwang.capacity.hosts import server_utilisation

END = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC: Friday 2026-05-29 04:26:40 in UTC+8, no holiday


def digest(seed: int, days: int = 2) -> str:
    plan = generate_city(seed, "small")
    found = hashlib.sha256()
    for line in import_lines(server_histories(plan.datacentre, seed), seed, END, days):
        found.update(line)
    return found.hexdigest()


def test_the_same_seed_gives_the_same_bytes() -> None:
    assert digest(2026) == digest(2026) != digest(7)


def test_every_server_of_the_old_centre_and_a_few_hot() -> None:
    plan = generate_city(2026, "small")
    histories = server_histories(plan.datacentre, 2026)
    in_dc1 = [s for s in plan.datacentre.servers.values() if s.cabinet.startswith("dc1-")]
    assert [h.device for h in histories] == [s.device or s.name for s in in_dc1]
    assert sum(h.hot for h in histories) == 6 and all(h.cpu_busy >= 85 for h in histories if h.hot)
    lines = list(import_lines(histories[:1], 2026, END, 1))
    names = [json.loads(line)["metric"]["__name__"] for line in lines]
    assert names == ["cpu_load_percent", "storage_size_bytes", "storage_used_bytes", "storage_size_bytes",
                     "storage_used_bytes"]
    assert all(len(json.loads(line)["values"]) == 288 for line in lines)


def test_points_as_the_docstring_draws_them() -> None:
    server = ServerHistory("s", cpu_floor=5.0, cpu_busy=45.0, memory_bytes=64 * GB, memory_share=0.5,
                           disk_bytes=1000 * GB, disk_share=0.6, disk_growth=0.0024)
    drawn = values(server, 1, [0.0, 1.0, 0.5])
    # CPU: the floor at share 0, the busy level at 1, floor + half the swing (25 %) at 0.5, each within ±15 %
    for got, level in zip(drawn["cpu"], (5.0, 45.0, 25.0), strict=True):
        assert level * (1 - CPU_NOISE) - 0.05 <= got <= level * (1 + CPU_NOISE) + 0.05
    # memory: 32 GiB x (1 + 0.1 x (share - 0.5))
    assert drawn["memory"] == [float(int(32 * GB * 0.95)), float(int(32 * GB * 1.05)), float(32 * GB)]
    # disk: 600 GiB at the end, 0.24 % of 1000 GiB a day less per day before: 2.4 GiB / 288 per 5 minutes
    per_point = 2.4 * GB / 288
    assert drawn["disk"] == [float(int(600 * GB - 2 * per_point)), float(int(600 * GB - per_point)),
                             float(600 * GB)]
    # the last point is the window ending 04:25 UTC+8, its raw sample at 04:22:30: the 5-minute slot from 04:20, a
    # weekday's night between 04:00 (0.06) and 05:00 (0.07)
    assert shape(END, 1)[-1] == pytest.approx(0.06 + 0.01 * 20 / 60)
    assert stamps(END, 1)[-1] == (1_780_000_000 // 300 * 300 - 150) * 1000


def _quantile(values: list[float], q: float) -> float:
    """Prometheus' quantile_over_time: linear between the two sorted values around rank q (n - 1)."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@pytest.mark.integration
def test_backfilled_and_read_back_as_drawn(victoria: VictoriaMetrics) -> None:
    plan = generate_city(2026, "small")
    histories = server_histories(plan.datacentre, 2026)
    end = float(int(time.time()) // 300 * 300)
    done = backfill(victoria.url, histories, 2026, end, 8)
    assert (done.series, done.points) == (5 * len(histories), 5 * len(histories) * 8 * 288)
    victoria.force_flush()
    got = asyncio.run(server_utilisation(PromHistory(victoria.url), [h.device for h in histories], end))
    assert set(got) == {h.device for h in histories}
    shares = shape(end, 8)
    for history in histories[:5] + [h for h in histories if h.hot][:2]:
        drawn = values(history, 2026, shares)
        week = slice(-7 * 288, None)  # the 7-day window (end - 7 d, end] holds the newest 2016 raw samples
        cpu = drawn["cpu"][week]
        found = got[history.device]
        assert found.cpu_pct == pytest.approx(sum(cpu) / len(cpu))
        assert found.cpu_p95_pct == pytest.approx(_quantile(cpu, 0.95))
        memory = drawn["memory"][week]
        assert found.memory_pct == pytest.approx(100 * (sum(memory) / len(memory)) / history.memory_bytes)
        disk = drawn["disk"][week]
        assert found.disk_pct == pytest.approx(100 * (sum(disk) / len(disk)) / history.disk_bytes)


@pytest.mark.integration
def test_lab_history_then_the_datacentre_report(tmp_path: Path, victoria: VictoriaMetrics) -> None:
    """Both real command lines: `yiwang lab history` backfills the small lab's servers after its uplinks, and
    `yiwang capacity datacentre` shows every dc1 cabinet's servers measured, the hot ones where they are."""
    from .test_cli import cli, configure
    from .test_lab_history import lab_history

    config, inventory = configure(tmp_path, victoria.url)
    code, stdout, stderr = lab_history(config, "--days", "8", "--profile", "small")
    assert code == 0, stderr
    histories = server_histories(generate_city(2026, "small").datacentre, 2026)
    hot = [h.device for h in histories if h.hot]
    assert f"backfilled {len(histories)} servers, {5 * len(histories)} series" in stdout and hot[0] in stdout
    code, stdout, stderr = cli(config, "datacentre", "--json")
    assert code == 0, stderr
    got = json.loads(stdout)
    placed = inventory.datacentre.servers_by_cabinet()
    for cabinet in (c for c in got["cabinets"] if c["site"] == "dc1"):
        assert cabinet["measured"] == len(placed[cabinet["cabinet"]]) > 0
        assert 0 < cabinet["cpu_pct"] <= cabinet["cpu_p95_pct"] <= 100
    assert got["sites"][0]["measured"] == len(histories) and got["utilisation_problem"] is None
