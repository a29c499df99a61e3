"""`yiwang lab up` with its metric history, as `./dev demo` runs it: the real command line in subprocesses, a tmp
XDG_STATE_HOME (the default state folder, so the lab's inventory is found the way a user's is), Debian's
VictoriaMetrics started by the lab, the small city's history backfilled by the lab's background job; then the
configuration the lab wrote, used by yiwang's influx sink and `yiwang capacity upgrades`; `lab down` leaves
nothing running."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from collectors.model import Sample
from lab import LabStatus, lab_status
from lab.city import generate_city
from lab.history import RAW_OFFSET_S, link_histories, summary
from yiwang.config import load_settings
from yiwang.sinks.influx import InfluxSink, InfluxTarget

from .conftest import SEED

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab binds loopback addresses and manages iptables: needs root"),
    pytest.mark.skipif(not (shutil.which("victoria-metrics") or Path("/usr/bin/victoria-metrics").exists()),
                       reason="Debian's victoria-metrics is not installed"),
]
ROOT = Path(__file__).resolve().parents[2]
DAYS = 8  # the least that gives the trend its 7 whole days (yiwang.capacity.links.MIN_TREND_DAYS)
POINTS = DAYS * 288  # one 5-minute point per window: 8 days x 288 a day, for a link without outages


def yiwang(state_home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(state_home), "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env.pop("YIWANG_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "yiwang", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=env)


def backfilled(state_dir: Path, timeout: float = 180) -> LabStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = lab_status(state_dir)
        assert not status.problems, status.problems
        if status.history is not None and status.history.finished:
            return status
        assert time.monotonic() < deadline, f"backfill not finished within {timeout} s: {status.history}"
        time.sleep(0.5)


def query(url: str, expr: str, at_s: float) -> list[dict[str, object]]:
    answer = httpx.post(url + "/api/v1/query", data={"query": expr, "time": str(at_s)}, timeout=30).json()
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_lab_up_starts_victoria_metrics_with_history_and_a_config_that_uses_it(tmp_path: Path) -> None:
    port = random.randint(20000, 29999)
    up_args = ("lab", "up", "--profile", "small", "--port", str(port), "--history-days", str(DAYS),
               "--history-port", "0")
    up = yiwang(tmp_path, *up_args)
    assert up.returncode == 0, up.stdout + up.stderr
    state_dir = tmp_path / "yiwang"
    config = state_dir / "lab" / "yiwang-demo.yaml"
    assert f"export YIWANG_CONFIG={config}" in up.stdout
    server_pid = 0
    try:
        status = backfilled(state_dir)
        assert sorted(p.name for p in status.processes) == ["snmp", "ssh", "victoria-metrics"]
        server_pid = next(p.pid for p in status.processes if p.name == "victoria-metrics")
        assert status.history is not None and status.history_url is not None
        url, end = status.history_url, status.history.end_s

        again = yiwang(tmp_path, *up_args)
        assert again.returncode == 0 and "already up" in again.stdout, again.stdout + again.stderr
        assert [p.pid for p in lab_status(state_dir).processes] == [p.pid for p in status.processes]
        printed = yiwang(tmp_path, "lab", "demo-config")
        assert (printed.returncode, printed.stdout.strip()) == (0, str(config))

        settings = load_settings(config)
        assert settings.capacity.history_url == url and settings.capacity.metric_prefix == ""
        assert settings.influx is not None and settings.influx.url == url
        assert settings.inventory_dirs == [state_dir / "inventory"]
        assert (state_dir / "inventory" / "devices.yaml").exists()

        histories = link_histories(generate_city(SEED, "small"), end, DAYS)
        chosen = summary(histories)
        # Every uplink has its series (one per direction, one metric per direction).
        (total,) = query(url, f"count(last_over_time(interface_in_bps[{DAYS}d]))", end)
        assert int(float(total["value"][1])) == len(histories)  # type: ignore[index]
        fast = next(h for h in histories if h.kind == "fast")
        selector = f'interface_in_bps{{device="{fast.link.local.device}",interface="{fast.link.local.interface}"}}'
        (series,) = query(url, f"count_over_time({selector}[{DAYS}d])", end)
        assert int(float(series["value"][1])) == POINTS  # type: ignore[index]

        # yiwang's influx sink, configured from that file, writes a live point into the same series: the backfill
        # labels the history as the sink tags what the poller polls. Stamped between the last backfilled point
        # (end - RAW_OFFSET_S) and the backfill's end.
        sample = Sample("interface", fast.labels, {"in_bps": 1.0e6}, int((end - RAW_OFFSET_S / 2) * 1e9))
        sink = InfluxSink(InfluxTarget(settings.influx.url, settings.influx.org, settings.influx.bucket), "")

        async def write() -> None:
            await sink.write([sample])
            await sink.close()

        asyncio.run(write())
        httpx.get(url + "/internal/force_flush", timeout=10)
        (series,) = query(url, f"count_over_time({selector}[{DAYS}d])", end)
        assert int(float(series["value"][1])) == POINTS + 1  # type: ignore[index]

        listed = yiwang(tmp_path, "capacity", "upgrades", "--json", "--config", str(config))
        assert listed.returncode == 0, listed.stderr
        rows = json.loads(listed.stdout)
        # Over 8 days only the chosen links reach 70 %: normal ones are drawn at 5-35 % of their contract, growing
        # at most 6 % a month (lab.history); saturating ones (97 %) are already over 90 %, so they come first.
        assert {row["link"] for row in rows} == set(chosen["saturating"]) | set(chosen["fast"])
        assert {row["link"] for row in rows[:3]} == set(chosen["saturating"])
    finally:
        down = yiwang(tmp_path, "lab", "down")
    assert down.returncode == 0, down.stderr
    assert server_pid and gone(server_pid)
    assert not config.exists() and not (state_dir / "lab" / "victoria-metrics").exists()
    assert yiwang(tmp_path, "lab", "demo-config").returncode == 1


def test_no_history_starts_no_database(tmp_path: Path) -> None:
    port = random.randint(20000, 29999)
    up = yiwang(tmp_path, "lab", "up", "--profile", "small", "--port", str(port), "--no-history")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        status = lab_status(tmp_path / "yiwang")
        assert sorted(p.name for p in status.processes) == ["snmp", "ssh"]
        assert status.history_url is None and status.demo_config is None and "YIWANG_CONFIG" not in up.stdout
        assert not (tmp_path / "yiwang" / "lab" / "victoria-metrics").exists()
    finally:
        assert yiwang(tmp_path, "lab", "down").returncode == 0
