"""The capacity report over the whole city's uplink history, beside the same 95th percentiles computed with numpy.

Run: nice -n 19 .venv/bin/python benchmarks/capacity_city.py [--profile small|city] [--days 35] [--concurrency 4]

1. A VictoriaMetrics of its own (Debian's /usr/bin/victoria-metrics, a temporary storage directory, loopback,
   -retentionPeriod=100y so 35 days back are kept), filled by `lab.history.backfill` with every uplink's 5-minute
   history, both directions (`yiwang lab history`'s path): timed as backfill_s (drawing the points in Python and
   VictoriaMetrics storing them, overlapped).
2. The upgrade list through yiwang's code, as `yiwang capacity upgrades` runs it: `yiwang.capacity.service.
   link_reports` (the server aggregates: quantile_over_time over subqueries of 5-minute means, DEVICES_PER_QUERY
   devices a query, `--concurrency` queries in flight; 30 numbers a series cross the wire, not 8,640) and
   `links.upgrades`: timed as report_s. Beside it the CPU seconds the server and this process spent on it: on a
   machine shared with other work the wall time is an upper bound, the server's CPU / 2 what 2 idle cores need.
3. The peer: every raw sample exported by `/api/v1/export` (streamed, one series a line, one series in memory at a
   time), averaged per 5-minute window (t-5m, t] and the zero windows (outages) dropped as the report does, its
   30-day 95th percentile by `numpy.percentile` (linear, PromQL's rule), over the contracted rate; compared with
   the report's p95_30d: how many of the link directions agree within 0.5 %, and the largest relative difference.

Measured 2026-11-30, 2 cores, nice 19, seed 2026, 35 days, 4 queries in flight, on a machine shared with other
sessions' test suites (load average 6-15 on the 2 cores during the small run, 2-12 during the city's), so the wall
times are upper bounds; the server's CPU seconds are not:
- small (241 uplinks, 4,857,600 points): backfill 26.3 s; report 6.3 s (VictoriaMetrics 2.0 s CPU, this process
  1.0 s), 6 upgrades (the 3 saturating links already over 90 %, the 3 fast-growing ones 17.8-20.1 days from it);
  numpy agrees on 482 of 482 link directions (largest relative difference 3e-16) in 8.9 s; peak RSS 207 MB.
  The raw-points report it replaces took 18.1 s and 854 MB.
- city (4,235 uplinks, 85,357,872 points, 2 GB of JSON lines), run twice: backfill 311 s / 168 s; report 37.7 s
  wall under load average ~12 (my own test run beside it) / 20.9 s under load average ~2-4, VictoriaMetrics 31.9 /
  33.3 s CPU, this process 5.6 s (mostly the 8,470 Theil-Sen fits); 6 upgrades (3 already over 90 %, 3 reaching it
  in 17.6-20.4 days, nothing else); numpy agrees on 8,470 of 8,470 link directions (largest relative difference
  4e-16) in 77.8 / 64.3 s; VictoriaMetrics 566 MB RSS, 307 MB on disk; this process' peak RSS 360 MB.
- city, a third run on a quiet machine (load average 0.2 at its start, nothing else running): backfill 156.6 s;
  report 17.4 s (VictoriaMetrics 28.1 s CPU, this process 4.6 s); numpy 55.8 s, 8,470 of 8,470 agree (3.3e-16);
  peak RSS 391 MB. Last line: links=4235 points=85357872 backfill_s=156.6 report_s=17.4 peak_rss_mb=391

Last line: `links=… points=… backfill_s=… report_s=… peak_rss_mb=…` (points: the samples written, both
directions; peak_rss_mb: this process; VictoriaMetrics' own is printed above it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import shutil
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx
import numpy
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inventory.model import Link  # noqa: E402
from lab.city import generate_city  # noqa: E402
from lab.history import backfill, grid, link_histories, summary  # noqa: E402
from tests.sinks.servers import start_victoria_metrics  # noqa: E402
from yiwang.capacity.history import PromHistory  # noqa: E402
from yiwang.capacity.links import DAY_S, MONTH_DAYS, LinkReport, upgrade_rows, upgrades  # noqa: E402
from yiwang.capacity.service import link_reports  # noqa: E402

TOLERANCE = 0.005
STEP_MS = 300_000


def peer_p95(url: str, capacity: dict[tuple[str, str], float], now: float
             ) -> tuple[dict[tuple[str, str, str], float], int]:
    """({(device, interface, direction): 30-day p95 of the non-zero 5-minute means / contracted rate}, series seen
    twice). The export is read line by line: one series' arrays at a time."""
    found: dict[tuple[str, str, str], float] = {}
    twice = 0
    start_ms, end_ms = (now - MONTH_DAYS * DAY_S) * 1000, now * 1000
    query = urllib.parse.urlencode({"match[]": '{__name__=~"interface_(in|out)_bps"}'})
    with httpx.Client(timeout=None) as client, client.stream("GET", f"{url}/api/v1/export?{query}") as answer:
        answer.raise_for_status()
        for line in answer.iter_lines():
            if not line.strip():
                continue
            one = json.loads(line)
            labels = one["metric"]
            direction = "in" if labels["__name__"] == "interface_in_bps" else "out"
            key = (labels["device"], labels["interface"], direction)
            if key in found:
                twice += 1  # the report takes the larger per window; the lab writes one series per interface
            stamps = numpy.asarray(one["timestamps"], dtype=numpy.int64)
            values = numpy.asarray(one["values"], dtype=numpy.float64)
            # A raw sample at ts belongs to the window (t-5m, t] with t = ts rounded up to the 5-minute grid.
            ends = -(-stamps // STEP_MS) * STEP_MS
            inside = (ends > start_ms) & (ends <= end_ms) & numpy.isfinite(values)
            windows, index = numpy.unique(ends[inside], return_inverse=True)
            if not len(windows) or key[:2] not in capacity:
                continue
            means = numpy.bincount(index, weights=values[inside]) / numpy.bincount(index)
            traffic = means[means > 0]
            if len(traffic):
                found[key] = float(numpy.percentile(traffic, 95)) / capacity[key[:2]]
    return found, twice


def compare(reports: list[LinkReport], plain: dict[tuple[str, str, str], float]) -> tuple[int, int, float, int]:
    """(compared, agreeing within TOLERANCE, largest relative difference, present on one side only)."""
    compared, agreeing, worst, missing = 0, 0, 0.0, 0
    for one in reports:
        for d in one.directions:
            want = plain.get((one.link.local.device, one.link.local.interface, d.direction))
            if want is None or d.p95_30d is None:
                missing += (want is None) != (d.p95_30d is None)
                continue
            compared += 1
            difference = abs(d.p95_30d - want) / want
            agreeing += difference <= TOLERANCE
            worst = max(worst, difference)
    return compared, agreeing, worst, missing


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small", choices=("small", "city"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--concurrency", type=int, default=4, help="history queries in flight")
    parser.add_argument("--keep", action="store_true", help="keep the VictoriaMetrics data directory")
    args = parser.parse_args()

    plan = generate_city(args.seed, args.profile)
    end = grid(time.time())
    histories = link_histories(plan, end, args.days)
    chosen = summary(histories)
    print(f"{args.profile} city, seed {args.seed}: {len(histories)} uplinks, {args.days} days to {end}; "
          f"saturating {len(chosen['saturating'])}, fast-growing {len(chosen['fast'])}, "
          f"with outages {len(chosen['outages'])}", flush=True)
    base = Path(tempfile.mkdtemp(prefix="capacity-city-"))
    server = start_victoria_metrics(base)
    agree = False
    try:
        done = backfill(server.url, histories, args.seed, end, args.days)
        print(f"backfill: {done.series} series, {done.points:,} points, {done.bytes / 1e6:,.0f} MB of JSON lines "
              f"in {done.seconds:.1f} s ({done.points / done.seconds:,.0f} points/s)", flush=True)

        vm = psutil.Process(server.process.pid) if server.process else None
        me = psutil.Process()
        vm_cpu, my_cpu = (cpu_s(vm) if vm else 0.0), cpu_s(me)
        started = time.monotonic()
        links: list[Link] = [h.link for h in histories]
        history = PromHistory(server.url, timeout_s=600.0)
        reports = asyncio.run(link_reports(history, links, float(end), concurrency=args.concurrency))
        chosen_upgrades = upgrades(reports, float(end))
        report_s = time.monotonic() - started
        vm_cpu, my_cpu = (cpu_s(vm) - vm_cpu if vm else math.nan), cpu_s(me) - my_cpu
        print(f"report: {len(reports)} links, {len(chosen_upgrades)} upgrades in {report_s:.1f} s "
              f"(CPU: VictoriaMetrics {vm_cpu:.1f} s, this process {my_cpu:.1f} s; {args.concurrency} queries "
              f"in flight)", flush=True)
        print("  rank link                               carrier                     contract   p95 30d  "
              "days to 90 %  proposed")
        for row in upgrade_rows(chosen_upgrades)[:10]:
            days = "already" if row["days_to_90"] == 0 else ("-" if row["days_to_90"] is None else row["days_to_90"])
            proposed = f"{row['proposed_mbps']} Mbit/s" if row["proposed_mbps"] else "beyond 10 Gbit/s"
            print(f"  #{row['rank']:<3} {row['link']:<34} {row['carrier']:<27} {row['bandwidth_mbps']:>5g} Mbit/s "
                  f"{row['p95_30d_pct']:>6.2f} %  {days!s:>12}  {proposed}")
        listed = {str(u.report.link.local) for u in chosen_upgrades}
        print(f"  chosen links listed: {listed >= set(chosen['saturating']) | set(chosen['fast'])}; "
              f"others listed: {len(listed - set(chosen['saturating']) - set(chosen['fast']))}")

        started = time.monotonic()
        capacity = {(link.local.device, link.local.interface): link.bandwidth_mbps * 1e6 for link in links}
        plain, twice = peer_p95(server.url, capacity, float(end))
        peer_s = time.monotonic() - started
        compared, agreeing, worst, missing = compare(reports, plain)
        agree = agreeing == compared and missing == 0 and twice == 0
        print(f"peer (numpy {numpy.__version__}, percentile over the exported raw points): {compared} link "
              f"directions in {peer_s:.1f} s; {agreeing} of {compared} agree within {TOLERANCE:.1%}, largest "
              f"relative difference {worst:.2e}; {missing} present on one side only, {twice} series exported "
              f"twice: {'agree' if agree else 'DISAGREE'}", flush=True)
        vm_rss = vm.memory_info().rss / 1e6 if vm else 0.0
        print(f"victoria-metrics RSS now {vm_rss:.0f} MB; data directory {_size(base) / 1e6:.0f} MB")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"links={len(histories)} points={done.points} backfill_s={done.seconds:.1f} report_s={report_s:.1f} "
          f"peak_rss_mb={peak:.0f}")
    if not agree:
        sys.exit(1)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


if __name__ == "__main__":
    main()
