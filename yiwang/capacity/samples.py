"""The link reports as samples, so that Prometheus, InfluxDB, Grafana and the alert rules see them like any polled
value: `yiwang run` computes them every `capacity.samples_interval_s` (an hour by default: a 30-day p95 and a trend
through daily p95s move slowly) and they flow through the pipeline (latest store, sinks, alerts) as the compliance
samples do. One measurement, `link`, per uplink's lower end (`device`, `interface`), `direction`, `carrier` and the
served area's path (province ... village):

- `p95_ratio` with `window` "7d" | "30d": the 95th percentile of 5-minute utilisation against the contracted rate
  (a ratio, 0.95 = 95 %). Prometheus: `yiwang_link_p95_ratio{window="7d",...}`; the influx sink: `link_p95_ratio`.
- `days_to_saturation` with `threshold` "90" | "70": days until the trend crosses that % of the contract, 0 when
  the 7-day p95 is at or over it already. Prometheus: `yiwang_link_days_to_saturation{threshold="90",...}`.

A direction whose trend never crosses (flat or falling, too few days, beyond links.HORIZON_DAYS) has NO
days_to_saturation sample rather than a large sentinel: a sentinel would be charted and averaged as if it were a
forecast (one 1e9 flattens every panel it is on, and `avg()` over a county becomes meaningless), the influx line
protocol cannot carry +Inf, and "absent" is how PromQL already says "no value" (`< 30` simply does not match).
The p95 samples of the same link show that it was computed. A link without a contracted rate has no samples.

A history that cannot be read (down, or answering errors) is logged once when it goes and once when it returns,
and the previous samples stay: a forecast does not change in an hour, and dropping them would resolve the forecast
alert only to raise it again when the database is back.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence

from collectors.base import PollResult, PollTarget
from collectors.model import Sample
from inventory.model import Inventory
from yiwang.capacity.history import HistoryError, PromHistory
from yiwang.capacity.links import LinkReport
from yiwang.capacity.service import link_reports, links_in, metrics_of
from yiwang.config import CapacitySettings

log = logging.getLogger("yiwang.capacity")

MEASUREMENT = "link"
WINDOWS = ("7d", "30d")
THRESHOLDS = ("90", "70")


def link_samples(inventory: Inventory, reports: Iterable[LinkReport], now_s: float, time_ns: int) -> list[Sample]:
    found = []
    for report in reports:
        if report.problem:
            continue
        link = report.link
        base = {**(inventory.path_labels(link.area) if link.area in inventory.areas else {}),
                "device": link.local.device, "interface": link.local.interface, "carrier": link.carrier}
        for direction in report.directions:
            for window, p95 in zip(WINDOWS, (direction.p95_7d, direction.p95_30d), strict=True):
                if p95 is not None:
                    found.append(_sample(base, {"direction": direction.direction, "window": window},
                                         "p95_ratio", p95, time_ns))
            for threshold, crossing in zip(THRESHOLDS, (direction.cross_full, direction.cross_warn), strict=True):
                days = crossing.days_from(now_s)
                if math.isfinite(days):
                    found.append(_sample(base, {"direction": direction.direction, "threshold": threshold},
                                         "days_to_saturation", round(days, 3), time_ns))
    return found


def _sample(base: dict[str, str], more: dict[str, str], field: str, value: float, time_ns: int) -> Sample:
    return Sample(MEASUREMENT, tuple(sorted({**base, **more}.items())), {field: float(value)}, time_ns)


class CapacityCollector:
    """A periodic source of `link` samples from the metric history; its results belong to no device ("")."""

    name = "capacity"

    def __init__(self, inventory: Inventory, settings: CapacitySettings, history: PromHistory,
                 clock: Callable[[], float] = time.time) -> None:
        self.inventory = inventory
        self.history = history
        self.metrics = metrics_of(settings)
        self.clock = clock
        self.down: str | None = None  # the reason last logged while the history cannot be read

    async def collect(self, targets: Sequence[PollTarget]) -> AsyncIterator[PollResult]:
        now = self.clock()
        try:
            reports = await link_reports(self.history, links_in(self.inventory, None), now, self.metrics)
        except HistoryError as exc:
            if self.down is None:
                log.warning("capacity samples: %s; the previous ones stay until it answers", exc)
            self.down = str(exc)
            return
        if self.down is not None:
            log.warning("capacity samples: metric history %s answers again", self.history.url)
            self.down = None
        yield PollResult("", self.name, link_samples(self.inventory, reports, now, int(now * 1e9)), True)

    async def close(self) -> None:
        return None
