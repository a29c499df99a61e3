"""µs per point for yiwang.sinks.line_protocol vs influxdb_client.Point, on city-shaped samples.

Run: .venv/bin/python benchmarks/line_protocol.py [points]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator

from influxdb_client import Point

from collectors.model import Sample, make_tags
from yiwang.sinks import line_protocol

COUNTIES = ["黄州区", "团风县", "红安县", "麻城市", "罗田县", "英山县", "浠水县", "蕲春县", "黄梅县", "武穴市"]


def city_samples(points: int, time_ns: int = 1_700_000_000_000_000_000) -> Iterator[Sample]:
    """Interface samples spread over devices down to village level, with realistic tag sizes."""
    for i in range(points):
        device, port = divmod(i, 48)
        county = COUNTIES[device % len(COUNTIES)]
        tags = make_tags(
            province="湖北省", city="黄冈市", county=county,
            township=f"{county}第{device % 37}街道", village=f"Village {device % 211}, Group {device % 7}",
            device=f"hg-{county}-acc-{device:05d}", interface=f"GigabitEthernet0/0/{port}",
            ifalias=f'uplink to "core {device % 3}" = main', platform="huawei_vrp", role="access",
        )
        fields = {
            "in_octets_total": float(i * 1_000_003), "out_octets_total": float(i * 999_983),
            "in_bps": 12_345.678 + i, "out_bps": 54_321.5, "in_errors_total": 0.0,
            "oper_status": 1.0, "admin_status": 1.0, "speed_mbps": 1000.0, "utilisation": 0.0123,
        }
        yield Sample("interface", tags, fields, time_ns + i)


def via_point(sample: Sample) -> str:
    point = Point(sample.measurement)
    for key, value in sample.tags:
        point.tag(key, value)
    for name, number in sample.fields.items():
        point.field(name, float(number))
    return str(point.time(sample.time_ns).to_line_protocol())


def per_point_us(encode: Callable[[list[Sample]], object], samples: list[Sample], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        encode(samples)
        best = min(best, time.perf_counter() - start)
    return best / len(samples) * 1e6


def main() -> None:
    points = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    samples = list(city_samples(points))
    line_protocol.encode_batch(samples[:1])
    cold = per_point_us(line_protocol.encode_batch, samples, 1)  # first pass fills the series cache
    warm = per_point_us(line_protocol.encode_batch, samples, 3)
    few = samples[: min(points, 50_000)]
    point = per_point_us(lambda batch: "\n".join(map(via_point, batch)).encode(), few, 2)
    size = len(line_protocol.encode_batch(samples)) / points
    print(f"points={points} bytes_per_point={size:.0f}")
    print(f"line_protocol_us_per_point={warm:.2f} (first cycle, cold series cache: {cold:.2f})")
    print(f"influxdb_client_point_us_per_point={point:.2f} speedup={point / warm:.1f}x")


if __name__ == "__main__":
    main()
