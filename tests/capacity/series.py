"""Synthetic 5-minute traffic for the capacity tests: every point is (t, bit/s) on the 5-minute grid that ends at
NOW, point i at NOW - i x 300 s (i = 0 is the newest), 8,640 points = 30 days."""

from __future__ import annotations

import math
from collections.abc import Callable

from yiwang.capacity.links import Point

NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC, on the 5-minute grid
PER_DAY = 288
MONTH = 30 * PER_DAY


def series(ratio_at: Callable[[int], float | None], mbps: float, count: int = MONTH) -> list[Point]:
    """`ratio_at(i)` is point i's utilisation (None: no point, a monitoring gap)."""
    found = []
    for i in range(count):
        ratio = ratio_at(i)
        if ratio is not None:
            found.append((NOW - i * 300.0, ratio * mbps * 1e6))
    return sorted(found)


def step(i: int) -> float:
    """A burst: the newest 300 points (25 h) at 95 %, the month before at 30 %."""
    return 0.95 if i < 300 else 0.30


def ramp(i: int) -> float:
    """Growth of one point of utilisation a day, 50 % now: point i is i/288 days old."""
    return 0.50 - 0.01 * i / PER_DAY


SINE_C = math.cos(2 * math.pi * 7 / PER_DAY)  # see sine_with_outages
# A whole day's 95th percentile of 0.1 sin(2 pi j/288), j = 0..287, by PromQL's rule: rank 0.95 x 287 = 272.65 from
# 0 in ascending order, i.e. between the 16th and the 15th largest (0-based 15 and 14 from the top). From the top the
# sine's values are j = 72 (its peak), then pairs 72 +- 1, 72 +- 2, ...: the pair 72 +- d sits at 2d - 1 and 2d, so
# 14 is d = 7 and 15 is d = 8, and sin(2 pi (72 +- d)/288) = cos(2 pi d/288). Linear between them: 0.35 of the
# lower (d = 8) and 0.65 of the higher (d = 7).
SINE_P95 = 0.35 * math.cos(2 * math.pi * 8 / PER_DAY) + 0.65 * SINE_C


def sine_with_outages(i: int) -> float | None:
    """Day k (points 288k .. 288k+287) is 0.59 - 0.01 k + 0.1 sin(2 pi i / 288): a diurnal swing on a level that grows
    a point a day, stepwise. Day 10 is missing (a monitoring gap); day 12 has only 100 points (too few to count); on
    day 15 the link is down for the 12 hours of the peak (zero traffic: the points with sin > 0)."""
    day, j = divmod(i, PER_DAY)
    if day == 10 or (day == 12 and j >= 100):
        return None
    wave = math.sin(2 * math.pi * i / PER_DAY)
    if day == 15 and 0 < j < 144:
        return 0.0
    return 0.59 - 0.01 * day + 0.1 * wave
