"""Render time and size of /metrics for a city-scale store: prometheus_client vs yiwang's renderer.

Run: .venv/bin/python benchmarks/metrics_render.py [series]   (default 1,000,000 = 100k samples x 10 fields)
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Iterator

from prometheus_client import generate_latest

from collectors.model import Sample, make_tags
from yiwang.sinks.prometheus import LatestSamples, make_registry, render

COUNTIES = ["黄州区", "团风县", "红安县", "麻城市", "罗田县", "英山县", "浠水县", "蕲春县", "黄梅县", "武穴市"]
FIELDS = ("in_octets_total", "out_octets_total", "in_errors_total", "out_errors_total", "in_bps", "out_bps",
          "oper_status", "admin_status", "speed_mbps", "utilisation")


def interface_samples(count: int, time_ns: int = 1_700_000_000_000_000_000) -> Iterator[Sample]:
    for i in range(count):
        device, port = divmod(i, 48)
        county = COUNTIES[device % len(COUNTIES)]
        tags = make_tags(
            province="湖北省", city="黄冈市", county=county, township=f"{county}第{device % 37}街道",
            village=f"Village {device % 211}", device=f"hg-acc-{device:05d}",
            interface=f"GigabitEthernet0/0/{port}", platform="huawei_vrp", role="access",
        )
        values = (i * 1_000_003.0, i * 999_983.0, float(i % 5), 0.0, 12_345.678 + i, 54_321.5, 1.0, 1.0,
                  1000.0, (i % 1000) / 1000)
        yield Sample("interface", tags, dict(zip(FIELDS, values, strict=True)), time_ns)


def timed(render_once: Callable[[], bytes]) -> tuple[float, bytes]:
    gc.collect()
    start = time.perf_counter()
    body = render_once()
    return time.perf_counter() - start, body


def main() -> None:
    series = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    store = LatestSamples()
    store.update(interface_samples(series // len(FIELDS)))
    registry = make_registry(store)
    fast_s, fast = timed(lambda: render(registry))
    slow_s, slow = timed(lambda: generate_latest(registry))
    shard = make_registry(store, area=("county", COUNTIES[0]))
    shard_s, shard_body = timed(lambda: render(shard))
    print(f"series={store.value_count()} metrics_render_s={fast_s:.2f} metrics_mb={len(fast) / 1e6:.1f} "
          f"renderer=yiwang")
    print(f"series={store.value_count()} metrics_render_s={slow_s:.2f} metrics_mb={len(slow) / 1e6:.1f} "
          f"renderer=prometheus_client.generate_latest")
    print(f"identical={fast == slow}")
    print(f"shard county={COUNTIES[0]} metrics_render_s={shard_s:.2f} metrics_mb={len(shard_body) / 1e6:.1f}")


if __name__ == "__main__":
    main()
