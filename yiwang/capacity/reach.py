"""The carriers report's reads: each link's up and known 5-minute windows of a month, counted by the history server
in PromQL (Prometheus and VictoriaMetrics alike), the windows themselves for the links that had any down, and the
round-trip times. The rules are yiwang.capacity.carriers'; this is the thin shell that asks for the numbers.

Per group of devices (a regex of bounded length: VictoriaMetrics refuses queries over 16 KB by default):
  icmp_w   = max by (device) (max_over_time(icmp_up[5m]))                   1: some ping answered, 0: none did
  oper_w   = max by (device, interface) (min_over_time(oper_status[5m]) == bool 1)   1: up at every poll
  link_w   = (oper_w * on(device) group_left() icmp_w) or oper_w           a window with a status: 1 up, 0 down
  icmp_on  = icmp_w * on(device) group_right() (oper_w * 0 + 1)             the ping in a window with a status
and count_over_time / sum_over_time of each over a subquery of the month give `carriers.Counts`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from inventory.model import Inventory, Link
from yiwang.capacity.carriers import (
    STEP_S,
    CarrierReport,
    Counts,
    LinkAvailability,
    Month,
    Outage,
    ReachMetrics,
    carrier_reports,
    counts_of,
    interface_pattern,
    outages_of,
    pick_interface,
    window_state,
)
from yiwang.capacity.history import PromHistory, Series, _quote

REGEX_BYTES = 3000  # each query names the group three times; 3 x 3 KB and the rest stays under 16 KB
CONCURRENCY = 4
PLAIN = ReachMetrics()
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Group:
    devices: list[str]
    links: list[Link]

    def selectors(self) -> tuple[str, str]:
        devices = _quote("|".join(re.escape(device) for device in self.devices))
        interfaces = _quote(interface_pattern(link.local.interface for link in self.links))
        return f'device=~"{devices}"', f'interface=~"{interfaces}"'


def groups_of(links: Sequence[Link], budget: int = REGEX_BYTES) -> list[_Group]:
    by_device: dict[str, list[Link]] = {}
    for link in links:
        by_device.setdefault(link.local.device, []).append(link)
    found: list[_Group] = []
    size = budget + 1
    for device in sorted(by_device):
        cost = len(re.escape(device)) + 1
        if size + cost > budget:
            found.append(_Group([], []))
            size = 0
        found[-1].devices.append(device)
        found[-1].links.extend(by_device[device])
        size += cost
    return found


@dataclass(frozen=True, slots=True)
class _Exprs:
    icmp_w: str
    oper_w: str
    link_w: str
    icmp_on: str
    rtt: str


def _exprs(group: _Group, metrics: ReachMetrics) -> _Exprs:
    device, interface = group.selectors()
    icmp_w = f"max by (device) (max_over_time({metrics.icmp_up}{{{device}}}[{STEP_S}s]))"
    oper_w = (f"max by (device, interface) (min_over_time({metrics.oper_status}{{{device},{interface}}}"
              f"[{STEP_S}s]) == bool 1)")
    return _Exprs(icmp_w, oper_w, f"({oper_w} * on(device) group_left() {icmp_w}) or {oper_w}",
                  f"{icmp_w} * on(device) group_right() ({oper_w} * 0 + 1)", f"{metrics.icmp_rtt}{{{device}}}")


@dataclass
class _Found:
    """The server's answers for one group, by device or by (device, printed interface)."""

    device: dict[str, dict[str, float]]
    interface: dict[tuple[str, str], dict[str, float]]


async def _group_counts(history: PromHistory, group: _Group, month: Month, metrics: ReachMetrics,
                        limit: asyncio.Semaphore) -> _Found:
    e = _exprs(group, metrics)
    # One second short of the month: the subquery's 5-minute marks are then exactly the month's window ends,
    # whichever edge rule the server keeps.
    span = f"{int(month.end_s - month.start_s) - 1}s"
    sub = f"[{span}:{STEP_S}s]"
    by_device = {"icmp": f"count_over_time(({e.icmp_w}){sub})", "icmp_up": f"sum_over_time(({e.icmp_w}){sub})",
                 "rtt_sum": f"sum by (device) (sum_over_time({e.rtt}[{span}]))",
                 "rtt_count": f"sum by (device) (count_over_time({e.rtt}[{span}]))",
                 "rtt_p95": f"max by (device) (quantile_over_time(0.95, {e.rtt}[{span}]))"}
    by_interface = {"oper": f"count_over_time(({e.link_w}){sub})", "oper_link_up": f"sum_over_time(({e.link_w}){sub})",
                    "both": f"count_over_time(({e.icmp_on}){sub})",
                    "both_icmp_up": f"sum_over_time(({e.icmp_on}){sub})"}

    async def ask(expr: str) -> list[Series]:
        async with limit:
            return await history.query(expr, month.end_s)

    names = [*by_device, *by_interface]
    answers = await asyncio.gather(*(ask(expr) for expr in [*by_device.values(), *by_interface.values()]))
    found = _Found({}, {})
    for name, answer in zip(names, answers, strict=True):
        for series in answer:
            if not series.points:
                continue
            value = series.points[-1][1]
            device = series.labels.get("device", "")
            if name in by_device:
                found.device.setdefault(device, {})[name] = value
            else:
                found.interface.setdefault((device, series.labels.get("interface", "")), {})[name] = value
    return found


