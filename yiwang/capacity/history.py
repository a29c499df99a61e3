"""Metric history over the Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`), which Prometheus and
VictoriaMetrics both answer, so an operator with either gets capacity reports.

What yiwang writes for interface traffic: the SNMP poller's `interface` measurement has the rate fields `in_bps` and
`out_bps` (collectors/snmp/profiles/if-mib.yaml, bit/s from ifHC*Octets), labelled `device`, `interface` (ifName)
and `if_index` plus the area labels. A VictoriaMetrics fed through the InfluxDB line protocol sink stores them as
`interface_in_bps` / `interface_out_bps` (measurement_field); a Prometheus that scrapes yiwang's own /metrics sees
them as `yiwang_interface_in_bps` (the exposition's prefix): `TrafficMetrics.prefixed("yiwang_")`.

The capacity reports ask for aggregates, not points (`link_summaries`): a month of a city's 5-minute points is
85 M values, minutes and gigabytes as JSON; its 95th percentiles, peaks, counts and daily 95th percentiles are 30
numbers a series, computed by the server (`quantile_over_time` over a subquery of 5-minute means), the independent
queries a few at a time so that a server's cores are all used. `link_traffic` still reads the points, for charts.

A database that is down or answers an error is a `HistoryError` naming the URL and the reason, never a traceback.
"""

from __future__ import annotations

import asyncio
import math
import re
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx

from collectors.ifname import same_interface
from inventory.model import Endpoint
from yiwang.capacity.links import DAY_S, MONTH_DAYS, P95, WEEK_DAYS, Day, Summary

Point = tuple[float, float]  # (unix seconds, value)
STEP_S = 300.0
# Prometheus refuses a range query of more than 11,000 points per series; ask for less and join the pieces.
MAX_STEPS = 10_000
DEVICES_PER_QUERY = 200  # keeps one regex (and one answer) small on a city's thousands of uplinks
DIRECTIONS = ("in", "out")
DAY_TAG = 1000  # see summary_queries
CONCURRENT_QUERIES = 4  # a few queries in flight keep a 2-core server busy without queueing the rest behind them


