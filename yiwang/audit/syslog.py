"""Copies of audit records as RFC 5424 syslog, for the security management platform (安管平台).

The audit file is the record of truth; this is a copy on another host, which makes it the witness that a
rewritten file cannot rewrite. Records leave from a background thread through a bounded queue, so an append
never waits for the network: when the receiver is down they wait in the queue (the oldest dropped and counted
when it is full) and go out once it answers again. UDP (RFC 5426) cannot tell that nobody listens, so records
sent into a silent UDP receiver are lost; TCP (RFC 6587 octet counting) and TLS (RFC 5425) notice and resend.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from yiwang.audit.chain import AuditRecord
from yiwang.config import SyslogSettings

log = logging.getLogger(__name__)

SD_ID = "yiwang@32473"  # 32473: the enterprise number RFC 5612 reserves for examples, until yiwang has its own
NOTICE, WARNING = 5, 4
BOM = b"\xef\xbb\xbf"
MAX_MESSAGE = 8192  # rsyslog's and syslog-ng's default limit; longer messages are cut by receivers
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def severity(outcome: str) -> int:
    return NOTICE if outcome == "ok" else WARNING


def header_field(value: str, limit: int) -> str:
    """An RFC 5424 header field: printable US-ASCII without spaces, at most `limit` characters, "-" if empty."""
    cleaned = "".join(c if "!" <= c <= "~" else "_" for c in value)[:limit]
    return cleaned or "-"


def param_value(value: str) -> str:
    """An SD-PARAM value: `"`, `\\` and `]` escaped as RFC 5424 §6.3.3 asks, and control characters written as
    \\n, \\r, \\t or \\xHH so that no line break reaches a receiver that frames by lines (the MSG's JSON holds
    the exact value)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), escaped)


def format_rfc5424(record: AuditRecord, *, facility: int, app_name: str, hostname: str, procid: str) -> bytes:
    params = {"seq": str(record.seq), "identity": record.identity, "role": ",".join(record.roles),
              "src": record.source, "target": record.target, "outcome": record.outcome, "hash": record.hash}
    data = " ".join(f'{name}="{param_value(value)}"' for name, value in params.items())
    header = (f"<{facility * 8 + severity(record.outcome)}>1 {header_field(record.time, 32)} "
              f"{header_field(hostname, 255)} "
              f"{header_field(app_name, 48)} {header_field(procid, 128)} {header_field(record.action, 32)} "
              f"[{SD_ID} {data}] ").encode("utf-8", "replace")
    message = header + BOM + _json(record.as_dict())
    if len(message) > MAX_MESSAGE:  # keep it whole and valid JSON: the file has the parameters
        size = len(_json(record.parameters))
        message = header + BOM + _json({**record.as_dict(), "parameters": {
            "[too large]": f"{size} bytes; see record {record.seq} in the audit file"}})
    return message


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def frame(message: bytes, protocol: str) -> bytes:
    """UDP: one message a datagram; TCP and TLS: octet counting (RFC 6587 §3.4.1, RFC 5425 §4.3)."""
    return message if protocol == "udp" else f"{len(message)} ".encode() + message


@dataclass(frozen=True, slots=True)
class ForwarderStats:
    sent: int
    dropped: int
    queued: int
    connected: bool


