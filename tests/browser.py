"""Web pages checked in a real browser: Debian's Chromium (`/usr/bin/chromium`, installed by `./dev`) driven by
Playwright over CDP. Playwright's own browser download (`playwright install`) is never used: nothing is downloaded
at run time. Without /usr/bin/chromium the test is skipped, saying why; CI installs it, so there it runs.

    with chromium() as browser, serve(body, headers) as url:
        page = browser.new_page()
        page.goto(url)
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on leaving."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package (./dev does) to check pages in a "
                    "browser")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the project's test extra")
    # Chromium refuses its sandbox to root (CI runs as root); as any other user it keeps it.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve(body: bytes, headers: Mapping[str, str]) -> Iterator[str]:
    """`body` with `headers` at every path of a one-thread HTTP server on a free loopback port; its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
