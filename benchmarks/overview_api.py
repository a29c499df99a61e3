"""The overview API's own costs on the full simulated city (lab.city, no lab started): building the state from
poll health (what each cycle does), serialising /api/overview, and the diff of 1,000 devices that went down.

Last line: `devices=… areas=… build_ms=… overview_kb=… overview_gzip_kb=… diff_1000_ms=… events_kb=…`.
"""

from __future__ import annotations

import gzip
import statistics
import sys
import time

from alerts.topology import Topology
from lab.city import generate_city
from lab.cityload import inventory_of
from yiwang.overview_feed import build_state, events_between
from yiwang.status import DeviceState, area_counts


def measure(profile: str = "city", repeats: int = 5) -> dict[str, float]:
    inventory = inventory_of(generate_city(2026, profile))
    topology = Topology.from_inventory(inventory)
    names = sorted(inventory.devices)
    up = {"snmp": DeviceState(True, "ok", "", 1), "icmp": DeviceState(True, "ok", "", 1)}
    down = {"snmp": DeviceState(False, "timeout", "", 2), "icmp": DeviceState(False, "timeout", "", 2)}
    healthy = {n: dict(up) for n in names}
    broken = {**healthy, **{n: dict(down) for n in names[::max(len(names) // 1000, 1)][:1000]}}

    def build(states: dict[str, dict[str, DeviceState]]):  # type: ignore[no-untyped-def]
        return build_state(inventory, topology, states, area_counts(inventory, states), [], [], [], {}, 1)

    build_ms, diff_ms, json_ms = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        before = build(healthy)
        build_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        body = before.overview_json()
        json_ms.append((time.perf_counter() - started) * 1000)
        after = build(broken)
        started = time.perf_counter()
        events = events_between(before, after, inventory, 1)
        diff_ms.append((time.perf_counter() - started) * 1000)
    changed = [e for e in events if e.kind == "devices"]
    assert changed and changed[0].data.count('"down"') == 1000
    return {"devices": len(names), "areas": len(inventory.areas), "build_ms": statistics.median(build_ms),
            "json_ms": statistics.median(json_ms), "overview_kb": len(body) / 1024,
            "overview_gzip_kb": len(gzip.compress(body, 1)) / 1024, "diff_1000_ms": statistics.median(diff_ms),
            "events_kb": sum(len(e.encode()) for e in events) / 1024}


if __name__ == "__main__":
    found = measure(sys.argv[1] if len(sys.argv) > 1 else "city")
    print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in found.items()))