class HistoryError(RuntimeError):
    """The history could not be read: `url` and `reason` say where and why (no secrets: a URL with a password in it
    is shown without it)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = _without_password(url)
        self.reason = reason
        super().__init__(f"metric history {self.url}: {reason}")


@dataclass(frozen=True, slots=True)
class Series:
    labels: Mapping[str, str]
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class TrafficMetrics:
    in_bps: str = "interface_in_bps"
    out_bps: str = "interface_out_bps"

    @classmethod
    def prefixed(cls, prefix: str) -> TrafficMetrics:
        plain = cls()
        return cls(prefix + plain.in_bps, prefix + plain.out_bps)

    def name(self, direction: str) -> str:
        return self.in_bps if direction == "in" else self.out_bps


@dataclass
class PromHistory:
    """A client of one Prometheus-compatible query endpoint (`url` without `/api/v1`)."""

    url: str
    timeout_s: float = 30.0
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")

    async def query(self, expr: str, at_s: float | None = None) -> list[Series]:
        form = {"query": expr, **_EXACT} | ({"time": _stamp(at_s)} if at_s is not None else {})
        async with self._client() as client:
            return _series(await self._post(client, "/api/v1/query", form))

    async def query_range(self, expr: str, start_s: float, end_s: float, step_s: float = STEP_S) -> list[Series]:
        """Every series of `expr` at start, start+step, ... <= end; long ranges are asked in pieces."""
        joined: dict[tuple[tuple[str, str], ...], list[Point]] = {}
        labels: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}
        async with self._client() as client:
            for piece_start, piece_end in _pieces(start_s, end_s, step_s):
                form = {"query": expr, "start": _stamp(piece_start), "end": _stamp(piece_end),
                        "step": _stamp(step_s), **_EXACT}
                for series in _series(await self._post(client, "/api/v1/query_range", form)):
                    key = tuple(sorted(series.labels.items()))
                    labels[key] = series.labels
                    joined.setdefault(key, []).extend(series.points)
        return [Series(labels[key], tuple(sorted(points))) for key, points in joined.items()]

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout_s, headers=dict(self.headers), verify=self._tls)

    @cached_property
    def _tls(self) -> ssl.SSLContext:
        # Built once: loading the system's CA certificates takes ~0.1 s of CPU, and a report asks hundreds of
        # queries, each with a client of its own (a client is bound to one event loop).
        return httpx.create_ssl_context()

    async def _post(self, client: httpx.AsyncClient, path: str, form: Mapping[str, str]) -> Any:
        # POST with a form body: both servers take it, and a regex over hundreds of devices outgrows a URL.
        try:
            response = await client.post(self.url + path, data=dict(form))
        except httpx.TimeoutException:
            raise HistoryError(self.url, f"no answer within {self.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise HistoryError(self.url, f"cannot connect ({type(exc).__name__}: {exc or 'no detail'})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise HistoryError(self.url, f"HTTP {response.status_code} and not a Prometheus API answer "
                                         f"({_snippet(response.text)}); is this a Prometheus or VictoriaMetrics?")
        if body.get("status") != "success":
            what = body.get("errorType") or f"HTTP {response.status_code}"
            raise HistoryError(self.url, f"{what}: {_snippet(str(body.get('error', '')))}")
        return body.get("data")


async def link_traffic(history: PromHistory, ends: Sequence[Endpoint], start_s: float, end_s: float,
                       metrics: TrafficMetrics = TrafficMetrics()) -> dict[tuple[Endpoint, str], list[Point]]:
    """{(end, "in"|"out"): 5-minute points (t, mean bit/s over (t-5m, t])} for each interface end, t on a 5-minute
    grid from start to end (both rounded down to it, so Prometheus and VictoriaMetrics answer for the same t).

    Raw samples are averaged per window by the server (avg_over_time); a window without a raw sample gives no point,
    so a monitoring gap stays a gap. Interfaces are matched to the `interface` label as the devices print them
    (collectors.ifname). Several series of one interface (ifIndex renumbered after a reboot) are joined, the larger
    value kept where both have one."""
    start, end = grid(start_s), grid(end_s)
    found: dict[tuple[Endpoint, str], dict[float, float]] = {}
    devices = sorted({end.device for end in ends})
    by_device: dict[str, list[Endpoint]] = {}
    for wanted in ends:
        by_device.setdefault(wanted.device, []).append(wanted)
    for first in range(0, len(devices), DEVICES_PER_QUERY):
        group = devices[first:first + DEVICES_PER_QUERY]
        selector = f'device=~"{_quote("|".join(re.escape(device) for device in group))}"'
        for direction in DIRECTIONS:
            expr = f"avg_over_time({metrics.name(direction)}{{{selector}}}[{int(STEP_S)}s])"
            for series in await history.query_range(expr, start, end, STEP_S):
                for wanted in _matching(series.labels, by_device):
                    points = found.setdefault((wanted, direction), {})
                    for at, value in series.points:
                        points[at] = max(value, points.get(at, value))
    return {key: sorted(points.items()) for key, points in found.items()}


async def link_summaries(history: PromHistory, ends: Sequence[Endpoint], now_s: float,
                         metrics: TrafficMetrics = TrafficMetrics(),
                         concurrency: int = CONCURRENT_QUERIES) -> dict[tuple[Endpoint, str], Summary]:
    """{(end, "in"|"out"): the last 30 days' figures} for each interface end that has any, aggregated by the server
    over the 5-minute means of `link_traffic` (the same windows, the same max over several series of one interface),
    at `now_s` rounded down to the 5-minute grid (see `summary_queries` for why). Devices are asked
    DEVICES_PER_QUERY at a time, `concurrency` queries in flight."""
    now = grid(now_s)
    by_device: dict[str, list[Endpoint]] = {}
    for wanted in ends:
        by_device.setdefault(wanted.device, []).append(wanted)
    devices = sorted(by_device)
    gate = asyncio.Semaphore(max(1, concurrency))
    figures: dict[tuple[Endpoint, str], dict[str, Any]] = {}

    async def ask(direction: str, figure: str, expr: str) -> None:
        async with gate:
            if figure.startswith("day_"):
                answer = await history.query_range(expr, now - (MONTH_DAYS - 1) * DAY_S, now, DAY_S)
            else:
                answer = await history.query(expr, now)
        for series in answer:
            for wanted in _matching(series.labels, by_device):
                found = figures.setdefault((wanted, direction), {})
                if figure.startswith("day_"):
                    days = found.setdefault(figure, {})
                    for at, value in series.points:
                        age = round((now - at) / DAY_S)
                        days[age] = max(value, days.get(age, value))
                elif series.points:
                    value = series.points[-1][1]
                    found[figure] = max(value, found.get(figure, value))

    jobs = []
    for first in range(0, len(devices), DEVICES_PER_QUERY):
        group = devices[first:first + DEVICES_PER_QUERY]
        selector = f'device=~"{_quote("|".join(re.escape(device) for device in group))}"'
        for direction in DIRECTIONS:
            for figure, expr in summary_queries(f"{metrics.name(direction)}{{{selector}}}").items():
                jobs.append(ask(direction, figure, expr))
    await _all(jobs)
    return {key: _summary(found) for key, found in figures.items()}


def summary_queries(selector: str) -> dict[str, str]:
    """PromQL for each figure of `links.Summary`, over the series `selector` picks; instant queries at now, or
    (day_*) a range query with a 1-day step, each day's value at its end.

    The 5-minute means are a subquery with a 5-minute resolution, whose points both servers put on multiples of 5
    minutes since the epoch: with `now` on that grid they are now, now - 5m, ... Its range is a second short of the
    whole days because Prometheus (2.x) includes a point at the range's start and VictoriaMetrics does not; so both
    answer for (now - 30d, now], exactly the 8,640 windows of `link_traffic`, and the days tile the month.

    Each query reads the month's raw samples again, and that reading is most of a query's cost: so the counts ride
    on one query, `day_windows`: each window with a mean adds DAY_TAG, and 1 more when it carries traffic, so a
    day's sum is DAY_TAG x windows + points (both at most 288 < DAY_TAG); the windows without traffic are the
    outages (`_summary`), and the month's counts are the days' sums."""
    means = f"max by (device, interface) (avg_over_time({selector}[{int(STEP_S)}s]))"
    traffic = f"({means} > 0)"

    def window(days: int) -> str:
        return f"[{days * int(DAY_S) - 1}s:{int(STEP_S)}s]"

    return {"p95_30d": f"quantile_over_time({P95}, {traffic}{window(MONTH_DAYS)})",
            "p95_7d": f"quantile_over_time({P95}, {traffic}{window(WEEK_DAYS)})",
            "peak_30d": f"max_over_time({traffic}{window(MONTH_DAYS)})",
            "day_p95": f"quantile_over_time({P95}, {traffic}{window(1)})",
            "day_windows": f"sum_over_time(({DAY_TAG} + ({means} > bool 0)){window(1)})"}


def _summary(found: Mapping[str, Any]) -> Summary:
    windows, points = {}, {}
    for age, tagged in found.get("day_windows", {}).items():
        windows[age], points[age] = divmod(round(tagged), DAY_TAG)
    p95s = found.get("day_p95", {})
    days = tuple(Day(age, p95s[age], points[age]) for age in sorted(p95s) if age in points)
    return Summary(sum(points.values()), sum(windows.values()) - sum(points.values()), found.get("p95_7d"),
                   found.get("p95_30d"), found.get("peak_30d"), days)


async def _all(jobs: Sequence[Any]) -> None:
    """Runs every job; the first failure (a HistoryError) is raised once the others have stopped."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _matching(labels: Mapping[str, str], by_device: Mapping[str, list[Endpoint]]) -> Iterable[Endpoint]:
    interface = labels.get("interface", "")
    for wanted in by_device.get(labels.get("device", ""), ()):
        if same_interface(interface, wanted.interface) or same_interface(wanted.interface, interface):
            yield wanted


def _series(data: Any) -> list[Series]:
    if not isinstance(data, dict):
        return []
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list):
        return [Series({}, _points([result]))]
    if not isinstance(result, list):
        return []
    found = []
    for item in result:
        raw = item.get("values") if kind == "matrix" else [item.get("value")]
        metric = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        found.append(Series(metric, _points(raw or [])))
    return found


