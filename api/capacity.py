"""The capacity routes (the upgrade programme's reports): `GET /api/capacity/equipment` so far.

Read-only and for every reader: models, versions and lifecycle dates are not configuration content. The uptimes are
the running process's latest samples, which the command line does not have.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, Protocol

from fastapi import APIRouter, HTTPException, Query, Response

from api.security import Reader
from collectors.model import Sample
from inventory.model import Inventory
from yiwang.capacity.equipment import build, csv_text, known_facts, uptimes
from yiwang.capacity.lifecycle import LifecycleFileError, load_lifecycle
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
