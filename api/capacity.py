"""The capacity routes (the upgrade programme's reports): `GET /api/capacity/equipment` so far.

Read-only and for every reader: models, versions and lifecycle dates are not configuration content. The uptimes are
the running process's latest samples, which the command line does not have.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, Protocol

from fastapi import APIRouter, HTTPException, Query, Response

from api.security import Reader
from collectors.model import Sample
from inventory.model import Inventory
from yiwang.capacity.carriers import ReachMetrics, carrier_row, month_of, report_json
from yiwang.capacity.equipment import build, csv_text, known_facts, uptimes
from yiwang.capacity.history import HistoryError
from yiwang.capacity.lifecycle import LifecycleFileError, load_lifecycle
from yiwang.capacity.reach import carriers_report
from yiwang.capacity.service import NO_HISTORY, history_of, links_in
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


def capacity_routes(services: CapacitySources, lifecycle_file: Path | None) -> APIRouter:
    router = APIRouter(prefix="/api/capacity", tags=["capacity"])

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

    return router


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
                responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
    async def carriers(_: Reader, area: AreaId = None,
                       month: Annotated[str | None, Query(max_length=7, description="YYYY-MM (UTC+8); default the "
                                                                                    "month so far")] = None,
                       format: Literal["json", "csv"] = Query("json")) -> Response:  # noqa: A002
        history = history_of(capacity)
        if history is None:
            raise HTTPException(503, NO_HISTORY)
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
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["carrier"])
            writer.writeheader()
            writer.writerows(rows)
            return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="carriers-{period.label}-{area or "all"}.csv"'})
        return Response(json.dumps(report_json(period, reports), ensure_ascii=False), media_type="application/json")

    return router
