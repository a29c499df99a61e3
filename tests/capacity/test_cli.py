"""`yiwang capacity links|upgrades` end to end: the real command line in a subprocess, the small lab's inventory, a
real VictoriaMetrics holding a month of one uplink's traffic (written through yiwang's own influx sink)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from collectors.model import Sample
from inventory.loader import load_inventory
from inventory.model import Inventory
from lab.city import generate_city
from lab.export import write_inventory
from tests.capacity.written import write_through_sink
from tests.sinks.servers import VictoriaMetrics, free_port
from yiwang.change.bandwidth import read_bandwidth_plan

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def cli(config: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "yiwang", "capacity", *args, "-c", str(config)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)})
    return done.returncode, done.stdout, done.stderr


def configure(tmp_path: Path, history_url: str | None) -> tuple[Path, Inventory]:
    folder = tmp_path / "inventory"
    write_inventory(generate_city(2026, "small"), folder, Path("/nonexistent/lab-secret"))
    result = load_inventory([folder])
    assert not result.problems
    settings: dict[str, object] = {"state_dir": str(tmp_path / "state"), "inventory": [str(folder)]}
    if history_url:
        settings["capacity"] = {"history_url": history_url}
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump(settings))
    return config, result.inventory


def test_without_history_one_line_and_success(tmp_path: Path) -> None:
    config, _ = configure(tmp_path, None)
    code, stdout, stderr = cli(config, "links")
    assert (code, stdout.strip(), stderr) == (0, "no metric history configured (capacity.history_url): "
                                                 "未配置指标历史库, capacity reports need one", "")


def test_a_database_that_is_down_is_one_error_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    config, _ = configure(tmp_path, url)
    code, stdout, stderr = cli(config, "upgrades")
    assert code == 1 and stdout == ""
    assert " ".join(stderr.split()).startswith(f"error: metric history {url}: cannot connect (ConnectError")
    assert "Traceback" not in stderr


def test_a_growing_uplink_is_listed_and_planned(tmp_path: Path, victoria: VictoriaMetrics) -> None:
    config, inventory = configure(tmp_path, victoria.url)
    link = next(link for link in inventory.links if link.bandwidth_mbps <= 1000
                and sum(1 for other in inventory.links if other.local.device == link.local.device) == 1)
    capacity = link.bandwidth_mbps * 1e6
    now = time.time() // 300 * 300
    # 50 % now, a point of utilisation more each day (the ramp of test_links.py), as the poller would write it.
    tags = (("device", link.local.device), ("if_index", "6"), ("interface", link.local.interface))
    samples = [Sample("interface", tags, {"in_bps": (0.50 - 0.01 * i / 288) * capacity, "out_bps": 0.10 * capacity},
                      int((now - i * 300 - 150) * 1e9)) for i in range(30 * 288)]
    write_through_sink(victoria, samples)

    code, stdout, stderr = cli(config, "links", "--json")
    assert code == 0, stderr
    rows = {(row["link"], row["direction"]): row for row in json.loads(stdout)}
    assert len(rows) == 2 * 1 + len(inventory.links) - 1  # every other link: one row, "no traffic history"
    down = rows[(str(link.local), "in")]
    # The 30-day p95 of the ramp is 48.5 % (test_links.py); the command's "now" is a few seconds later than the
    # write's, so the window may have lost the newest point: 48.5 % or one 5-minute step (0.0035 %) less.
    assert down["p95_30d_pct"] == pytest.approx(48.5, abs=0.01)
    assert down["trend_pct_per_day"] == pytest.approx(1.0, abs=0.01)

    plan = tmp_path / "bandwidth-plan.yaml"
    code, stdout, stderr = cli(config, "upgrades", "--out", str(plan))
    assert code == 0, stderr
    assert f"bandwidth plan written to {plan}" in stdout
    (change,) = read_bandwidth_plan(plan, inventory)
    # 30 days ahead the ramp is at 0.80 of the rate: the smallest standard step over 0.80 x rate / 0.70.
    steps = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
    assert change.link == link and change.mbps == min(s for s in steps if s > 0.8046 * link.bandwidth_mbps / 0.70)
