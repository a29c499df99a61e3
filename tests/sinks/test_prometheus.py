from __future__ import annotations

import math
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest

from collectors.model import Sample, make_tags
from yiwang.sinks.prometheus import (
    CONTENT_TYPE,
    LatestSamples,
    SampleCollector,
    SampleRegistry,
    label_name,
    make_registry,
    render,
)

from .servers import start_prometheus
from .test_line_protocol import hostile_strings

AREA = make_tags(province="湖北省", city="黄冈市", county="黄州区", township="东湖街道", village='Village 3, "north"')


def city_samples() -> list[Sample]:
    """One of each measurement the collectors produce, with the conventional field names."""
    device = AREA + (("device", "hz-core-01"), ("platform", "huawei_vrp"), ("role", "core"))
    ordered = tuple(sorted(device))
    return [
        Sample("interface", tuple(sorted(device + (("interface", "GigabitEthernet0/0/1"),
                                                   ("ifalias", 'to "edge" <1>\nbackup')))),
               {"in_octets_total": 1.5e12, "out_octets_total": 9e11, "in_errors_total": 0.0, "in_bps": 123456.5,
                "out_bps": 1e7, "oper_status": 1.0, "admin_status": 1.0, "speed_mbps": 1000.0,
                "utilisation": 0.0123}, 1),
        Sample("device", ordered, {"cpu_percent": 3.0, "mem_percent": 41.5, "uptime_seconds": 8.6e6}, 1),
        Sample("poll", ordered, {"up": 1.0, "duration_seconds": 0.21, "varbinds": 412.0}, 1),
        Sample("icmp", ordered, {"up": 1.0, "rtt_seconds": 0.0021, "loss_ratio": 0.0}, 1),
        Sample("storage", tuple(sorted(device + (("storage", "flash:"),))),
               {"used_bytes": 1.2e8, "size_bytes": 5.1e8}, 1),
        Sample("sink", (("sink", "influx"),), {"written_points_total": 10.0, "dropped_points_total": 0.0,
                                              "queued_points": 0.0, "up": 1.0}, 1),
    ]


def test_latest_samples_keeps_the_newest_per_series() -> None:
    store = LatestSamples()
    a = make_tags(device="r1", county="X")
    b = make_tags(device="r2", county="Y")
    store.update([Sample("device", a, {"cpu_percent": 1.0}, 1), Sample("device", b, {"cpu_percent": 2.0}, 1),
                  Sample("poll", a, {"up": 1.0, "varbinds": 3.0}, 1)])
    store.update([Sample("device", a, {"cpu_percent": 5.0}, 2)])
    assert len(store) == 3 and store.value_count() == 4
    assert [s.fields for s in store if s.measurement == "device"] == [{"cpu_percent": 5.0}, {"cpu_percent": 2.0}]


def test_counters_gauges_and_labels() -> None:
    store = LatestSamples()
    store.update(city_samples())
    families = {family.name: family for family in SampleCollector(store).collect()}
    counter = families["yiwang_interface_in_octets"]
    assert counter.type == "counter" and counter.samples[0].name == "yiwang_interface_in_octets_total"
    gauge = families["yiwang_interface_in_bps"]
    assert gauge.type == "gauge" and gauge.samples[0].value == 123456.5
    labels = counter.samples[0].labels
    assert labels["county"] == "黄州区" and labels["village"] == 'Village 3, "north"'
    assert labels["ifalias"] == 'to "edge" <1>\nbackup'  # as-is: the exposition format escapes it
    assert "yiwang_sink_dropped_points" in families


def test_label_names_are_sanitised() -> None:
    assert label_name("if-name") == "if_name"
    assert label_name("2nd") == "_2nd"
    assert label_name("__name__") == "_name__"
    assert label_name("区") == "_"


def hostile_store() -> LatestSamples:
    store = LatestSamples()
    samples = []
    for i, text in enumerate(hostile_strings(400, seed=3)):
        tags = ((f"k{i % 3}", text), ("a-b", "dash"), ("a_b", "underscore"), ("county", text[:3] or "x"),
                ("device", f"r{i}\udcff" if i % 50 == 0 else f"r{i}"), ("__reserved", "r"), ("9lives", "n"))
        fields: dict[str, float] = {"in_octets_total": i * 1e6 + 0.5, "oper_status": float(i % 2),
                                    "temperature": -i / 7, "big": 1e21 * i}
        if i % 40 == 0:
            fields.update(nan=math.nan, inf=math.inf, ninf=-math.inf, negzero=-0.0, integer=7)  # type: ignore[dict-item]
        if i % 60 == 0:
            fields["text"] = "up"  # type: ignore[assignment]
        if i % 70 == 0:
            fields["in-bps"] = 1.0  # sanitises to the same metric name as in_bps below
            fields["in_bps"] = 2.0
        measurement = ["interface", "device", "poll", "int-erface"][i % 4]
        samples.append(Sample(measurement, tags, fields, i))
    store.update(samples)
    return store


