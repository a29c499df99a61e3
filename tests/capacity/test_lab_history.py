"""`yiwang lab history` into a real VictoriaMetrics on loopback, then `yiwang capacity links|upgrades` reading it
back: both real command lines in subprocesses, the small lab's inventory, two weeks of every uplink."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from lab.city import generate_city
from lab.history import link_histories, series, summary
from tests.sinks.servers import VictoriaMetrics, free_port

from .test_cli import ROOT, cli, configure

pytestmark = pytest.mark.integration
DAYS = 14  # the trend needs 7 days; two weeks keep the weekends to 4 of the 14 daily 95th percentiles


def lab_history(config: Path, *args: str) -> tuple[int, str, str]:
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "yiwang", "lab", "history", *args, "-c", str(config)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)})
    return done.returncode, done.stdout, done.stderr


def promql_p95(values: list[float]) -> float:
    """quantile_over_time(0.95, ...) written out: rank 0.95 (n - 1) from 0, linear between its two neighbours."""
    ordered = sorted(values)
    rank = 0.95 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def test_the_backfilled_city_is_what_capacity_reads(tmp_path: Path, victoria: VictoriaMetrics) -> None:
    config, inventory = configure(tmp_path, victoria.url)
    code, stdout, stderr = lab_history(config, "--days", str(DAYS), "--profile", "small")
    end = time.time()
    assert code == 0, stderr
    plan = generate_city(2026, "small")
    histories = link_histories(plan, end, DAYS)
    chosen = summary(histories)
    points = len(histories) * 2 * DAYS * 288
    # Per uplink: traffic in and out, and the pings, round trips and interface status of the carriers report.
    assert f"backfilled {len(histories)} uplinks, {5 * len(histories)} series" in stdout
    assert chosen["saturating"][0] in stdout

    code, stdout, stderr = cli(config, "links", "--json")
    assert code == 0, stderr
    rows = {(row["link"], row["direction"]): row for row in json.loads(stdout)}
    # Every uplink has both directions: the history covers the whole inventory, no "no traffic history" row.
    assert len(rows) == 2 * len(inventory.links) and points > 0

    by_name = {str(h.link.local): h for h in histories}
    for name in chosen["saturating"]:
        row = rows[(name, "in")]
        # The p95 the command read over the wire equals the one of the points drawn here (the same seed: the same
        # points), by PromQL's rule over every non-zero point; at most the oldest point may have slipped out of
        # the window between the backfill and the command, hence the tolerance of one point's worth.
        drawn, _ = series(by_name[name], 2026, end, DAYS)
        capacity = by_name[name].link.bandwidth_mbps * 1e6
        want = promql_p95([v / capacity for v in drawn.values if v > 0]) * 100
        assert row["p95_30d_pct"] == pytest.approx(want, abs=0.02)
        assert 93 <= row["p95_30d_pct"] <= 99 and row["reaches_90"] == "already"
    for name in chosen["fast"]:
        row = rows[(name, "in")]
        # Growing 40 % a month from 76 %: a forecast date for 90 % in the coming month, not yet reached.
        on = datetime.fromisoformat(row["reaches_90"]).replace(tzinfo=timezone(timedelta(hours=8)))
        days = (on.timestamp() - end) / 86400
        assert -1 < days <= 31, row
        assert row["p95_30d_pct"] < 90

    code, stdout, stderr = cli(config, "upgrades", "--json")
    assert code == 0, stderr
    listed = [row["link"] for row in json.loads(stdout)]
    assert set(listed) == set(chosen["saturating"]) | set(chosen["fast"])
    assert set(listed[:3]) == set(chosen["saturating"])  # over 90 % already: the most urgent


def test_no_history_url_and_no_url_is_one_line(tmp_path: Path) -> None:
    config, _ = configure(tmp_path, None)
    code, stdout, stderr = lab_history(config, "--days", "1")
    assert code == 2 and stdout == ""
    assert "no VictoriaMetrics: give --url or set capacity.history_url" in stderr and "Traceback" not in stderr


def test_a_server_that_is_down_is_one_error_line(tmp_path: Path) -> None:
    config, _ = configure(tmp_path, None)
    url = f"http://127.0.0.1:{free_port()}"
    code, stdout, stderr = lab_history(config, "--days", "1", "--url", url)
    assert code == 1 and stdout == ""
    assert " ".join(stderr.split()).startswith(f"error: {url}: cannot import (ConnectError")
    assert "Traceback" not in stderr