def _points(raw: Iterable[Any]) -> tuple[Point, ...]:
    points = []
    for pair in raw:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            value = float(pair[1])  # "NaN", "+Inf" arrive as strings; a NaN or an infinity is no measurement
            if math.isfinite(value):
                points.append((float(pair[0]), value))
    return tuple(points)


def _pieces(start_s: float, end_s: float, step_s: float) -> list[tuple[float, float]]:
    pieces = []
    at = start_s
    while at <= end_s:
        last = min(end_s, at + (MAX_STEPS - 1) * step_s)
        pieces.append((at, last))
        at = last + step_s
    return pieces


# VictoriaMetrics would otherwise move the times yiwang chose: a range's start and end rounded to its step (from 50
# points up), an instant query less than -search.latencyOffset old moved back. Prometheus ignores the parameter.
_EXACT = {"nocache": "1"}


def grid(at_s: float) -> float:
    """`at_s` rounded down to the 5-minute grid the servers put their subquery points on."""
    return math.floor(at_s / STEP_S) * STEP_S


def _stamp(value: float) -> str:
    return f"{value:.3f}"


def _quote(text: str) -> str:
    """A PromQL double-quoted string's content (Go escapes)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _without_password(url: str) -> str:
    return re.sub(r"//([^/@:]*):[^/@]*@", r"//\1:***@", url)
