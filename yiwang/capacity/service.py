"""The capacity reports' reads, shared by the command line, the API and `yiwang run`'s samples: which links an area
holds, the history client the settings name, and each link's report from that history."""

from __future__ import annotations

from collections.abc import Sequence

from inventory.model import Inventory, Link
from yiwang.capacity.history import CONCURRENT_QUERIES, PromHistory, TrafficMetrics, grid, link_summaries
from yiwang.capacity.links import LinkReport, Summary, link_from_summaries
from yiwang.config import CapacitySettings

NO_HISTORY = "no metric history configured (capacity.history_url): 未配置指标历史库, capacity reports need one"


def history_of(settings: CapacitySettings) -> PromHistory | None:
    """The configured history, or None (the reports then say NO_HISTORY and the rest of yiwang runs on)."""
    return PromHistory(settings.history_url, settings.timeout_s) if settings.history_url else None


def metrics_of(settings: CapacitySettings) -> TrafficMetrics:
    return TrafficMetrics.prefixed(settings.metric_prefix)


def links_in(inventory: Inventory, area: str | None) -> list[Link]:
    """The inventory's links in `area`'s subtree (all with None); the caller checks that the area exists."""
    inside = inventory.subtree(area) if area is not None else None
    return [link for link in inventory.links if inside is None or link.area in inside]


async def link_reports(history: PromHistory, links: Sequence[Link], now_s: float,
                       metrics: TrafficMetrics | None = None,
                       concurrency: int = CONCURRENT_QUERIES) -> list[LinkReport]:
    """One report per link, in the order given, from the figures the history database aggregates (no raw points
    cross the wire), at `now_s` rounded down to the 5-minute grid; raises `HistoryError` when the history cannot be
    read."""
    now = grid(now_s)
    found = await link_summaries(history, [link.local for link in links], now, metrics or TrafficMetrics(),
                                 concurrency)
    return [link_from_summaries(link, {d: found.get((link.local, d), Summary()) for d in ("in", "out")}, now)
            for link in links]
