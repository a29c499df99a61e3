"""The change jobs' routes: plan, review the diff, start, release each wave, abort, roll back, and watch.

Planning answers at once (202) with the job, whose dry run goes on in the background; starting and each approval
answer at once too, and the wave runs in this process (`yiwang run`). `GET /api/changes/{id}/events` streams what
happens (Server-Sent Events): each Ansible task per device as ansible-runner reports it, each device's outcome,
each wave's start and end. A watcher that reconnects with `Last-Event-ID` gets what it missed, as far as the
server still holds it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.security import Anyone, Approver, Planner, Reader, Starter
from yiwang.auth.roles import Permission
from yiwang.change.jobs import FINAL_JOB, ChangeError
from yiwang.change.service import ChangeService

JobId = Annotated[str, PathParam(max_length=16, pattern=r"^[0-9a-f]{1,16}$")]
KEEPALIVE_S = 15.0


class BandwidthPlanText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "yaml"]
    text: str = Field(min_length=1, max_length=4_000_000)


class ChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["ipv6", "bandwidth"]
    area: str = Field(min_length=1, max_length=200)
    wave_size: int | None = Field(None, ge=1, le=100_000, description="waves of this many devices, instead of "
                                                                      "one per county")
    canary: bool = Field(True, description="a first wave of a few villages in different counties")
    bandwidth_plan: BandwidthPlanText | None = Field(None, description="bandwidth: the list of link and new rate")


class ApproveChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field("", max_length=2000)


class AbortChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000)


class RollbackChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str | None = Field(None, min_length=1, max_length=200, description="one device; none: every device "
                                                                                "the job changed")


def change_routes(changes: ChangeService | None) -> APIRouter:
    router = APIRouter(prefix="/api/changes", tags=["changes"])

    def service() -> ChangeService:
        if changes is None:
            raise HTTPException(409, "change jobs are not available in this process")
        return changes

    def refused(request: Request, exc: ChangeError) -> HTTPException:
        request.state.audit_reason = str(exc)
        return HTTPException(exc.status, str(exc))

    @router.post("", status_code=202, summary="Plan a change job: its devices, waves and a dry run (in the "
                                              "background; read the job for its state)")
    async def plan(body: ChangeRequest, identity: Planner, request: Request, response: Response) -> dict[str, Any]:
        jobs = service()
        kept: Path | None = None
        try:
            if body.bandwidth_plan is not None:
                with tempfile.NamedTemporaryFile("w", suffix=f".{body.bandwidth_plan.format}", delete=False,
                                                 encoding="utf-8") as stream:
                    stream.write(body.bandwidth_plan.text)
                    kept = Path(stream.name)
            job, devices = await asyncio.to_thread(jobs.prepare, body.kind, body.area, identity,
                                                   wave_size=body.wave_size, canary=body.canary,
                                                   bandwidth_plan=kept)
        except ChangeError as exc:
            raise refused(request, exc) from None
        finally:
            if kept is not None:
                kept.unlink(missing_ok=True)
        jobs.dry_run_later(job.id)
        response.headers["Location"] = f"/api/changes/{job.id}"
        return {"job": job.id, "url": f"/api/changes/{job.id}", "state": job.state, "devices": len(devices),
                "waves": len(job.waves)}

    @router.get("", summary="Change jobs, newest first")
    def jobs(_: Reader, limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        return service().summaries(limit)

    @router.get("/{job_id}", summary="A change job: its waves, per-county progress and each device's outcome")
    def job(job_id: JobId, _: Reader) -> dict[str, Any]:
        try:
            return service().view(job_id)
        except ChangeError as exc:
            raise HTTPException(exc.status, str(exc)) from None

    @router.get("/{job_id}/diff", summary="The dry run's lines of every device (or one); for those who read "
                                          "configurations and those who release waves", response_class=Response)
    def diff(job_id: JobId, identity: Anyone, request: Request,
             device: Annotated[str | None, Query(min_length=1, max_length=200)] = None) -> Response:
        if not (identity.can(Permission.CONFIGS_READ) or identity.can(Permission.CHANGE_APPROVE)):
            request.state.audit_reason = "needs configs.read or change.approve"
            raise HTTPException(403, f"{identity.name} may not read a change's lines: it needs configs.read or "
                                     "change.approve")
        try:
            return Response(service().diff(job_id, device), media_type="text/plain; charset=utf-8")
        except ChangeError as exc:
            raise HTTPException(exc.status, str(exc)) from None

    @router.get("/{job_id}/events", summary="What happens in the job, as Server-Sent Events; ends when the job "
                                            "is over", response_class=StreamingResponse)
    async def events(job_id: JobId, _: Reader, last_event_id: Annotated[str | None, Header()] = None,
                     follow: bool = Query(True, description="false: the events held now, then the end")) -> Response:
        jobs = service()
        try:
            jobs.job(job_id)
        except ChangeError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
        return StreamingResponse(_stream(jobs, job_id, after, follow), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.post("/{job_id}/start", summary="Start a planned job: its first wave runs now")
    async def start(job_id: JobId, identity: Starter, request: Request) -> dict[str, Any]:
        jobs = service()
        try:
            job = jobs.start(job_id, identity)
        except ChangeError as exc:
            raise refused(request, exc) from None
        jobs.launch(job.id)
        return jobs.view(job.id)

    @router.post("/{job_id}/approve", summary="Release the job's next wave (not by the one who started it)")
    async def approve(job_id: JobId, body: ApproveChange, identity: Approver, request: Request) -> dict[str, Any]:
        jobs = service()
        try:
            job = jobs.approve(job_id, identity, body.comment)
        except ChangeError as exc:
            raise refused(request, exc) from None
        jobs.launch(job.id)
        return jobs.view(job.id)

    @router.post("/{job_id}/abort", summary="Abort the job: no further device is pushed")
    def abort(job_id: JobId, body: AbortChange, identity: Anyone, request: Request) -> dict[str, Any]:
        jobs = service()
        try:
            job = jobs.abort(job_id, identity, body.reason)
        except ChangeError as exc:
            raise refused(request, exc) from None
        return jobs.view(job.id)

    @router.post("/{job_id}/rollback", status_code=202, summary="Put back what the job changed (in the "
                                                                "background; read the job for each device)")
    async def rollback(job_id: JobId, body: RollbackChange, identity: Starter, request: Request) -> dict[str, Any]:
        jobs = service()
        try:
            devices = jobs.rollback_targets(job_id, identity, body.device)
        except ChangeError as exc:
            raise refused(request, exc) from None
        jobs.rollback_later(job_id, identity, body.device)
        return {"job": job_id, "url": f"/api/changes/{job_id}", "devices": devices}

    return router


async def _stream(jobs: ChangeService, job_id: str, after: int, follow: bool) -> AsyncIterator[bytes]:
    queue = jobs.hub.subscribe(job_id)  # before the recent ones are read: nothing falls between
    try:
        last = after
        for event in jobs.hub.recent(job_id, after):
            last = event.seq
            yield _frame(event.seq, event.kind, event.view())
        state = jobs.job(job_id).state
        if not follow or state in FINAL_JOB:
            yield _frame(None, "end", {"state": state})
            return
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                state = jobs.job(job_id).state
                if state in FINAL_JOB:
                    yield _frame(None, "end", {"state": state})
                    return
                yield b": keepalive\n\n"
                continue
            if event.seq <= last:
                continue
            last = event.seq
            yield _frame(event.seq, event.kind, event.view())
            if event.kind == "job" and event.data.get("state") in FINAL_JOB:
                yield _frame(None, "end", {"state": event.data["state"]})
                return
    finally:
        jobs.hub.unsubscribe(job_id, queue)


def _frame(seq: int | None, kind: str, data: dict[str, Any]) -> bytes:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
