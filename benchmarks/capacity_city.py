"""The capacity report over the whole city's uplink history, beside the same 95th percentiles computed plainly.

Run: nice -n 19 .venv/bin/python benchmarks/capacity_city.py [--profile small|city] [--days 35] [--chunk 500]

1. A VictoriaMetrics of its own (Debian's /usr/bin/victoria-metrics, a temporary storage directory, loopback,
   -retentionPeriod=100y so 35 days back are kept), filled by `lab.history.backfill` with every uplink's 5-minute
   history, both directions (`yiwang lab history`'s path): timed as backfill_s (drawing the points in Python and
   VictoriaMetrics storing them, overlapped).
2. The upgrade list through yiwang's code: `yiwang.capacity.history.link_traffic` over the Prometheus query API
   (avg_over_time per 5-minute window), `links.link_report` per link, `links.upgrades`: timed as report_s. Asked
   `--chunk` links at a time and the points dropped after each chunk's reports: `yiwang capacity links` asks for
   every link at once, and on the city that is 73 M points held as Python tuples (several GB) before the first
   report; the chunked run measures the same code without that.
3. The peer: every raw sample exported by `/api/v1/export` (streamed, one series a line), each series' 30-day
   95th percentile by nearest rank over its non-zero points with `sorted` in plain Python (numpy is not in the
   venv), compared with the report's p95_30d: the largest relative difference must stay under 0.5 %.

Measured 2026-11-30, 2 cores, nice 19, while the lead's full test suite ran (upper bounds), seed 2026, small
profile (241 uplinks, 35 days): backfill 4,857,600 points (117 MB of JSON lines) in 13.9 s; report 18.1 s, 6
upgrades (the 3 saturating links already over 90 %, the 3 fast-growing ones reaching it 2026-12-19/20), nothing
else listed; the peer agrees exactly (largest relative difference 0 over 482 link directions, 8.0 s);
VictoriaMetrics 226 MB RSS, 18 MB on disk; this process' peak RSS 854 MB (the report's points as Python tuples,
about 200 bytes a point). The city (4,235 uplinks: 85.4 M points) not yet run:
  nice -n 19 .venv/bin/python benchmarks/capacity_city.py --profile city

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
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.city import generate_city  # noqa: E402
from lab.history import RAW_OFFSET_S, backfill, grid, link_histories, summary  # noqa: E402
from tests.sinks.servers import start_victoria_metrics  # noqa: E402
from yiwang.capacity.history import PromHistory, link_traffic  # noqa: E402
from yiwang.capacity.links import DAY_S, MONTH_DAYS, LinkReport, link_report, upgrade_rows, upgrades  # noqa: E402

TOLERANCE = 0.005


def report(url: str, links: list, now: float, chunk: int) -> list[LinkReport]:  # type: ignore[type-arg]
    history = PromHistory(url, timeout_s=600.0)
    reports: list[LinkReport] = []
    for first in range(0, len(links), chunk):
        part = links[first:first + chunk]
        traffic = asyncio.run(link_traffic(history, [link.local for link in part], now - MONTH_DAYS * DAY_S, now))
        reports.extend(link_report(link, {d: traffic.get((link.local, d), []) for d in ("in", "out")}, now)
                       for link in part)
    return reports


def peer_p95(url: str, capacity: dict[tuple[str, str], float], now: float) -> dict[tuple[str, str, str], float]:
    """{(device, interface, direction): 30-day nearest-rank p95 of the raw non-zero samples / contracted rate}."""
    found: dict[tuple[str, str, str], float] = {}
    query = urllib.parse.urlencode({"match[]": '{__name__=~"interface_(in|out)_bps"}'})
    with httpx.Client(timeout=None) as client, client.stream("GET", f"{url}/api/v1/export?{query}") as answer:
        answer.raise_for_status()
        for line in answer.iter_lines():
            if not line.strip():
                continue
            one = json.loads(line)
            labels = one["metric"]
            key = (labels["device"], labels["interface"])
            direction = "in" if labels["__name__"] == "interface_in_bps" else "out"
            # A raw sample stamped t - 150 s is the point at t (lab.history); the report's window is (now-30d, now].
            values = sorted(v for ts, v in zip(one["timestamps"], one["values"], strict=True)
                            if now - MONTH_DAYS * DAY_S < ts / 1000 + RAW_OFFSET_S <= now and v > 0)
            if values and key in capacity:
                found[(*key, direction)] = values[math.ceil(0.95 * len(values)) - 1] / capacity[key]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small", choices=("small", "city"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--chunk", type=int, default=500, help="links per link_traffic call")
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
    try:
        done = backfill(server.url, histories, args.seed, end, args.days)
        print(f"backfill: {done.series} series, {done.points:,} points, {done.bytes / 1e6:,.0f} MB of JSON lines "
              f"in {done.seconds:.1f} s ({done.points / done.seconds:,.0f} points/s)", flush=True)

        started = time.monotonic()
        links = [h.link for h in histories]
        reports = report(server.url, links, float(end), args.chunk)
        chosen_upgrades = upgrades(reports, float(end))
        report_s = time.monotonic() - started
        print(f"report: {len(reports)} links, {len(chosen_upgrades)} upgrades in {report_s:.1f} s", flush=True)
        for row in upgrade_rows(chosen_upgrades)[:10]:
            print(f"  #{row['rank']} {row['link']} {row['bandwidth_mbps']:g} Mbit/s p95 {row['p95_30d_pct']} % "
                  f"reaches 90 %: {row['reaches_90']} -> {row['proposed_mbps']} Mbit/s")
        listed = {str(u.report.link.local) for u in chosen_upgrades}
        print(f"  chosen links listed: {listed >= set(chosen['saturating']) | set(chosen['fast'])}; "
              f"others listed: {len(listed - set(chosen['saturating']) - set(chosen['fast']))}")

        started = time.monotonic()
        capacity = {(link.local.device, link.local.interface): link.bandwidth_mbps * 1e6 for link in links}
        plain = peer_p95(server.url, capacity, float(end))
        peer_s = time.monotonic() - started
        compared, worst, missing = 0, 0.0, 0
        for one in reports:
            for d in one.directions:
                want = plain.get((one.link.local.device, one.link.local.interface, d.direction))
                if want is None or d.p95_30d is None:
                    missing += (want is None) != (d.p95_30d is None)
                    continue
                compared += 1
                worst = max(worst, abs(d.p95_30d - want) / want)
        agree = worst < TOLERANCE and missing == 0
        print(f"peer (sorted, plain Python; numpy not in the venv): {compared} link directions in {peer_s:.1f} s; "
              f"largest relative difference {worst:.2e}, {missing} present on one side only: "
              f"{'agree' if agree else 'DISAGREE'} within {TOLERANCE:.1%}", flush=True)
        vm_rss = psutil.Process(server.process.pid).memory_info().rss / 1e6 if server.process else 0.0
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
