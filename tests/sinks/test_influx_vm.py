"""InfluxSink + BufferedSink against a real VictoriaMetrics (InfluxDB v2 write API) on loopback.

VictoriaMetrics keeps every copy of a sample written twice with the same series and timestamp
(checked in test_victoria_metrics_keeps_duplicates), unlike InfluxDB, which overwrites. So
counting the exported samples proves that nothing was written twice; the sink-level counts
(CountingSink) prove in addition that the sink never sent a batch again after it succeeded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from collectors.model import Sample
from yiwang.queue import SegmentQueue
from yiwang.sinks.base import SinkError
from yiwang.sinks.buffered import BufferedSink, BufferPolicy
from yiwang.sinks.influx import InfluxSink, InfluxTarget

from .fakes import BASE_NS, CountingSink, numbered, spool_files
from .servers import VictoriaMetrics, free_port, http_get, start_victoria_metrics
from .test_line_protocol import hostile_strings, stored_value

pytestmark = pytest.mark.integration

TOKEN = "s3cr3t-token-value"


def influx(server: VictoriaMetrics | str, **options: object) -> InfluxSink:
    url = server if isinstance(server, str) else server.influx_url
    return InfluxSink(InfluxTarget(url, "yiwang", "metrics", **options), TOKEN)  # type: ignore[arg-type]


def exported_ids(server: VictoriaMetrics, name: str = "interface_n") -> Counter[int]:
    """How many times each point (identified by its value) is stored."""
    found: Counter[int] = Counter()
    for series in server.export(f'{{__name__="{name}"}}'):
        found.update(int(value) for value in series["values"])
    return found


def test_victoria_metrics_keeps_duplicates(victoria: VictoriaMetrics) -> None:
    body = b"dup,device=r1 v=1 1717200000000000000\n"
    request = urllib.request.Request(f"{victoria.url}/api/v2/write?org=o&bucket=b&precision=ns", data=body,
                                     method="POST")
    for _ in range(2):
        urllib.request.urlopen(request, timeout=5).close()
    (series,) = victoria.export('{__name__="dup_v"}')
    assert series["timestamps"] == [1717200000000, 1717200000000]


async def test_points_values_timestamps_and_hostile_tags_read_back_exactly(victoria: VictoriaMetrics,
                                                                           tmp_path: Path) -> None:
    values = [t for t in hostile_strings(400, seed=99) if t.strip() and "\x00" not in t]
    samples = [Sample("interface", (("county", text), ("device", f"r{i}"), ("village", "黄州 区, \"1\"")),
                      # VictoriaMetrics keeps 12 significant digits of a float (InfluxDB keeps all 17),
                      # so fractions here are short enough to compare exactly.
                      {"in_octets_total": 2.0 ** 40 + i, "utilisation": round(i / 3, 6), "oper_status": 1.0},
                      BASE_NS + i * 1_000_000) for i, text in enumerate(values)]
    policy = BufferPolicy(max_batch=64, flush_interval=0.05)
    async with BufferedSink(influx(victoria), tmp_path / "spool", policy) as sink:
        sink.add(samples)
        async with asyncio.timeout(20):
            await sink.flush()
        assert sink.stats.written_points == len(samples)

    exported = victoria.export('{__name__=~"interface_.*"}')
    got = {}
    for series in exported:
        labels = dict(series["metric"])
        name = labels.pop("__name__")
        for value, ts in zip(series["values"], series["timestamps"], strict=True):
            key = (name, labels["device"])
            assert key not in got
            got[key] = (labels, value, ts)
    assert len(got) == 3 * len(samples)
    for i, sample in enumerate(samples):
        for field, value in sample.fields.items():
            labels, stored, ts = got[(f"interface_{field}", f"r{i}")]
            assert stored == value
            assert ts * 1_000_000 == sample.time_ns
            assert labels == {"county": stored_value(values[i]), "device": f"r{i}", "village": "黄州 区, \"1\""}


async def test_outage_mid_stream_every_point_arrives_once(tmp_path: Path) -> None:
    # VictoriaMetrics 1.79 closes its HTTP server on SIGTERM without answering requests in flight,
    # so a batch can be stored while the client sees "connection reset". Sending it again is the
    # only way not to lose it, and InfluxDB overwrites a point with the same series and timestamp.
    # -dedup.minScrapeInterval=1ms gives VictoriaMetrics that overwrite: it merges samples of one
    # series within the same millisecond only, and every point here has its own millisecond, so
    # it can hide neither a missing point nor an extra one. That the sink itself re-sent nothing
    # that had succeeded is proven from its own counts below.
    server = start_victoria_metrics(tmp_path, extra_args=["-dedup.minScrapeInterval=1ms"])
    counting = CountingSink(influx(server, timeout_s=2.0))
    sink = BufferedSink(counting, tmp_path / "spool", BufferPolicy(max_batch=20, flush_interval=0.02,
                                                                  backoff_initial=0.05, backoff_max=0.3))
    try:
        await sink.start()
        batches, size = 300, 20
        for b in range(batches):
            sink.add(numbered(b * size, size))
            if b == 100:
                await asyncio.to_thread(server.stop)
            if b == 200:
                await asyncio.to_thread(server.start)
            await asyncio.sleep(0.01)
        await sink.close(grace_s=60.0)

        total = batches * size
        assert sink.stats.write_errors > 0 and sink.stats.spooled_points > 0  # the outage was real
        assert sink.stats.spool_points == 0 and sink.stats.dropped_points == 0
        assert sink.stats.written_points == total
        assert counting.succeeded == Counter(range(total))  # every point accepted exactly once
        # A point went out again only after an attempt with it had failed, never after a success.
        assert all(counting.attempted[n] == counting.failed[n] + 1 for n in range(total))
        assert exported_ids(server) == Counter(range(total))
        assert not await asyncio.to_thread(spool_files, tmp_path / "spool")
    finally:
        server.stop()


async def test_spool_bound_with_database_down_drops_exactly_the_oldest(tmp_path: Path) -> None:
    server = start_victoria_metrics(tmp_path)
    server.stop()  # its port is now a database that is down
    try:
        sink = BufferedSink(influx(server, timeout_s=1.0), tmp_path / "spool", BufferPolicy(
            max_batch=25, flush_interval=0.02, max_spool_bytes=20_000, segment_bytes=1, backoff_initial=0.05,
            backoff_max=0.2))
        await sink.start()
        total = 1000
        for start in range(0, total, 25):
            sink.add(numbered(start, 25))
            await asyncio.sleep(0.002)
        await sink.close(grace_s=1.0)
        dropped = sink.stats.dropped_points
        assert 0 < dropped < total

        server.start()
        again = BufferedSink(influx(server), tmp_path / "spool", BufferPolicy(max_batch=25, flush_interval=0.02))
        await again.start()
        assert again.opened.weight == total - dropped
        async with asyncio.timeout(30):
            await again.flush()
        await again.close()
        assert exported_ids(server) == Counter(range(dropped, total))
    finally:
        server.stop()


WORKER = Path(__file__).with_name("sigterm_worker.py")


def run_worker(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def test_sigterm_spools_everything_and_a_new_process_replays_it(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    spool = tmp_path / "spool"
    producer = run_worker("produce", url, str(spool), "5000")
    assert producer.stdout is not None
    assert producer.stdout.readline().strip() == "ready"
    producer.send_signal(signal.SIGTERM)
    out, err = producer.communicate(timeout=60)
    assert producer.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["dropped_points"] == 0 and stats["written_points"] == 0
    assert stats["spool_points"] == 5000

    check = SegmentQueue(spool, max_bytes=1 << 30)
    assert check.open().weight == 5000
    check.close()

    server = start_victoria_metrics(tmp_path, port=port)
    try:
        replayer = run_worker("replay", url, str(spool), "0")
        out, err = replayer.communicate(timeout=120)
        assert replayer.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["replayed_points"] == 5000
        assert exported_ids(server) == Counter(range(5000))
    finally:
        server.stop()


class _Refusing(BaseHTTPRequestHandler):
    status = 401

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        echoed = self.headers.get("Authorization", "")
        body = json.dumps({"code": "unauthorized", "message": f"token rejected: {echoed}"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[tuple[str, type[_Refusing]]]:
    handler = type("Handler", (_Refusing,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "retryable"), [(401, True), (400, False), (503, True), (413, False)])
async def test_http_errors_are_precise_and_never_show_the_token(refusing_server: tuple[str, type[_Refusing]],
                                                                status: int, retryable: bool) -> None:
    url, handler = refusing_server
    handler.status = status
    host_port = url.removeprefix("http://")
    sink = InfluxSink(InfluxTarget(f"http://admin:pw@{host_port}/", "yiwang", "metrics", timeout_s=5), TOKEN)
    with pytest.raises(SinkError) as caught:
        await sink.write(numbered(0, 1))
    message = str(caught.value)
    assert f"HTTP {status}" in message and f"http://{host_port}/" in message
    assert caught.value.retryable is retryable and caught.value.status == status
    assert "token rejected" in message  # the server's reason is kept...
    for secret in (TOKEN, "pw", "admin"):
        assert secret not in message and secret not in repr(sink) and secret not in repr(caught.value)
    assert caught.value.__suppress_context__  # ...but not the client's exception with headers
    await sink.close()


async def test_unreachable_database_message(tmp_path: Path) -> None:
    sink = influx(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(SinkError, match=r"write to http://127\.0\.0\.1:\d+ failed: cannot connect") as caught:
        await sink.write(numbered(0, 1))
    assert caught.value.retryable and TOKEN not in str(caught.value)
    await sink.close()


def test_health_endpoint_helper(victoria: VictoriaMetrics) -> None:
    assert http_get(victoria.url + "/health") == b"OK"
