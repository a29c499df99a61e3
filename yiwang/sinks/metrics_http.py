"""A small /metrics HTTP server over render(): one path per registry (e.g. one per area shard).

It runs in its own threads, as prometheus_client's start_http_server does. Rendering a large store
holds the GIL for a while (about 3 s per million series here), which is why big installations
scrape area shards rather than one /metrics.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry

from yiwang.sinks.prometheus import CONTENT_TYPE, render


class MetricsServer:
    def __init__(self, routes: Mapping[str, CollectorRegistry], host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes = dict(routes)
        handler = type("MetricsHandler", (_Handler,), {"routes": self.routes})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="yiwang-metrics", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, CollectorRegistry] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        registry = self.routes.get(urlsplit(self.path).path)
        if registry is None:
            self.send_error(404)
            return
        body = render(registry)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=1)  # level 1: most of the gain for little CPU
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass  # one line per scrape is noise; errors surface in Prometheus' target page
