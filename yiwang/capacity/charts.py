"""The report's chart series: per link end and direction, the last 30 days hour by hour, read in one coarse query
per group of devices (720 points a series instead of the 8,640 five-minute points the figures come from).

Each hourly point is the highest 5-minute mean of that hour (`max_over_time(avg_over_time(m[5m])[1h:5m])`): the
same 5-minute means the 95th percentiles and the 70 % / 90 % lines are about, so a chart whose line touches 90 %
shows a 5-minute window that did; an hourly mean would flatten the peaks that fill a link and hide them."""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Sequence

from collectors.ifname import same_interface
from inventory.model import Endpoint
from yiwang.capacity.history import DEVICES_PER_QUERY, DIRECTIONS, PromHistory, TrafficMetrics

HOUR_S = 3600.0
HOURS = 30 * 24  # points per chart, oldest first

Hourly = dict[tuple[Endpoint, str], "array[float]"]  # (end, "in"|"out") -> HOURS values in bit/s, NaN: no data


def chart_end(now_s: float) -> float:
    """The newest hourly point: the last full hour before `now`."""
    return math.floor(now_s / HOUR_S) * HOUR_S


async def hourly_peaks(history: PromHistory, ends: Sequence[Endpoint], now_s: float,
                            metrics: TrafficMetrics | None = None) -> Hourly:
    """{(end, direction): HOURS hourly peaks, point i at chart_end(now) - (HOURS - 1 - i) h}; an end without any
    data is absent. Raises `HistoryError` when the history cannot be read."""
    metrics = metrics or TrafficMetrics()
    end = chart_end(now_s)
    start = end - (HOURS - 1) * HOUR_S
    by_device: dict[str, list[Endpoint]] = {}
    for wanted in ends:
        by_device.setdefault(wanted.device, []).append(wanted)
    devices = sorted(by_device)
    found: Hourly = {}
    for first in range(0, len(devices), DEVICES_PER_QUERY):
        names = "|".join(re.escape(device) for device in devices[first:first + DEVICES_PER_QUERY])
        selector = f'device=~"{_quoted(names)}"'
        for direction in DIRECTIONS:
            expr = f"max_over_time(avg_over_time({metrics.name(direction)}{{{selector}}}[5m])[1h:5m])"
            for series in await history.query_range(expr, start, end, HOUR_S):
                interface = series.labels.get("interface", "")
                for wanted in by_device.get(series.labels.get("device", ""), ()):
                    if not (same_interface(interface, wanted.interface)
                            or same_interface(wanted.interface, interface)):
                        continue
                    values = found.setdefault((wanted, direction), array("d", [math.nan]) * HOURS)
                    for at, bps in series.points:
                        index = round((at - start) / HOUR_S)
                        if 0 <= index < HOURS:
                            # one interface seen under two ifIndexes (renumbered after a reboot): the larger
                            values[index] = bps if math.isnan(values[index]) else max(values[index], bps)
    return found


def _quoted(text: str) -> str:
    """A PromQL double-quoted string's content."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
