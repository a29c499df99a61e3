"""The HTTP API: a thin layer over the monitor; no business logic in route handlers."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import FastAPI, HTTPException, Query, Response
from fastapi import Path as PathParam
from fastapi.middleware.gzip import GZipMiddleware
from pydantic import BaseModel, ConfigDict, Field, model_validator

from collectors.model import Sample
from inventory.model import Inventory
from yiwang.alerting import AlertStage
from yiwang.archive.service import ArchiveError, ConfigArchive
from yiwang.status import AreaCounts, DeviceState, area_tree, device_status
from yiwang.store import Store

EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"


# The store keeps times as nanoseconds in 64-bit integers: a later time was a 500 from SQLite, not an answer.
LAST_STORABLE_S = (2**63 - 1) // 10**9  # 2262-04-11 (and 1677-09-22 before 1970)


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: str | None = Field(None, description="an area id; its whole subtree is covered")
    device: str | None = None
    rule: str | None = None
    starts: datetime | None = Field(None, description="default: now; start and end within 1677-2262")
    ends: datetime | None = None
    duration_s: float | None = Field(None, gt=0, description="instead of ends")
    comment: str = ""
    created_by: str = ""

    @model_validator(mode="after")
    def _storable(self) -> SilenceRequest:
        starts = self.starts.timestamp() if self.starts is not None else time.time()
        ends = self.ends.timestamp() if self.ends is not None else starts + (self.duration_s or 0.0)
        if not -LAST_STORABLE_S < min(starts, ends) <= max(starts, ends) < LAST_STORABLE_S:
            raise ValueError("a silence must start and end between 1677-09-22 and 2262-04-11")
        return self


class BackupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str | None = None
    area: str | None = Field(None, description="every SSH device in the area and beneath it")


class Problem(BaseModel):
    """Why a request was refused, in words."""

    detail: str


# What routes answer besides their result, so that the OpenAPI document says it: every route may find nothing
# (a device, area, alert, silence or configuration that does not exist), get a body that is not JSON, or ask for a
# part the configuration turned off.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "the body is not JSON"},
    404: {"model": Problem, "description": "no such area, device, alert, silence or configuration version"},
    409: {"model": Problem, "description": "alerting or the archive is disabled in the configuration"},
}
# A silence is checked beyond its schema (an end, a known area): refused with words, not a field list.
SILENCE_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"description": "the request does not describe a silence",
          "content": {"application/json": {"schema": {"anyOf": [
              {"$ref": "#/components/schemas/HTTPValidationError"}, {"$ref": "#/components/schemas/Problem"}]}}}},
}


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str
    comment: str = ""


class LatestView(Protocol):
    def device_samples(self, device: str) -> Iterable[Sample]: ...

    def render(self, area_path: Mapping[str, str] | None = None) -> bytes: ...


class HealthView(Protocol):
    @property
    def states(self) -> Mapping[str, Mapping[str, DeviceState]]: ...

    @property
    def counts(self) -> AreaCounts: ...


class ServicesView(Protocol):
    """What the API reads: results and the services that own them, never the monitor itself."""

    @property
    def inventory(self) -> Inventory: ...

    @property
    def latest(self) -> LatestView: ...

    @property
    def health(self) -> HealthView: ...

    @property
    def store(self) -> Store: ...

    @property
    def alerts(self) -> AlertStage | None: ...

    @property
    def archive(self) -> ConfigArchive | None: ...


def create_app(services: ServicesView) -> FastAPI:
    app = FastAPI(title="yiwang", version="0.1.0", responses=COMMON_RESPONSES,
                  description="Operations for a city e-government extranet: monitor, alert, change, check.")
    # A full city's exposition is hundreds of MB of text; level 1 shrinks it ~30x for little CPU.
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=1)

    @app.get("/api/areas", summary="The area tree with device status rolled up per level")
    async def areas(root: str | None = Query(None, description="start at this area id"),
                    depth: int = Query(2, ge=0, le=4, description="levels of children to include")
                    ) -> list[dict[str, Any]]:
        # async: the counts are kept per cycle by the poll health, so this is a small tree, not a city's walk
        if root is not None and root not in services.inventory.areas:
            raise HTTPException(404, f"no area {root!r}")
        return area_tree(services.inventory, services.health.counts, root, depth)

    @app.get("/api/devices/{name}", summary="A device: inventory, poll health and latest metrics")
    def device(name: str) -> dict[str, Any]:
        inv = services.inventory
        found = inv.devices.get(name)
        if found is None:
            raise HTTPException(404, f"no device {name!r}")
        states = services.health.states.get(name, {})
        metrics: dict[str, list[dict[str, Any]]] = {}
        for sample in services.latest.device_samples(name):
            metrics.setdefault(sample.measurement, []).append(
                {"tags": dict(sample.tags), "fields": dict(sample.fields), "time_ns": sample.time_ns})
        return {
            "name": found.name,
            "platform": found.platform,
            "role": found.role,
            "address": found.address,
            "address6": found.address6,
            "area": [{"id": a.id, "name": a.name, "level": a.level.label} for a in inv.path(found.area)],
            "status": device_status(states),
            "health": [_health(h) for h in services.store.health(name)],
            "metrics": metrics,
        }

    @app.get("/api/alerts", summary="Active alerts (pending and firing), storms rolled up by area")
    def alerts() -> list[dict[str, object]]:
        return services.alerts.active() if services.alerts is not None else []

    @app.get("/api/alerts/history", summary="Alert transitions, newest first")
    def alert_history(limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
        return services.store.alert_history(limit)

    def _alerts() -> AlertStage:
        if services.alerts is None:
            raise HTTPException(409, "alerting is disabled in the configuration")
        return services.alerts

    def _silence(body: SilenceRequest, kind: str) -> dict[str, Any]:
        now = time.time_ns()
        starts = int(body.starts.timestamp() * 1e9) if body.starts else now
        if body.ends is not None:
            ends = int(body.ends.timestamp() * 1e9)
        elif body.duration_s is not None:
            ends = starts + int(body.duration_s * 1e9)
        else:
            raise HTTPException(422, "give ends or duration_s")
        try:
            silence_id = _alerts().silence(starts_ns=starts, ends_ns=ends, area=body.area, device=body.device,
                                           rule=body.rule, comment=body.comment, created_by=body.created_by, kind=kind)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"id": silence_id, "kind": kind, "starts_ns": starts, "ends_ns": ends}

    @app.get("/api/security-events", summary="Security events (SNMP authentication failures), newest first")
    def security_events(limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
        return services.store.security_events(limit)

    @app.get("/api/silences", summary="Silences and maintenance windows that are not over")
    def list_silences() -> list[dict[str, Any]]:
        return services.store.silences(time.time_ns())

    @app.post("/api/silences", summary="Silence alerts by area (subtree), device or rule", status_code=201,
              responses=SILENCE_RESPONSES)
    def create_silence(body: SilenceRequest) -> dict[str, Any]:
        return _silence(body, "silence")

    @app.post("/api/maintenance", summary="Plan a maintenance window: a silence with a start and an end",
              status_code=201, responses=SILENCE_RESPONSES)
    def create_maintenance(body: SilenceRequest) -> dict[str, Any]:
        return _silence(body, "maintenance")

    @app.delete("/api/silences/{silence_id}", summary="End a silence or maintenance window now")
    def end_silence(silence_id: Annotated[int, PathParam(ge=0, lt=2**63, description="as listed")]) -> dict[str, Any]:
        if not services.store.expire_silence(silence_id, time.time_ns()):
            raise HTTPException(404, f"no silence {silence_id}")
        return {"id": silence_id, "ended": True}

    @app.post("/api/alerts/{fingerprint}/ack", summary="Acknowledge a firing alert: repeats stop until it resolves")
    def acknowledge(fingerprint: str, body: AckRequest) -> dict[str, Any]:
        try:
            _alerts().acknowledge(fingerprint, body.by, body.comment, time.time_ns())
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"fingerprint": fingerprint, "acknowledged": True}

    def _archive() -> ConfigArchive:
        if services.archive is None:
            raise HTTPException(409, "the configuration archive is disabled or no device has SSH access")
        return services.archive

    @app.get("/api/configs/status", summary="Age of the last good backup per device and per area")
    def config_status(area: str | None = None) -> dict[str, Any]:
        try:
            return _archive().status(area)
        except ArchiveError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.post("/api/configs/backup", summary="Back up now: one device, one area, or all")
    async def config_backup(body: BackupRequest) -> list[dict[str, Any]]:
        try:
            results = await _archive().backup(body.device, body.area)
        except ArchiveError as exc:
            raise HTTPException(404, str(exc)) from None
        return [asdict(r) for r in results]

    @app.get("/api/configs/{device}/versions", summary="A device's configuration versions, newest first")
    def config_versions(device: str) -> list[dict[str, Any]]:
        try:
            return [{"commit": v.commit, "time": v.time.isoformat(), "message": v.message}
                    for v in _archive().versions(device)]
        except ArchiveError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/configs/{device}/diff", summary="The diff between two versions", response_class=Response)
    def config_diff(device: str, a: str, b: str) -> Response:
        try:
            return Response(_archive().diff(device, a, b), media_type="text/plain; charset=utf-8")
        except (ArchiveError, ValueError) as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/metrics", summary="Prometheus exposition of every latest sample", response_class=Response)
    def metrics() -> Response:
        return Response(services.latest.render(), media_type=EXPOSITION)

    @app.get("/metrics/areas/{area_id}", summary="Prometheus exposition for one area: a scrape shard",
             response_class=Response)
    def area_metrics(area_id: str) -> Response:
        if area_id not in services.inventory.areas:
            raise HTTPException(404, f"no area {area_id!r}")
        # The whole path, since area names repeat across parents (two villages may share a name).
        return Response(services.latest.render(services.inventory.path_labels(area_id)), media_type=EXPOSITION)

    return app


def _health(record: Any) -> dict[str, Any]:
    data = asdict(record)
    for key in ("polled_at", "last_ok_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data
