"""Records reach a real syslog receiver: rsyslogd over UDP and TCP, and a TLS receiver on loopback.

This Debian rsyslog has no TLS stream driver (lmnsd_ossl / lmnsd_gtls are separate packages), so TLS is checked
against a receiver built on Python's ssl module: a real TLS handshake with certificate verification."""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit.conftest import event
from tests.audit.rsyslog import Rsyslog
from yiwang.audit import AuditTrail, SyslogForwarder
from yiwang.audit.syslog import BOM
from yiwang.config import SyslogSettings

pytestmark = pytest.mark.integration


def trail_to(tmp_path: Path, protocol: str, port: int, **options: object) -> AuditTrail:
    settings = SyslogSettings(host="127.0.0.1", port=port, protocol=protocol)  # type: ignore[arg-type]
    return AuditTrail(tmp_path / "audit.jsonl", SyslogForwarder(settings, hostname="ops-1", **options))  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_records_arrive_parsed_as_rfc5424(tmp_path: Path, rsyslog: Rsyslog, protocol: str) -> None:
    port = rsyslog.udp_port if protocol == "udp" else rsyslog.tcp_port
    trail = trail_to(tmp_path, protocol, port)
    sent = [trail.append(event(1)),
            trail.append(event(2, identity='a"b]c\\d\n', outcome="denied", action="alerts.silence", status=403)),
            trail.append(event(3, outcome="failed: 2 of 9 devices failed", action="config.backup", roles=[]))]
    trail.close()
    got = rsyslog.wait_for(3)
    assert len(got) == 3, got
    for message, record in zip(got, sent, strict=True):
        assert message["version"] == "1"  # rsyslog's RFC 5424 parser took it
        assert message["app"] == "yiwang"
        assert message["hostname"] == "ops-1"
        assert message["procid"] == str(os.getpid())
        assert message["msgid"] == record.action
        assert message["facility"] == "13"
        assert message["severity"] == ("5" if record.outcome == "ok" else "4")
        assert message["msg"].startswith(BOM.decode("utf-8"))
        assert json.loads(message["msg"].removeprefix(BOM.decode("utf-8"))) == record.as_dict()
    assert got[0]["sd"] == (f'[yiwang@32473 seq="1" identity="alice" role="operator" src="10.1.2.3" target="fp-1" '
                            f'outcome="ok" hash="{sent[0].hash}"]')
    assert got[1]["sd"] == ('[yiwang@32473 seq="2" identity="a\\"b\\]c\\\\d\\n" role="operator" src="10.1.2.3" '
                            f'target="fp-2" outcome="denied" hash="{sent[1].hash}"]')
    assert 'role="" src=' in got[2]["sd"]


def test_a_receiver_that_goes_away_and_comes_back(tmp_path: Path, rsyslog: Rsyslog,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="yiwang.audit.syslog")
    trail = trail_to(tmp_path, "tcp", rsyslog.tcp_port, backoff_initial=0.05, backoff_max=0.2)
    for n in range(1, 4):
        trail.append(event(n))
    assert len(rsyslog.wait_for(3)) == 3
    rsyslog.stop()
    for n in range(4, 9):  # the appends go through while nobody listens
        trail.append(event(n))
    deadline = time.monotonic() + 10
    while "unreachable" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # several reconnection attempts, each refused
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1, caplog.text  # once per outage, not per record or per attempt
    assert trail.verify().records == 8
    rsyslog.start()
    trail.append(event(9))
    got = rsyslog.wait_for(9)
    trail.close()
    assert [json.loads(m["msg"].removeprefix(BOM.decode()))["seq"] for m in got] == list(range(1, 10))
    assert any("answers again" in r.getMessage() for r in caplog.records)
    stats = trail.forwarder.stats() if trail.forwarder else None  # type: ignore[attr-defined]
    assert stats is not None and stats.sent == 9 and stats.dropped == 0


def test_a_full_queue_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    port = _closed_port()
    trail = trail_to(tmp_path, "tcp", port, queue_size=5, backoff_initial=5.0, close_timeout_s=0.2)
    for n in range(1, 21):
        trail.append(event(n))  # all written to the file although the copies have nowhere to go
    forwarder = trail.forwarder
    trail.close()
    assert trail.verify().records == 20
    stats = forwarder.stats()  # type: ignore[union-attr]
    assert stats.sent == 0 and stats.dropped == 20 and stats.queued == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


class TlsReceiver:
    """Accepts TLS connections and splits octet-counted frames (RFC 5425) into messages."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.messages: list[bytes] = []
        self.handshake_failures = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            try:
                tls = self.context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                self.handshake_failures += 1
                conn.close()
                continue
            threading.Thread(target=self._read, args=(tls,), daemon=True).start()

    def _read(self, tls: ssl.SSLSocket) -> None:
        buffer = b""
        with tls:
            while chunk := tls.recv(65536):
                buffer += chunk
                while b" " in buffer:
                    length, _, rest = buffer.partition(b" ")
                    if len(rest) < int(length):
                        break
                    self.messages.append(rest[:int(length)])
                    buffer = rest[int(length):]

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[TlsReceiver, Path]]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    receiver = TlsReceiver(cert, key)
    yield receiver, cert
    receiver.close()


def test_tls_with_a_verified_receiver(tmp_path: Path, tls_receiver: tuple[TlsReceiver, Path]) -> None:
    receiver, cert = tls_receiver
    settings = SyslogSettings(host="127.0.0.1", port=receiver.port, protocol="tls", ca_file=cert)
    trail = AuditTrail(tmp_path / "audit.jsonl", SyslogForwarder(settings))
    records = [trail.append(event(n)) for n in range(1, 4)]
    trail.close()
    deadline = time.monotonic() + 10
    while len(receiver.messages) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [json.loads(m.partition(BOM)[2])["hash"] for m in receiver.messages] == [r.hash for r in records]
    assert all(m.startswith(b"<109>1 ") for m in receiver.messages)


def test_tls_refuses_a_receiver_it_cannot_verify(tmp_path: Path, tls_receiver: tuple[TlsReceiver, Path],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    receiver, _ = tls_receiver
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(other / "k.pem"),
                    "-out", str(other / "c.pem"), "-days", "1", "-subj", "/CN=localhost"], check=True,
                   capture_output=True)
    settings = SyslogSettings(host="127.0.0.1", port=receiver.port, protocol="tls", ca_file=other / "c.pem")
    caplog.set_level(logging.WARNING, logger="yiwang.audit.syslog")
    trail = AuditTrail(tmp_path / "audit.jsonl", SyslogForwarder(settings, backoff_initial=0.05,
                                                                 close_timeout_s=0.5))
    trail.append(event(1))
    trail.close()
    assert receiver.messages == []
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert trail.verify().records == 1
