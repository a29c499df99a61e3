"""The HTTP API: a thin layer over the monitor; no business logic in route handlers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any, Protocol

from fastapi import FastAPI, HTTPException, Query, Response
from fastapi.middleware.gzip import GZipMiddleware

from inventory.model import Inventory
from yiwang.model import Sample
from yiwang.status import DeviceState, device_status, rollup
from yiwang.store import Store

EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"


class AlertsView(Protocol):
    def active(self) -> list[dict[str, object]]: ...


class MonitorView(Protocol):
    inventory: Inventory
    states: dict[str, dict[str, DeviceState]]
    store: Store

    @property
    def alerts(self) -> AlertsView | None: ...


class SamplesView(Protocol):
    def device_samples(self, device: str) -> Iterable[Sample]: ...

    def render(self, area_path: Mapping[str, str] | None = None) -> bytes: ...


def create_app(monitor: MonitorView, samples: SamplesView) -> FastAPI:
    app = FastAPI(title="yiwang", version="0.1.0",
                  description="Operations for a city e-government extranet: monitor, alert, change, check.")
    # A full city's exposition is hundreds of MB of text; level 1 shrinks it ~30x for little CPU.
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=1)

    @app.get("/api/areas", summary="The area tree with device status rolled up per level")
    def areas(root: str | None = Query(None, description="start at this area id"),
              depth: int = Query(2, ge=0, le=4, description="levels of children to include")) -> list[dict[str, Any]]:
        if root is not None and root not in monitor.inventory.areas:
            raise HTTPException(404, f"no area {root!r}")
        return rollup(monitor.inventory, monitor.states, root, depth)

    @app.get("/api/devices/{name}", summary="A device: inventory, poll health and latest metrics")
    def device(name: str) -> dict[str, Any]:
        inv = monitor.inventory
        found = inv.devices.get(name)
        if found is None:
            raise HTTPException(404, f"no device {name!r}")
        states = monitor.states.get(name, {})
        metrics: dict[str, list[dict[str, Any]]] = {}
        for sample in samples.device_samples(name):
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
            "health": [_health(h) for h in monitor.store.health(name)],
            "metrics": metrics,
        }

    @app.get("/api/alerts", summary="Active alerts (pending and firing), storms rolled up by area")
    def alerts() -> list[dict[str, object]]:
        return monitor.alerts.active() if monitor.alerts is not None else []

    @app.get("/api/alerts/history", summary="Alert transitions, newest first")
    def alert_history(limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
        return monitor.store.alert_history(limit)

    @app.get("/metrics", summary="Prometheus exposition of every latest sample", response_class=Response)
    def metrics() -> Response:
        return Response(samples.render(), media_type=EXPOSITION)

    @app.get("/metrics/areas/{area_id}", summary="Prometheus exposition for one area: a scrape shard",
             response_class=Response)
    def area_metrics(area_id: str) -> Response:
        if area_id not in monitor.inventory.areas:
            raise HTTPException(404, f"no area {area_id!r}")
        # The whole path, since area names repeat across parents (two villages may share a name).
        return Response(samples.render(monitor.inventory.path_labels(area_id)), media_type=EXPOSITION)

    return app


def _health(record: Any) -> dict[str, Any]:
    data = asdict(record)
    for key in ("polled_at", "last_ok_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data
