"""The overview's carriers panel (运营商 SLA): the month in progress as `yiwang capacity carriers` computes it (the
same reach queries, the same rows), recomputed on a timer by `yiwang run` and kept in memory, so the page's
panels never query the history on request.

A month's availability moves by minutes a day; recomputing every `capacity.samples_interval_s` (an hour by default)
costs a few dozen aggregate queries for a city. A history that cannot be read keeps the last figures, with the
problem beside them (logged once when it goes and once when it returns).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from inventory.model import Inventory
from yiwang.capacity.carriers import ReachMetrics, carrier_row, month_of
from yiwang.capacity.history import HistoryError, PromHistory
from yiwang.capacity.reach import carriers_report
from yiwang.capacity.service import links_in
from yiwang.config import CapacitySettings
from yiwang.overview_feed import NO_CARRIERS

log = logging.getLogger("yiwang.capacity")


class CarrierSlas:
    """Holds the last carriers panel: {month, computed_at, carriers: [carrier_row ...], problem}."""

    def __init__(self, inventory: Inventory, settings: CapacitySettings, history: PromHistory,
                 clock: Callable[[], float] = time.time) -> None:
        self.inventory = inventory
        self.history = history
        self.metrics = ReachMetrics.prefixed(settings.metric_prefix)
        self.clock = clock
        self.panel: dict[str, Any] = dict(NO_CARRIERS)

    async def refresh(self, then: Callable[[], Awaitable[object]] | None = None) -> None:
        """Recomputes the panel; `then` (the overview feed's refresh) sends it to the pages at once rather than
        with the next poll cycle."""
        now = self.clock()
        try:
            month = month_of(None, now)
            reports = await carriers_report(self.history, self.inventory, links_in(self.inventory, None), month,
                                            self.metrics)
        except (HistoryError, ValueError) as exc:  # ValueError: a month's first 5 minutes have no window yet
            if self.panel["problem"] is None:
                log.warning("carriers panel: %s; the last figures stay", exc)
            self.panel = {**self.panel, "problem": str(exc)}
        else:
            if self.panel["problem"] is not None:
                log.warning("carriers panel: computed again")
            self.panel = {"month": month.label, "computed_at": datetime.fromtimestamp(now, UTC).isoformat(),
                          "carriers": [carrier_row(r) for r in reports], "problem": None}
        if then is not None:
            await then()
