"""The one-screen overview's routes (issue 14): the city's areas and alerts, an area's devices, a device's page, the
panels, and the live stream of what changed (Server-Sent Events).

Everything is answered from the runtime's memory (yiwang.overview_feed keeps the state of the last cycle); only the
device page reads more: its configuration versions, its compliance results and one bounded query of the metric
history for its interfaces' last 24 h. A part that cannot be read becomes a note in `errors`, never a failed page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Header, HTTPException, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from api.security import Reader
from collectors.model import Sample
from inventory.model import Inventory
from yiwang.auth.roles import Permission
from yiwang.capacity.service import history_of, metrics_of
from yiwang.config import CapacitySettings
from yiwang.overview import alert_view, device_rows
from yiwang.overview_device import compliance_of, interfaces, ipv6_of, read_history, sys_name
from yiwang.overview_feed import OverviewFeed, Subscription

log = logging.getLogger("yiwang.api.overview")

KEEPALIVE_S = 15.0
RETRY_MS = 3000
CONFIG_VERSIONS = 10
AreaParam = Annotated[str, Query(min_length=1, max_length=200, description="an area id; its whole subtree")]
DeviceName = Annotated[str, PathParam(min_length=1, max_length=200)]


class _Latest(Protocol):
    def device_samples(self, device: str) -> Iterable[Sample]: ...


class OverviewSources(Protocol):
    @property
    def inventory(self) -> Inventory: ...

    @property
    def latest(self) -> _Latest: ...

    @property
    def alerts(self) -> Any: ...

    @property
    def archive(self) -> Any: ...

    @property
    def compliance(self) -> Any: ...

    @property
    def overview(self) -> OverviewFeed: ...


def overview_routes(services: OverviewSources, capacity: CapacitySettings) -> APIRouter:
    router = APIRouter(prefix="/api/overview", tags=["overview"])
    feed = services.overview
    history = history_of(capacity)
    metrics = metrics_of(capacity)

    @router.get("", summary="The city at a glance: every area's status and counts, the alerts (a storm is one "
                            "area outage)", response_class=Response,
                responses={200: {"content": {"application/json": {}}}})
    async def overview(_: Reader) -> Response:
        # the state's own bytes: the same for every page in a cycle, serialised once
        return Response(feed.current().overview_json(), media_type="application/json")

    @router.get("/devices", summary="An area's devices (its whole subtree) with their status and firing alerts")
    async def devices(area: AreaParam, _: Reader) -> dict[str, Any]:
        inv = services.inventory
        if area not in inv.areas:
            raise HTTPException(404, f"no area {area!r}")
        state = feed.current()
        return {"area": area, "devices": device_rows(inv, state.statuses, state.device_alerts, area)}

    @router.get("/devices/{name}", summary="A device's page: interfaces with 24 h traffic, alerts, configuration "
                                           "versions, compliance, IPv6 readiness; device strings are data")
    async def device(name: DeviceName, identity: Reader) -> dict[str, Any]:
        inv = services.inventory
        found = inv.devices.get(name)
        if found is None:
            raise HTTPException(404, f"no device {name!r}")
        samples = list(services.latest.device_samples(name))
        rows = interfaces(samples)
        errors: list[str] = []
        problem = await read_history(history, name, rows, metrics)
        if problem:
            errors.append(problem)
        state = feed.current()
        alerts = []
        if services.alerts is not None:
            topology = feed.topology
            alerts = [alert_view(r, topology.areas_of) for r in list(services.alerts.state.alerts.values())
                      if r.status in ("pending", "firing") and r.labels.get("device") == name]
        configs = await _part(errors, "configuration versions", _configs, name,
                              identity.can(Permission.CONFIGS_READ))
        compliance, ipv6 = await _part(errors, "compliance", _compliance, found, samples) or (None, None)
        return {"name": found.name, "platform": found.platform, "role": found.role, "address": found.address,
                "address6": found.address6,
                "area": [{"id": a.id, "name": a.name, "level": a.level.label} for a in inv.path(found.area)],
                "status": state.statuses.get(name, "unknown"), "sysname": sys_name(samples),
                "interfaces": rows, "alerts": alerts, "configs": configs or [], "compliance": compliance,
                "ipv6": ipv6, "errors": errors}

    def _configs(name: str, allowed: bool) -> list[dict[str, Any]]:
        archive = services.archive
        if archive is None or not allowed or name not in getattr(archive, "targets", {}):
            return []  # no archive, no SSH access to this device, or a reader without configs.read
        versions = archive.versions(name)
        return [{"version": len(versions) - i, "time": v.time.isoformat(), "commit": v.commit}
                for i, v in enumerate(versions[:CONFIG_VERSIONS])]

    def _compliance(device: Any, samples: list[Sample]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        found = services.compliance
        if found is None:
            return None, None
        run = found.latest_run()
        if run is None:
            return None, None
        titles = feed.panels.rule_titles() if feed.panels is not None else {}
        report = compliance_of(found.history.results(run.id, device=device.name), titles)
        config = found.git.heads([device.name]).get(device.name)
        return report, ipv6_of(services.inventory, device, config, samples)

    @router.get("/panels", summary="Rollout progress of running change jobs per county, compliance by county and "
                                   "rule, the capacity hot list and carriers (all as last computed)")
    async def panels(_: Reader) -> dict[str, Any]:
        return dict(feed.current().panels)

    @router.get("/stream", summary="What changes, as Server-Sent Events: devices, areas, alerts, panels; a "
                                   "reconnect (Last-Event-ID) first gets every area", response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}}}})
    async def stream(_: Reader, last_event_id: Annotated[str | None, Header(max_length=64)] = None,
                     follow: bool = Query(True, description="false: the opening (and a reconnect's snapshot), "
                                                            "then the end")) -> Response:
        return StreamingResponse(_events(feed, last_event_id is not None, follow), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return router


async def _part(errors: list[str], what: str, read: Any, *args: Any) -> Any:
    """One part of the device page, in a thread (git, SQL); its failure is a note, not a failed page."""
    try:
        return await asyncio.to_thread(read, *args)
    except Exception as exc:  # noqa: BLE001 - the rest of the page still answers
        log.warning("overview device page: %s: %s: %s", what, type(exc).__name__, exc)
        errors.append(f"{what}: {type(exc).__name__}: {exc}")
        return None


async def _events(feed: OverviewFeed, reconnect: bool, follow: bool) -> AsyncIterator[bytes]:
    # Subscribed before anything is sent, so nothing falls between the snapshot and the first change.
    subscription: Subscription = feed.subscribe()
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        if reconnect:  # whatever it missed: every area as it is now (the id it sent is not looked at)
            yield feed.snapshot_event().encode()
        while follow:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if event is None:  # dropped for falling behind: the browser reconnects and gets a snapshot
                return
            yield event.encode()
    finally:
        feed.unsubscribe(subscription)