class SyslogForwarder:
    def __init__(self, settings: SyslogSettings, *, hostname: str | None = None, queue_size: int = 10_000,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0, timeout_s: float = 5.0,
                 close_timeout_s: float = 5.0) -> None:
        self.settings = settings
        self.hostname = hostname or socket.gethostname()
        self._limit = queue_size
        self._backoff_initial, self._backoff_max = backoff_initial, backoff_max
        self._timeout = timeout_s
        self._close_timeout = close_timeout_s
        self._pending: deque[bytes] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._deadline = float("inf")
        self._sock: socket.socket | None = None
        self._down_since: float | None = None
        self._dropped_in_outage = 0
        self.sent = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="audit-syslog", daemon=True)
        self._thread.start()

    def send(self, record: AuditRecord) -> None:
        """Queue a copy of `record`; never blocks on the network."""
        message = format_rfc5424(record, facility=self.settings.facility, app_name=self.settings.app_name,
                                 hostname=self.hostname, procid=str(os.getpid()))
        with self._cond:
            if self._closing:
                self._drop(1)
                return
            if len(self._pending) >= self._limit:
                self._pending.popleft()
                self._drop(1)
            self._pending.append(message)
            self._cond.notify()

    def stats(self) -> ForwarderStats:
        with self._cond:
            return ForwarderStats(self.sent, self.dropped, len(self._pending), self._sock is not None)

    def close(self, timeout_s: float | None = None) -> None:
        """Send what is queued, for at most `timeout_s`; what is left then is dropped and counted."""
        with self._cond:
            if not self._closing:
                self._closing = True
                self._deadline = time.monotonic() + (self._close_timeout if timeout_s is None else timeout_s)
            self._cond.notify_all()
        self._thread.join(max(0.0, self._deadline - time.monotonic()) + 1.0)

    def _drop(self, count: int) -> None:
        self.dropped += count
        if self._down_since is not None:
            self._dropped_in_outage += count

    def _run(self) -> None:
        backoff = self._backoff_initial
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    break
                message = self._pending[0]
            if self._deliver(message):
                backoff = self._backoff_initial
                with self._cond:
                    if self._pending and self._pending[0] is message:  # unless it was dropped meanwhile
                        self._pending.popleft()
                    self.sent += 1
                continue
            with self._cond:
                if self._closing and time.monotonic() >= self._deadline:
                    self._drop(len(self._pending))
                    self._pending.clear()
                    break
                self._cond.wait(min(backoff, max(0.0, self._deadline - time.monotonic())))
            backoff = min(backoff * 2, self._backoff_max)
        self._disconnect()

    def _deliver(self, message: bytes) -> bool:
        target = f"{self.settings.host}:{self.settings.port} ({self.settings.protocol})"
        try:
            if self._sock is not None and self.settings.protocol != "udp" and _peer_closed(self._sock, self._timeout):
                self._disconnect()
            if self._sock is None:
                self._sock = self._connect()
            self._sock.sendall(frame(message, self.settings.protocol))
        except OSError as exc:
            self._disconnect()
            with self._cond:
                first = self._down_since is None
                if first:
                    self._down_since, self._dropped_in_outage = time.monotonic(), 0
            if first:
                log.warning("audit syslog receiver %s unreachable (%s); the audit file keeps every record, and "
                            "copies wait here (up to %d) until it answers", target, exc, self._limit)
            return False
        with self._cond:
            down_since, dropped, self._down_since = self._down_since, self._dropped_in_outage, None
        if down_since is not None:
            log.warning("audit syslog receiver %s answers again after %.0f s; %d copies were dropped meanwhile",
                        target, time.monotonic() - down_since, dropped)
        return True

    def _connect(self) -> socket.socket:
        host, port, protocol = self.settings.host, self.settings.port, self.settings.protocol
        if protocol == "udp":
            family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family, kind, proto)
            sock.connect(address)  # connected: a refusal (ICMP port unreachable) shows as an error
            return sock
        sock = socket.create_connection((host, port), timeout=self._timeout)
        if protocol == "tls":
            context = ssl.create_default_context(cafile=str(self.settings.ca_file) if self.settings.ca_file else None)
            try:
                sock = context.wrap_socket(sock, server_hostname=host)
            except OSError:
                sock.close()
                raise
        sock.settimeout(self._timeout)
        return sock

    def _disconnect(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None


def _peer_closed(sock: socket.socket, timeout_s: float) -> bool:
    """Whether a stream receiver has closed its end: sending into it would lose the first record silently."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        sock.settimeout(0)
        try:
            data = sock.recv(4096)  # receivers send nothing; this also consumes TLS 1.3 session tickets
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        finally:
            sock.settimeout(timeout_s)
        return data == b""
    except OSError:
        return True