def test_fast_renderer_is_byte_identical_to_generate_latest_on_hostile_labels() -> None:
    store = hostile_store()
    registry = make_registry(store)
    fast = render(registry)
    assert fast == generate_latest(registry)
    assert b'\\"' in fast and b"\\n" in fast and b"\\\\" in fast  # the hostile parts really were there


def test_names_that_sanitise_alike_share_one_family() -> None:
    fast = render(make_registry(hostile_store()))
    assert fast.count(b"# TYPE yiwang_interface_in_bps gauge") == 1
    assert fast.count(b"# TYPE yiwang_int_erface_oper_status gauge") == 1


def test_renderer_handles_other_collectors_on_the_same_registry() -> None:
    store = hostile_store()
    registry = make_registry(store, area=("county", "a"))
    requests = Counter("yiwang_api_requests", "API requests", ["route"], registry=registry)
    requests.labels(route="/metrics").inc(3)
    registry.register(SampleCollector(hostile_store(), area=("county", "b")))
    assert render(registry) == generate_latest(registry)
    assert b"yiwang_api_requests_total" in render(registry)


def test_plain_registries_fall_back_to_generate_latest() -> None:
    registry = CollectorRegistry()
    registry.register(SampleCollector(hostile_store()))
    assert render(registry) == generate_latest(registry)


def test_area_shard_shows_only_that_area() -> None:
    store = LatestSamples()
    store.update([Sample("device", make_tags(county="黄州区", device="a"), {"up": 1.0}, 1),
                  Sample("device", make_tags(county="团风县", device="b"), {"up": 1.0}, 1),
                  Sample("sink", (("sink", "influx"),), {"up": 1.0}, 1)])
    shard = render(make_registry(store, area=("county", "黄州区")))
    assert b'device="a"' in shard and b'device="b"' not in shard and b"yiwang_sink_up" not in shard
    assert render(make_registry(store)).count(b"yiwang_") > shard.count(b"yiwang_")


def test_own_registry_not_the_global_one() -> None:
    store = LatestSamples()
    store.update(city_samples())
    registry = make_registry(store)
    assert isinstance(registry, SampleRegistry) and registry is not REGISTRY
    assert b"yiwang_" in render(registry) and b"yiwang_" not in generate_latest(REGISTRY)


def promtool_check(exposition: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True, timeout=60)


def test_promtool_accepts_the_exposition_without_lint_problems() -> None:
    store = LatestSamples()
    store.update(city_samples())
    result = promtool_check(render(make_registry(store)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == b"" and result.stderr == b""


def test_promtool_accepts_hostile_labels() -> None:
    result = promtool_check(render(make_registry(hostile_store())))
    assert result.returncode == 0 and result.stdout == b"" and result.stderr == b"", result.stdout + result.stderr


class _Exposition(BaseHTTPRequestHandler):
    """/metrics as the API serves it: render() of the project's registry."""

    store = LatestSamples()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = render(make_registry(self.store))
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def metrics_port() -> Iterator[int]:
    store = LatestSamples()
    store.update(city_samples())
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Exposition,), {"store": store}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_real_prometheus_scrapes_the_collector(metrics_port: int, tmp_path: Path) -> None:
    prometheus = start_prometheus(tmp_path, [f"127.0.0.1:{metrics_port}"])
    try:
        result = prometheus.wait_for("yiwang_interface_in_octets_total", lambda r: len(r) == 1, timeout=60)
        labels = result[0]["metric"]
        assert float(result[0]["value"][1]) == 1.5e12
        assert {key: labels[key] for key in ("province", "city", "county", "township", "village")} == dict(AREA)
        assert labels["ifalias"] == 'to "edge" <1>\nbackup' and labels["device"] == "hz-core-01"
        health = prometheus.query('up{job="yiwang"}')
        assert health and health[0]["value"][1] == "1"
        dropped = prometheus.query("yiwang_sink_dropped_points_total")
        assert dropped and dropped[0]["metric"]["sink"] == "influx"
    finally:
        prometheus.stop()
