"""Who is calling, whether they may, and the audit record of what they did: the API's one gate.

A request is authenticated by an API token (`Authorization: Bearer yw_…`) or by a browser session cookie; a
state-changing request made with a cookie must also carry the session's CSRF token in `X-CSRF-Token` (the cookie is
`SameSite=Strict` as well: two defences, since old browsers ignore SameSite). Each route declares the permission it
needs; the role table in `yiwang.auth.roles` decides.

Every state-changing request, and every request refused for want of identity or permission, becomes one audit
record, written before its response leaves: the client never sees an outcome the trail does not hold.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any, Protocol

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPBearer

from yiwang.audit import AuditEvent
from yiwang.auth.roles import Identity, Permission, Role
from yiwang.auth.service import AuthError
from yiwang.auth.sessions import Session

log = logging.getLogger("yiwang.api.security")

SESSION_COOKIE = "yiwang_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What the trail keeps of a request body: enough to say what was asked, never a flood.
BODY_LIMIT = 64 * 1024

# With authentication turned off (loopback only), every caller is this.
ANONYMOUS = Identity("anonymous", frozenset(Role), "anonymous")

# For the OpenAPI document (so clients and schemathesis know how to authenticate); the checks are ours.
bearer_scheme = HTTPBearer(auto_error=False, description="an API token: yw_…")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="a browser session from "
                             "POST /api/auth/login; state-changing requests also need X-CSRF-Token")
csrf_scheme = APIKeyHeader(name=CSRF_HEADER, auto_error=False, description="the csrf_token from the login answer")


class Authenticator(Protocol):
    def cached_identity(self, presented: str) -> Identity | None: ...

    def verify_token(self, presented: str, source: str) -> Identity: ...


class SessionLookup(Protocol):
    def get(self, session_id: str) -> Session | None: ...


class Trail(Protocol):
    def append(self, event: AuditEvent) -> Any: ...


class Gate:
    """The authentication settings of one app: the token service, the sessions, and whether auth is on at all."""

    def __init__(self, auth: Authenticator | None, sessions: SessionLookup, *, secure_cookies: bool) -> None:
        self.auth = auth
        self.sessions = sessions
        self.secure_cookies = secure_cookies

    async def identify(self, request: Request) -> Identity:
        if self.auth is None:
            return ANONYMOUS
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, presented = header.partition(" ")
            presented = presented.strip()
            if scheme.lower() != "bearer" or not presented:
                raise _unauthorized("use Authorization: Bearer <token>")
            identity = self.auth.cached_identity(presented)
            if identity is None:
                try:
                    identity = await asyncio.to_thread(self.auth.verify_token, presented, source(request))
                except AuthError as exc:
                    request.state.audit_reason = f"token {exc.reason}"
                    raise _unauthorized(_TOKEN_WORDS.get(exc.reason, "invalid token")) from None
            return identity
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            session = self.sessions.get(session_id)
            if session is None:
                request.state.audit_reason = "session expired or unknown"
                raise _unauthorized("the session has ended; log in again")
            if request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                    request.state.identity = session.identity
                    request.state.audit_reason = "CSRF token missing or wrong"
                    raise HTTPException(403, f"a request made with the session cookie needs its {CSRF_HEADER}")
            return session.identity
        raise _unauthorized("authentication required: an API token or a session")


_TOKEN_WORDS = {"expired": "the token has expired", "revoked": "the token has been revoked"}


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="yiwang"'})


def source(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def require(permission: Permission | None) -> Callable[..., Awaitable[Identity]]:
    """A dependency: the caller's identity, refused with 401 (who?) or 403 (not allowed) as fits. The app's Gate
    is `app.state.gate`. `permission=None`: any authenticated caller."""

    async def dependency(request: Request, _bearer: Annotated[Any, Depends(bearer_scheme)],
                         _cookie: Annotated[Any, Depends(cookie_scheme)],
                         _csrf: Annotated[Any, Depends(csrf_scheme)]) -> Identity:
        gate: Gate = request.app.state.gate
        identity = await gate.identify(request)
        request.state.identity = identity
        if permission is not None and not identity.can(permission):
            request.state.audit_reason = f"needs {permission.value}"
            raise HTTPException(403, f"{identity.name} ({', '.join(identity.role_names) or 'no role'}) may not do "
                                     f"this: it needs the permission {permission.value}")
        return identity

    return dependency


# What a route asks of its caller, by the permission it needs.
Anyone = Annotated[Identity, Depends(require(None))]
Reader = Annotated[Identity, Depends(require(Permission.READ))]
Operator = Annotated[Identity, Depends(require(Permission.OPERATE))]
ConfigReader = Annotated[Identity, Depends(require(Permission.CONFIGS_READ))]
Planner = Annotated[Identity, Depends(require(Permission.CHANGE_PLAN))]
Starter = Annotated[Identity, Depends(require(Permission.CHANGE_START))]
Approver = Annotated[Identity, Depends(require(Permission.CHANGE_APPROVE))]
Auditor = Annotated[Identity, Depends(require(Permission.AUDIT_READ))]
Admin = Annotated[Identity, Depends(require(Permission.USERS_MANAGE))]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AuditMiddleware:
    """Pure ASGI (no body buffering of responses): keeps up to BODY_LIMIT of the request body as it is read, and
    when the response starts, writes the record if the request changed state or was refused."""

    def __init__(self, app: ASGIApp, trail: Trail) -> None:
        self.app = app
        self.trail = trail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        body_size = 0

        async def receive_and_keep() -> Message:
            nonlocal body_size
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                body_size += len(chunk)
                if len(body) < BODY_LIMIT:
                    body.extend(chunk[: BODY_LIMIT - len(body)])
            return message

        async def send_after_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if scope["method"] not in SAFE_METHODS or status in (401, 403):
                    await self._record(scope, status, bytes(body), body_size)
            await send(message)

        await self.app(scope, receive_and_keep, send_after_record)

    async def _record(self, scope: Scope, status: int, body: bytes, body_size: int) -> None:
        state = scope.get("state") or {}
        identity: Identity | None = state.get("identity")
        route = scope.get("route")
        template = getattr(route, "path", None) or scope.get("path", "")
        path_params = {k: str(v) for k, v in (scope.get("path_params") or {}).items()}
        parameters = _parameters(body, body_size, scope.get("query_string", b""))
        claimed = state.get("audit_identity")  # a login names who it tries to be before anyone is known
        event = AuditEvent(
            identity=identity.name if identity is not None else (claimed or "-"),
            identity_kind=identity.kind if identity is not None else "unauthenticated",
            roles=identity.role_names if identity is not None else [],
            source=(scope.get("client") or ("unknown",))[0],
            action=f"{scope['method']} {template}",
            target=_target(path_params, parameters),
            parameters=parameters,
            outcome=_outcome(status, state.get("audit_reason")),
            status=status,
        )
        try:
            await asyncio.to_thread(self.trail.append, event)
        except Exception:  # the request has happened; a trail that cannot be written is an operator's emergency
            log.exception("AUDIT TRAIL NOT WRITTEN for %s %s (status %d)", scope["method"], template, status)


def _parameters(body: bytes, body_size: int, query: bytes) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if query:
        from urllib.parse import parse_qsl

        parameters["query"] = dict(parse_qsl(query.decode("latin-1")))
    if body_size:
        try:
            parsed = json.loads(body) if body_size <= BODY_LIMIT else None
        except ValueError:
            parsed = None
        parameters["body"] = parsed if parsed is not None else {"bytes": body_size, "json": False}
    return parameters


def _target(path_params: dict[str, str], parameters: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in path_params.items()]
    body = parameters.get("body")
    if isinstance(body, dict):
        parts += [f"{k}={body[k]}" for k in ("name", "area", "device", "rule") if isinstance(body.get(k), str)]
    return " ".join(parts)


def _outcome(status: int, reason: str | None) -> str:
    if status < 400:
        return "ok"
    word = "denied" if status in (401, 403) else "refused" if status < 500 else "error"
    return f"{word}: {reason}" if reason else word
