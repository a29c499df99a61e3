"""The browser pages: the city overview, a device, the login form, and their static files.

The pages are fixed HTML files that fetch everything from `/api/overview*` themselves; nothing from a device or the
inventory is ever put into HTML on the server. Only the session is checked here, so that a browser without one is
sent to the login form rather than shown an empty page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from api.security import Gate

HERE = Path(__file__).parent
STATIC = HERE / "static"
PAGES = HERE / "pages"

# No inline script or style anywhere; ECharts styles its elements through the CSSOM, which style-src allows.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store"}
# Vendored files carry their version in their name, so a browser may keep them for a year; the page's own scripts
# are revalidated (ETag) on every load so that an upgrade shows at once.
VENDOR_CACHE = "public, max-age=31536000, immutable"
OWN_CACHE = "no-cache"


class CachedStatic(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = VENDOR_CACHE if path.startswith("vendor/") else OWN_CACHE
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _page(name: str) -> FileResponse:
    return FileResponse(PAGES / name, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


async def _logged_in(request: Request) -> bool:
    gate: Gate = request.app.state.gate
    try:
        await gate.identify(request)
    except HTTPException:
        return False
    return True


def web_routes() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def overview(request: Request) -> Response:
        if not await _logged_in(request):
            return RedirectResponse("/login", status_code=302)
        return _page("overview.html")

    @router.get("/device/{name}")
    async def device(request: Request, name: Annotated[str, PathParam(max_length=200)]) -> Response:
        if not await _logged_in(request):
            return RedirectResponse("/login", status_code=302)
        return _page("device.html")  # the script reads the name from the address and asks the API

    @router.get("/login")
    def login() -> Response:
        return _page("login.html")

    return router


def mount_web(app: FastAPI) -> None:
    app.include_router(web_routes())
    app.mount("/static", CachedStatic(directory=STATIC), name="static")
