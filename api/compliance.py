"""The compliance routes (等保 2.0): the latest run's results per device, one device, the assessor's report
(HTML, CSV, JSON), the trend per day, the runs and what changed, IPv6 readiness, and a run now.

Results and counts are for every reader. Evidence lines are configuration content (the checks mask secrets, but it
is still content): they are answered only to identities with `configs.read` or `audit.read` (the assessor's account
is an auditor); others get each result with `evidence_omitted` instead.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi import Path as PathParam

from api.security import Operator, Reader
from yiwang.auth.roles import Identity, Permission
from yiwang.compliance import report
from yiwang.compliance.history import RunInfo
from yiwang.compliance.model import STATUSES
from yiwang.compliance.pack import PackError, RulePack
from yiwang.compliance.service import ComplianceService
from yiwang.jobs import JobRegistry

AreaId = Annotated[str | None, Query(min_length=1, max_length=200, description="an area id; its whole subtree")]
RuleId = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$",
                                     description="a catalogue id, e.g. ntp-server")]
DeviceName = Annotated[str, PathParam(min_length=1, max_length=200)]
Status = Literal["pass", "fail", "not-applicable", "exempt", "error"]
assert set(STATUSES) == set(Status.__args__)  # type: ignore[attr-defined]


def sees_evidence(identity: Identity) -> bool:
    return identity.can(Permission.CONFIGS_READ) or identity.can(Permission.AUDIT_READ)


def compliance_routes(compliance: ComplianceService | None, jobs: JobRegistry) -> APIRouter:
    router = APIRouter(prefix="/api/compliance", tags=["compliance"])

    def service() -> ComplianceService:
        if compliance is None:
            raise HTTPException(409, "compliance runs are not available in this process (the archive or "
                                     "compliance is turned off in the configuration)")
        return compliance

    def latest(found: ComplianceService) -> RunInfo:
        run = found.latest_run()
        if run is None:
            raise HTTPException(409, "no compliance run yet: POST /api/compliance/runs, or wait for the run after "
                                     "the next backup cycle")
        return run

    def known_area(found: ComplianceService, area: str | None) -> None:
        if area is not None and area not in found.inventory.areas:
            raise HTTPException(404, f"no area {area!r}")

    def pack(found: ComplianceService) -> RulePack:
        try:
            return found.pack()
        except PackError as exc:
            raise HTTPException(409, f"the rule pack cannot be read: {exc}") from None

    @router.get("", summary="The latest run's results, one object per device (evidence for configs.read or "
                            "audit.read)")
    def results(identity: Reader, area: AreaId = None, rule: RuleId = None, status: Status | None = None,
                device: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                limit: int = Query(1000, ge=1, le=10_000, description="devices"),
                offset: int = Query(0, ge=0, le=1_000_000)) -> dict[str, Any]:
        found = service()
        known_area(found, area)
        run = latest(found)
        devices = report.devices_json(found.history.results(run.id, area=area, device=device, rule=rule,
                                                            status=status), sees_evidence(identity))
        return {"run": run.as_json(), "evidence": sees_evidence(identity), "total": len(devices),
                "devices": devices[offset:offset + limit]}

    @router.get("/devices/{name}", summary="One device's results in the latest run")
    def device(name: DeviceName, identity: Reader) -> dict[str, Any]:
        found = service()
        known = found.inventory.devices.get(name)
        if known is None:
            raise HTTPException(404, f"no device {name!r}")
        run = latest(found)
        rows = found.history.results(run.id, device=name)
        if not rows:
            raise HTTPException(404, f"{name!r} was not checked in run {run.id} (no CLI yiwang reads, or added "
                                     "since)")
        return {"run": run.as_json(), "evidence": sees_evidence(identity),
                "area": [{"id": a.id, "name": a.name, "level": a.level.label}
                         for a in found.inventory.path(known.area)],
                **report.devices_json(rows, sees_evidence(identity))[0]}

    @router.get("/report", summary="The assessor's report of the latest run for an area and its counties and "
                                   "townships: HTML (printable), CSV (one row per device x rule) or JSON",
                response_class=Response,
                responses={200: {"content": {"text/html": {}, "text/csv": {}, "application/json": {}}}})
    def assessor_report(identity: Reader, area: AreaId = None,
                        format: Literal["html", "csv", "json"] = Query("html")) -> Response:  # noqa: A002
        found = service()
        known_area(found, area)
        run = latest(found)
        rows = found.history.results(run.id, area=area)
        evidence = sees_evidence(identity)
        rules = pack(found)
        if format == "csv":
            name = f"compliance-{area or 'all'}-run{run.id}.csv"
            return Response(report.csv_text(found.inventory, rules, rows, evidence), media_type="text/csv; "
                            "charset=utf-8", headers={"Content-Disposition": _attachment(name)})
        built = report.build(found.inventory, rules, run, rows, area, evidence)
        if format == "json":
            return Response(json.dumps(report.report_json(built), ensure_ascii=False),
                            media_type="application/json")
        return Response(report.html(built), media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    @router.get("/trend", summary="Per day (its last run) and rule: devices failing in the area; and what the "
                                  "latest run changed there")
    def trend(_: Reader, area: AreaId = None, rule: RuleId = None,
              days: int = Query(30, ge=1, le=3660)) -> dict[str, Any]:
        found = service()
        known_area(found, area)
        points = found.history.trend(area, rule, days)
        return {"points": [{"day": p.day.isoformat(), "run": p.run, "rule": p.rule, "failing": p.failing}
                           for p in points],
                "changes": _changes(found, area, rule)}

    @router.get("/runs", summary="The runs, newest first, and what the latest changed since the one before it "
                                 "(newly failing, fixed)")
    def runs(_: Reader, limit: int = Query(30, ge=1, le=1000)) -> dict[str, Any]:
        found = service()
        return {"running": found.running, "runs": [r.as_json() for r in found.history.runs(limit)],
                "changes": _changes(found, None, None)}

    @router.post("/runs", status_code=202, summary="Run the compliance checks now over the whole archive (in "
                                                   "this process; answered at once with the job)", tags=["jobs"])
    async def run_now(identity: Operator, request: Request, response: Response) -> dict[str, Any]:
        found = service()
        if found.running:
            request.state.audit_reason = "a compliance run is under way"
            raise HTTPException(409, "a compliance run is under way; its results will be the latest")

        async def work(job: Any) -> list[dict[str, Any]]:
            summary = await found.run("manual", wait=False)
            return [{"ok": True, "run": summary.run.id, "devices": summary.run.devices,
                     "failed": summary.run.failed, "newly_failing": len(summary.changes.newly_failing),
                     "fixed": len(summary.changes.fixed)}]

        # Two requests at once both pass the check above: the second job fails as busy (RunBusy), said in it.
        job = jobs.start("compliance", "all", identity, {"trigger": "manual"}, work)
        response.headers["Location"] = f"/api/jobs/{job.id}"
        return {"job": job.id, "url": f"/api/jobs/{job.id}"}

    @router.get("/ipv6", summary="IPv6 readiness (IPv6改造): per device the five checks, per county the share of "
                                 "villages ready")
    def ipv6(_: Reader, area: AreaId = None) -> dict[str, Any]:
        found = service()
        known_area(found, area)
        inventory = found.inventory
        readiness = found.readiness()
        inside = inventory.subtree(area) if area is not None else set(inventory.areas)
        above = {a.id for a in inventory.path(area)} if area is not None else set()
        return {"devices": [d.as_json() for d in readiness.devices if d.area in inside],
                "counties": [{"county": c.county, "name": inventory.areas[c.county].name, "villages": c.villages,
                              "ready": c.ready, "share": c.share}
                             for c in readiness.counties if c.county in inside or c.county in above]}

    return router


def _changes(found: ComplianceService, area: str | None, rule: str | None) -> dict[str, object] | None:
    changes = found.changes()
    if changes is None:
        return None
    if area is not None or rule is not None:
        inside: set[tuple[str, str]] = set()
        for run in (changes.run, changes.previous):
            if run is not None:
                inside |= {r.key for r in found.history.results(run, area=area, rule=rule)}
        changes = report.changes_within(changes, inside)
    return changes.as_json()


def _attachment(name: str) -> str:
    return f'attachment; filename="{name}"'
