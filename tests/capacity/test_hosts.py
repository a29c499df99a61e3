"""Uptimes and server utilisation read from a real VictoriaMetrics, written there through yiwang's own influx sink
(so the names read are the names the poller's samples get), and the two reports that show them: `yiwang capacity
equipment` (the longest uptime) and `yiwang capacity datacentre` (CPU, memory and disk per cabinet and site)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import yaml

from collectors.model import Sample
from tests.capacity.written import write_through_sink
from tests.sinks.servers import VictoriaMetrics
from yiwang.capacity.history import HistoryError, PromHistory
from yiwang.capacity.hosts import device_groups, device_uptimes, server_utilisation

from .test_cli_datacentre import cli, setup

pytestmark = pytest.mark.integration
NOW = float(int(time.time()) // 300 * 300)
WEEK = 7 * 288  # 5-minute points in 7 days


def write(server: VictoriaMetrics, samples: list[Sample]) -> None:
    write_through_sink(server, samples)


def at(seconds_ago: float) -> int:
    return int((NOW - seconds_ago) * 1e9)


def uptime_samples() -> list[Sample]:
    def up(measurement: str, device: str, value: float, ago: float) -> Sample:
        return Sample(measurement, (("device", device),), {"uptime_seconds": value}, at(ago))

    return [up("device", "r1", 1000.0, 600), up("device", "r1", 1300.0, 300),  # the newest one counts
            up("device", "r2", 4000.0, 300), up("ssh_device", "r2", 5000.0, 300),  # the CLI's before SNMP's
            up("device", "r3", 9000.0, 7200),  # two hours old: no longer its uptime
            up("device", 'x.y"|z', 42.0, 60), up("device", "xxy", 7.0, 60)]  # a regex would match both


def host_samples() -> list[Sample]:
    """s1: one processor at 10 % for the older half of the week and 30 % for the newer half, and at 100 % eight
    days ago (outside the window); memory 250 of 1000 bytes; "/" 50 of 100 and "/data" 30 of 300, and swap, which
    is no disk. s2: two processors at 40 % and 60 %; no storage rows."""
    found = []
    for i in range(WEEK):
        ago = 300 * i + 150
        found.append(Sample("cpu", (("cpu", "196608"), ("device", "s1")), {"load_percent": 30.0 if i < WEEK // 2
                                                                           else 10.0}, at(ago)))
        found += [Sample("cpu", (("cpu", cpu), ("device", "s2")), {"load_percent": load}, at(ago))
                  for cpu, load in (("196608", 40.0), ("196609", 60.0))]
        for index, name, size, used in (("1", "Physical memory", 1000, 250), ("31", "/", 100, 50),
                                        ("32", "/data", 300, 30), ("10", "Swap space", 1000, 1000)):
            found.append(Sample("storage", (("device", "s1"), ("storage", name), ("storage_index", index)),
                                {"size_bytes": float(size), "used_bytes": float(used)}, at(ago)))
    found.append(Sample("cpu", (("cpu", "196608"), ("device", "s1")), {"load_percent": 100.0}, at(8 * 86400)))
    return found


def test_groups_match_names_literally() -> None:
    groups = device_groups([f"d{i}" for i in range(450)], 200)
    assert len(groups) == 3 and groups[0].startswith('device=~"d0|d1|d10|')
    assert device_groups(['a.b"c']) == ['device=~"a\\\\.b\\"c"']


def test_uptimes_latest_within_the_hour_the_clis_first(victoria: VictoriaMetrics) -> None:
    write(victoria, uptime_samples())
    got = asyncio.run(device_uptimes(PromHistory(victoria.url), ["r1", "r2", "r3", 'x.y"|z', "absent"], NOW))
    assert got == {"r1": 1300.0, "r2": 5000.0, 'x.y"|z': 42.0}


def test_server_utilisation_over_seven_days(victoria: VictoriaMetrics) -> None:
    write(victoria, host_samples())
    got = asyncio.run(server_utilisation(PromHistory(victoria.url), ["s1", "s2", "s9"], NOW))
    assert set(got) == {"s1", "s2"}
    s1, s2 = got["s1"], got["s2"]
    # s1's 2016 points: 1008 at 10 and 1008 at 30, mean 20 (the 100 % of 8 days ago is outside); the 0.95 quantile
    # (rank 0.95 x 2015 = 1914.25 of the sorted points, 0-based) is among the 30s: 30.
    assert s1.cpu_pct == pytest.approx(20.0) and s1.cpu_p95_pct == pytest.approx(30.0)
    # memory 250/1000; disks ("/" and "/data", not swap) (50 + 30) / (100 + 300)
    assert s1.memory_pct == pytest.approx(25.0) and s1.disk_pct == pytest.approx(20.0)
    # s2: the processors' mean (40 + 60) / 2, constant, so its p95 too; no storage rows, no memory or disk
    assert s2.cpu_pct == pytest.approx(50.0) and s2.cpu_p95_pct == pytest.approx(50.0)
    assert s2.memory_pct is None and s2.disk_pct is None


def test_a_history_that_is_down_is_a_history_error() -> None:
    with pytest.raises(HistoryError, match="cannot connect"):
        asyncio.run(server_utilisation(PromHistory("http://127.0.0.1:9", 2.0), ["s1"], NOW))


def test_the_datacentre_report_with_and_without_a_history(victoria: VictoriaMetrics, tmp_path: Path) -> None:
    # test_cli_datacentre's centre: C1 holds servers a and b, C2 holds d; a reads as s1 above, b as s2, d has none
    samples = [Sample(s.measurement, tuple((k, {"s1": "a", "s2": "b"}[v] if k == "device" else v) for k, v in s.tags),
                      s.fields, s.time_ns) for s in host_samples()]
    write(victoria, samples)
    config = setup(tmp_path)
    code, stdout, stderr = cli(config, "datacentre")
    assert code == 0 and "C2" in stdout  # placement, U and power as before
    assert "server utilisation needs a metric history: no metric history configured" in " ".join(stderr.split())
    document = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**document, "capacity": {"history_url": victoria.url}}))
    code, stdout, stderr = cli(config, "datacentre", "--json")
    assert code == 0, stderr
    got = json.loads(stdout)
    c1 = next(c for c in got["cabinets"] if c["cabinet"] == "C1")
    c2 = next(c for c in got["cabinets"] if c["cabinet"] == "C2")
    # C1: the means of a (20, p95 30, memory 25, disk 20) and b (50, p95 50, no memory or disk)
    assert (c1["measured"], c1["cpu_pct"], c1["cpu_p95_pct"], c1["memory_pct"], c1["disk_pct"]) == (
        2, 35.0, 40.0, 25.0, 20.0)
    assert c2["measured"] == 0 and c2["cpu_pct"] is None
    old = got["sites"][0]
    assert (old["site"], old["measured"], old["cpu_pct"]) == ("old", 2, 35.0) and got["utilisation_problem"] is None
    code, stdout, _ = cli(config, "datacentre", "--site", "old")
    assert code == 0 and "CPU p95 %" in stdout and "35" in stdout


def test_the_equipment_report_reads_uptimes_from_the_history(victoria: VictoriaMetrics, tmp_path: Path) -> None:
    from .test_cli_equipment import _lifecycle, _state, _yiwang

    write(victoria, [Sample("ssh_device", (("device", "c1-sw1"),), {"uptime_seconds": 90 * 86400.0}, at(300)),
                     Sample("device", (("device", "c1-sw2"),), {"uptime_seconds": 10 * 86400.0}, at(300)),
                     Sample("device", (("device", "c2-agg"),), {"uptime_seconds": 5 * 86400.0}, at(3 * 3600))])
    config = _state(tmp_path, _lifecycle())
    document = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**document, "capacity": {**document["capacity"], "history_url": victoria.url}}))
    done = _yiwang(config, "--csv")
    assert done.returncode == 0, done.stderr
    rows = {row.split(",")[0]: row.split(",")[7] for row in done.stdout.splitlines()[1:]}
    # c2-agg's only uptime is three hours old: none
    assert rows == {"c1-sw1": "7776000.0", "c1-sw2": "864000.0", "c1-r1": "", "c2-agg": "", "c2-new": ""}
    table = _yiwang(config)
    assert "90 天 d (c1-sw1)" in table.stdout and "no history" not in table.stdout + table.stderr
