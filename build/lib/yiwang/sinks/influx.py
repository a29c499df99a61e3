"""Writes batches to InfluxDB v2 (or anything speaking /api/v2/write) through influxdb-client.

The client's synchronous write API runs on a one-thread executor owned by the sink, so a slow
database never blocks the event loop and never takes threads from the default pool. aiohttp is not
installed, so InfluxDBClientAsync is not an option. The client does no retries of its own
(urllib3 retries=False): BufferedSink owns retrying.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import urllib3.exceptions
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.write_api import SYNCHRONOUS

from collectors.model import Sample
from yiwang.sinks.base import SinkError
from yiwang.sinks.line_protocol import encode_batch

log = logging.getLogger(__name__)

# The server understood the request and refused its content: the same bytes will be refused again.
_REJECTED = {400, 413, 422}


def redact_url(url: str) -> str:
    """The URL without user:password@, query or fragment, safe for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    """Where points go: any server that accepts the InfluxDB v2 write API."""

    url: str
    org: str
    bucket: str
    timeout_s: float = 10.0
    gzip: bool = False
    verify_ssl: bool = True


class InfluxSink:
    """`token` is the resolved secret (e.g. inventory.secrets.resolve(ref)). It never appears in the
    repr, in log lines or in exception text (server error bodies that echo it are scrubbed)."""

    def __init__(self, where: InfluxTarget, token: str, name: str = "influx") -> None:
        self.name = name
        self.url = redact_url(where.url)
        self.org = where.org
        self.bucket = where.bucket
        self.rejected_points = 0
        self._timeout_s = where.timeout_s
        self._client = InfluxDBClient(url=where.url, token=token, org=where.org, timeout=int(where.timeout_s * 1000),
                                      enable_gzip=where.gzip, verify_ssl=where.verify_ssl)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"yiwang-sink-{name}")
        # Kept (as given: a Secret keeps its masked repr) only to scrub it from server error bodies.
        self._scrub = token or None

    def __repr__(self) -> str:
        return f"InfluxSink(url={self.url!r}, org={self.org!r}, bucket={self.bucket!r})"

    async def write(self, batch: Sequence[Sample]) -> None:
        if not batch:
            return
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write_blocking, batch)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._client.close)
        self._executor.shutdown(wait=False)

    def _write_blocking(self, batch: Sequence[Sample]) -> None:
        rejected: list[tuple[Sample, str]] = []
        body = encode_batch(batch, rejected)
        if rejected:
            self.rejected_points += len(rejected)
            sample, reason = rejected[0]
            log.warning("%s: left out %d samples that cannot be written, e.g. measurement %r: %s",
                        self.name, len(rejected), sample.measurement, reason)
        if not body:
            return
        try:
            self._write_api.write(self.bucket, self.org, record=body,
                                  write_precision=cast(WritePrecision, WritePrecision.NS))
        except InfluxDBError as exc:
            # `from None`: the client's exception carries response headers and body; ours is enough.
            raise self._http_error(exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise SinkError(f"write to {self.url} failed: {_network_reason(exc, self._timeout_s)}") from None

    def _http_error(self, exc: InfluxDBError) -> SinkError:
        status = getattr(exc, "status", None)
        if status is None and exc.response is not None:
            status = exc.response.status
        detail = str(exc.message if exc.message is not None else "").strip()
        if isinstance(exc.message, bytes):
            detail = exc.message.decode("utf-8", "replace").strip()
        if self._scrub:
            detail = detail.replace(self._scrub, "***")
        detail = " ".join(detail.split())[:300]
        message = f"write to {self.url} (org {self.org!r}, bucket {self.bucket!r}) failed: HTTP {status}"
        if detail:
            message += f": {detail}"
        return SinkError(message, retryable=status not in _REJECTED, status=status)


def _network_reason(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    # Before the timeout check: urllib3's NewConnectionError is a subclass of ConnectTimeoutError.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot connect: {cause.strerror}"
        return "cannot connect"
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        return f"no answer within {timeout_s:g}s"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return "connection broken while sending"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__
