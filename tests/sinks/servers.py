"""Real servers on loopback for integration tests: VictoriaMetrics (speaks the InfluxDB v2 write
API) and Prometheus. Importable on its own (no pytest, no relative imports) so end-to-end tests
elsewhere can reuse it:

    from sinks.servers import start_victoria_metrics, start_prometheus   # under pytest (tests/ on sys.path)

Each server writes its log next to its data; `log_tail()` is what to print when a test fails.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback test servers)
        return bytes(response.read())


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ServerError(f"{name} is not installed (Debian package: apt-get install {name})")
    return path


@dataclass
class _Process:
    name: str
    port: int
    data_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready_path(self) -> str:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        if self.running:
            return
        self.data_path.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps it)
        try:
            self.process = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                http_get(self.url + self._ready_path(), timeout=1.0)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.name} not ready within {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait: both servers finish in-flight requests and persist data first."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class VictoriaMetrics(_Process):
    extra_args: Sequence[str] = ()

    def _command(self) -> list[str]:
        return [_binary("victoria-metrics"), f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.data_path}", "-search.latencyOffset=0s", "-retentionPeriod=100y",
                *self.extra_args]

    def _ready_path(self) -> str:
        return "/health"

    @property
    def influx_url(self) -> str:
        """What InfluxSink/influxdb-client takes: it appends /api/v2/write itself."""
        return self.url

    def force_flush(self) -> None:
        """Makes just-written samples visible to export and queries."""
        http_get(self.url + "/internal/force_flush")

    def export(self, match: str = '{__name__!=""}') -> list[dict[str, Any]]:
        """Every stored raw sample, one dict per series: {"metric": {...}, "values": [...], "timestamps": [...]}."""
        self.force_flush()
        query = urllib.parse.urlencode({"match[]": match})
        body = http_get(f"{self.url}/api/v1/export?{query}", timeout=30.0)
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def count(self, match: str = '{__name__!=""}') -> int:
        return sum(len(series["values"]) for series in self.export(match))


@dataclass
class Prometheus(_Process):
    targets: Sequence[str] = ()
    scrape_interval: str = "1s"
    metrics_path: str = "/metrics"
    bearer_token_file: Path | None = None  # Prometheus authenticates to yiwang with an API token in this file

    @property
    def config_path(self) -> Path:
        return self.data_path.parent / f"prometheus-{self.port}.yml"

    def _command(self) -> list[str]:
        targets = ", ".join(f'"{target}"' for target in self.targets)
        self.config_path.write_text(
            "global:\n"
            f"  scrape_interval: {self.scrape_interval}\n"
            f"  scrape_timeout: {self.scrape_interval}\n"
            "scrape_configs:\n"
            "  - job_name: yiwang\n"
            f"    metrics_path: {self.metrics_path}\n"
            + (f"    authorization:\n      type: Bearer\n      credentials_file: {self.bearer_token_file}\n"
               if self.bearer_token_file else "")
            + f"    static_configs:\n      - targets: [{targets}]\n")
        return [_binary("prometheus"), f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.data_path}", f"--web.listen-address=127.0.0.1:{self.port}"]

    def _ready_path(self) -> str:
        return "/-/ready"

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = http_get(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
        answer = json.loads(body)
        if answer.get("status") != "success":
            raise ServerError(f"query {expr!r} failed: {answer}")
        return list(answer["data"]["result"])

    def targets_health(self) -> list[dict[str, Any]]:
        body = json.loads(http_get(f"{self.url}/api/v1/targets"))
        return list(body["data"]["activeTargets"])

    def wait_for(self, expr: str, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
                 ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if done(result):
                return result
            time.sleep(0.2)
        raise ServerError(f"{expr!r} never satisfied the condition; last result {result}; "
                          f"targets {self.targets_health()}")


def start_victoria_metrics(tmp_path: Path, *, port: int | None = None, extra_args: Sequence[str] = ()
                           ) -> VictoriaMetrics:
    """A running VictoriaMetrics with its data under tmp_path/victoria-metrics. `stop()` and
    `start()` again keep the port and the data (for outage tests); the caller stops it at the end."""
    base = tmp_path / "victoria-metrics"
    base.mkdir(parents=True, exist_ok=True)
    server = VictoriaMetrics("victoria-metrics", port or free_port(), base / "data", base / "server.log",
                             extra_args=tuple(extra_args))
    server.start()
    return server


def start_prometheus(tmp_path: Path, targets: Sequence[str], *, port: int | None = None,
                     scrape_interval: str = "1s", metrics_path: str = "/metrics",
                     bearer_token_file: Path | None = None) -> Prometheus:
    """A running Prometheus scraping `targets` ("127.0.0.1:PORT") every scrape_interval."""
    base = tmp_path / "prometheus"
    base.mkdir(parents=True, exist_ok=True)
    server = Prometheus("prometheus", port or free_port(), base / "data", base / "server.log",
                        targets=tuple(targets), scrape_interval=scrape_interval, metrics_path=metrics_path,
                        bearer_token_file=bearer_token_file)
    server.start()
    return server