async def _group_windows(history: PromHistory, group: _Group, month: Month, metrics: ReachMetrics,
                         limit: asyncio.Semaphore) -> tuple[list[Series], list[Series]]:
    e = _exprs(group, metrics)
    async with limit:
        icmp = await history.query_range(e.icmp_w, month.start_s + STEP_S, month.end_s, STEP_S)
        oper = await history.query_range(e.oper_w, month.start_s + STEP_S, month.end_s, STEP_S)
    return icmp, oper


async def link_availability(history: PromHistory, links: Sequence[Link], month: Month,
                            metrics: ReachMetrics = PLAIN
                            ) -> tuple[list[LinkAvailability], dict[str, tuple[float, float]]]:
    """(one LinkAvailability per link in the order given, {device: (RTT seconds summed, samples)}); raises
    `HistoryError` when the history cannot be read."""
    limit = asyncio.Semaphore(CONCURRENCY)
    groups = groups_of(links)
    answers = await _gather(_group_counts(history, g, month, metrics, limit) for g in groups)
    device: dict[str, dict[str, float]] = {}
    interface: dict[tuple[str, str], dict[str, float]] = {}
    for answer in answers:
        device |= answer.device
        interface |= answer.interface
    printed: dict[str, list[str]] = {}
    for dev, name in interface:
        printed.setdefault(dev, []).append(name)
    chosen: dict[Link, str | None] = {}
    counted: dict[Link, tuple[int, int]] = {}
    for link in links:
        dev = link.local.device
        weights = {name: interface[(dev, name)].get("oper", 0.0) for name in printed.get(dev, [])}
        picked = chosen[link] = pick_interface(printed.get(dev, []), link.local.interface, weights)
        ping = device.get(dev, {})
        status = interface.get((dev, picked), {}) if picked is not None else {}
        counted[link] = counts_of(Counts(ping.get("icmp", 0), ping.get("icmp_up", 0), status.get("oper", 0),
                                         status.get("oper_link_up", 0), status.get("both", 0),
                                         status.get("both_icmp_up", 0)))
    below = [link for link in links if counted[link][1] < counted[link][0]]
    outages = await _outages(history, below, chosen, month, metrics, limit)
    found = []
    for link in links:
        known, up = counted[link]
        ping = device.get(link.local.device, {})
        count = ping.get("rtt_count", 0.0)
        p95 = ping.get("rtt_p95")
        found.append(LinkAvailability(link, month.windows, known, up, tuple(outages.get(link, ())),
                                      ping.get("rtt_sum", 0.0) / count * 1000 if count else None,
                                      p95 * 1000 if p95 is not None else None))
    rtt = {dev: (values.get("rtt_sum", 0.0), values.get("rtt_count", 0.0)) for dev, values in device.items()}
    return found, rtt


async def _outages(history: PromHistory, links: Sequence[Link], chosen: dict[Link, str | None], month: Month,
                   metrics: ReachMetrics, limit: asyncio.Semaphore) -> dict[Link, list[Outage]]:
    groups = groups_of(links)
    answers = await _gather(_group_windows(history, g, month, metrics, limit) for g in groups)
    icmp: dict[str, dict[float, float]] = {}
    oper: dict[tuple[str, str], dict[float, float]] = {}
    for icmp_series, oper_series in answers:
        for series in icmp_series:
            icmp[series.labels.get("device", "")] = dict(series.points)
        for series in oper_series:
            oper[(series.labels.get("device", ""), series.labels.get("interface", ""))] = dict(series.points)
    ends = month.window_ends()
    found = {}
    for link in links:
        ping = icmp.get(link.local.device, {})
        name = chosen.get(link)
        status = oper.get((link.local.device, name), {}) if name is not None else {}
        found[link] = outages_of([(at, window_state(ping.get(at), status.get(at))) for at in ends])
    return found


async def _gather(jobs: Iterable[Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*jobs))


async def carriers_report(history: PromHistory, inventory: Inventory, links: Sequence[Link], month: Month,
                          metrics: ReachMetrics = PLAIN) -> list[CarrierReport]:
    found, rtt = await link_availability(history, links, month, metrics)
    return carrier_reports(inventory.carriers, found, rtt)
