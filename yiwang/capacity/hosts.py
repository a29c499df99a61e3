"""Per-device readings from the metric history for the reports the command line prints without `yiwang run`'s
latest samples: each device's uptime (the equipment report) and each server's utilisation over the last 7 days
(the datacentre report). The server does the arithmetic (PromQL over the Prometheus HTTP API); the devices are
asked DEVICES_PER_QUERY at a time, as history.link_traffic does, so a regex and an answer stay small.

The names read are the names yiwang writes. Through the influx sink (VictoriaMetrics): SNMPv2-MIB sysUpTime is
`device_uptime_seconds` (collectors/snmp/profiles/system.yaml: measurement `device`, field `uptime_seconds`), the
CLI's uptime `ssh_device_uptime_seconds`, HOST-RESOURCES `cpu_load_percent` (per processor, label `cpu`) and
`storage_size_bytes` / `storage_used_bytes` (per hrStorage row, label `storage` = hrStorageDescr). A Prometheus
scraping /metrics has them with the `yiwang_` prefix (capacity.metric_prefix).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from yiwang.capacity.datacentre import MEMORY, Utilisation
from yiwang.capacity.history import DEVICES_PER_QUERY, PromHistory

UPTIME_WINDOW = "1h"  # an uptime older than an hour is no longer the device's uptime
UTILISATION_WINDOW = "7d"
# The CLI's uptime first: SNMP's sysUpTime is the agent's, and wraps after 497 days (equipment.uptime_of).
UPTIMES = (("ssh", "ssh_device_uptime_seconds"), ("snmp", "device_uptime_seconds"))


def device_groups(names: Iterable[str], size: int = DEVICES_PER_QUERY) -> list[str]:
    """`device=~"a|b|..."` matchers, `size` devices each, every name matched literally."""
    ordered = sorted(set(names))
    return [f'device=~"{_quote("|".join(re.escape(n) for n in ordered[i:i + size]))}"'
            for i in range(0, len(ordered), size)]


async def device_uptimes(history: PromHistory, names: Iterable[str], now_s: float,
                         prefix: str = "") -> dict[str, float]:
    """{device: its latest uptime in seconds} within the last UPTIME_WINDOW; one query per group of devices (both
    sources in it, told apart by a `from` label since *_over_time drops the metric name)."""
    found: dict[str, dict[str, float]] = {}
    for selector in device_groups(names):
        expr = " or ".join(f'label_replace(last_over_time({prefix}{metric}{{{selector}}}[{UPTIME_WINDOW}]), '
                           f'"from", "{source}", "", "")' for source, metric in UPTIMES)
        for series in await history.query(expr, now_s):
            if series.points:
                found.setdefault(series.labels.get("device", ""), {})[series.labels.get("from", "")] = \
                    series.points[-1][1]
    return {device: next(by[s] for s, _ in UPTIMES if s in by) for device, by in found.items() if device}


def utilisation_queries(selector: str, prefix: str = "") -> dict[str, str]:
    """PromQL per Utilisation field, for one group of devices. CPU: the processors' mean of each one's mean
    (`cpu_pct`) and 95th percentile (`cpu_p95_pct`) over the window. Memory: the "Physical memory" row, disk: every
    row mounted at a path (as datacentre.utilisation_from_samples reads a poll), each the mean used over the mean
    size in the window, in %."""
    window = UTILISATION_WINDOW
    cpu = f"{prefix}cpu_load_percent{{{selector}}}"

    def storage(field: str, match: str) -> str:
        return f"sum by (device) (avg_over_time({prefix}storage_{field}_bytes{{{selector},storage{match}}}[{window}]))"

    memory, disks = f'="{_quote(MEMORY)}"', '=~"/.*"'
    return {
        "cpu_pct": f"avg by (device) (avg_over_time({cpu}[{window}]))",
        "cpu_p95_pct": f"avg by (device) (quantile_over_time(0.95, {cpu}[{window}]))",
        "memory_pct": f"100 * {storage('used', memory)} / {storage('size', memory)}",
        "disk_pct": f"100 * {storage('used', disks)} / {storage('size', disks)}",
    }


async def server_utilisation(history: PromHistory, names: Sequence[str], now_s: float,
                             prefix: str = "") -> dict[str, Utilisation]:
    """{device: Utilisation over the 7 days before now_s} for the devices with any reading; raises
    history.HistoryError when the history cannot be read."""
    readings: dict[str, dict[str, float]] = {}
    for selector in device_groups(names):
        for field, expr in utilisation_queries(selector, prefix).items():
            for series in await history.query(expr, now_s):
                device = series.labels.get("device", "")
                if device and series.points:
                    readings.setdefault(device, {})[field] = series.points[-1][1]
    return {device: Utilisation(cpu_pct=r.get("cpu_pct"), memory_pct=r.get("memory_pct"),
                                disk_pct=r.get("disk_pct"), cpu_p95_pct=r.get("cpu_p95_pct"))
            for device, r in readings.items()}


def _quote(text: str) -> str:
    """A PromQL double-quoted string's content (Go escapes)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
