"""The capacity routes (the upgrade programme's reports): equipment, the uplinks' figures and upgrade list, the
cloud centre, and the printable report of an area.

Read-only and for every reader: models, versions, lifecycle dates and traffic figures are not configuration
content. The uptimes and the servers' utilisation are the running process's latest samples, which the command line
does not have. The link figures come from the metric history (`capacity.history_url`): none configured is a 409
that names the setting, a history that cannot be read a 502 with its reason.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import date, datetime
from typing import Annotated, Any, Literal, Protocol, TypeVar

from fastapi import APIRouter, HTTPException, Query, Response

from api.security import Reader
from collectors.model import Sample
from inventory.model import Inventory, Level
from yiwang.capacity import report as page
from yiwang.capacity.carriers import ReachMetrics, carrier_row, month_of, report_json
from yiwang.capacity.charts import chart_end, hourly_peaks
from yiwang.capacity.datacentre import report as datacentre_report
from yiwang.capacity.datacentre import utilisation_from_samples
from yiwang.capacity.equipment import build, csv_text, known_facts, uptimes
from yiwang.capacity.history import HistoryError, PromHistory
from yiwang.capacity.lifecycle import LifecycleFileError, load_lifecycle
from yiwang.capacity.links import CHINA, LinkReport, link_rows, plan_yaml, upgrade_rows, upgrades
from yiwang.capacity.reach import carriers_report
from yiwang.capacity.service import NO_HISTORY, history_of, link_reports, links_in, metrics_of
from yiwang.config import CapacitySettings
from yiwang.store import Store
from yiwang.versions import VersionStore

AreaId = Annotated[str | None, Query(min_length=1, max_length=200, description="an area id; its whole subtree")]


class _Latest(Protocol):
    def snapshot(self) -> list[Sample]: ...


class CapacitySources(Protocol):
    @property
    def inventory(self) -> Inventory: ...

    @property
    def latest(self) -> _Latest: ...

    @property
    def store(self) -> Store: ...


def capacity_routes(services: CapacitySources, settings: CapacitySettings) -> APIRouter:
    router = APIRouter(prefix="/api/capacity", tags=["capacity"])
    lifecycle_file = settings.lifecycle_file

    @router.get("/equipment", summary="Per county and model: devices, versions, the longest uptime, end of sale and "
                                      "end of life; the replacement list (JSON, or CSV: one row per device)",
                response_class=Response,
                responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
    def equipment(_: Reader, area: AreaId = None,
                  format: Literal["json", "csv"] = Query("json")) -> Response:  # noqa: A002
        inventory = services.inventory
        if area is not None and area not in inventory.areas:
            raise HTTPException(404, f"no area {area!r}")
        try:
            entries = load_lifecycle(lifecycle_file) if lifecycle_file is not None else ()
        except LifecycleFileError as exc:
            raise HTTPException(409, f"the lifecycle file cannot be used: {exc}") from None
        facts = known_facts(VersionStore(services.store.engine).known(), uptimes(services.latest.snapshot()))
        report = build(inventory, facts, entries, date.today(), area)
        if format == "csv":
            return Response(csv_text(report), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="equipment-{area or "all"}.csv"'})
        found = {**report.as_json(), "lifecycle_file": lifecycle_file is not None}
        return Response(json.dumps(found, ensure_ascii=False), media_type="application/json")

    _link_routes(router, services, settings)
    return router


# --- links, upgrades, the cloud centre and the printable report ------------------------------------------------------

Lang = Literal["zh", "en"]
HISTORY_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "no metric history configured (capacity.history_url)"},
    502: {"description": "the metric history cannot be read: its URL and the reason"},
}
REPORT_TTL_S = 60.0
MAX_CHARTS = 600  # a county's uplinks all get a chart; the city's page only its busiest (report.charted)
REPORT_CSP = page.CSP
T = TypeVar("T")


def _link_routes(router: APIRouter, services: CapacitySources, settings: CapacitySettings) -> None:
    recent = Recent(REPORT_TTL_S)

    def history() -> PromHistory:
        found = history_of(settings)
        if found is None:
            raise HTTPException(409, NO_HISTORY)
        return found

    def area_of(area: str | None) -> str | None:
        if area is not None and area not in services.inventory.areas:
            raise HTTPException(404, f"no area {area!r}")
        return area

    async def reports(area: str | None) -> tuple[float, list[LinkReport]]:
        source = history()

        async def compute() -> tuple[float, list[LinkReport]]:
            now = time.time()
            return now, await link_reports(source, links_in(services.inventory, area), now, metrics_of(settings))

        return await _read(recent.get(("links", area), compute))

    @router.get("/links", summary="Per uplink and direction: p95 over 7 and 30 days, peak, trend, when it reaches "
                                  "70 % and 90 % of its contract (JSON, or CSV)", response_class=Response,
                responses={200: {"content": {"application/json": {}, "text/csv": {}}}, **HISTORY_RESPONSES})
    async def links(_: Reader, area: AreaId = None,
                    format: Literal["json", "csv"] = Query("json")) -> Response:  # noqa: A002
        now, found = await reports(area_of(area))
        rows = link_rows(found)
        if format == "csv":
            return _csv(page.csv_text(rows), f"links-{area or 'all'}.csv")
        return _json({"area": area, "computed_at": _iso(now), "links": rows})

    @router.get("/upgrades", summary="The uplinks to upgrade, most urgent first, with the proposed standard rate "
                                     "(JSON, CSV, or YAML: the bandwidth plan `yiwang change` takes)",
                response_class=Response, responses={
                    200: {"content": {"application/json": {}, "text/csv": {}, "application/yaml": {}}},
                    **HISTORY_RESPONSES})
    async def upgrade_list(_: Reader, area: AreaId = None,
                           format: Literal["json", "csv", "yaml"] = Query("json")) -> Response:  # noqa: A002
        now, found = await reports(area_of(area))
        chosen = upgrades(found, now)
        if format == "yaml":
            return Response(plan_yaml(chosen, services.inventory.links, now), media_type="application/yaml",
                            headers={"Content-Disposition": 'attachment; filename="bandwidth-plan.yaml"'})
        rows = upgrade_rows(chosen)
        if format == "csv":
            return _csv(page.csv_text(rows, page.UPGRADE_FIELDS), f"upgrades-{area or 'all'}.csv")
        return _json({"area": area, "computed_at": _iso(now), "upgrades": rows})

    @router.get("/datacentre", summary="The cloud centre per site and cabinet: U used and free, nominal power "
                                       "against the budget, servers and their utilisation; with growth, the month "
                                       "each site runs out (JSON, or CSV: one row per cabinet)",
                response_class=Response, responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
    def datacentre(_: Reader, site: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                   growth: Annotated[float | None, Query(ge=0, le=1e6, description="servers added per month")] = None,
                   format: Literal["json", "csv"] = Query("json")) -> Response:  # noqa: A002
        dc = services.inventory.datacentre
        if site is not None and site not in dc.sites:
            raise HTTPException(404, f"no site {site!r}")
        found = datacentre_report(dc, utilisation_from_samples(services.latest.snapshot()), site, growth,
                                  date.today())
        if format == "csv":
            return _csv(page.csv_text([c.as_json() for c in found.cabinets], page.CABINET_FIELDS),
                        f"cabinets-{site or 'all'}.csv")
        return _json(found.as_json())

    @router.get("/report", summary="The printable capacity report of an area: its upgrades, every uplink with its "
                                   "figures and a chart of its 30 days, the cloud centre on the city's page (HTML, "
                                   "Chinese or English; or CSV: the link rows)", response_class=Response,
                responses={200: {"content": {"text/html": {}, "text/csv": {}}}, **HISTORY_RESPONSES})
    async def printable(_: Reader, area: AreaId = None, format: Literal["html", "csv"] = Query("html"),  # noqa: A002
                        lang: Annotated[Lang, Query(description="zh: 中文; en: English")] = "zh") -> Response:
        now, found = await reports(area_of(area))
        if format == "csv":
            return _csv(page.csv_text(link_rows(found)), f"capacity-{area or 'all'}.csv")
        source = history()

        chosen = tuple(upgrades(found, now))
        drawn = page.charted(found, chosen, MAX_CHARTS)

        async def charts() -> page.Hourly:
            return await hourly_peaks(source, [r.link.local for r in drawn], now, metrics_of(settings))

        hourly = await _read(recent.get(("charts", area, now), charts))
        inventory = services.inventory
        root = area is None or inventory.areas[area].level <= Level.CITY
        sites = tuple(datacentre_report(inventory.datacentre, utilisation_from_samples(
            services.latest.snapshot())).sites) if root else ()
        built = page.ReportPage(
            tuple(a.name for a in inventory.path(area)) if area is not None else (), now,
            source.url, chosen, page.sections(inventory, found), hourly, chart_end(now), sites,
            len(drawn) if len(drawn) < len(found) else 0)
        # A city's page is thousands of charts: drawn off the event loop that also runs the polls.
        html = await asyncio.to_thread(page.render_html, built, lang)
        return Response(html, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"})


class Recent:
    """Results of the last TTL seconds, by key, and one computation at a time per key.

    Why: a report is a month of 5-minute history for every uplink of an area, seconds of the database's and this
    process's time for a county, far more for the city; a page opened, reloaded, printed and exported as CSV would
    ask for it again each time, and several people opening the same page at once would each start it. Figures a
    minute old are as good: the newest 5-minute point is the only thing that changes. Failures are not kept."""

    def __init__(self, ttl_s: float, size: int = 64) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._kept: dict[Hashable, tuple[float, Any]] = {}
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        kept = self._kept.get(key)
        if kept is not None and time.monotonic() - kept[0] < self.ttl_s:
            return kept[1]  # type: ignore[no-any-return]
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(compute())
            self._running[key] = running
            running.add_done_callback(lambda done: self._done(key, done))
        # shielded: a caller that goes away does not cancel the others' computation
        return await asyncio.shield(running)  # type: ignore[no-any-return]

    def _done(self, key: Hashable, done: asyncio.Future[Any]) -> None:
        self._running.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return
        now = time.monotonic()
        self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self.ttl_s}
        while len(self._kept) >= self.size:
            self._kept.pop(next(iter(self._kept)))
        self._kept[key] = (now, done.result())


async def _read(pending: Awaitable[T]) -> T:
    try:
        return await pending
    except HistoryError as exc:
        raise HTTPException(502, str(exc)) from None


def _json(found: object) -> Response:
    return Response(json.dumps(found, ensure_ascii=False), media_type="application/json")


def _csv(text: str, filename: str) -> Response:
    # the file name carries an area or site id: inventory text, kept to what a header may hold
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename)
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})


def _iso(at_s: float) -> str:
    return datetime.fromtimestamp(at_s, CHINA).isoformat(timespec="seconds")


# --- carriers (运营商 SLA) -------------------------------------------------------------------------------------

class CarrierSources(Protocol):
    @property
    def inventory(self) -> Inventory: ...


def carrier_routes(services: CarrierSources, capacity: CapacitySettings) -> APIRouter:
    """`GET /api/capacity/carriers`: per carrier and month, availability, outages and round trips against the SLA
    in the inventory, and the links that broke it. Read from `capacity.history_url` on each request."""
    router = APIRouter(prefix="/api/capacity", tags=["capacity"])

    @router.get("/carriers", summary="Per carrier and month (UTC+8): availability from ICMP and interface status, "
                                     "outages, RTT against the SLA; the links that broke it (JSON, or CSV: one row "
                                     "per carrier)", response_class=Response,
                responses={200: {"content": {"application/json": {}, "text/csv": {}}}, **HISTORY_RESPONSES})
    async def carriers(_: Reader, area: AreaId = None,
                       month: Annotated[str | None, Query(max_length=7, description="YYYY-MM (UTC+8); default the "
                                                                                    "month so far")] = None,
                       format: Literal["json", "csv"] = Query("json")) -> Response:  # noqa: A002
        history = history_of(capacity)
        if history is None:
            raise HTTPException(409, NO_HISTORY)
        inventory = services.inventory
        if area is not None and area not in inventory.areas:
            raise HTTPException(404, f"no area {area!r}")
        try:
            period = month_of(month, time.time())
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        try:
            reports = await carriers_report(history, inventory, links_in(inventory, area), period,
                                            ReachMetrics.prefixed(capacity.metric_prefix))
        except HistoryError as exc:
            raise HTTPException(502, str(exc)) from None
        if format == "csv":
            rows = [carrier_row(r) for r in reports]
            return _csv(page.csv_text(rows, list(rows[0]) if rows else ["carrier"]),
                        f"carriers-{period.label}-{area or 'all'}.csv")
        return Response(json.dumps(report_json(period, reports), ensure_ascii=False), media_type="application/json")

    return router
