"""The HTTP API: a thin layer over the monitor; no business logic in route handlers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exception_handlers import http_exception_handler
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.capacity import capacity_routes, carrier_routes
from api.changes import change_routes
from api.cluster import cluster_routes
from api.compliance import compliance_routes
from api.overview import overview_routes
from api.security import (
    SESSION_COOKIE,
    Admin,
    Anyone,
    AuditMiddleware,
    Auditor,
    ConfigReader,
    Gate,
    Operator,
    Reader,
    require,
    source,
)
from api.web import mount_web
from collectors.model import Sample
from inventory.model import Inventory
from yiwang.alerting import AlertStage
from yiwang.archive.service import ArchiveError, ConfigArchive
from yiwang.audit import Trail
from yiwang.auth.roles import Identity, Permission, Role, RoleError
from yiwang.auth.service import AuthError, AuthService, NotFound, Taken, UserError
from yiwang.auth.sessions import Sessions
from yiwang.change.service import ChangeService
from yiwang.compliance.service import ComplianceService
from yiwang.config import ApiSettings, AuthSettings, CapacitySettings
from yiwang.jobs import JobError, JobRegistry
from yiwang.overview_feed import OverviewFeed
from yiwang.status import AreaCounts, DeviceState, area_tree, device_status
from yiwang.store import Store

EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"


# The store keeps times as nanoseconds in 64-bit integers: a later time was a 500 from SQLite, not an answer.
LAST_STORABLE_S = (2**63 - 1) // 10**9  # 2262-04-11 (and 1677-09-22 before 1970)


class SilenceRequest(BaseModel):
    # The model's own check cannot be read from its schema; this says it, so that clients (and schemathesis) know.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [{"required": ["ends"]},
                                                                           {"required": ["duration_s"]}]})

    area: str | None = Field(None, description="an area id; its whole subtree is covered")
    device: str | None = None
    rule: str | None = None
    starts: datetime | None = Field(None, description="default: now; start and end within 1677-2262")
    ends: datetime | None = None
    duration_s: float | None = Field(None, gt=0, le=LAST_STORABLE_S, description="instead of ends")
    comment: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _storable(self) -> SilenceRequest:
        if self.ends is None and self.duration_s is None:
            raise ValueError("give ends or duration_s")
        starts = self.starts.timestamp() if self.starts is not None else time.time()
        ends = self.ends.timestamp() if self.ends is not None else starts + (self.duration_s or 0.0)
        if not -LAST_STORABLE_S < min(starts, ends) <= max(starts, ends) < LAST_STORABLE_S:
            raise ValueError("a silence must start and end between 1677-09-22 and 2262-04-11")
        return self


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"  # users' and tokens' names
TOKEN_ID_PATTERN = r"^[0-9a-f]{24}$"  # noqa: S105 - a pattern, not a secret
# RFC 3339 as Python reads it: no year 0, no leap second; the calendar is checked by the format
RFC3339 = r"^[1-9]\d{3}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-][0-2]\d:[0-5]\d)$"
DATE_TIME = {"format": "date-time"}


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field("", max_length=2000)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    roles: list[Role] = Field(min_length=1, max_length=6)
    password: str = Field(min_length=1, max_length=1024)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[Role] | None = Field(None, min_length=1, max_length=6)
    locked: bool | None = None


class PasswordRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1024)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    roles: list[Role] = Field(min_length=1, max_length=6)
    expires_days: float | None = Field(90, gt=0, le=3650, description="none: never (not advised)")


class BackupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str | None = None
    area: str | None = Field(None, description="every SSH device in the area and beneath it")


class Problem(BaseModel):
    """Why a request was refused, in words."""

    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    """A request refused: the fields that do not fit the schema, or why it cannot be done, in words."""

    detail: list[FieldProblem] | str


# What routes answer besides their result, so that the OpenAPI document says it: every route may find nothing
# (a device, area, alert, silence or configuration that does not exist), get a body that is not JSON, or ask for a
# part the configuration turned off.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "the body is not JSON"},
    401: {"model": Problem, "description": "no token or session, or one that is wrong, expired or revoked"},
    403: {"model": Problem, "description": "the caller's roles do not allow this, or a cookie request without its "
                                          "CSRF token"},
    404: {"model": Problem, "description": "no such area, device, alert, silence or configuration version"},
    409: {"model": Problem, "description": "alerting or the archive is disabled in the configuration, or the "
                                          "name is taken"},
    # Checked beyond the schema (a silence's end, a known area, a password's strength): refused with words, not a
    # field list.
    422: {"model": Invalid, "description": "the request does not fit the schema (a list of fields), or asks for "
                                           "what cannot be (in words)"},
}


class LatestView(Protocol):
    def device_samples(self, device: str) -> Iterable[Sample]: ...

    def snapshot(self) -> list[Sample]: ...

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

    @property
    def auth(self) -> AuthService | None: ...  # None: authentication turned off (loopback only)

    @property
    def sessions(self) -> Sessions: ...

    @property
    def audit(self) -> Trail: ...

    @property
    def jobs(self) -> JobRegistry: ...

    @property
    def changes(self) -> ChangeService | None: ...

    @property
    def compliance(self) -> ComplianceService | None: ...

    @property
    def overview(self) -> OverviewFeed: ...


def create_app(services: ServicesView, api: ApiSettings | None = None, auth: AuthSettings | None = None,
               capacity: CapacitySettings | None = None) -> FastAPI:
    api = api or ApiSettings()
    auth = auth or AuthSettings()
    app = FastAPI(title="yiwang", version="0.1.0", responses=COMMON_RESPONSES,
                  description="Operations for a city e-government extranet: monitor, alert, change, check.")
    # A full city's exposition is hundreds of MB of text; level 1 shrinks it ~30x for little CPU.
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=1)
    app.add_middleware(AuditMiddleware, trail=services.audit)
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        # Starlette's Allow names the methods of the first route on the path; a path has one route per method
        allowed = sorted({method for route in app.routes if isinstance(route, APIRoute)
                          and route.matches(request.scope)[0] != Match.NONE for method in route.methods or ()})
        return JSONResponse({"detail": exc.detail}, status_code=405, headers={"Allow": ", ".join(allowed)})

    gate = Gate(services.auth, services.sessions, secure_cookies=api.tls is not None)
    app.state.gate = gate
    metrics_guard = [] if api.metrics_public else [Depends(require(Permission.READ))]

    # --- sessions -------------------------------------------------------------------------------------------
    @app.post("/api/auth/login", summary="Log in: a session cookie (HttpOnly, SameSite=Strict) and its CSRF token",
              tags=["auth"], responses={503: {"model": Problem, "description": "the directory cannot be reached"}})
    async def login(body: LoginRequest, request: Request, response: Response) -> dict[str, Any]:
        request.state.audit_identity = body.name
        if services.auth is None:
            raise HTTPException(409, "authentication is turned off in the configuration")
        try:
            identity = await asyncio.to_thread(services.auth.login, body.name, body.password, source(request))
        except AuthError as exc:
            request.state.audit_reason = f"login {exc.reason}"
            if exc.reason == "directory-down":  # not the caller's fault, and not a wrong password
                raise HTTPException(503, "the directory (LDAP) cannot be reached; try again, or use a local "
                                         "account") from None
            raise HTTPException(401, "wrong name or password, or the account is locked after too many failures",
                                headers={"WWW-Authenticate": 'Bearer realm="yiwang"'}) from None
        request.state.identity = identity
        session = services.sessions.create(identity)
        response.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="strict",
                            secure=gate.secure_cookies, path="/")
        return {"name": identity.name, "roles": identity.role_names, "csrf_token": session.csrf_token,
                "idle_timeout_s": auth.session_idle_s}

    @app.post("/api/auth/logout", summary="End this browser session", tags=["auth"])
    def logout(request: Request, response: Response, identity: Anyone) -> dict[str, Any]:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            services.sessions.end(session_id)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=gate.secure_cookies)
        return {"name": identity.name, "logged_out": True}

    @app.get("/api/auth/me", summary="Who the caller is, and what their roles allow", tags=["auth"])
    def me(identity: Anyone) -> dict[str, Any]:
        return {"name": identity.name, "kind": identity.kind, "roles": identity.role_names,
                "permissions": sorted(p.value for p in identity.granted)}

    # --- status -------------------------------------------------------------------------------------------
    @app.get("/api/areas", summary="The area tree with device status rolled up per level")
    async def areas(_: Reader, root: str | None = Query(None, description="start at this area id", max_length=200),
                    depth: int = Query(2, ge=0, le=4, description="levels of children to include")
                    ) -> list[dict[str, Any]]:
        # async: the counts are kept per cycle by the poll health, so this is a small tree, not a city's walk
        if root is not None and root not in services.inventory.areas:
            raise HTTPException(404, f"no area {root!r}")
        return area_tree(services.inventory, services.health.counts, root, depth)

    @app.get("/api/devices/{name}", summary="A device: inventory, poll health and latest metrics")
    def device(name: str, _: Reader) -> dict[str, Any]:
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

    # --- alerts -------------------------------------------------------------------------------------------
    @app.get("/api/alerts", summary="Active alerts (pending and firing), storms rolled up by area")
    def alerts(_: Reader) -> list[dict[str, object]]:
        return services.alerts.active() if services.alerts is not None else []

    @app.get("/api/alerts/history", summary="Alert transitions, newest first")
    def alert_history(_: Reader, limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
        return services.store.alert_history(limit)

    def _alerts() -> AlertStage:
        if services.alerts is None:
            raise HTTPException(409, "alerting is disabled in the configuration")
        return services.alerts

    def _silence(body: SilenceRequest, kind: str, identity: Identity) -> dict[str, Any]:
        now = time.time_ns()
        starts = int(body.starts.timestamp() * 1e9) if body.starts else now
        if body.ends is not None:
            ends = int(body.ends.timestamp() * 1e9)
        else:
            ends = starts + int((body.duration_s or 0.0) * 1e9)
        try:
            silence_id = _alerts().silence(starts_ns=starts, ends_ns=ends, area=body.area, device=body.device,
                                           rule=body.rule, comment=body.comment, created_by=identity.name,
                                           kind=kind)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"id": silence_id, "kind": kind, "starts_ns": starts, "ends_ns": ends, "created_by": identity.name}

    @app.get("/api/security-events", summary="Security events (SNMP authentication failures, failed logins), "
                                            "newest first")
    def security_events(_: Reader, limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
        return services.store.security_events(limit)

    @app.get("/api/silences", summary="Silences and maintenance windows that are not over")
    def list_silences(_: Reader) -> list[dict[str, Any]]:
        return services.store.silences(time.time_ns())

    @app.post("/api/silences", summary="Silence alerts by area (subtree), device or rule", status_code=201)
    def create_silence(body: SilenceRequest, identity: Operator) -> dict[str, Any]:
        return _silence(body, "silence", identity)

    @app.post("/api/maintenance", summary="Plan a maintenance window: a silence with a start and an end",
              status_code=201)
    def create_maintenance(body: SilenceRequest, identity: Operator) -> dict[str, Any]:
        return _silence(body, "maintenance", identity)

    @app.delete("/api/silences/{silence_id}", summary="End a silence or maintenance window now")
    def end_silence(silence_id: Annotated[int, PathParam(ge=0, lt=2**63, description="as listed")],
                    _: Operator) -> dict[str, Any]:
        if not services.store.expire_silence(silence_id, time.time_ns()):
            raise HTTPException(404, f"no silence {silence_id}")
        return {"id": silence_id, "ended": True}

    @app.post("/api/alerts/{fingerprint}/ack", summary="Acknowledge a firing alert: repeats stop until it resolves")
    def acknowledge(fingerprint: Annotated[str, PathParam(max_length=64)], body: AckRequest,
                    identity: Operator) -> dict[str, Any]:
        try:
            _alerts().acknowledge(fingerprint, identity.name, body.comment, time.time_ns())
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"fingerprint": fingerprint, "acknowledged": True, "by": identity.name}

    # --- configurations -------------------------------------------------------------------------------------
    def _archive() -> ConfigArchive:
        if services.archive is None:
            raise HTTPException(409, "the configuration archive is disabled or no device has SSH access")
        return services.archive

    @app.get("/api/configs/status", summary="Age of the last good backup per device and per area")
    def config_status(_: Reader, area: str | None = Query(None, max_length=200)) -> dict[str, Any]:
        try:
            return _archive().status(area)
        except ArchiveError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.post("/api/configs/backup", summary="Back up now: one device, one area, or all; answered at once with the "
                                             "job that does it", status_code=202, tags=["jobs"])
    async def config_backup(body: BackupRequest, identity: Operator, response: Response) -> dict[str, Any]:
        archive = _archive()
        try:
            targets = archive.select(body.device, body.area)
        except ArchiveError as exc:
            raise HTTPException(404, str(exc)) from None
        names = [t.device for t in targets]
        what = body.device or body.area or "all"

        async def work(job: Any) -> list[dict[str, Any]]:
            results = await archive.backup(body.device, body.area)
            return [asdict(r) for r in results]

        job = services.jobs.start("backup", what, identity, {"device": body.device, "area": body.area,
                                                             "devices": len(names)}, work)
        response.headers["Location"] = f"/api/jobs/{job.id}"
        return {"job": job.id, "url": f"/api/jobs/{job.id}", "devices": len(names)}

    @app.get("/api/configs/{device}/versions", summary="A device's configuration versions, newest first")
    def config_versions(device: str, _: ConfigReader) -> list[dict[str, Any]]:
        try:
            return [{"commit": v.commit, "time": v.time.isoformat(), "message": v.message}
                    for v in _archive().versions(device)]
        except ArchiveError as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/api/configs/{device}/diff", summary="The diff between two versions", response_class=Response)
    def config_diff(device: str, _: ConfigReader, a: str = Query(max_length=64),
                    b: str = Query(max_length=64)) -> Response:
        try:
            return Response(_archive().diff(device, a, b), media_type="text/plain; charset=utf-8")
        except (ArchiveError, ValueError) as exc:
            raise HTTPException(404, str(exc)) from None

    app.include_router(change_routes(services.changes))
    app.include_router(compliance_routes(services.compliance, services.jobs))
    app.include_router(capacity_routes(services, capacity or CapacitySettings()))
    app.include_router(carrier_routes(services, capacity or CapacitySettings()))
    app.include_router(overview_routes(services, capacity or CapacitySettings()))
    app.include_router(cluster_routes(getattr(services, "cluster", None)))  # a core of a cluster only
    mount_web(app)

    # --- jobs ---------------------------------------------------------------------------------------------
    @app.get("/api/jobs", summary="Jobs of this run, newest first", tags=["jobs"])
    def jobs(_: Reader, limit: int = Query(100, ge=1, le=500)) -> list[dict[str, Any]]:
        return [j.view() for j in services.jobs.list(limit)]

    @app.get("/api/jobs/{job_id}", summary="A job: its state, summary and per-device results", tags=["jobs"])
    def job(job_id: Annotated[str, PathParam(max_length=64)], _: Reader) -> dict[str, Any]:
        try:
            return services.jobs.get(job_id).view()
        except JobError as exc:
            raise HTTPException(exc.status, str(exc)) from None

    # --- users and tokens (admin) ---------------------------------------------------------------------------
    def _auth() -> AuthService:
        if services.auth is None:
            raise HTTPException(409, "authentication is turned off in the configuration")
        return services.auth

    @app.get("/api/users", summary="Users and their roles", tags=["admin"])
    def users(_: Admin) -> list[dict[str, Any]]:
        return [_record(u) for u in _auth().users()]

    @app.post("/api/users", summary="Add a local user", status_code=201, tags=["admin"])
    def add_user(body: UserRequest, _: Admin) -> dict[str, Any]:
        try:
            return _record(_auth().add_user(body.name, body.roles, body.password))
        except (UserError, RoleError) as exc:
            raise HTTPException(_status(exc), str(exc)) from None

    @app.patch("/api/users/{name}", summary="Change a user's roles, lock or unlock them", tags=["admin"])
    def change_user(name: Annotated[str, PathParam(max_length=64, pattern=NAME_PATTERN)], body: UserChange,
                    identity: Admin) -> dict[str, Any]:
        service = _auth()
        if name == identity.name and body.roles is not None:
            raise HTTPException(403, "an administrator may not change their own roles")
        try:
            if body.roles is not None:
                service.set_roles(name, body.roles)
            if body.locked is True:
                service.lock(name)
                services.sessions.end_user(name)
            elif body.locked is False:
                service.unlock(name)
            found = service.user(name)
        except (UserError, RoleError) as exc:
            raise HTTPException(_status(exc), str(exc)) from None
        if found is None:
            raise HTTPException(404, f"no user {name!r}")
        return _record(found)

    @app.post("/api/users/{name}/password", summary="Set a user's password", tags=["admin"])
    def set_password(name: Annotated[str, PathParam(max_length=64, pattern=NAME_PATTERN)], body: PasswordRequest,
                     _: Admin) -> dict[str, Any]:
        try:
            _auth().set_password(name, body.password)
        except UserError as exc:
            raise HTTPException(_status(exc), str(exc)) from None
        services.sessions.end_user(name)
        return {"name": name, "password_set": True}

    @app.delete("/api/users/{name}", summary="Remove a user", tags=["admin"])
    def remove_user(name: Annotated[str, PathParam(max_length=64, pattern=NAME_PATTERN)],
                    identity: Admin) -> dict[str, Any]:
        if name == identity.name:
            raise HTTPException(403, "an administrator may not remove themselves")
        try:
            _auth().remove(name)
        except UserError as exc:
            raise HTTPException(_status(exc), str(exc)) from None
        services.sessions.end_user(name)
        return {"name": name, "removed": True}

    @app.get("/api/tokens", summary="API tokens (never their secrets)", tags=["admin"])
    def tokens(_: Admin) -> list[dict[str, Any]]:
        return [_record(t) for t in _auth().tokens()]

    @app.post("/api/tokens", summary="Create an API token: the token is in this answer and nowhere else",
              status_code=201, tags=["admin"])
    def create_token(body: TokenRequest, identity: Admin, response: Response) -> dict[str, Any]:
        expires = body.expires_days * 86400 if body.expires_days is not None else None
        try:
            plaintext, record = _auth().create_token(body.name, body.roles, expires, identity.name)
        except (UserError, RoleError) as exc:
            raise HTTPException(422, str(exc)) from None
        response.headers["Cache-Control"] = "no-store"  # never cached anywhere on the way back
        return {"token": plaintext, **_record(record)}

    @app.delete("/api/tokens/{token_id}", summary="Revoke an API token now", tags=["admin"])
    def revoke_token(token_id: Annotated[str, PathParam(pattern=TOKEN_ID_PATTERN)], _: Admin) -> dict[str, Any]:
        try:
            _auth().revoke_token(token_id)
        except UserError as exc:
            raise HTTPException(_status(exc), str(exc)) from None
        return {"id": token_id, "revoked": True}

    # --- the audit trail (auditor) --------------------------------------------------------------------------
    @app.get("/api/audit", summary="The audit trail, newest first", tags=["audit"])
    def audit(_: Auditor,
              since: str | None = Query(None, pattern=RFC3339, json_schema_extra=DATE_TIME,
                                                 description="from this time (RFC 3339), inclusive"),
              until: str | None = Query(None, pattern=RFC3339, json_schema_extra=DATE_TIME,
                                                 description="to this time (RFC 3339), exclusive"),
              identity: str | None = Query(None, max_length=200),
              action: str | None = Query(None, max_length=200, description="prefix, e.g. 'POST /api/silences'"),
              outcome: str | None = Query(None, max_length=64, description="prefix: ok, denied, refused, error"),
              limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
        try:
            start, end = (datetime.fromisoformat(t) if t else None for t in (since, until))
        except ValueError as exc:
            raise HTTPException(422, f"since/until: {exc}") from None
        return [asdict(r) for r in services.audit.records(since=start, until=end, identity=identity,
                                                           action=action, outcome=outcome, limit=limit)]

    @app.get("/api/audit/verify", summary="Check the trail's hash chain: intact, or the first bad record",
             tags=["audit"])
    def audit_verify(_: Auditor) -> dict[str, Any]:
        return asdict(services.audit.verify())

    # --- Prometheus -----------------------------------------------------------------------------------------
    @app.get("/metrics", summary="Prometheus exposition of every latest sample", response_class=Response,
             dependencies=metrics_guard)
    def metrics() -> Response:
        return Response(services.latest.render(), media_type=EXPOSITION)

    @app.get("/metrics/areas/{area_id}", summary="Prometheus exposition for one area: a scrape shard",
             response_class=Response, dependencies=metrics_guard)
    def area_metrics(area_id: str) -> Response:
        if area_id not in services.inventory.areas:
            raise HTTPException(404, f"no area {area_id!r}")
        # The whole path, since area names repeat across parents (two villages may share a name).
        return Response(services.latest.render(services.inventory.path_labels(area_id)), media_type=EXPOSITION)

    return app


def _status(exc: Exception) -> int:
    return 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Taken) else 422


def _record(record: Any) -> dict[str, Any]:
    """A user or token record as answered: roles as a sorted list of names."""
    return {**asdict(record), "roles": record.role_names}


def _health(record: Any) -> dict[str, Any]:
    data = asdict(record)
    for key in ("polled_at", "last_ok_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data
